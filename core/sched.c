/* core/sched.c - the worker loop: where tasks come from, how they run, and
 * how an idle worker sleeps.
 *
 * Divisions: global queue (MPMC + spill list); pushing runnable tasks (LIFO
 * slot, ring, overflow); spawning; resuming a task and what happens after;
 * finding work (local, global, stealing); parking; the thread entry point.
 *
 * Order of sources for a worker (Go's findRunnable, Tokio's next_task):
 * every 61st tick the global queue first (fairness) and due timers; then the
 * LIFO slot (at most 3 in a row, since resumes are never preempted), the
 * local ring, a batch from the global queue, stealing half of a random
 * victim's ring; then timers; then sleep until the earliest timer. */
#include "rt.h"

#define GLOBAL_INTERVAL 61 /* ticks between fairness checks (Go, Tokio) */
#define MAX_LIFO_RUNS 3    /* consecutive LIFO resumes before the ring gets a turn */
#define WAKE_FAIRNESS 31   /* ticks between turns where the ring goes before woken tasks */

/* --- Global queue ---
 *
 * Entries (see rt.h) go to the MPMC; when it is full, to the spill list (a
 * linked list under a lock), and while the spill list is non-empty every
 * producer appends there, so FIFO order holds per producer. Consumers take
 * from the MPMC first: everything in it is older than the spill list. */

VX_INLINE bool is_batch(const void *e) { return ((uintptr_t)e & VX_ENTRY_BATCH) != 0; }
VX_INLINE VxBatch *batch_of(void *e) { return (VxBatch *)((uintptr_t)e & ~VX_ENTRY_BATCH); }

VX_INLINE void **entry_link(void *e)
{
    return is_batch(e) ? &batch_of(e)->next : (void **)&((VxTask *)e)->next;
}

/* Publishes one entry of n tasks (no wake-up). Any thread. */
static void global_publish(Runtime *rt, void *e, size_t n)
{
    if (atomic_load_explicit(&rt->spill_len, memory_order_relaxed) == 0 && vx_mpmc_push(&rt->gq, e))
        return;
    *entry_link(e) = NULL;
    vx_lock(&rt->spill_lock, &rt->sys);
    if (rt->spill_tail)
        *entry_link(rt->spill_tail) = e;
    else
        rt->spill_head = e;
    rt->spill_tail = e;
    atomic_fetch_add_explicit(&rt->spill_len, n, memory_order_seq_cst);
    vx_unlock(&rt->spill_lock, &rt->sys);
}

void vx_sched_global_push(Runtime *rt, VxTask *t)
{
    global_publish(rt, t, 1);
    vx_idle_notify(rt);
}

/* Takes the oldest global entry, or NULL if the queue looked empty. */
static void *global_take(Runtime *rt)
{
    void *e = vx_mpmc_pop(&rt->gq);
    if (e || atomic_load_explicit(&rt->spill_len, memory_order_acquire) == 0) return e;
    vx_lock(&rt->spill_lock, &rt->sys);
    e = rt->spill_head;
    if (e) {
        rt->spill_head = *entry_link(e);
        if (!rt->spill_head) rt->spill_tail = NULL;
        /* Once the spill list is empty producers return to the MPMC;
         * everything still in the MPMC is older than what they add. */
        atomic_fetch_sub_explicit(&rt->spill_len, is_batch(e) ? batch_of(e)->count : 1,
                                  memory_order_relaxed);
    }
    vx_unlock(&rt->spill_lock, &rt->sys);
    return e;
}

static void push_back(VxWorker *w, VxTask *t);
static uint32_t inbox_drain(VxWorker *w, VxWorker *v);

/* Returns the first task of entry e and queues the rest of a batch on w, as
 * many as fit in w's ring with `reserve` slots left free. The remainder goes
 * back to the global queue in the same batch (behind newer entries: a small
 * loss of order). Pushing it into a full ring instead would overflow half
 * the ring straight back out, and a busy worker taking an entry every
 * GLOBAL_INTERVAL ticks for fairness then traded hundreds of tasks with the
 * global queue each time (ping_pong ran at half speed). *count gets the
 * number of tasks taken. */
static VxTask *expand(VxWorker *w, void *e, uint32_t reserve, size_t *count)
{
    if (!is_batch(e)) {
        *count = 1;
        return (VxTask *)e;
    }
    VxBatch *b = batch_of(e);
    uint32_t n = b->count;
    uint32_t used = vx_lq_len(&w->q) + reserve, cap = vx_lq_capacity(&w->q);
    uint32_t room = used < cap ? cap - used : 0;
    uint32_t take = n - 1 <= room ? n : room + 1;
    for (uint32_t i = 1; i < take; i++) {
        VxTask *t = b->tasks[i];
        VX_PREFETCH_W(t); /* addresses from an array: the misses overlap */
        if (!vx_lq_push_owner(&w->q, t)) push_back(w, t);
    }
    VxTask *first = b->tasks[0];
    *count = take;
    if (take == n) {
        vx_slab_free(&w->rt->batches, w->id, b);
        return first;
    }
    for (uint32_t i = take; i < n; i++) b->tasks[i - take] = b->tasks[i];
    b->count = n - take;
    global_publish(w->rt, e, n - take);
    return first;
}

/* Takes work from the global queue into w: about a fair share, len /
 * nworkers + 1 tasks, at most half a ring (Tokio), and never more than the
 * ring holds. Returns one to run. */
