/* core/lock.h - a small mutex built on the platform's park/unpark (futex
 * semantics). Taken on some hot paths, but always for a handful of loads
 * and stores and almost never contended: a worker's own wheel (every timer
 * arm and fire), a handle's record (every I/O arm, readiness report and
 * native op), a worker's inbox and cancel queue; and on cold ones: the idle
 * list, the global queue's spill list, the foreign-thread task heap, the
 * blocking pool, cancel tokens and the runtime's object lists.
 *
 * States (Drepper, "Futexes Are Tricky", mutex #2): 0 unlocked, 1 locked,
 * 2 locked with possible sleepers. An uncontended lock and unlock are one
 * CAS and one exchange; a short spin (VX_LOCK_SPINS) before sleeping. */
#ifndef VX_LOCK_H
#define VX_LOCK_H

#include "plat.h"

typedef struct VxLock {
    _Atomic uint32_t word;
} VxLock;

VX_INLINE void vx_lock_init(VxLock *l) { atomic_init(&l->word, 0); }

void vx_lock_slow(VxLock *l, const VxSys *sys);

/* Takes the lock; may park the thread. */
VX_INLINE void vx_lock(VxLock *l, const VxSys *sys)
{
    uint32_t z = 0;
    /* acquire: the critical section sees the previous holder's writes. */
    if (VX_LIKELY(atomic_compare_exchange_strong_explicit(&l->word, &z, 1, memory_order_acquire,
                                                          memory_order_relaxed)))
        return;
    vx_lock_slow(l, sys);
}

/* Takes the lock if it is free; never waits. */
VX_INLINE bool vx_trylock(VxLock *l)
{
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&l->word, &z, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

/* Releases the lock, waking one sleeper if there may be one. */
VX_INLINE void vx_unlock(VxLock *l, const VxSys *sys)
{
    /* release: pairs with the acquire in vx_lock. */
    uint32_t old = atomic_exchange_explicit(&l->word, 0, memory_order_release);
    VX_ASSERT(old != 0); /* held */
    if (old == 2) vx_plat_unpark(sys, &l->word, 1);
}

#endif /* VX_LOCK_H */
