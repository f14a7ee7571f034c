/* test_concurrency_bugs - the invariants behind "exactly-once resumption"
 * and "no lost wake-ups", attacked from several threads at once:
 *   - the task state machine itself (wake vs park vs stale wakes), on a bare
 *     task object, so every interleaving the hardware produces is checked;
 *   - notification storms between tasks and foreign threads, where a lost
 *     wake-up hangs the test (caught by the watchdog) and a double resume
 *     trips an in-resume flag;
 *   - cancel, signal and timer racing on the same parked task. */
#include "support/support.h"
#include "support/watchdog.h"
#include "task.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(concurrency_bugs, .timeout = 120);

/* --- The state machine alone --- */

enum { EPOCHS = 100000, WAKERS = 2 };

typedef struct {
    VxTask t;
    _Atomic uint64_t armed_gen;   /* gen of the current wait, published by the runner */
    _Atomic int enqueued;         /* set by the one waker whose wake returned true */
    _Atomic long enqueues, stale_successes, park_skips;
    _Atomic int stop;
} Machine;

static void *waker(void *arg)
{
    Machine *m = arg;
    unsigned r = 1;
    while (!atomic_load(&m->stop)) {
        uint64_t g = atomic_load(&m->armed_gen);
        r = r * 1103515245u + 12345u;
        if ((r >> 16) % 8 == 0 && g > 0) {
            /* A wake for a wait that is already over must never succeed. */
            if (vx_task_wake(&m->t, g - 1, VX_WAKE_TIMER)) atomic_fetch_add(&m->stale_successes, 1);
            continue;
        }
        if (vx_task_wake(&m->t, g, VX_WAKE_NOTIFIED)) {
            cr_assert(atomic_exchange(&m->enqueued, 1) == 0, "two wakers enqueued one wait");
            atomic_fetch_add(&m->enqueues, 1);
        }
        /* Threads outnumber cores: let the runner run. */
        if ((r >> 20) % 4 == 0) sched_yield();
    }
    return NULL;
}

Test(concurrency_bugs, state_word_one_enqueue_per_wait)
{
    static Machine m;
    memset(&m, 0, sizeof m);
    pthread_t th[WAKERS];
    for (int i = 0; i < WAKERS; i++) pthread_create(&th[i], NULL, waker, &m);
    for (long e = 0; e < EPOCHS; e++) {
        /* The runner's side of one wait: arm with the current gen, park. */
        uint64_t g = vx_ts_gen(atomic_load(&m.t.tok.state));
        atomic_store(&m.armed_gen, g);
        /* Sometimes linger between arming and parking, as a runner filing
         * timers and I/O does, so wakes also land in that window. */
        for (volatile int spin = (int)(e % 7) * 50; spin > 0; spin--) {}
        if (!vx_task_park(&m.t)) {
            atomic_fetch_add(&m.park_skips, 1); /* the wake came first: re-queued at once */
            continue;
        }
        while (!atomic_load(&m.enqueued)) {} /* a lost wake-up hangs here */
        atomic_store(&m.enqueued, 0);
        uint64_t s = atomic_load(&m.t.tok.state);
        cr_assert(!(s & VX_TS_WAITING), "enqueued but still marked waiting");
        CHECK_EQ(vx_ts_gen(s), g + 1);
    }
    atomic_store(&m.stop, 1);
    for (int i = 0; i < WAKERS; i++) pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&m.stale_successes), 0);
    CHECK_INT(atomic_load(&m.enqueues) + atomic_load(&m.park_skips), EPOCHS);
    cr_log_info("%ld waits: %ld woken while parked, %ld woken before parking", (long)EPOCHS,
                atomic_load(&m.enqueues), atomic_load(&m.park_skips));
}

/* --- Notification storms --- */

enum { PAIRS = 64, ROUNDS = 2000 };

typedef struct {
    VexNotify *n;
    _Atomic int in_resume;
    _Atomic long round;      /* completed rounds (resumes that got the signal) */
    int started;
    _Atomic long spurious;
} Peer;