static VxTask *global_pull(VxWorker *w)
{
    Runtime *rt = w->rt;
    size_t len = vx_mpmc_len_hint(&rt->gq) +
                 atomic_load_explicit(&rt->spill_len, memory_order_relaxed);
    if (len == 0) return NULL;
    size_t want = len / rt->nworkers + 1;
    if (want > VX_LQ_MAX / 2) want = VX_LQ_MAX / 2;
    VxTask *first = NULL;
    size_t got = 0;
    while (got < want) {
        /* A later entry's first task needs a slot of its own. */
        if (first && vx_lq_len(&w->q) >= vx_lq_capacity(&w->q)) break;
        void *e = global_take(rt);
        if (!e) break;
        size_t n;
        VxTask *t = expand(w, e, first ? 1 : 0, &n);
        if (first) {
            if (!vx_lq_push_owner(&w->q, t)) push_back(w, t);
        } else {
            first = t;
        }
        got += n;
    }
    return first;
}

/* --- Pushing runnable tasks --- */

/* When a worker's own pushes wake a sleeping sibling.
 *
 * Waking one costs both of them a few microseconds of system time, and on
 * a machine whose cores are also wanted by the other end of the sockets the
 * second worker competes for a core instead of adding one: a batch of short
 * tasks (a poller's worth of I/O wake-ups) is done sooner by the worker that
 * has it. So a sibling is woken at once only for a large backlog; for a
 * small one, only once it has lasted BACKLOG_NS (looked at every
 * BACKLOG_CHECK ticks): then the tasks are long, and a second worker helps.
 * (Tokio wakes a sibling as soon as two tasks are queued; on the tcp_echo
 * workload that made the workers trade every batch back and forth, at a
 * context switch per dozen round trips.) Work that leaves the worker (the
 * global queue, an overflow) always wakes a sleeper. */
#define NOTIFY_BACKLOG 64     /* queued tasks that call for a sibling at once */
#define BACKLOG_CHECK 8       /* ticks between looks at a small backlog */
#define BACKLOG_NS 50000u     /* a backlog this old gets a sibling */
/* With I/O in play the poller hands a worker its work in batches (a wait's
 * worth of readiness or completions, up to one per connection), each task a
 * syscall or two long. A batch of 64 echo round trips lasts a few hundred
 * microseconds, and waking a sibling for it made the two workers and the
 * peer of the sockets share two cores three ways: on tcp_echo (64
 * connections, 2 workers) 25% fewer round trips and 5x the context
 * switches, and with io_uring the stolen tasks' operations then lived in the
 * sibling's ring for good. So a sibling joins only for a backlog that lasts
 * longer than a batch, or that is larger than a batch. */
#define IO_NOTIFY_BACKLOG 256
#define IO_BACKLOG_NS 500000u


/* A plain load: a hint. The pushing worker runs the task itself if nobody
 * else does; only pushes by threads that will not run the work (foreign
 * spawns, wakes from outside) must use the RMW in vx_idle_notify. */
VX_INLINE bool sibling_sleeps(Runtime *rt)
{
    uint64_t s = atomic_load_explicit(&rt->idle, memory_order_relaxed);
    return (uint32_t)s == 0 && (uint32_t)(s >> 32) < rt->nworkers;
}

VX_INLINE uint32_t queued_here(VxWorker *w) { return vx_lq_len(&w->q) + vx_lq_len(&w->wq); }

VX_INLINE void maybe_notify(VxWorker *w)
{
    if (w->searching) return;
    uint32_t queued = queued_here(w);
    if (queued < NOTIFY_BACKLOG || (queued < IO_NOTIFY_BACKLOG && vx_io_active(w->rt))) return;
    if (sibling_sleeps(w->rt)) vx_idle_notify(w->rt);
}

/* The small-backlog rule above, from the scheduler loop. */
static VX_NOINLINE void check_backlog(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (queued_here(w) < 2 || !sibling_sleeps(rt)) {
        w->backlog_ns = 0;
        return;
    }
    uint64_t now = vx_plat_now_ns(&rt->sys);
    if (!w->backlog_ns) {
        w->backlog_ns = now;
    } else if (now - w->backlog_ns >= (vx_io_active(rt) ? IO_BACKLOG_NS : BACKLOG_NS)) {
        w->backlog_ns = 0;
        vx_idle_notify(rt);
    }
}

static VX_NOINLINE void push_overflow(VxWorker *w, VxLocalQueue *q, VxTask *t)
{
    Runtime *rt = w->rt;
    void *tmp[VX_BATCH_MAX];
    VxBatch *b = (VxBatch *)vx_slab_alloc(&rt->batches, w->id);
    void **slots = b ? (void **)b->tasks : tmp;
    for (;;) {
        uint32_t n = vx_lq_take_half_owner(q, slots);
        if (n == 0) {
            if (vx_lq_push_owner(q, t)) { /* a thief made room */
                if (b) vx_slab_free(&rt->batches, w->id, b);
                return;
            }
            continue;
        }
        slots[n++] = t;
        if (b) {
            b->count = n;
            global_publish(rt, (void *)((uintptr_t)b | VX_ENTRY_BATCH), n);
        } else {
            /* No memory for a batch: publish the tasks one by one. */
            for (uint32_t i = 0; i < n; i++) global_publish(rt, slots[i], 1);
        }
        VX_STAT_INC(w, VX_ST_OVERFLOWS);
        VX_STAT_ADD(w, VX_ST_GLOBAL_PUSHES, n);
        vx_idle_notify(rt); /* the batch is on the global queue now: anyone may take it */
        return;
    }
}

