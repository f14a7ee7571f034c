/* core/run_queue.c - queueing a runnable task: on the calling worker's LIFO
 * slot, wake ring or ring, or on the global queue; a full ring overflows
 * half of itself to the global queue; and when a worker's own pushes wake a
 * sleeping sibling (tuning.h says why so rarely). */
#include "rt.h"

/* A plain load: a hint. The pushing worker runs the task itself if nobody
 * else does; only pushes by threads that will not run the work (foreign
 * spawns, wakes from outside) must use the RMW in vx_idle_notify. */
VX_INLINE bool sibling_sleeps(Runtime *rt)
{
    uint64_t s = atomic_load_explicit(&rt->idle.word, memory_order_relaxed);
    return vx_idle_searching(s) == 0 && vx_idle_unparked(s) < rt->nworkers;
}

uint32_t vx_rq_queued(VxWorker *w) { return vx_lq_len(&w->remote.q) + vx_lq_len(&w->remote.wq); }

void vx_rq_after_push(VxWorker *w)
{
    uint32_t queued = vx_rq_queued(w);
    if (queued < VX_NOTIFY_BACKLOG || (queued < VX_IO_NOTIFY_BACKLOG && vx_io_active(w->rt))) return;
    if (sibling_sleeps(w->rt)) vx_idle_notify(w->rt);
}

/* The small-backlog rule above, from the scheduler loop. */
void vx_rq_check_backlog(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (vx_rq_queued(w) < 2 || !sibling_sleeps(rt)) {
        w->own.backlog_ns = 0;
        return;
    }
    uint64_t now = vx_plat_now_ns(&rt->sys);
    if (!w->own.backlog_ns) {
        w->own.backlog_ns = now;
    } else if (now - w->own.backlog_ns >= (vx_io_active(rt) ? VX_IO_BACKLOG_NS : VX_BACKLOG_NS)) {
        w->own.backlog_ns = 0;
        vx_idle_notify(rt);
    }
}

VX_NOINLINE void vx_rq_overflow(VxWorker *w, VxLocalQueue *q, VxTask *t)
{
    Runtime *rt = w->rt;
    void *tmp[VX_BATCH_MAX];
    VxBatch *b = (VxBatch *)vx_slab_alloc(&rt->pools.batches, w->id);
    void **slots = b ? (void **)b->tasks : tmp;
    for (;;) {
        uint32_t n = vx_lq_take_half_owner(q, slots);
        if (n == 0) {
            if (vx_lq_push_owner(q, t)) { /* a thief made room */
                if (b) vx_slab_free(&rt->pools.batches, w->id, b);
                return;
            }
            continue;
        }
        slots[n++] = t;
        if (b) {
            b->count = n;
            vx_gq_publish(rt, (void *)((uintptr_t)b | VX_ENTRY_BATCH), n);
        } else {
            /* No memory for a batch: publish the tasks one by one. */
            for (uint32_t i = 0; i < n; i++) vx_gq_publish(rt, slots[i], 1);
        }
        VX_STAT_INC(w, VX_ST_OVERFLOWS);
        VX_STAT_ADD(w, VX_ST_GLOBAL_PUSHES, n);
        vx_idle_notify(rt); /* the batch is on the global queue now: anyone may take it */
        return;
    }
}

void vx_sched_push(Runtime *rt, VxWorker *w, VxTask *t, VxPushHow how)
{
    /* A task of another runtime is never pushed on w: the caller passes
     * NULL for a task that is not w's runtime's (notify.c). */
    VX_ASSERT(!w || w->rt == rt);
    if (!w) {
        atomic_fetch_add_explicit(&rt->foreign.global_pushes, 1, memory_order_relaxed);
        vx_sched_global_push(rt, t);
        return;
    }
    if (how == VX_PUSH_WAKE) {
        /* A burst of wakes beyond the wake ring's room waits in a private
         * list, in order, rather than behind everything in the global queue:
         * their lateness is what counts. */
        if (w->own.wake_spill || !vx_lq_push_owner(&w->remote.wq, t)) {
            t->next = NULL;
            if (w->own.wake_spill_tail)
                w->own.wake_spill_tail->next = t;
            else
                w->own.wake_spill = t;
            w->own.wake_spill_tail = t;
        }
        if (!w->own.searching && !w->own.solo) vx_rq_after_push(w); /* solo: no sibling */
        return;
    }
    if (how == VX_PUSH_LIFO) {
        /* Only the owner puts into the slot; a stall rescuer only takes
         * from it. So an empty slot can be filled with a plain release store
         * (the common hand-off case, one RMW fewer): a concurrent rescuer
         * found nothing to take. An occupied slot needs the exchange. */
        if (!atomic_load_explicit(&w->remote.lifo, memory_order_relaxed)) {
            /* release: publishes t to a rescuer's acquire exchange. */
            atomic_store_explicit(&w->remote.lifo, t, memory_order_release);
            return;
        }
        /* acq_rel: release publishes t; acquire takes the previous occupant. */
        t = atomic_exchange_explicit(&w->remote.lifo, t, memory_order_acq_rel);
        if (!t) return;
    }
    vx_rq_push_back(w, t);
}

void vx_sched_global_push(Runtime *rt, VxTask *t)
{
    vx_gq_publish(rt, t, 1);
    vx_idle_notify(rt);
}
