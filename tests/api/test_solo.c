/* test_solo - a runtime's only worker runs plain yields back to back
 * (sched.c's solo_yields, without the per-task checks a worker with
 * siblings needs). It must do exactly what the general loop does: the
 * ring's FIFO order; a hand-off or a wake that comes up in the middle of a
 * run goes first; a stop from a task ends the run before another resume;
 * the global queue, timers and I/O keep their turns (I/O: in
 * tests/io/test_io_ready.c); every task is resumed
 * exactly as often as it asked; the counters are exact. With one worker
 * every order here is deterministic. */
#include <stdatomic.h>
#include <string.h>

#include "support/support.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(solo, .timeout = 60);

#define LOG_MAX 4096

typedef struct Solo {
    Runtime *rt;
    int log[LOG_MAX];  /* task id per resume, in order (the first LOG_MAX) */
    int n;             /* resumes logged */
    _Atomic int stop;  /* yielders finish once set */
    VexNotify *note;
    int signal_at;     /* task 1 signals note at its first resume once n reaches this */
    int signalled;     /* log index of that resume (-1: not yet) */
    int shutdown_at;   /* task 2 calls runtime_shutdown at its first resume once n reaches this */
    int resumes_then;  /* n when it did (0: not yet) */
    _Atomic int go;    /* for a helper thread: yielders are running */
} Solo;

typedef struct {
    Solo *s;
    int id;
    int left; /* yields before finishing, or -1: until stop */
} Yielder;

/* Logs a resume (the first LOG_MAX of them; n counts them all). */
static void note(Solo *s, int id)
{
    if (s->n < LOG_MAX) s->log[s->n] = id;
    s->n++;
}

static CoroStatus yielder(WorkerContext *ctx, void *data)
{
    Yielder *y = data;
    Solo *s = y->s;
    note(s, y->id);
    atomic_store(&s->go, 1);
    if (y->id == 1 && s->signal_at >= 0 && s->n >= s->signal_at && s->signalled < 0) {
        s->signalled = s->n - 1;
        CHECK_OK(worker_notify_signal(ctx, s->note));
    }
    if (y->id == 2 && s->shutdown_at >= 0 && s->n >= s->shutdown_at && !s->resumes_then) {
        s->resumes_then = s->n;
        runtime_shutdown(s->rt);
    }
    if (y->left == 0 || (y->left < 0 && atomic_load(&s->stop))) return CORO_STATUS_DONE;
    if (y->left > 0) y->left--;
    return CORO_STATUS_YIELDED;
}

static Solo *solo_new(void)
{
    Solo *s = calloc(1, sizeof *s);
    cr_assert(s);
    s->rt = test_runtime(1, NULL, NULL);
    s->signal_at = s->shutdown_at = s->signalled = -1;
    return s;
}

static void spawn_yielders(Solo *s, Yielder *y, int n, int left)
{
    for (int i = 0; i < n; i++) {
        y[i] = (Yielder){s, i, left};
        CHECK_OK(runtime_spawn_global(s->rt, yielder, &y[i]));
    }
}

Test(solo, plain_yields_go_round_in_fifo_order)
{
    Solo *s = solo_new();
    Yielder y[5];
    spawn_yielders(s, y, 5, 199); /* 200 resumes each: several runs of the fast path */
    CHECK_OK(runtime_enable_auto_shutdown(s->rt, true));
    CHECK_OK(runtime_run(s->rt));
    CHECK_INT(s->n, 1000);
    for (int k = 0; k < s->n; k++) cr_assert(s->log[k] == k % 5, "resume %d was task %d", k, s->log[k]);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(s->rt, &st));
    CHECK_EQ(st.resumes, 1000);
    CHECK_EQ(st.yields, 995);
    CHECK_EQ(st.tasks_done, 5);
    runtime_destroy(s->rt);
    free(s);
}

/* The task a running task wakes by notify runs next (the LIFO slot), in
 * the middle of a run of yields as anywhere else. */
typedef struct {
    Solo *s;
    int step;
    int woke_at; /* log index of its second resume */
} Waiter;

static CoroStatus waiter(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    note(w->s, 9);
    if (w->step++ == 0) {
        worker_await_notify(ctx, w->s->note);
        return CORO_STATUS_YIELDED;
    }
    cr_assert(worker_wake_reason(ctx) == VEX_WAKE_NOTIFIED);
    w->woke_at = w->s->n - 1;
    atomic_store(&w->s->stop, 1);
    return CORO_STATUS_DONE;
}

Test(solo, a_hand_off_in_a_run_of_yields_runs_next)
{
    Solo *s = solo_new();
    s->note = vex_notify_create(s->rt);
    cr_assert(s->note);
    Waiter wt = {s, 0, -1};
    CHECK_OK(runtime_spawn_global(s->rt, waiter, &wt));
    Yielder y[4];
    spawn_yielders(s, y, 4, -1);
    s->signal_at = 100; /* well into a run of yields */
    CHECK_OK(runtime_enable_auto_shutdown(s->rt, true));
    CHECK_OK(runtime_run(s->rt));
    cr_assert(s->signalled >= 99 && s->log[s->signalled] == 1, "task 1 signalled at %d", s->signalled);
    CHECK_INT(wt.woke_at, s->signalled + 1); /* the very next resume */
    vex_notify_destroy(s->note);
    runtime_destroy(s->rt);
    free(s);
}