/* Appends t to one of w's rings (w must be the calling worker). */
VX_INLINE void push_to(VxWorker *w, VxLocalQueue *q, VxTask *t)
{
    if (VX_UNLIKELY(!vx_lq_push_owner(q, t))) {
        push_overflow(w, q, t);
        return;
    }
    maybe_notify(w);
}

static void push_back(VxWorker *w, VxTask *t) { push_to(w, &w->q, t); }

void vx_sched_push(Runtime *rt, VxWorker *w, VxTask *t, int how)
{
    /* A task of another runtime is never pushed on w: the caller passes
     * NULL for a task that is not w's runtime's (notify.c). */
    VX_ASSERT(!w || w->rt == rt);
    if (!w) {
        atomic_fetch_add_explicit(&rt->foreign_global_pushes, 1, memory_order_relaxed);
        vx_sched_global_push(rt, t);
        return;
    }
    if (how == VX_PUSH_WAKE) {
        /* A burst of wakes beyond the wake ring's room waits in a private
         * list, in order, rather than behind everything in the global queue:
         * their lateness is what counts. */
        if (w->wake_spill || !vx_lq_push_owner(&w->wq, t)) {
            t->next = NULL;
            if (w->wake_spill_tail)
                w->wake_spill_tail->next = t;
            else
                w->wake_spill = t;
            w->wake_spill_tail = t;
        }
        maybe_notify(w);
        return;
    }
    if (how == VX_PUSH_LIFO) {
        /* Only the owner puts into the slot; a stall rescuer only takes
         * from it. So an empty slot can be filled with a plain release store
         * (the common hand-off case, one RMW fewer): a concurrent rescuer
         * found nothing to take. An occupied slot needs the exchange. */
        if (!atomic_load_explicit(&w->lifo, memory_order_relaxed)) {
            /* release: publishes t to a rescuer's acquire exchange. */
            atomic_store_explicit(&w->lifo, t, memory_order_release);
            return;
        }
        /* acq_rel: release publishes t; acquire takes the previous occupant. */
        t = atomic_exchange_explicit(&w->lifo, t, memory_order_acq_rel);
        if (!t) return;
    }
    push_back(w, t);
}

/* --- Spawning --- */

/* Live-task credits (see runtime.c): a worker spends one per spawn, and
 * takes a batch from rt->live when it has none. False once the runtime is
 * closed. */
