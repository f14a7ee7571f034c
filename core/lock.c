/* core/lock.c - slow path of the futex mutex (see lock.h). */
#include "lock.h"
#include "tuning.h"

void vx_lock_slow(VxLock *l, const VxSys *sys)
{
    for (int i = 0; i < VX_LOCK_SPINS; i++) {
        uint32_t z = 0;
        if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->word, &z, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
        vx_cpu_relax();
    }
    /* Mark "contended" before sleeping so the holder's unlock wakes us. We
     * may take the lock in state 2 with nobody left asleep: that costs one
     * spurious unpark at most. */
    while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
        vx_plat_park(sys, &l->word, 2, VEX_WAIT_FOREVER);
}
