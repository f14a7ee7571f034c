/* core/timer.c - timer awaits on the per-worker wheels: preparing an entry
 * during a resume, filing it after the resume, firing it, and releasing it
 * when the wait ends (see timer.h for who frees what). */
#include "rt.h"

VX_INLINE VxTimer *timer_of(VxWheelEntry *e) { return (VxTimer *)(void *)e; }

int vx_timer_prepare(WorkerContext *ctx, uint64_t deadline_ns)
{
    VxWorker *w = ctx->w;
    VxTimer *tm = ctx->await_timer;
    if (!tm) {
        /* Allocated here, not after the resume, so that running out of memory
         * is reported to the task by the await call itself. */
        tm = (VxTimer *)vx_slab_alloc(&w->rt->timers, w->id);
        if (!tm) return VEX_ENOMEM;
        ctx->await_timer = tm;
    }
    tm->e.deadline_ns = deadline_ns; /* a second await in one resume replaces the first */
    return 0;
}

void vx_timer_discard_pending(VxWorker *w)
{
    vx_slab_free(&w->rt->timers, w->id, w->ctx.await_timer);
    w->ctx.await_timer = NULL;
}

bool vx_timer_arm_pending(VxWorker *w, VxTask *t, uint64_t gen)
{
    VxTimer *tm = w->ctx.await_timer;
    w->ctx.await_timer = NULL;
    tm->task = t;
    tm->gen = gen;
    tm->owner = (uint16_t)w->id;
    tm->cancel_next = NULL;
    atomic_store_explicit(&tm->state, VX_TIMER_ARMED, memory_order_relaxed);
    /* An empty wheel may not have moved for a long time; bring it to now so
     * the entry lands at the level its real distance calls for. */
    if (w->wheel.count == 0) vx_wheel_advance(&w->wheel, vx_plat_now_ns(&w->rt->sys));
    if (!vx_wheel_insert(&w->wheel, &tm->e)) {
        vx_slab_free(&w->rt->timers, w->id, tm); /* already due: the caller wakes the task */
        return false;
    }
    t->timer = tm;
    VX_STAT_INC(w, VX_ST_TIMERS_ARMED);
    return true;
}

void vx_timer_release(VxWorker *w, VxTask *t)
{
    VxTimer *tm = t->timer;
    t->timer = NULL;
    if (tm->owner == w->id) {
        /* Only this worker fires its wheel and only the runner cancels, so
         * no other thread can change the state now. */
        if (atomic_load_explicit(&tm->state, memory_order_relaxed) == VX_TIMER_ARMED) {
            vx_wheel_remove(&w->wheel, &tm->e);
            VX_STAT_INC(w, VX_ST_TIMERS_CANCELLED);
        }
        vx_slab_free(&w->rt->timers, w->id, tm);
        return;
    }
    uint32_t exp = VX_TIMER_ARMED;
    /* acq_rel: decides the race with the owner's fire (ARMED -> FIRED). */
    if (atomic_compare_exchange_strong_explicit(&tm->state, &exp, VX_TIMER_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        VX_STAT_INC(w, VX_ST_TIMERS_CANCELLED);
        VxWorker *owner = &w->rt->workers[tm->owner];
        VxTimer *head = atomic_load_explicit(&owner->timer_cancels, memory_order_relaxed);
        do {
            tm->cancel_next = head;
            /* release: publishes cancel_next; pairs with the owner's exchange. */
        } while (!atomic_compare_exchange_weak_explicit(&owner->timer_cancels, &head, tm,
                                                        memory_order_release,
                                                        memory_order_relaxed));
        return;
    }
    vx_slab_free(&w->rt->timers, w->id, tm); /* fired: the owner is done with it */
}

/* Unlinks and frees the entries other workers cancelled. Owner only. */
static void drain_cancels(VxWorker *w)
{
    if (!atomic_load_explicit(&w->timer_cancels, memory_order_relaxed)) return;
    /* acquire: pairs with the release CAS of the cancelling runner. */
    VxTimer *tm = atomic_exchange_explicit(&w->timer_cancels, NULL, memory_order_acquire);
    while (tm) {
        VxTimer *next = tm->cancel_next;
        if (tm->e.linked) vx_wheel_remove(&w->wheel, &tm->e);
        vx_slab_free(&w->rt->timers, w->id, tm); /* counted by the canceller */
        tm = next;
    }
}

bool vx_timer_run(VxWorker *w, uint64_t now_ns)
{
    drain_cancels(w);
    if (!w->wheel.count) return false;
    VxWheelEntry *e = vx_wheel_advance(&w->wheel, now_ns);
    bool woke = false;
    while (e) {
        VxWheelEntry *next = e->next; /* read first: a woken task may free the entry */
        VxTimer *tm = timer_of(e);
        VxTask *t = tm->task;
        uint64_t gen = tm->gen;
        uint32_t exp = VX_TIMER_ARMED;
        /* acq_rel: decides the race with a remote runner's cancel. After
         * this the entry belongs to the task's runner; we only use copies. */
        if (atomic_compare_exchange_strong_explicit(&tm->state, &exp, VX_TIMER_FIRED,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            VX_STAT_INC(w, VX_ST_TIMERS_FIRED);
            if (vx_task_wake(t, gen, VX_WAKE_TIMER)) {
                VX_STAT_INC(w, VX_ST_WAKEUPS);
                vx_sched_push(w->rt, w, t, VX_PUSH_WAKE);
                woke = true;
            }
        }
        /* else: cancelled remotely; it is on our cancel stack and
         * drain_cancels frees it (it is no longer linked). */
        e = next;
    }
    return woke;
}

uint64_t vx_timer_next_ns(VxWorker *w)
{
    drain_cancels(w);
    return vx_wheel_next_ns(&w->wheel);
}