static bool take_credit(Runtime *rt, VxWorker *w)
{
    if (VX_LIKELY(w && w->credits > 0)) {
        w->credits--;
        return true;
    }
    int64_t want = w ? VX_CREDIT_BATCH : 1;
    int64_t g = atomic_load_explicit(&rt->live, memory_order_relaxed);
    do {
        if (g & VX_LIVE_CLOSED) return false;
    } while (!atomic_compare_exchange_weak_explicit(&rt->live, &g, g + want, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (w) w->credits += want - 1;
    return true;
}

static VxTask *task_alloc(Runtime *rt, VxWorker *w)
{
    VxTask *t;
    if (w) {
        t = (VxTask *)vx_slab_alloc(&rt->tasks, w->id);
    } else {
        vx_lock(&rt->foreign_lock, &rt->sys);
        t = (VxTask *)vx_slab_alloc(&rt->tasks, VX_FOREIGN_HEAP(rt));
        vx_unlock(&rt->foreign_lock, &rt->sys);
    }
    return t;
}

VX_INLINE void task_free(Runtime *rt, VxWorker *w, VxTask *t)
{
    vx_slab_free(&rt->tasks, w ? w->id : VX_SLAB_FOREIGN, t);
}

VxTask *vx_sched_task_new(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data, int *err)
{
    if (!fn) {
        *err = VEX_EINVAL;
        return NULL;
    }
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
        *err = VEX_ESHUTDOWN;
        return NULL;
    }
    VxTask *t = task_alloc(rt, w);
    if (!t) {
        *err = VEX_ENOMEM;
        return NULL;
    }
    if (!take_credit(rt, w)) {
        task_free(rt, w, t);
        *err = VEX_ESHUTDOWN;
        return NULL;
    }
    vx_task_reset_state(t);
    t->fn = fn;
    t->data = data;
    t->next = NULL;
    t->timer = NULL;
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->wait_gen, 0, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
    t->io_events = 0;
    return t;
}

void vx_sched_task_start(Runtime *rt, VxWorker *w, VxTask *t)
{
    if (w) {
        VX_STAT_INC(w, VX_ST_SPAWNED);
        vx_sched_push(rt, w, t, VX_PUSH_BACK);
    } else {
        atomic_fetch_add_explicit(&rt->foreign_spawns, 1, memory_order_relaxed);
        vx_sched_push(rt, NULL, t, VX_PUSH_BACK);
    }
}

int vx_sched_spawn(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data)
{
    int err = 0;
    VxTask *t = vx_sched_task_new(rt, w, fn, data, &err);
    if (!t) return err;
    vx_sched_task_start(rt, w, t);
    return 0;
}

/* --- Resuming --- */

static void task_done(VxWorker *w, VxTask *t)
{
    Runtime *rt = w->rt;
    vx_task_retire(t);
    task_free(rt, w, t);
    VX_STAT_INC(w, VX_ST_DONE);
    /* The finished task's credit stays with this worker; a large surplus
     * goes back to rt->live in one RMW (its count can never reach zero here:
     * we keep a batch). */
    if (++w->credits > VX_CREDIT_MAX) {
        int64_t give = w->credits - VX_CREDIT_BATCH;
        w->credits = VX_CREDIT_BATCH;
        atomic_fetch_sub_explicit(&rt->live, give, memory_order_acq_rel);
    }
}

/* What happens after a resume returns: finish, yield, or park on the awaits
 * it registered (see task.h for the protocol). Returns true if the task's
 * operation completed at once and it may be resumed again right away
 * (again_ok): an echo's send usually does, and the task's next resume then
 * costs no trip through the queues and the state word. */
static bool after_resume(VxWorker *w, VxTask *t, CoroStatus st, bool again_ok)
{
    WorkerContext *ctx = &w->ctx;
    /* The previous wait is over: release what it armed. */
    if (t->timer) vx_timer_release(w, t);
    switch (t->wait_kind) {
    case VX_WAIT_NOTIFY: vx_notify_release(t, ctx->reason == VX_WAKE_NOTIFIED); break;
    case VX_WAIT_IO: vx_io_release(w, t); break;
    case VX_WAIT_OP: vx_io_op_release(w, t); break;
    default: break;
    }

    if (VX_UNLIKELY(st != CORO_STATUS_RUNNING && st != CORO_STATUS_YIELDED)) {
        /* DONE, and any value outside the enum: the task is finished and its
         * data is never touched again; awaits it registered are dropped. */
        if (ctx->await_timer) vx_timer_discard_pending(w);
        vx_io_drop_pending(ctx);
        task_done(w, t);
        return false;
    }
    if (!ctx->await_timer && ctx->await_kind == VX_WAIT_NONE && !ctx->await_failed) {
        /* The next resume is not the result of a wake: drop the reason left
         * by the last one. An RMW only on the first yield after a wake; a
         * task that keeps yielding pays nothing here. */
        if (ctx->reason != VX_WAKE_NONE)
            atomic_fetch_and_explicit(&t->tok.state, ~VX_TS_REASON_MASK, memory_order_relaxed);
        VX_STAT_INC(w, VX_ST_YIELDS);
        push_back(w, t); /* a yield goes to the back, never to the LIFO slot */
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
    } else if (ctx->await_kind == VX_WAIT_OP) {
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
    if (!vx_task_park(t)) push_back(w, t);
    return false;
}

/* Resumes in a row allowed to a task whose operations complete at once,
 * before it goes to the back of the queue like everyone else. */
#define IMMEDIATE_BUDGET 16

static void run_task(VxWorker *w, VxTask *t)
{
    WorkerContext *ctx = &w->ctx;
    ctx->reason = (uint8_t)vx_ts_reason(atomic_load_explicit(&t->tok.state,
                                                              memory_order_relaxed));
    for (int budget = IMMEDIATE_BUDGET;; ctx->reason = VX_WAKE_COMPLETED) {
        ctx->await_timer = NULL;
        ctx->await_kind = VX_WAIT_NONE;
        ctx->await_src = NULL;
        ctx->await_failed = 0;
        if (t->wait_kind == VX_WAIT_OP) {
            /* Woken before its operation finished (a timeout, say): finish
             * or cancel it first; the task may have to wait again. */
            unsigned reason;
            if (vx_io_op_continue(w, t, &reason)) return;
            ctx->reason = (uint8_t)reason;
        }
        ctx->task = t;
        VX_STAT_INC(w, VX_ST_RESUMES);
        CoroStatus st = t->fn(ctx, t->data);
        bool again = after_resume(w, t, st, --budget > 0);
        ctx->task = NULL;
        if (!again) return;
    }
}

/* --- Finding work --- */

VX_INLINE bool has_timer_work(VxWorker *w)
{
    return atomic_load_explicit(&w->next_timer_ns, memory_order_relaxed) != UINT64_MAX ||
           atomic_load_explicit(&w->timer_cancels, memory_order_relaxed);
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

/* Every GLOBAL_INTERVAL ticks: timers, and I/O events, so a busy worker
 * still picks up completions and readiness (Tokio's event_interval). */
static void maintenance(VxWorker *w)
{
    run_timers(w);
    vx_io_poll(w);
}

/* Moves spilled wakes into the wake ring while it has room. */
static VX_NOINLINE void refill_wakes(VxWorker *w)
{
    while (w->wake_spill) {
        VxTask *t = w->wake_spill;
        VxTask *next = t->next;
        if (!vx_lq_push_owner(&w->wq, t)) return;
        w->wake_spill = next;
    }
    w->wake_spill_tail = NULL;
}

static VxTask *next_task(VxWorker *w)
{
    Runtime *rt = w->rt;
    VxTask *t;
    if (VX_UNLIKELY(atomic_load_explicit(&w->inbox_len, memory_order_relaxed))) inbox_drain(w, w);
    uint32_t tick = VX_LOAD_RELAXED(&w->tick) + 1;
    VX_STORE_RELAXED(&w->tick, tick); /* a plain store: only we write it */
    if (tick % BACKLOG_CHECK == 0 && !w->searching && rt->nworkers > 1) check_backlog(w);
    if (VX_UNLIKELY(tick % GLOBAL_INTERVAL == 0)) {
        maintenance(w);
        /* Fairness: tasks that respawn each other cannot starve the global
         * queue (Go's schedtick % 61). */
        void *e = global_take(rt);
        if (e) {
            size_t n;
            /* Only up to half a ring: a full one would overflow again at
             * the next push, and the tasks would go round in circles. */
            return expand(w, e, vx_lq_capacity(&w->q) / 2, &n);
        }
    }
    if (atomic_load_explicit(&w->lifo, memory_order_relaxed)) {
        /* acquire: takes the task published by the exchange in vx_sched_push. */
        t = atomic_exchange_explicit(&w->lifo, NULL, memory_order_acquire);
        if (t) {
            if (w->lifo_runs < MAX_LIFO_RUNS) {
                w->lifo_runs++;
                return t;
            }
            /* Budget spent: to the back of the ring, which gets a turn. No
             * wake-up: we are about to pop the ring ourselves. */
            if (!vx_lq_push_owner(&w->q, t)) push_overflow(w, &w->q, t);
        }
    }
    w->lifo_runs = 0;
    /* Woken tasks first (their lateness counts), but every WAKE_FAIRNESS-th
     * tick the ring goes first, so a stream of wake-ups cannot starve it. */
    if (VX_UNLIKELY(w->wake_spill != NULL)) refill_wakes(w);
    if (tick % WAKE_FAIRNESS != 0 && (t = (VxTask *)vx_lq_pop_owner(&w->wq))) {
        VX_PREFETCH_W(t);
        return t;
    }
    t = (VxTask *)vx_lq_pop_owner(&w->q);
    if (!t) t = (VxTask *)vx_lq_pop_owner(&w->wq);
    if (t) {
        /* The task was likely written by another worker (spawned there or
         * stolen from it): fetch its line while the state checks run. */
        VX_PREFETCH_W(t);
        return t;
    }
    return global_pull(w);
}

static VxTask *steal_work(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint32_t n = rt->nworkers;
    if (n > 1 && vx_idle_try_search(rt, w)) {
        uint32_t start = vx_rand32(&w->rng) % n;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t v = (start + i) % n;
            if (v == w->id) continue;
            uint32_t got;
            VxTask *t = (VxTask *)vx_lq_steal_into(&rt->workers[v].wq, &w->wq, &got);
            if (!t) t = (VxTask *)vx_lq_steal_into(&rt->workers[v].q, &w->q, &got);
            if (t) {
                VX_STAT_ADD(w, VX_ST_STEALS, got);
                return t;
            }
        }
    }
    return global_pull(w);
}

/* --- Handing woken I/O tasks to a sibling ---
 *
 * With a poller per worker (io_uring), a task's operations complete on the
 * ring of the worker that submitted them and wake that worker. Once a
 * sibling has stolen some tasks (a backlog woke it), their connections live
 * on its ring from then on, and each completion wakes it: two workers and
 * the peer of the sockets then share two cores three ways even when one
 * worker could carry the load (tcp_echo: the runs with thousands of steals
 * were the slow ones, 70-80k rt/s against 105-150k). So a worker woken by
 * its own ring alone, while a sibling runs with almost nothing queued,
 * hands the woken tasks to that sibling and goes back to sleep: their next
 * operations go to the sibling's ring, and I/O gathers on the worker that is
 * awake anyway. A sibling with a real backlog gets nothing handed over.
 *
 * The inbox is a list under a lock (hand-overs come in batches, and a stall
 * rescuer may empty it too). No lost wake-up: the giver adds to inbox_len
 * and then reads the receiver's park_state, the receiver sets park_state and
 * then reads inbox_len, all seq_cst, so one of them sees the other. */
#define HANDBACK_QUEUED_MAX 8 /* a sibling with this much queued is busy */

VX_INLINE bool inbox_pending(VxWorker *w)
{
    return atomic_load_explicit(&w->inbox_len, memory_order_seq_cst) != 0;
}

/* Appends head..tail (n tasks) to v's inbox and wakes v if it sleeps. */
static void inbox_put(Runtime *rt, VxWorker *v, VxTask *head, VxTask *tail, uint32_t n)
{
    tail->next = NULL;
    vx_lock(&v->inbox_lock, &rt->sys);
    if (v->inbox_tail)
        v->inbox_tail->next = head;
    else
        v->inbox_head = head;
    v->inbox_tail = tail;
    atomic_fetch_add_explicit(&v->inbox_len, n, memory_order_seq_cst);
    vx_unlock(&v->inbox_lock, &rt->sys);
    uint32_t ps = atomic_load_explicit(&v->park_state, memory_order_seq_cst);
    if (ps == VX_PARK_SLEEPING || ps == VX_PARK_POLLING) vx_sched_unpark_worker(rt, v);
}

/* Moves v's inbox into w's wake queue (w is the calling worker; v may be w,
 * or a stuck worker being rescued). Returns how many tasks. */
static uint32_t inbox_drain(VxWorker *w, VxWorker *v)
{
    Runtime *rt = w->rt;
    vx_lock(&v->inbox_lock, &rt->sys);
    VxTask *t = v->inbox_head;
    v->inbox_head = v->inbox_tail = NULL;
    atomic_store_explicit(&v->inbox_len, 0, memory_order_relaxed);
    vx_unlock(&v->inbox_lock, &rt->sys);
    uint32_t n = 0;
    while (t) {
        VxTask *next = t->next; /* the push below may reuse the link */
        vx_sched_push(rt, w, t, VX_PUSH_WAKE);
        t = next;
        n++;
    }
    return n;
}

/* After a wait that only w's own poller ended: gives the tasks it woke to a
 * running sibling with a short queue. Returns true if it did. */
static bool hand_back(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (rt->nworkers < 2 || !vx_io_per_worker(rt) || vx_lq_len(&w->q) ||
        atomic_load_explicit(&w->lifo, memory_order_relaxed))
        return false;
    VxWorker *to = NULL;
    for (uint32_t i = 1; i < rt->nworkers && !to; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        /* Running, not busy, and not stuck: a sibling whose tick has not
         * moved since our last hand-over is still in one long resume (the
         * tasks we gave it were rescued from its inbox). */
        if (atomic_load_explicit(&v->park_state, memory_order_relaxed) == VX_PARK_EMPTY &&
            !atomic_load_explicit(&v->in_sleepers, memory_order_relaxed) &&
            queued_here(v) + atomic_load_explicit(&v->inbox_len, memory_order_relaxed) <
                HANDBACK_QUEUED_MAX &&
            !(w->hb_to == v->id && VX_LOAD_RELAXED(&v->tick) == w->hb_tick))
            to = v;
    }
    if (!to) return false;
    /* The wake ring in order, then the spill list behind it (already linked,
     * and newer). */
    VxTask *head = NULL, *tail = NULL, *t;
    uint32_t n = 0;
    while ((t = (VxTask *)vx_lq_pop_owner(&w->wq))) {
        if (tail)
            tail->next = t;
        else
            head = t;
        tail = t;
        n++;
    }
    if (w->wake_spill) {
        if (tail)
            tail->next = w->wake_spill;
        else
            head = w->wake_spill;
        tail = w->wake_spill_tail;
        for (t = w->wake_spill; t; t = t->next) n++;
        w->wake_spill = w->wake_spill_tail = NULL;
    }
    if (!n) return false;
    w->hb_to = to->id;
    w->hb_tick = VX_LOAD_RELAXED(&to->tick);
    inbox_put(rt, to, head, tail, n);
    return true;
}

/* --- Parking --- */

/* Sleeps on the worker's parker for at most timeout_ns. Returns true if
 * another thread unparked us (the token is consumed). */
static bool parker_park(VxWorker *w, uint64_t timeout_ns)
{
    uint32_t e = VX_PARK_NOTIFIED;
    /* acquire: pairs with the release exchange in vx_sched_unpark_worker. */
    if (atomic_compare_exchange_strong_explicit(&w->park_state, &e, VX_PARK_EMPTY,
                                                memory_order_acquire, memory_order_relaxed))
        return true;
    e = VX_PARK_EMPTY;
    /* seq_cst: against a sibling handing us tasks (inbox_put). */
    if (!atomic_compare_exchange_strong_explicit(&w->park_state, &e, VX_PARK_SLEEPING,
                                                 memory_order_seq_cst, memory_order_relaxed) ||
        inbox_pending(w)) {
        atomic_exchange_explicit(&w->park_state, VX_PARK_EMPTY, memory_order_acquire);
        return true;
    }
    VX_STAT_INC(w, VX_ST_PARKS);
    vx_plat_park(&w->rt->sys, &w->park_state, VX_PARK_SLEEPING, timeout_ns);
    return atomic_exchange_explicit(&w->park_state, VX_PARK_EMPTY, memory_order_acquire) ==
           VX_PARK_NOTIFIED;
}

/* Sleeps in the poller instead (the worker can wait there): like
 * parker_park, with the POLLING state telling unparkers to use the poller's
 * wake-up. *events gets the number of events collected (in w->events, not
 * yet dispatched: the caller leaves the idle set first). */
static bool poller_park(VxWorker *w, uint64_t timeout_ns, uint32_t *events)
{
    uint32_t e = VX_PARK_NOTIFIED;
    *events = 0;
    if (atomic_compare_exchange_strong_explicit(&w->park_state, &e, VX_PARK_EMPTY,
                                                memory_order_acquire, memory_order_relaxed))
        return true;
    e = VX_PARK_EMPTY;
    /* seq_cst: against workers that queue a cancellation for us and then
     * look whether we are POLLING (io.c, cancels_kick), or hand us tasks. */
    if (!atomic_compare_exchange_strong_explicit(&w->park_state, &e, VX_PARK_POLLING,
                                                 memory_order_seq_cst, memory_order_relaxed) ||
        inbox_pending(w)) {
        atomic_exchange_explicit(&w->park_state, VX_PARK_EMPTY, memory_order_acquire);
        return true;
    }
    VX_STAT_INC(w, VX_ST_PARKS);
    *events = vx_io_collect(w, timeout_ns);
    return atomic_exchange_explicit(&w->park_state, VX_PARK_EMPTY, memory_order_acquire) ==
           VX_PARK_NOTIFIED;
}

void vx_sched_unpark_worker(Runtime *rt, VxWorker *w)
{
    /* release: what the waker published (a queued task) is visible to the
     * worker once it consumes the token. */
    uint32_t old = atomic_exchange_explicit(&w->park_state, VX_PARK_NOTIFIED, memory_order_release);
    if (old == VX_PARK_SLEEPING)
        vx_plat_unpark(&rt->sys, &w->park_state, 1);
    else if (old == VX_PARK_POLLING)
        vx_io_wake(w);
}

/* --- Stalls ---
 *
 * A resume is never preempted, so a worker stuck in a long one keeps the
 * task in its LIFO slot, and the tasks in its ring if nobody was woken for
 * them, to itself (tokio#4941, #4730). So a sleeping worker keeps an eye on
 * another worker that is awake: every STALL_NS if that worker holds queued
 * work, every WATCH_NS otherwise. If on waking the watched worker's tick has
 * not moved and it holds work, it is stuck in one resume: the sleeper takes
 * its ring and its LIFO task. A LIFO slot is taken only then, so ping-pong
 * pairs are not pulled apart while their worker makes progress (tokio#8065).
 * A runtime whose workers all sleep makes no such wake-ups at all. */
#define STALL_NS 2000000u  /* watched worker holds queued work */
#define IO_WATCH_NS 1000000u /* a shared poller unvisited this long is taken over */
#define WATCH_NS 10000000u /* watched worker is merely awake (Go's sysmon ceiling) */

VX_INLINE bool holds_work(VxWorker *v)
{
    return atomic_load_explicit(&v->lifo, memory_order_relaxed) || vx_lq_len(&v->q) ||
           vx_lq_len(&v->wq) || atomic_load_explicit(&v->inbox_len, memory_order_relaxed);
}

/* Picks another worker to watch, preferring one holding work; NULL if every
 * other worker sleeps. *interval gets the watch period. */
static VxWorker *pick_watch(VxWorker *w, uint64_t *interval)
{
    Runtime *rt = w->rt;
    VxWorker *awake = NULL;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        if (holds_work(v)) {
            *interval = STALL_NS;
            return v;
        }
        if (!awake && !atomic_load_explicit(&v->in_sleepers, memory_order_relaxed)) awake = v;
    }
    *interval = WATCH_NS;
    return awake;
}

/* Takes the stuck victim's ring (half) and LIFO task into w's empty ring. */
static bool rescue(VxWorker *w, VxWorker *v)
{
    uint32_t got = 0, n = 0;
    VxTask *t = (VxTask *)vx_lq_steal_into(&v->wq, &w->wq, &n);
    if (t) vx_lq_push_owner(&w->wq, t);
    got += n;
    t = (VxTask *)vx_lq_steal_into(&v->q, &w->q, &n);
    if (t) vx_lq_push_owner(&w->q, t);
    got += n;
    VxTask *l = atomic_exchange_explicit(&v->lifo, NULL, memory_order_acquire);
    if (l) {
        vx_lq_push_owner(&w->q, l);
        got++;
    }
    if (atomic_load_explicit(&v->inbox_len, memory_order_relaxed)) got += inbox_drain(w, v);
    VX_STAT_ADD(w, VX_ST_STEALS, got);
    return got != 0;
}

/* --- Spinning before sleeping ---
 *
 * Going to sleep and being woken costs two syscalls and two context
 * switches (tens of microseconds in a VM); under a trickle of work — timers
 * firing every few microseconds, replies arriving just after a request —
 * workers would do little else. So an idle worker first watches for work for
 * a few tens of microseconds, and a worker whose next timer is due within
 * TIMER_SPIN_NS waits for it awake rather than setting a futex timeout that
 * short. An idle runtime still goes to sleep after that. */
#define SPIN_ROUNDS 1024      /* checks for work: some tens of microseconds */
#define TIMER_SPIN_NS 50000u  /* a timer due this soon is waited for awake */
#define TIMER_SPIN_ROUNDS 4096 /* ... but never longer than this */

static bool work_visible(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (vx_mpmc_len_hint(&rt->gq) || atomic_load_explicit(&rt->spill_len, memory_order_relaxed))
        return true;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        if (vx_lq_len(&v->q) > 1 || vx_lq_len(&v->wq) > 1) return true;
    }
    return false;
}

