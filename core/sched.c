/* core/sched.c - the worker loop: where a worker's next task comes from,
 * running it, and what happens after its resume returns.
 *
 * Order of sources for a worker (Go's findRunnable, Tokio's next_task):
 * every VX_GLOBAL_INTERVAL-th tick the global queue first (fairness) and
 * due timers and I/O; then the LIFO slot (at most VX_MAX_LIFO_RUNS in a
 * row, since resumes are never preempted), the wake ring, the local ring, a
 * share of the global queue, stealing half of a random victim's ring; then
 * timers; then it spins briefly and sleeps (park.c). */
#include "rt.h"
#include "vexrt/task.h"

/* What happens after a resume returns: finish, yield, or park on the awaits
 * it registered (see task.h for the protocol). Returns true if the task's
 * operation completed at once and it may be resumed again right away
 * (again_ok): an echo's send usually does, and the task's next resume then
 * costs no trip through the queues and the state word. */
static VX_NOINLINE bool after_resume_slow(VxWorker *w, VxTask *t, CoroStatus st, bool again_ok)
{
    WorkerContext *ctx = &w->own.ctx;
    /* The previous wait is over: release what it armed. */
    if (t->timer) vx_timer_release(w, t);
    switch (t->wait_kind) {
    case VX_WAIT_NOTIFY: vx_notify_release(t, ctx->reason == VX_WAKE_NOTIFIED); break;
    case VX_WAIT_IO: vx_io_release(w, t); break;
    case VX_WAIT_OP:
    case VX_WAIT_JOB: vx_io_op_release(w, t); break;
    default: break;
    }

    if (VX_UNLIKELY(st != CORO_STATUS_RUNNING && st != CORO_STATUS_YIELDED)) {
        /* DONE, and any value outside the enum: the task is finished and its
         * data is never touched again; awaits it registered are dropped. */
        if (ctx->await_timer) vx_timer_discard_pending(w);
        vx_io_drop_pending(ctx);
        vx_sched_task_done(w, t);
        return false;
    }
    if (!ctx->await_timer && ctx->await_kind == VX_WAIT_NONE && !ctx->await_failed) {
        /* The next resume is not the result of a wake: drop the reason left
         * by the last one. An RMW only on the first yield after a wake; a
         * task that keeps yielding pays nothing here. */
        if (ctx->reason != VX_WAKE_NONE)
            atomic_fetch_and_explicit(&t->tok.state, ~VX_TS_REASON_MASK, memory_order_relaxed);
        VX_STAT_INC(w, VX_ST_YIELDS);
        vx_rq_push_back(w, t); /* a yield goes to the back, never to the LIFO slot */
        return false;
    }
    uint64_t gen = vx_ts_gen(atomic_load_explicit(&t->tok.state, memory_order_relaxed));
    unsigned immediate = VX_WAKE_NONE;
    if (ctx->await_timer && !vx_timer_arm_pending(w, t, gen)) immediate = VX_WAKE_TIMER;
    if (ctx->await_kind == VX_WAIT_NOTIFY) {
        unsigned r = vx_notify_arm(w, t, gen);
        if (r != VX_WAKE_NONE) immediate = r;
    } else if (ctx->await_kind == VX_WAIT_IO) {
        unsigned r = vx_io_arm(w, t, gen);
        if (r != VX_WAKE_NONE) immediate = r;
    } else if (ctx->await_kind == VX_WAIT_OP || ctx->await_kind == VX_WAIT_JOB) {
        unsigned r = vx_io_op_start(w, t, gen);
        if (r != VX_WAKE_NONE) immediate = r;
    }
    ctx->await_kind = VX_WAIT_NONE;
    /* An await that could not be armed ends the wait at once (an op that
     * completed keeps its reason: its result is what the task must see). */
    if (VX_UNLIKELY(ctx->await_failed) && immediate != VX_WAKE_COMPLETED) immediate = VX_WAKE_ERROR;
    /* An operation done at once, with no timer armed: no source holds this
     * gen, so the task can simply run again, unless a wake is pending (a
     * cancellation while it ran): then the normal path below delivers it. */
    if (immediate == VX_WAKE_COMPLETED && again_ok && !t->timer &&
        !(atomic_load_explicit(&t->tok.state, memory_order_relaxed) & VX_TS_NOTIFIED))
        return true;
    /* Any other source that is already due wakes the task through the normal
     * path: NOTIFIED is set, the park below consumes it and re-queues at
     * once, and the bumped gen makes the other armed sources stale. */
    if (immediate != VX_WAKE_NONE) vx_task_wake(t, gen, immediate);
    if (!vx_task_park(t)) vx_rq_push_back(w, t);
    return false;
}

