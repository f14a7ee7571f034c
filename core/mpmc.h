/* core/mpmc.h - Vyukov's bounded multi-producer multi-consumer queue of
 * pointers (1024cores.net, "Bounded MPMC queue").
 *
 * Each cell carries a sequence number that says whose turn it is: cell i is
 * free for the producer of ticket p when seq == p, and full for the consumer
 * of ticket p when seq == p + 1. One CAS per operation, no allocation.
 *
 * Not strictly lock-free: a producer stalled between claiming a ticket and
 * publishing its cell makes consumers see "empty" there (and a stalled
 * consumer makes producers see "full"). Callers treat empty/full answers as
 * hints and keep their own fallback (the global queue's spill list). */
#ifndef VX_MPMC_H
#define VX_MPMC_H

#include "vx.h"

typedef struct VxMpmcCell {
    _Atomic size_t seq;
    void *data; /* written before seq is released, read after seq is acquired */
} VxMpmcCell;

typedef struct VxMpmc {
    VxMpmcCell *cells;
    size_t mask;                    /* capacity - 1; capacity is a power of two >= 2 */
    VX_ALIGNED _Atomic size_t enq;  /* next producer ticket (own lines: producers) */
    VX_ALIGNED _Atomic size_t deq;  /* next consumer ticket (own lines: consumers) */
    char pad_[VX_CACHE_LINE - sizeof(size_t)];
} VxMpmc;

/* Bytes of cell storage for a queue of capacity cells. */
VX_INLINE size_t vx_mpmc_cells_size(size_t capacity) { return capacity * sizeof(VxMpmcCell); }

/* Prepares q over cells (capacity entries, a power of two >= 2). Single thread. */
void vx_mpmc_init(VxMpmc *q, VxMpmcCell *cells, size_t capacity);

/* Appends p (non-NULL); returns false if the queue was full. Any thread. */
bool vx_mpmc_push(VxMpmc *q, void *p);

/* Removes the oldest pointer; returns NULL if the queue looked empty. Any thread. */
void *vx_mpmc_pop(VxMpmc *q);

/* Appends up to k pointers with one CAS, in order; returns how many were
 * appended (0 if the queue was full). Any thread. */
size_t vx_mpmc_push_batch(VxMpmc *q, void *const *items, size_t k);

/* Removes up to k of the oldest pointers with one CAS, in order; returns
 * how many (0 if the queue looked empty). Any thread. */
size_t vx_mpmc_pop_batch(VxMpmc *q, void **out, size_t k);

/* Approximate number of queued entries (exact when no operation is in flight). */
VX_INLINE size_t vx_mpmc_len_hint(VxMpmc *q)
{
    size_t d = atomic_load_explicit(&q->deq, memory_order_relaxed);
    size_t e = atomic_load_explicit(&q->enq, memory_order_relaxed);
    return e > d ? e - d : 0;
}

#endif /* VX_MPMC_H */