/* Returns true if work showed up (or a timer came due) while spinning. The
 * spin is bounded by a number of rounds, not by the platform clock, which
 * may be a virtual one that does not move while we wait. */
static bool spin_for_work(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint64_t now = vx_plat_now_ns(&rt->sys);
    uint64_t next = vx_timer_next_ns(w);
    int rounds = (next != UINT64_MAX && next > now && next - now <= TIMER_SPIN_NS)
                     ? TIMER_SPIN_ROUNDS
                     : SPIN_ROUNDS;
    /* No pause instruction here: in a VM, pause loops make the hypervisor
     * deschedule the spinning vCPU (pause-loop exiting), which turned a 30 us
     * spin into milliseconds. The loads and the clock read pace the loop. */
    uint64_t watch = rt->nworkers > 1 ? vx_timer_watch_ns(w) : UINT64_MAX;
    if (watch < next) next = watch; /* another worker's timers may need us */
    for (int r = 0; r < rounds; r++) {
        if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) return true;
        if (work_visible(w)) return true;
        if (next != UINT64_MAX && (r & 7) == 0 && next <= vx_plat_now_ns(&rt->sys)) return true;
    }
    return false;
}

/* --- Parking --- */

/* Puts an idle worker to sleep until it is notified, a timer is due, another
 * worker is found stuck, or the runtime stops. Returns with the worker
 * unparked again (possibly searching). */