/* A plain yield: the resume returned RUNNING or YIELDED and registered no
 * await (ctx->reason being VX_WAKE_NONE and the task having no wait to
 * release are checked by the caller). */
VX_INLINE bool plain_yield(const WorkerContext *ctx, CoroStatus st)
{
    return (st == CORO_STATUS_YIELDED || st == CORO_STATUS_RUNNING) && !ctx->await_timer &&
           ctx->await_kind == VX_WAIT_NONE && !ctx->await_failed;
}

/* after_resume's common case inline: a plain yield by a task that was not
 * woken (no reason to clear, no wait to release) goes straight to the back
 * of the ring. Returns true if the task may run again at once (see
 * after_resume_slow); *plain says whether the common case was taken. */
VX_INLINE bool after_resume(VxWorker *w, VxTask *t, CoroStatus st, bool again_ok, bool *plain)
{
    VX_ASSERT(w->own.ctx.task == t);
    WorkerContext *ctx = &w->own.ctx;
    if (VX_LIKELY(plain_yield(ctx, st) && ctx->reason == VX_WAKE_NONE && !t->timer &&
                  t->wait_kind == VX_WAIT_NONE)) {
        VX_STAT_INC(w, VX_ST_YIELDS);
        vx_rq_push_back(w, t); /* a yield goes to the back, never to the LIFO slot */
        *plain = true;
        return false;
    }
    *plain = false;
    if (st == CORO_STATUS_DONE && !ctx->await_timer && ctx->await_kind == VX_WAIT_NONE &&
        !ctx->await_failed && !t->timer && t->wait_kind == VX_WAIT_NONE) {
        vx_sched_task_done(w, t); /* finished with nothing armed: nothing to release */
        return false;
    }
    bool again = after_resume_slow(w, t, st, again_ok);
    /* Leave the await fields clear for the next resume (the fast path above
     * only runs when they are). */
    ctx->await_timer = NULL;
    ctx->await_kind = VX_WAIT_NONE;
    ctx->await_src = NULL;
    ctx->await_failed = 0;
    return again;
}

/* Resumes t, and again while its operations complete at once (at most
 * budget resumes); reason is the first resume's. Returns true if t ended
 * with a plain yield. */
VX_INLINE bool run_task_from(VxWorker *w, VxTask *t, unsigned reason, int budget)
{
    WorkerContext *ctx = &w->own.ctx;
    for (ctx->reason = (uint8_t)reason;; ctx->reason = VX_WAKE_COMPLETED) {
        /* The await fields are clear here: after_resume leaves them so. */
        VX_ASSERT(!ctx->await_timer && ctx->await_kind == VX_WAIT_NONE && !ctx->await_src &&
                  !ctx->await_failed);
        if (t->wait_kind == VX_WAIT_OP || t->wait_kind == VX_WAIT_JOB) {
            /* Woken before its operation finished (a timeout, say): finish
             * or cancel it first; the task may have to wait again. */
            unsigned why;
            if (vx_io_op_continue(w, t, &why)) return false;
            ctx->reason = (uint8_t)why;
        }
        ctx->task = t;
        VX_STAT_INC(w, VX_ST_RESUMES);
        CoroStatus st = t->fn(ctx, t->data);
        bool plain;
        bool again = after_resume(w, t, st, --budget > 0, &plain);
        ctx->task = NULL;
        if (!again) return plain;
    }
}