typedef struct {
    Peer peers[PAIRS];
    _Atomic long next_signal[PAIRS]; /* the round each peer's next signal is for */
} Storm;

static CoroStatus storm_peer(WorkerContext *ctx, void *data)
{
    Peer *p = data;
    cr_assert(atomic_exchange(&p->in_resume, 1) == 0, "a task was resumed twice at once");
    if (p->started) {
        if (worker_wake_reason(ctx) != VEX_WAKE_NOTIFIED) atomic_fetch_add(&p->spurious, 1);
        atomic_fetch_add(&p->round, 1);
    }
    p->started = 1;
    CoroStatus st = CORO_STATUS_DONE;
    if (atomic_load(&p->round) < ROUNDS) {
        worker_await_notify(ctx, p->n);
        st = CORO_STATUS_YIELDED;
    }
    atomic_store(&p->in_resume, 0);
    return st;
}

/* Signals each peer once per round, and only after the peer consumed the
 * previous signal: with one stored permit nothing may be lost or coalesced,
 * so every peer must reach ROUNDS. Half of the signals come from foreign
 * threads, half from a task. */
typedef struct {
    Storm *s;
    int first, step;
} Signaller;

static bool signal_ready(Storm *s, int i)
{
    long r = atomic_load(&s->peers[i].round);
    long want = atomic_load(&s->next_signal[i]);
    return want == r && r < ROUNDS;
}

static void *foreign_signaller(void *arg)
{
    Signaller *g = arg;
    Storm *s = g->s;
    for (;;) {
        int busy = 0;
        for (int i = g->first; i < PAIRS; i += g->step) {
            if (atomic_load(&s->peers[i].round) < ROUNDS) busy = 1;
            if (signal_ready(s, i)) {
                atomic_fetch_add(&s->next_signal[i], 1);
                cr_assert(vex_notify_signal(s->peers[i].n) == 0);
            }
        }
        if (!busy) return NULL;
        sched_yield();
    }
}

static CoroStatus task_signaller(WorkerContext *ctx, void *data)
{
    Signaller *g = data;
    Storm *s = g->s;
    int busy = 0;
    for (int i = g->first; i < PAIRS; i += g->step) {
        if (atomic_load(&s->peers[i].round) < ROUNDS) busy = 1;
        if (signal_ready(s, i)) {
            atomic_fetch_add(&s->next_signal[i], 1);
            cr_assert(worker_notify_signal(ctx, s->peers[i].n) == 0);
        }
    }
    return busy ? CORO_STATUS_YIELDED : CORO_STATUS_DONE;
}

Test(concurrency_bugs, notify_storm_no_lost_or_double_wakes)
{
    Runtime *rt = test_runtime(4, NULL, NULL);
    static Storm s;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < PAIRS; i++) {
        s.peers[i].n = vex_notify_create(rt);
        CHECK_OK(runtime_spawn_global(rt, storm_peer, &s.peers[i]));
    }
    Signaller foreign = {&s, 0, 2}, in_task = {&s, 1, 2};
    CHECK_OK(runtime_spawn_global(rt, task_signaller, &in_task));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th;
    pthread_create(&th, NULL, foreign_signaller, &foreign);
    CHECK_OK(runtime_run(rt));
    pthread_join(th, NULL);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_INT(atomic_load(&s.peers[i].round), ROUNDS);
        CHECK_INT(atomic_load(&s.peers[i].spurious), 0);
        CHECK_OK(vex_notify_destroy(s.peers[i].n));
    }
    CHECK_OK(runtime_destroy(rt));
}

/* --- Cancel, signal and timer racing on one parked task --- */

enum { RACERS = 200 };

typedef struct {
    VexNotify *n;
    CancelToken *_Atomic tok;
    _Atomic int in_resume;
    _Atomic int resumes;
    _Atomic int parked;
} Racer;