static void park_worker(VxWorker *w)
{
    Runtime *rt = w->rt;
    /* Objects of other workers freed here go home before we sleep. */
    vx_slab_flush(&rt->tasks, w->id);
    vx_slab_flush(&rt->timers, w->id);
    vx_slab_flush(&rt->batches, w->id);
    vx_live_return_credits(rt, w); /* may start an auto-shutdown */
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;

    uint32_t awake_left;
    bool last_searcher = vx_idle_park(rt, w, &awake_left);
    /* The lost-wake-up guard: the last searcher to sleep rescans every queue
     * after its RMW on the idle word (see idle.c). So does the last worker
     * to sleep, searching or not (a lone worker never searches, and one that
     * just handed its tasks back skips the search): a producer whose RMW
     * came before ours saw it awake and woke nobody. */
    if ((last_searcher || awake_left == 0) && vx_idle_work_pending(rt)) vx_idle_notify(rt);

    /* Who waits in a shared poller (epoll): the last worker to go idle.
     * While another worker is awake, that one looks at the poller (every
     * GLOBAL_INTERVAL ticks, and when it goes idle it is the last), so its
     * events come in batches, as in a single-threaded loop, instead of each
     * waking a second thread that then competes for a core (on the
     * tcp_echo workload that halved the context switches). A worker that
     * stays awake without looking (a long resume) is covered: a sleeper
     * that sees the poller unvisited for IO_WATCH_NS takes it over, and
     * keeps it for as long as nobody else looks at it (else each of its
     * events would wait IO_WATCH_NS while that worker stays stuck). */
    if (w->took_poller && vx_io_poll_seq(rt) != w->poll_own_seq) w->took_poller = false;
    bool poll_here = awake_left == 0 || vx_io_per_worker(rt) || w->took_poller;
    uint32_t seq = vx_io_poll_seq(rt);
    VxWorker *watch = NULL;
    uint32_t watch_tick = 0;
    uint64_t watch_ns = 0;
    for (;;) {
        if (!watch && rt->nworkers > 1 && (watch = pick_watch(w, &watch_ns)))
            watch_tick = VX_LOAD_RELAXED(&watch->tick);
        uint64_t timeout = watch ? watch_ns : VEX_WAIT_FOREVER;
        uint64_t next = vx_timer_next_ns(w);
        if (rt->nworkers > 1) { /* wake up for an awake worker's overdue timers too */
            uint64_t other = vx_timer_watch_ns(w);
            if (other < next) next = other;
        }
        if (next != UINT64_MAX) {
            uint64_t now = vx_plat_now_ns(&rt->sys);
            uint64_t t = next > now ? next - now : 0;
            if (t < timeout) timeout = t;
        }
        bool io_watch = !poll_here && vx_io_active(rt);
        if (io_watch && timeout > IO_WATCH_NS) timeout = IO_WATCH_NS;
        bool notified, drv = false;
        uint32_t events = 0;
        if (poll_here && vx_io_can_wait(w, &drv)) {
            notified = poller_park(w, timeout, &events);
            if (drv) vx_io_release_driver(w);
        } else {
            notified = timeout ? parker_park(w, timeout) : false;
        }
        if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;
        if (notified || events) {
            /* Out of the idle set before queueing the woken tasks, so their
             * wake-ups go to another sleeper, not to us. */
            bool asked = vx_idle_leave(rt, w);
            if (asked) VX_STAT_INC(w, VX_ST_UNPARKS);
            if (events) {
                vx_io_dispatch(w, events);
                if (!notified && !asked) w->handed_back = hand_back(w);
            }
            return;
        }
        uint64_t now = vx_plat_now_ns(&rt->sys);
        if (vx_timer_next_ns(w) <= now || (rt->nworkers > 1 && vx_timer_watch_ns(w) <= now)) {
            vx_idle_leave(rt, w);
            return;
        }
        if (io_watch) {
            uint32_t s2 = vx_io_poll_seq(rt);
            if (s2 == seq) poll_here = w->took_poller = true; /* nobody looked at it: we will */
            seq = s2;
        }
        if (watch) {
            if (VX_LOAD_RELAXED(&watch->tick) == watch_tick && holds_work(watch)) {
                vx_idle_leave(rt, w);
                rescue(w, watch);
                return;
            }
            watch = NULL; /* it made progress, or has nothing to take: look again */
        }
        /* Spurious wake-up, or nothing to rescue: sleep again. */
    }
}