VX_INLINE bool run_task(VxWorker *w, VxTask *t)
{
    /* Queued exactly once per wait: a task taken from a queue is not parked. */
    VX_ASSERT(!(atomic_load_explicit(&t->tok.state, memory_order_relaxed) & VX_TS_WAITING));
    return run_task_from(w, t, vx_ts_reason(atomic_load_explicit(&t->tok.state,
                                                                 memory_order_relaxed)),
                         VX_IMMEDIATE_BUDGET);
}

/* The only worker's run of plain yields (yield_many's shape, or a game
 * loop's tasks), after one: exactly what worker_loop and next_task would do
 * task after task while only the ring has work (no LIFO task, no wake, no
 * periodic turn due, no stop), with just the checks that can change the
 * outcome made per task. A task that was woken, or whose resume does more
 * than yield, leaves through the general path. */
static VX_NOINLINE void solo_yields(VxWorker *w)
{
    Runtime *rt = w->rt;
    WorkerContext *ctx = &w->own.ctx;
    VxLocalQueue *q = &w->remote.q, *wq = &w->remote.wq;
    /* Ticks that next_task would take before its periodic turn. Its
     * fairness turn (the ring before the wake ring) changes nothing while
     * the wake ring is empty, which is checked per task: the countdown just
     * moves on, as next_task would move it. */
    uint32_t left = w->own.global_left - 1;
    uint32_t used = 0, yields = 0;
    VX_ASSERT(ctx->reason == VX_WAKE_NONE && !ctx->task);
    while (used < left) {
        if (atomic_load_explicit(&w->remote.lifo, memory_order_relaxed) ||
            atomic_load_explicit(&wq->head, memory_order_relaxed) !=
                atomic_load_explicit(&wq->tail, memory_order_relaxed) ||
            w->own.wake_spill || atomic_load_explicit(&rt->stopping, memory_order_relaxed))
            break;
        VxTask *t = (VxTask *)vx_lq_pop_solo(q);
        if (!t) break;
        used++;
        w->own.lifo_runs = 0;
        if (vx_ts_reason(atomic_load_explicit(&t->tok.state, memory_order_relaxed)) !=
                VX_WAKE_NONE || t->timer || t->wait_kind != VX_WAIT_NONE) {
            run_task(w, t);
            break;
        }
        ctx->task = t;
        CoroStatus st = t->fn(ctx, t->data);
        if (VX_UNLIKELY(!plain_yield(ctx, st))) {
            VX_STAT_INC(w, VX_ST_RESUMES);
            bool plain;
            bool again = after_resume(w, t, st, VX_IMMEDIATE_BUDGET > 1, &plain);
            ctx->task = NULL;
            if (again) run_task_from(w, t, VX_WAKE_COMPLETED, VX_IMMEDIATE_BUDGET - 1);
            break;
        }
        yields++;
        /* vx_rq_push_back without the sibling check: there is none. */
        if (VX_UNLIKELY(!vx_lq_push_owner(q, t))) vx_rq_overflow(w, q, t);
    }
    ctx->task = NULL;
    w->own.global_left -= used;
    /* next_task's countdown after used ticks: down by one per tick, from 1
     * back to VX_WAKE_FAIRNESS (used < VX_GLOBAL_INTERVAL <= 2 turns). */
    _Static_assert(VX_GLOBAL_INTERVAL <= 2 * VX_WAKE_FAIRNESS, "one wrap of wake_left at most");
    w->own.wake_left = (w->own.wake_left + 2 * VX_WAKE_FAIRNESS - 1 - used) % VX_WAKE_FAIRNESS + 1;
    VX_STAT_ADD(w, VX_ST_RESUMES, yields);
    VX_STAT_ADD(w, VX_ST_YIELDS, yields);
}

VX_INLINE bool has_timer_work(VxWorker *w)
{
    return atomic_load_explicit(&w->remote.next_timer_ns, memory_order_relaxed) != UINT64_MAX ||
           atomic_load_explicit(&w->remote.timer_cancels, memory_order_relaxed);
}

