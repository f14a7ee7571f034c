/* core/global_queue.h - the runtime's global run queue: a bounded MPMC ring
 * (core/mpmc.h) plus an unbounded spill list under a lock, holding tasks and
 * batches of tasks (a local ring's overflow).
 *
 * Producers use the spill list while it is non-empty, so FIFO order holds
 * per producer; consumers take from the MPMC first (everything in it is
 * older than the spill list). A push never fails for lack of room. */
#ifndef VX_GLOBAL_QUEUE_H
#define VX_GLOBAL_QUEUE_H

#include "local_queue.h"
#include "lock.h"
#include "mpmc.h"
#include "task.h"

struct VxWorker;
struct Runtime;

/* An entry (MPMC cell or spill-list node) is a task, or, tagged with
 * VX_ENTRY_BATCH, a batch: an array of tasks moved together by a ring
 * overflow, so a taker gets them with one CAS and reads their addresses from
 * one array (no pointer chasing). */
#define VX_ENTRY_BATCH ((uintptr_t)2)
#define VX_BATCH_MAX (VX_LQ_MAX / 2 + 1)

typedef struct VxBatch {
    void *next;          /* spill-list link: the next entry (tagged) */
    uint32_t count;
    VxTask *tasks[VX_BATCH_MAX];
} VxBatch;

typedef struct VxGlobalQueue {
    VxMpmc mpmc;
    VxMpmcCell *cells;
    size_t capacity;               /* MPMC cells, a power of two */
    VX_ALIGNED VxLock spill_lock;  /* protects spill_head/tail */
    void *spill_head, *spill_tail; /* entries, linked through their next fields */
    _Atomic size_t spill_len;      /* tasks in the spill list (atomic: read without the lock) */
} VxGlobalQueue;

/* Sets up g with capacity MPMC cells (a power of two) from sys; 0 or
 * VEX_ENOMEM. Single thread, at create. */
int vx_gq_init(VxGlobalQueue *g, const VxSys *sys, size_t capacity);
/* Frees what vx_gq_init took; entries still queued are dropped. */
void vx_gq_fini(VxGlobalQueue *g, const VxSys *sys);

/* Publishes entry e holding n tasks (no wake-up). Any thread. */
void vx_gq_publish(struct Runtime *rt, void *e, size_t n);
/* Takes the oldest entry, or NULL if the queue looked empty. Any thread. */
void *vx_gq_take(struct Runtime *rt);
/* Tasks queued (a hint). Any thread. */
size_t vx_gq_len_hint(struct Runtime *rt);

/* Returns the first task of entry e, queueing the rest of a batch on w's
 * ring as far as it fits with `reserve` slots left free; the remainder goes
 * back to the global queue. *count gets the number of tasks taken. Owner. */
VxTask *vx_gq_expand(struct VxWorker *w, void *e, uint32_t reserve, size_t *count);
/* Takes about a fair share of the global queue into w; returns one task to
 * run, or NULL. Owner. */
VxTask *vx_gq_pull(struct VxWorker *w);

VX_INLINE bool vx_gq_is_batch(const void *e) { return ((uintptr_t)e & VX_ENTRY_BATCH) != 0; }
VX_INLINE VxBatch *vx_gq_batch_of(void *e) { return (VxBatch *)((uintptr_t)e & ~VX_ENTRY_BATCH); }

#endif /* VX_GLOBAL_QUEUE_H */
