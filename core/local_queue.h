/* core/local_queue.h - a worker's run queue: a fixed ring with one owner
 * (push, pop) and any number of thieves (steal half).
 *
 * The Go/Tokio design rather than Chase-Lev: no growth (so no reclamation),
 * batch steals in one CAS, and only acquire/release plus CAS (no standalone
 * fences, which ThreadSanitizer cannot model). When the ring is full the
 * owner moves half of it to the global queue (vx_lq_take_half_owner).
 *
 * head is advanced by CAS (owner pop, thieves, overflow); tail is written by
 * the owner only. Slots are relaxed atomics: a thief reads its range before
 * the CAS that claims it, and a failed CAS discards what it read, so a slot
 * overwritten meanwhile is never used. */
#ifndef VX_LOCAL_QUEUE_H
#define VX_LOCAL_QUEUE_H

#include "vx.h"

#define VX_LQ_MAX 1024 /* slots; tests may use a smaller power of two */

typedef struct VxLocalQueue {
    VX_ALIGNED _Atomic uint32_t head; /* next slot to take (owner pop, thieves) */
    _Atomic uint32_t tail;            /* next slot to fill (owner only writes) */
    uint32_t mask;                    /* capacity - 1 */
    void *_Atomic buf[VX_LQ_MAX];
} VxLocalQueue;

/* Prepares an empty queue of capacity slots (a power of two, 2..VX_LQ_MAX). */
void vx_lq_init(VxLocalQueue *q, uint32_t capacity);

/* Appends p; returns false if the ring is full. Owner only. Inline: it is
 * on the path of every yield and wake. */
VX_INLINE bool vx_lq_push_owner(VxLocalQueue *q, void *p)
{
    /* acquire: pairs with the release CAS of a thief, whose reads of the
     * slots it claimed then happen before we overwrite them. */
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed); /* we own it */
    if (t - h > q->mask) return false;
    atomic_store_explicit(&q->buf[t & q->mask], p, memory_order_relaxed);
    /* release: publishes the slot; pairs with the acquire of tail in pop/steal. */
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return true;
}

/* Claims the oldest half of a full ring into out[] (room for capacity/2);
 * returns how many, or 0 if a thief made room meanwhile (push again). Owner only. */
uint32_t vx_lq_take_half_owner(VxLocalQueue *q, void **out);

/* Removes the oldest entry; NULL if empty. Owner only. */
void *vx_lq_pop_owner(VxLocalQueue *q);

/* vx_lq_pop_owner for a ring no thief can reach (the only worker of a
 * runtime): the owner is then head's only writer, so a plain store replaces
 * the CAS, the costliest step of a yield on one worker. Owner only. */
VX_INLINE void *vx_lq_pop_solo(VxLocalQueue *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    if (atomic_load_explicit(&q->tail, memory_order_relaxed) == h) return NULL;
    void *p = atomic_load_explicit(&q->buf[h & q->mask], memory_order_relaxed);
    atomic_store_explicit(&q->head, h + 1, memory_order_relaxed);
    return p;
}

/* Moves half (rounded up) of victim's entries, but no more than half of dst's
 * capacity, into dst, which must be owned by the caller and at most half
 * full; returns one of them for the caller to run at once (NULL if nothing
 * was stolen) and writes the count to *n. Any thread that owns dst. */
void *vx_lq_steal_into(VxLocalQueue *victim, VxLocalQueue *dst, uint32_t *n);

/* Number of entries (a hint when read by a non-owner). */
VX_INLINE uint32_t vx_lq_len(VxLocalQueue *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t n = t - h;
    return n > q->mask + 1 ? 0 : n; /* a torn pair of reads */
}

VX_INLINE uint32_t vx_lq_capacity(const VxLocalQueue *q) { return q->mask + 1; }

#endif /* VX_LOCAL_QUEUE_H */