/* Fires this worker's due timers, and those of workers that fell behind. */
static bool run_timers(VxWorker *w)
{
    bool woke = false;
    uint64_t now = 0;
    if (has_timer_work(w)) woke = vx_timer_run(w, now = vx_plat_now_ns(&w->rt->sys));
    if (w->rt->nworkers > 1 && vx_timer_watch_ns(w) != UINT64_MAX) {
        if (!now) now = vx_plat_now_ns(&w->rt->sys);
        woke |= vx_timer_rescue(w, now);
    }
    return woke;
}

/* Every VX_GLOBAL_INTERVAL ticks: timers, and I/O events, so a busy worker
 * still picks up completions and readiness (Tokio's event_interval). */
static void maintenance(VxWorker *w)
{
    run_timers(w);
    vx_io_poll(w);
}

/* Moves spilled wakes into the wake ring while it has room. */
static VX_NOINLINE void refill_wakes(VxWorker *w)
{
    while (w->own.wake_spill) {
        VxTask *t = w->own.wake_spill;
        VxTask *next = t->next;
        if (!vx_lq_push_owner(&w->remote.wq, t)) return;
        w->own.wake_spill = next;
    }
    w->own.wake_spill_tail = NULL;
}

/* Every VX_GLOBAL_INTERVAL ticks: timers and I/O (maintenance), then the
 * global queue first, so that tasks that respawn each other cannot starve
 * it (Go's schedtick % 61). Returns a task from it, or NULL. */
static VX_NOINLINE VxTask *periodic(VxWorker *w)
{
    w->own.global_left = VX_GLOBAL_INTERVAL;
    maintenance(w);
    void *e = vx_gq_take(w->rt);
    if (!e) return NULL;
    size_t n;
    /* Only up to half a ring: a full one would overflow again at the next
     * push, and the tasks would go round in circles. */
    return vx_gq_expand(w, e, vx_lq_capacity(&w->remote.q) / 2, &n);
}

/* The task in the LIFO slot, if it may run now: at most VX_MAX_LIFO_RUNS
 * in a row, then it goes to the back of the ring, which gets a turn. */
VX_INLINE VxTask *take_lifo(VxWorker *w)
{
    VxTask *t;
    if (w->own.solo) {
        /* No sibling can rescue it: the slot is ours alone. */
        t = atomic_load_explicit(&w->remote.lifo, memory_order_relaxed);
        atomic_store_explicit(&w->remote.lifo, NULL, memory_order_relaxed);
    } else {
        /* acquire: takes the task published by the exchange in vx_sched_push. */
        t = atomic_exchange_explicit(&w->remote.lifo, NULL, memory_order_acquire);
        if (!t) return NULL; /* a rescuer took it */
    }
    if (w->own.lifo_runs < VX_MAX_LIFO_RUNS) {
        w->own.lifo_runs++;
        return t;
    }
    /* No wake-up: we are about to pop the ring ourselves. */
    if (!vx_lq_push_owner(&w->remote.q, t)) vx_rq_overflow(w, &w->remote.q, t);
    return NULL;
}