/* --- Thread entry --- */

/* The worker running on this thread (a compiler feature, not an OS call):
 * lets calls that take only a Runtime (vex_io_forget) tell whether their
 * caller is one of its workers. */
static _Thread_local VxWorker *current_worker;

VxWorker *vx_sched_current(Runtime *rt)
{
    VxWorker *w = current_worker;
    return w && w->rt == rt ? w : NULL;
}

void vx_sched_worker_main(void *arg)
{
    VxWorker *w = (VxWorker *)arg;
    Runtime *rt = w->rt;
    current_worker = w;
    int arc = vx_io_attach(w);
    w->poller_attached = arc == 0; /* read at destroy, after the join */
    if (arc) {
        int z = 0;
        atomic_compare_exchange_strong_explicit(&rt->attach_error, &z, arc, memory_order_acq_rel,
                                                memory_order_relaxed);
    }
    /* release: our attach result is visible to runtime_new, which acquires. */
    atomic_fetch_add_explicit(&rt->attached, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &rt->attached, 1);
    /* Wait for runtime_run (or for destroy before it). acquire: pairs with
     * the release store of the phase, so everything queued before run is
     * visible. */
    while (atomic_load_explicit(&rt->phase, memory_order_acquire) == VX_PHASE_CREATED)
        vx_plat_park(&rt->sys, &rt->phase, VX_PHASE_CREATED, VEX_WAIT_FOREVER);
    vx_trace(rt, "worker start", w->id, 0);

    while (!atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
        VxTask *t = next_task(w);
        bool handed_back = w->handed_back;
        w->handed_back = false;
        if (!t) {
            w->backlog_ns = 0; /* ran dry: any backlog is over */
            /* Having just given its woken tasks away, stealing them back
             * would undo it: sleep again. */
            if (!handed_back) t = steal_work(w);
        }
        if (t) {
            /* Leaving the searching state: the last searcher to find work
             * wakes another, which ramps parallelism up one worker at a time. */
            if (w->searching && vx_idle_stop_search(rt, w)) vx_idle_notify(rt);
            run_task(w, t);
            continue;
        }
        if (run_timers(w)) continue;
        /* With I/O in play, work comes from the poller: sleep in it at once
         * rather than spin on a CPU the peer of a connection may need. (A
         * look at the poller without blocking first cost more than it saved:
         * +3 us of CPU per round trip on tcp_echo with io_uring.) */
        if (!vx_io_active(rt) && spin_for_work(w)) continue;
        park_worker(w);
    }
    vx_trace(rt, "worker stop", w->id, 0);
    /* The poller state is released at destroy, once no thread can wake it. */
    w->poller_attached = arc == 0;
    current_worker = NULL;
}
