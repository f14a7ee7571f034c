/* test_stress - everything at once for a while: spawning (local, global,
 * from foreign threads), yields, timers, notify ping-pong and cancels, on
 * more workers than cores; the counters must add up exactly at the end.
 * VEXRT_STRESS_SCALE (default 1) multiplies the amount of work. */
#include <stdlib.h>

#include "support/support.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(stress, .timeout = 300);

typedef struct {
    Runtime *rt;
    _Atomic long leaves, sleeps, pongs, cancelled_seen, spawned;
    long scale;
} World;

static World W;

static CoroStatus leaf(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&W.leaves, 1);
    return CORO_STATUS_DONE;
}

typedef struct {
    int state;
    int left;
} Sleepy;

static CoroStatus sleepy(WorkerContext *ctx, void *data)
{
    Sleepy *s = data;
    if (s->left-- <= 0) {
        atomic_fetch_add(&W.sleeps, 1);
        free(s);
        return CORO_STATUS_DONE;
    }
    if (s->left % 3 == 0) return CORO_STATUS_YIELDED;
    worker_await_after_ns(ctx, (uint64_t)(s->left % 7) * 50000); /* 0 .. 0.3 ms */
    return CORO_STATUS_RUNNING;
}

typedef struct {
    VexNotify *to_b, *to_a;
    int rounds, a_i, b_i;
    int a_started, b_started;
} PingPair;

static CoroStatus pp_b(WorkerContext *ctx, void *data)
{
    PingPair *p = data;
    if (p->b_started) {
        worker_notify_signal(ctx, p->to_a);
        if (++p->b_i == p->rounds) return CORO_STATUS_DONE;
    }
    p->b_started = 1;
    worker_await_notify(ctx, p->to_b);
    return CORO_STATUS_YIELDED;
}

static CoroStatus pp_a(WorkerContext *ctx, void *data)
{
    PingPair *p = data;
    if (p->a_started && ++p->a_i == p->rounds) {
        atomic_fetch_add(&W.pongs, p->rounds);
        return CORO_STATUS_DONE;
    }
    p->a_started = 1;
    worker_notify_signal(ctx, p->to_b);
    worker_await_notify(ctx, p->to_a);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    int resumes;
} Victim;

static CoroStatus victim(WorkerContext *ctx, void *data)
{
    Victim *v = data;
    if (v->resumes++ == 0) {
        cancel_request(worker_cancel_token(ctx)); /* cancels itself, then parks for long */
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    }
    if (cancel_requested(worker_cancel_token(ctx))) atomic_fetch_add(&W.cancelled_seen, 1);
    free(v);
    return CORO_STATUS_DONE;
}

static CoroStatus spawner(WorkerContext *ctx, void *data)
{
    long *rounds = data;
    if ((*rounds)-- <= 0) return CORO_STATUS_DONE;
    for (int i = 0; i < 50; i++) {
        cr_assert(worker_spawn_local(ctx, leaf, NULL) == 0);
        atomic_fetch_add(&W.spawned, 1);
    }
    Sleepy *s = malloc(sizeof *s);
    s->left = 10;
    cr_assert(worker_spawn_local(ctx, sleepy, s) == 0);
    Victim *v = calloc(1, sizeof *v);
    cr_assert(runtime_spawn_global(W.rt, victim, v) == 0);
    return CORO_STATUS_YIELDED;
}

/* Keeps the runtime alive (auto-shutdown counts it) until the foreign
 * spawners are done. */
static CoroStatus keeper(WorkerContext *ctx, void *data)
{
    /* A resume caused by the notify means the await consumed the signal. */
    if (worker_wake_reason(ctx) == VEX_WAKE_NOTIFIED) return CORO_STATUS_DONE;
    worker_await_notify(ctx, (VexNotify *)data);
    return CORO_STATUS_YIELDED;
}

static void *foreign(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++) {
        cr_assert(runtime_spawn_global(W.rt, leaf, NULL) == 0);
        atomic_fetch_add(&W.spawned, 1);
    }
    return NULL;
}

Test(stress, mixed_workload_counts_add_up)
{
    const char *env = getenv("VEXRT_STRESS_SCALE");
    long scale = env ? atol(env) : 1;
    if (scale < 1) scale = 1;
    CountingAlloc ca;
    counting_alloc_init(&ca);
    memset(&W, 0, sizeof W);
    W.rt = test_runtime(4, &ca, NULL);
    enum { SPAWNERS = 8, PAIRS = 50 };
    static long rounds[SPAWNERS];
    for (int i = 0; i < SPAWNERS; i++) {
        rounds[i] = 200 * scale;
        CHECK_OK(runtime_spawn_global(W.rt, spawner, &rounds[i]));
    }
    static PingPair pairs[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        pairs[i] = (PingPair){vex_notify_create(W.rt), vex_notify_create(W.rt), 200 * (int)scale, 0, 0, 0, 0};
        CHECK_OK(runtime_spawn_global(W.rt, pp_b, &pairs[i]));
        CHECK_OK(runtime_spawn_global(W.rt, pp_a, &pairs[i]));
    }
    VexNotify *foreign_done = vex_notify_create(W.rt);
    CHECK_OK(runtime_spawn_global(W.rt, keeper, foreign_done));
    runtime_enable_auto_shutdown(W.rt, true);
    pthread_t runner = test_run_async(W.rt);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, foreign, (void *)(intptr_t)(20000 * scale));
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_OK(vex_notify_signal(foreign_done));
    test_join(runner);
    CHECK_OK(vex_notify_destroy(foreign_done));

    long victims = SPAWNERS * 200 * scale;
    CHECK_INT(atomic_load(&W.leaves), atomic_load(&W.spawned));
    CHECK_INT(atomic_load(&W.sleeps), victims);
    CHECK_INT(atomic_load(&W.cancelled_seen), victims);
    CHECK_INT(atomic_load(&W.pongs), (long)PAIRS * 200 * scale);
    RuntimeStats st;
    runtime_get_stats(W.rt, &st);
    CHECK_EQ(st.tasks_spawned, st.tasks_done);
    CHECK_EQ(st.tasks_spawned, (uint64_t)(atomic_load(&W.spawned) + victims * 2 + SPAWNERS + 2 * PAIRS + 1));
    CHECK_EQ(st.live_tasks, 0);
    for (int i = 0; i < PAIRS; i++) {
        CHECK_OK(vex_notify_destroy(pairs[i].to_a));
        CHECK_OK(vex_notify_destroy(pairs[i].to_b));
    }
    CHECK_OK(runtime_destroy(W.rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
}