VX_INLINE VxTask *next_task(VxWorker *w)
{
    VxTask *t;
    bool solo = w->own.solo;
    if (!solo) {
        /* Hand-overs and a tick siblings watch: neither exists for the only
         * worker. */
        if (VX_UNLIKELY(atomic_load_explicit(&w->remote.inbox_len, memory_order_relaxed)))
            vx_inbox_drain(w, w);
        uint32_t tick = VX_LOAD_RELAXED(&w->remote.tick) + 1;
        VX_STORE_RELAXED(&w->remote.tick, tick); /* a plain store: only we write it */
        if (tick % VX_BACKLOG_CHECK == 0 && !w->own.searching) vx_rq_check_backlog(w);
    }
    if (VX_UNLIKELY(--w->own.global_left == 0) && (t = periodic(w))) return t;
    if (atomic_load_explicit(&w->remote.lifo, memory_order_relaxed) && (t = take_lifo(w))) return t;
    w->own.lifo_runs = 0;
    /* Woken tasks first (their lateness counts), but every VX_WAKE_FAIRNESS-th
     * tick the ring goes first, so a stream of wake-ups cannot starve it. */
    if (VX_UNLIKELY(w->own.wake_spill != NULL)) refill_wakes(w);
    bool wakes_first = --w->own.wake_left != 0;
    if (!wakes_first) w->own.wake_left = VX_WAKE_FAIRNESS;
    if (solo) {
        /* Nobody steals from the only worker: no CAS (else as below). */
        if (wakes_first && (t = (VxTask *)vx_lq_pop_solo(&w->remote.wq))) return t;
        t = (VxTask *)vx_lq_pop_solo(&w->remote.q);
        if (!t) t = (VxTask *)vx_lq_pop_solo(&w->remote.wq);
        return t ? t : vx_gq_pull(w);
    }
    if (wakes_first && (t = (VxTask *)vx_lq_pop_owner(&w->remote.wq))) {
        VX_PREFETCH_W(t);
        return t;
    }
    t = (VxTask *)vx_lq_pop_owner(&w->remote.q);
    if (!t) t = (VxTask *)vx_lq_pop_owner(&w->remote.wq);
    if (t) {
        /* The task was likely written by another worker (spawned there or
         * stolen from it): fetch its line while the state checks run. */
        VX_PREFETCH_W(t);
        return t;
    }
    return vx_gq_pull(w);
}

static VxTask *steal_work(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint32_t n = rt->nworkers;
    if (n > 1 && vx_idle_try_search(rt, w)) {
        uint32_t start = vx_rand32(&w->own.rng) % n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v = (start + i) % n;
            if (v == w->id) continue;
            uint32_t got;
            VxTask *t = (VxTask *)vx_lq_steal_into(&rt->workers[v].remote.wq, &w->remote.wq, &got);
            if (!t) t = (VxTask *)vx_lq_steal_into(&rt->workers[v].remote.q, &w->remote.q, &got);
            if (t) {
                VX_STAT_ADD(w, VX_ST_STEALS, got);
                return t;
            }
        }
    }
    return vx_gq_pull(w);
}

/* --- Thread entry --- */

VxWorker *vx_sched_current(Runtime *rt)
{
    uintptr_t me = vx_plat_thread_self(&rt->sys);
    if (!me) return NULL;
    for (uint32_t i = 0; i < rt->nworkers; i++)
        if (atomic_load_explicit(&rt->workers[i].self, memory_order_relaxed) == me)
            return &rt->workers[i];
    return NULL;
}

/* The worker loop: runs tasks until the runtime stops. */
static void worker_loop(VxWorker *w)
{
    Runtime *rt = w->rt;
    vx_trace(rt, "worker start", w->id, 0);
    while (!atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
        VxTask *t = next_task(w);
        bool handed_back = w->own.handed_back;
        w->own.handed_back = false;
        if (!t) {
            w->own.backlog_ns = 0; /* ran dry: any backlog is over */
            /* Having just given its woken tasks away, stealing them back
             * would undo it: sleep again. */
            if (!handed_back) t = steal_work(w);
        }
        if (t) {
            /* Leaving the searching state: the last searcher to find work
             * wakes another, which ramps parallelism up one worker at a time. */
            if (w->own.searching && vx_idle_stop_search(rt, w)) vx_idle_notify(rt);
            if (run_task(w, t) && w->own.solo) solo_yields(w);
            continue;
        }
        if (run_timers(w)) continue;
        /* With I/O in play, work comes from the poller: sleep in it at once
         * rather than spin on a CPU the peer of a connection may need. (A
         * look at the poller without blocking first cost more than it saved:
         * +3 us of CPU per round trip on tcp_echo with io_uring.) */
        if (!vx_io_active(rt) && vx_park_spin(w)) continue;
        vx_park_worker(w, VEX_WAIT_FOREVER);
    }
    vx_trace(rt, "worker stop", w->id, 0);
}

/* --- A hosted worker's turn (vexrt/embed.h) --- */

