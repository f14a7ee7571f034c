/* core/timer.c - timer awaits on the per-worker wheels: preparing an entry
 * during a resume, filing it after the resume, firing it, and releasing it
 * when the wait ends (see timer.h for who frees what).
 *
 * A wheel is guarded by its worker's wheel lock. The owner takes it for every
 * wheel operation (uncontended: one CAS and one exchange); another worker
 * takes it only with a try-lock, to fire the timers of an owner that has
 * fallen behind (vx_timer_rescue). */
#include "rt.h"
#include "vexrt/task.h"

VX_INLINE VxTimer *timer_of(VxWheelEntry *e) { return (VxTimer *)(void *)e; }

int vx_timer_prepare(WorkerContext *ctx, uint64_t deadline_ns)
{
    VxWorker *w = ctx->w;
    VxTimer *tm = ctx->await_timer;
    if (!tm) {
        /* Allocated here, not after the resume, so that running out of memory
         * is reported to the task by the await call itself. */
        tm = (VxTimer *)vx_slab_alloc(&w->rt->pools.timers, w->id);
        if (!tm) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_TIMER, VEX_ENOMEM);
        ctx->await_timer = tm;
    }
    tm->e.deadline_ns = deadline_ns; /* a second await in one resume replaces the first */
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_TIMER);
    return 0;
}

void vx_timer_discard_pending(VxWorker *w)
{
    vx_slab_free(&w->rt->pools.timers, w->id, w->own.ctx.await_timer);
    w->own.ctx.await_timer = NULL;
}

/* Publishes an upper bound of when o's wheel has work next, for workers that
 * watch for a stalled owner. Holder of o's wheel lock. */
VX_INLINE void publish_next(VxWorker *o)
{
    atomic_store_explicit(&o->remote.next_timer_ns, vx_wheel_next_ns(&o->remote.wheel), memory_order_relaxed);
}

bool vx_timer_arm_pending(VxWorker *w, VxTask *t, uint64_t gen)
{
    VxTimer *tm = w->own.ctx.await_timer;
    w->own.ctx.await_timer = NULL;
    tm->task = t;
    tm->gen = gen;
    tm->owner = (uint16_t)w->id;
    tm->cancel_next = NULL;
    atomic_store_explicit(&tm->state, VX_TIMER_ARMED, memory_order_relaxed);
    vx_lock(&w->remote.wheel_lock, &w->rt->sys);
    /* An empty wheel may not have moved for a long time; bring it to now so
     * the entry lands at the level its real distance calls for. */
    if (w->remote.wheel.count == 0) vx_wheel_advance(&w->remote.wheel, vx_plat_now_ns(&w->rt->sys));
    bool filed = vx_wheel_insert(&w->remote.wheel, &tm->e);
    if (filed) {
        uint64_t tick = vx_wheel_tick_of(&w->remote.wheel, tm->e.deadline_ns);
        uint64_t at = tick > (UINT64_MAX >> w->remote.wheel.shift) ? UINT64_MAX : tick << w->remote.wheel.shift;
        if (at < atomic_load_explicit(&w->remote.next_timer_ns, memory_order_relaxed))
            atomic_store_explicit(&w->remote.next_timer_ns, at, memory_order_relaxed);
    }
    vx_unlock(&w->remote.wheel_lock, &w->rt->sys);
    if (!filed) {
        vx_slab_free(&w->rt->pools.timers, w->id, tm); /* already due: the caller wakes the task */
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
    VX_ASSERT(atomic_load_explicit(&tm->state, memory_order_relaxed) != VX_TIMER_CANCELLED);
    if (tm->owner == w->id) {
        /* Only the runner cancels; under the wheel lock nobody fires, so
         * the state is ARMED (linked) or FIRED (unlinked by whoever fired). */
        if (atomic_load_explicit(&tm->state, memory_order_acquire) == VX_TIMER_ARMED) {
            vx_lock(&w->remote.wheel_lock, &w->rt->sys);
            if (atomic_load_explicit(&tm->state, memory_order_relaxed) == VX_TIMER_ARMED) {
                vx_wheel_remove(&w->remote.wheel, &tm->e);
                VX_STAT_INC(w, VX_ST_TIMERS_CANCELLED);
            }
            vx_unlock(&w->remote.wheel_lock, &w->rt->sys);
        }
        vx_slab_free(&w->rt->pools.timers, w->id, tm);
        return;
    }
    uint32_t exp = VX_TIMER_ARMED;
    /* acq_rel: decides the race with a fire (ARMED -> FIRED). */
    if (atomic_compare_exchange_strong_explicit(&tm->state, &exp, VX_TIMER_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire)) {
        VX_STAT_INC(w, VX_ST_TIMERS_CANCELLED);
        VxWorker *owner = &w->rt->workers[tm->owner];
        VxTimer *head = atomic_load_explicit(&owner->remote.timer_cancels, memory_order_relaxed);
        do {
            tm->cancel_next = head;
            /* release: publishes cancel_next; pairs with the drainer's exchange. */
        } while (!atomic_compare_exchange_weak_explicit(&owner->remote.timer_cancels, &head, tm,
                                                        memory_order_release,
                                                        memory_order_relaxed));
        return;
    }
    vx_slab_free(&w->rt->pools.timers, w->id, tm); /* fired: the firer is done with it */
}

/* Unlinks and frees the entries of o's wheel that other workers cancelled.
 * Holder of o's wheel lock (running as worker w). */
static void drain_cancels(VxWorker *w, VxWorker *o)
{
    if (!atomic_load_explicit(&o->remote.timer_cancels, memory_order_relaxed)) return;
    /* acquire: pairs with the release CAS of the cancelling runner. */
    VxTimer *tm = atomic_exchange_explicit(&o->remote.timer_cancels, NULL, memory_order_acquire);
    while (tm) {
        VxTimer *next = tm->cancel_next;
        VX_ASSERT(atomic_load_explicit(&tm->state, memory_order_relaxed) == VX_TIMER_CANCELLED);
        VX_ASSERT(tm->owner == o->id);
        if (tm->e.linked) vx_wheel_remove(&o->remote.wheel, &tm->e);
        vx_slab_free(&w->rt->pools.timers, w->id, tm); /* counted by the canceller */
        tm = next;
    }
}

/* Fires what is due in o's wheel, queueing woken tasks on w's wake ring.
 * Holder of o's wheel lock. */
static bool fire_due(VxWorker *w, VxWorker *o, uint64_t now_ns)
{
    drain_cancels(w, o);
    bool woke = false;
    if (o->remote.wheel.count) {
        VxWheelEntry *e = vx_wheel_advance(&o->remote.wheel, now_ns);
        while (e) {
            VxWheelEntry *next = e->next; /* read first: a woken task may free the entry */
            VxTimer *tm = timer_of(e);
            VX_ASSERT(tm->owner == o->id); /* only its owner's wheel holds it */
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
            /* else: cancelled remotely; it is on o's cancel stack and
             * drain_cancels frees it (it is no longer linked). */
            e = next;
        }
    }
    publish_next(o);
    return woke;
}

bool vx_timer_run(VxWorker *w, uint64_t now_ns)
{
    vx_lock(&w->remote.wheel_lock, &w->rt->sys);
    bool woke = fire_due(w, w, now_ns);
    vx_unlock(&w->remote.wheel_lock, &w->rt->sys);
    return woke;
}

uint64_t vx_timer_next_ns(VxWorker *w)
{
    vx_lock(&w->remote.wheel_lock, &w->rt->sys);
    drain_cancels(w, w);
    uint64_t next = vx_wheel_next_ns(&w->remote.wheel);
    atomic_store_explicit(&w->remote.next_timer_ns, next, memory_order_relaxed);
    vx_unlock(&w->remote.wheel_lock, &w->rt->sys);
    return next;
}

/* A worker checks its wheel every few scheduler ticks and whenever it runs
 * out of work. If its timers are overdue by more than this, it is stuck in
 * a long resume or its thread is not running at all (a descheduled vCPU),
 * and another worker fires them instead (Go's stealers run other Ps' timers). */
#define TIMER_RESCUE_NS 200000u

uint64_t vx_timer_watch_ns(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint64_t best = UINT64_MAX;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *o = &rt->workers[(w->id + i) % rt->nworkers];
        /* A sleeping worker wakes up for its own timers. */
        if (atomic_load_explicit(&o->remote.in_sleepers, memory_order_relaxed)) continue;
        uint64_t next = atomic_load_explicit(&o->remote.next_timer_ns, memory_order_relaxed);
        if (next != UINT64_MAX && next + TIMER_RESCUE_NS < best) best = next + TIMER_RESCUE_NS;
    }
    return best;
}