static CoroStatus racer(WorkerContext *ctx, void *data)
{
    Racer *r = data;
    cr_assert(atomic_exchange(&r->in_resume, 1) == 0, "resumed twice at once");
    int n = atomic_fetch_add(&r->resumes, 1);
    CoroStatus st = CORO_STATUS_DONE;
    if (n == 0) {
        atomic_store(&r->tok, worker_cancel_token(ctx));
        worker_await_notify(ctx, r->n);
        worker_await_after_ns(ctx, 200000); /* 0.2 ms: the timer races too */
        atomic_store(&r->parked, 1);
        st = CORO_STATUS_YIELDED;
    } else {
        atomic_store(&r->tok, NULL); /* the token dies with the task */
    }
    atomic_store(&r->in_resume, 0);
    return st;
}

static void *racer_thread(void *arg)
{
    Racer *rs = arg;
    for (int i = 0; i < RACERS; i++) {
        while (!atomic_load(&rs[i].parked)) sched_yield();
        vex_notify_signal(rs[i].n);
        CancelToken *t = atomic_load(&rs[i].tok);
        if (t && atomic_load(&rs[i].resumes) == 1) cancel_request(t);
    }
    return NULL;
}

Test(concurrency_bugs, cancel_signal_and_timer_race_one_resume)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    static Racer rs[RACERS];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < RACERS; i++) {
        rs[i].n = vex_notify_create(rt);
        CHECK_OK(runtime_spawn_global(rt, racer, &rs[i]));
    }
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th;
    pthread_create(&th, NULL, racer_thread, rs);
    CHECK_OK(runtime_run(rt));
    pthread_join(th, NULL);
    for (int i = 0; i < RACERS; i++) {
        CHECK_INT(atomic_load(&rs[i].resumes), 2); /* one wake of three, exactly once */
        vex_notify_destroy(rs[i].n);
    }
    CHECK_OK(runtime_destroy(rt));
}

/* --- The last worker to go to sleep --- */

/* A foreign thread wakes the one task of a one-worker runtime, each time as
 * soon as the task has parked: so the wake-ups land while the worker, out of
 * work, is on its way to sleep. A producer that looked before the worker
 * counted itself asleep saw it awake and woke nobody; the worker then has to
 * find the work on its own (the last worker to sleep rescans the queues).
 * Before that rule the worker slept through such a wake-up, about once in
 * a few thousand here, and the run hung. */
enum { HANDOFFS = 20000 };

typedef struct {
    VexNotify *n;
    _Atomic long parked; /* the round the task last parked in */
    long round;
    _Atomic bool done;
} Handoff;

static CoroStatus handoff_task(WorkerContext *ctx, void *data)
{
    Handoff *h = data;
    if (h->round++ == HANDOFFS) {
        atomic_store(&h->done, true);
        return CORO_STATUS_DONE;
    }
    CHECK_OK(worker_await_notify(ctx, h->n));
    atomic_store(&h->parked, h->round);
    return CORO_STATUS_YIELDED;
}

static void *handoff_waker(void *arg)
{
    Handoff *h = arg;
    for (long r = 1; r <= HANDOFFS && !atomic_load(&h->done); r++) {
        /* Spin (yield now and then): the signal should come at once. */
        for (unsigned k = 0; atomic_load(&h->parked) < r && !atomic_load(&h->done); k++)
            if ((k & 1023) == 1023) sched_yield();
        vex_notify_signal(h->n);
    }
    return NULL;
}

Test(concurrency_bugs, the_only_worker_does_not_sleep_through_a_foreign_wake)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    static Handoff h;
    memset(&h, 0, sizeof h);
    h.n = vex_notify_create(rt);
    cr_assert_not_null(h.n);
    CHECK_OK(runtime_spawn_global(rt, handoff_task, &h));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th;
    pthread_create(&th, NULL, handoff_waker, &h);
    int rc;
    bool hung = test_run_watched(rt, 60, &rc);
    atomic_store(&h.done, true); /* lets the waker go if the run hung */
    pthread_join(th, NULL);
    cr_assert(!hung, "the worker slept through a wake-up (round %ld of %d)", h.round, HANDOFFS);
    CHECK_OK(rc);
    CHECK_INT(h.round, HANDOFFS + 1);
    CHECK_OK(vex_notify_destroy(h.n));
    CHECK_OK(runtime_destroy(rt));
}