/* Runs what w has ready: tasks (its own, the global queue's, stolen ones),
 * due timers, and I/O that is ready now, until none is left or budget
 * resumes ran. The poller is looked at again as long as a look finds
 * something: that harvests what arrived while tasks ran without sending the
 * host round its own poll first (the empty look that ends it is the one
 * system call hosting adds per turn). True if it ran anything. */
static bool run_ready(VxWorker *w, uint32_t budget)
{
    Runtime *rt = w->rt;
    bool ran = false;
    for (uint32_t n = 0; n < budget; n++) {
        if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) break;
        VxTask *t = next_task(w);
        if (!t) t = steal_work(w);
        if (t) {
            if (w->own.searching && vx_idle_stop_search(rt, w)) vx_idle_notify(rt);
            if (run_task(w, t) && w->own.solo) solo_yields(w);
            ran = true;
            continue;
        }
        if (run_timers(w) || vx_io_poll(w)) {
            ran = true;
            continue;
        }
        break;
    }
    return ran;
}

int vx_sched_step(VxWorker *w, uint64_t timeout_ns)
{
    Runtime *rt = w->rt;
    vx_park_host_leave(w);
    if (!run_ready(w, VX_STEP_BUDGET) && timeout_ns &&
        !atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
        vx_park_worker(w, timeout_ns);
        run_ready(w, VX_STEP_BUDGET);
    }
    /* A per-worker poller may hold requests back until its next wait
     * (io_uring: the operations the resumes started are SQEs until the next
     * io_uring_enter): hand them to the kernel now, the host is about to
     * wait for their completions. A shared poller applies requests at once
     * (platform.h), so it is left alone: a look would cost a system call. */
    if (vx_io_per_worker(rt)) vx_io_poll(w);
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return 0;
    vx_park_host_enter(w);
    return 1;
}

/* Sets up w's poller state on the calling thread (io_uring rings belong to
 * the thread that made them); for a host loop with handle. */
static int worker_attach(VxWorker *w, IoHandle *handle)
{
    atomic_store_explicit(&w->self, vx_plat_thread_self(&w->rt->sys), memory_order_relaxed);
    int rc = handle ? vx_io_attach_host(w, handle) : vx_io_attach(w);
    /* Released at destroy, once no thread can wake it. No poller state to
     * hand to a host (VEX_ENOSYS) still leaves one attached, if any. */
    w->own.poller_attached = rc == 0 || (handle && rc == VEX_ENOSYS && w->rt->io.poller);
    return rc;
}

int vx_sched_attach_host(VxWorker *w, IoHandle *handle)
{
    return worker_attach(w, handle);
}

void vx_sched_worker_main(void *arg)
{
    VxWorker *w = (VxWorker *)arg;
    Runtime *rt = w->rt;
    int arc = worker_attach(w, NULL);
    if (arc) {
        int z = 0;
        atomic_compare_exchange_strong_explicit(&rt->io.attach_error, &z, arc, memory_order_acq_rel,
                                                memory_order_relaxed);
    }
    /* release: our attach result is visible to runtime_new, which acquires. */
    atomic_fetch_add_explicit(&rt->io.attached, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &rt->io.attached, 1);
    /* Wait for runtime_run (or for destroy before it). acquire: pairs with
     * the release store of the phase, so everything queued before run is
     * visible. */
    while (atomic_load_explicit(&rt->phase, memory_order_acquire) == VX_PHASE_CREATED)
        vx_plat_park(&rt->sys, &rt->phase, VX_PHASE_CREATED, VEX_WAIT_FOREVER);
    if (!arc) worker_loop(w);
    atomic_store_explicit(&w->self, 0, memory_order_relaxed);
}

int vx_sched_run_here(VxWorker *w)
{
    int rc = worker_attach(w, NULL);
    if (rc == 0) worker_loop(w);
    atomic_store_explicit(&w->self, 0, memory_order_relaxed);
    return rc;
}

/* --- Public entry points --- */

VexWakeReason worker_wake_reason(WorkerContext *ctx)
{
    if (!vx_ctx_live(ctx)) return VEX_WAKE_NONE;
    return (VexWakeReason)ctx->reason;
}