bool vx_timer_rescue(VxWorker *w, uint64_t now_ns)
{
    Runtime *rt = w->rt;
    bool woke = false;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *o = &rt->workers[(w->id + i) % rt->nworkers];
        uint64_t next = atomic_load_explicit(&o->remote.next_timer_ns, memory_order_relaxed);
        if (next == UINT64_MAX || next + TIMER_RESCUE_NS > now_ns) continue;
        if (!vx_trylock(&o->remote.wheel_lock)) continue; /* its owner is at it right now */
        woke |= fire_due(w, o, now_ns);
        vx_unlock(&o->remote.wheel_lock, &rt->sys);
    }
    return woke;
}

bool vx_timer_rearm(VxWorker *w, VxTask *t, uint64_t gen)
{
    if (!t->timer) return true;
    uint64_t deadline = t->timer->e.deadline_ns;
    vx_timer_release(w, t);
    VxTimer *tm = (VxTimer *)vx_slab_alloc(&w->rt->pools.timers, w->id);
    if (!tm) return false; /* no memory: end the wait now rather than never */
    tm->e.deadline_ns = deadline;
    w->own.ctx.await_timer = tm;
    return vx_timer_arm_pending(w, t, gen);
}

/* --- Public entry points --- */

uint64_t worker_now_ns(WorkerContext *ctx)
{
    if (!ctx) return 0;
    return vx_plat_now_ns(&ctx->rt->sys);
}

uint64_t runtime_now_ns(Runtime *rt)
{
    if (!rt) return 0;
    return vx_plat_now_ns(&rt->sys);
}


int worker_await_after_ns(WorkerContext *ctx, uint64_t nanos)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    uint64_t now = vx_plat_now_ns(&ctx->rt->sys);
    return vx_timer_prepare(ctx, nanos > UINT64_MAX - now ? UINT64_MAX : now + nanos);
}

int worker_await_deadline(WorkerContext *ctx, uint64_t deadline_ns)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    return vx_timer_prepare(ctx, deadline_ns);
}

int worker_await_after(WorkerContext *ctx, uint64_t millis)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    uint64_t now = vx_plat_now_ns(&ctx->rt->sys);
    uint64_t d = millis > UINT64_MAX / 1000000u ? UINT64_MAX : millis * 1000000u;
    return vx_timer_prepare(ctx, d > UINT64_MAX - now ? UINT64_MAX : now + d);
}