Test(solo, shutdown_from_a_task_ends_the_run_before_another_resume)
{
    Solo *s = solo_new();
    Yielder y[4];
    spawn_yielders(s, y, 4, -1);
    s->shutdown_at = 500;
    CHECK_OK(runtime_run(s->rt));
    cr_assert(s->resumes_then >= 500 && s->log[s->resumes_then - 1] == 2);
    CHECK_INT(s->n, s->resumes_then); /* nothing ran after the shutdown */
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(s->rt, &st));
    CHECK_EQ(st.resumes, (uint64_t)s->n);
    runtime_destroy(s->rt);
    free(s);
}

/* Exactly-once with more yielders than the ring holds: the run of yields
 * overflows half the ring to the global queue and takes it back. */
typedef struct {
    _Atomic int resumes;
    int want;
} Counted;

static CoroStatus counted(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Counted *c = data;
    return atomic_fetch_add(&c->resumes, 1) + 1 == c->want ? CORO_STATUS_DONE : CORO_STATUS_YIELDED;
}

#define MANY 3000

static Counted many[MANY];

static CoroStatus spawn_many(WorkerContext *ctx, void *data)
{
    (void)data;
    for (int i = 0; i < MANY; i++) {
        many[i].want = 1 + i % 25;
        atomic_store(&many[i].resumes, 0);
        CHECK_OK(worker_spawn_local(ctx, counted, &many[i]));
    }
    return CORO_STATUS_DONE;
}

Test(solo, every_task_is_resumed_as_often_as_it_asked_past_the_ring)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    CHECK_OK(runtime_spawn_global(rt, spawn_many, NULL));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    uint64_t want = 0;
    for (int i = 0; i < MANY; i++) {
        cr_assert(atomic_load(&many[i].resumes) == many[i].want, "task %d: %d resumes, want %d", i,
                  atomic_load(&many[i].resumes), many[i].want);
        want += (uint64_t)many[i].want;
    }
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.resumes, want + 1);
    CHECK_EQ(st.yields, want - MANY);
    CHECK_EQ(st.tasks_done, MANY + 1);
    CHECK_EQ(st.live_tasks, 0);
    CHECK_GE(st.overflows, 1); /* the ring did overflow */
    runtime_destroy(rt);
}

/* The global queue and timers keep their turns while tasks yield without
 * end: each would hang (and the watchdog fail the test) if a run of yields
 * starved it. I/O: io_ready/one_worker_yielding_still_sees_readiness, on
 * every backend. */
typedef struct {
    Solo *s;
    int step;
    unsigned reason;
    uint64_t due;
} Sleeper;

static CoroStatus sleeper_task(WorkerContext *ctx, void *data)
{
    Sleeper *sl = data;
    if (sl->step++ == 0) {
        sl->due = worker_now_ns(ctx) + 2000000;
        worker_await_after_ns(ctx, 2000000);
        return CORO_STATUS_YIELDED;
    }
    sl->reason = worker_wake_reason(ctx);
    CHECK_GE(worker_now_ns(ctx), sl->due);
    atomic_store(&sl->s->stop, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus stopper(WorkerContext *ctx, void *data)
{
    (void)ctx;
    atomic_store(&((Solo *)data)->stop, 1);
    return CORO_STATUS_DONE;
}

static void *spawn_from_outside(void *arg)
{
    Solo *s = arg;
    while (!atomic_load(&s->go)) sched_yield();
    CHECK_OK(runtime_spawn_global(s->rt, stopper, s));
    return NULL;
}

Test(solo, the_global_queue_and_timers_are_not_starved_by_yields)
{
    /* A spawn from another thread. */
    Solo *s = solo_new();
    Yielder y[3];
    spawn_yielders(s, y, 3, -1);
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, spawn_from_outside, s) == 0);
    CHECK_OK(runtime_enable_auto_shutdown(s->rt, true));
    CHECK_OK(runtime_run(s->rt));
    pthread_join(th, NULL);
    runtime_destroy(s->rt);
    free(s);

    /* A timer. */
    s = solo_new();
    spawn_yielders(s, y, 3, -1);
    Sleeper tm = {s, 0, 0, 0};
    CHECK_OK(runtime_spawn_global(s->rt, sleeper_task, &tm));
    CHECK_OK(runtime_enable_auto_shutdown(s->rt, true));
    CHECK_OK(runtime_run(s->rt));
    CHECK_INT(tm.reason, VEX_WAKE_TIMER);
    runtime_destroy(s->rt);
    free(s);
}
