/* test_virtual_clock - timers and cancellation on the virtual-clock platform
 * (platform/virtual): time moves only when the test says so, so hour-long
 * timers fire at once and the firing order is checked exactly, with no real
 * sleeping. */
#include <stdlib.h>

#include "support/support.h"
#include "vexrt/cancel.h"
#include "vexrt/task.h"
#include "virtual/virtual.h"

TestSuite(virtual_clock, .timeout = 120);

typedef struct {
    uint64_t deadline;
    uint64_t woke;      /* virtual time at the wake-up */
    long seq;           /* position in the wake-up order */
    int resumes;
} Timed;

static _Atomic long wake_seq;
static _Atomic long armed;

static CoroStatus timed(WorkerContext *ctx, void *data)
{
    Timed *t = data;
    if (t->resumes++ == 0) {
        worker_await_deadline(ctx, t->deadline);
        atomic_fetch_add(&armed, 1);
        return CORO_STATUS_YIELDED;
    }
    t->woke = worker_now_ns(ctx);
    t->seq = atomic_fetch_add(&wake_seq, 1);
    return CORO_STATUS_DONE;
}

static int cmp_deadline(const void *a, const void *b)
{
    const Timed *x = *(Timed *const *)a, *y = *(Timed *const *)b;
    return x->deadline < y->deadline ? -1 : x->deadline > y->deadline;
}

/* 1 ns timer ticks, so a timer fires exactly at its deadline in virtual time
 * (with the default 1.024 us tick it fires at the next tick boundary). */
static Runtime *virtual_runtime(VxVirtualClock *vc, int workers)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    cfg.timer_tick_ns = 1;
    cfg.platform = &vc->vt;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    return rt;
}

/* 20,000 timers with distinct pseudo-random deadlines over an hour of
 * virtual time. The test jumps the clock from one deadline to the next and
 * waits until the runtime is idle again: each step must wake exactly the
 * task whose deadline it is, never one early, in deadline order. */
Test(virtual_clock, timers_fire_in_exact_deadline_order)
{
    enum { N = 20000 };
    VxVirtualClock vc;
    vclock_init(&vc, 1000000000ull);
    Runtime *rt = virtual_runtime(&vc, 1);
    Timed *ts = calloc(N, sizeof *ts);
    Timed **order = malloc(N * sizeof *order);
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < N; i++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        /* distinct: a random spread plus i, in units of 1 us */
        ts[i].deadline = 1000000000ull + ((rng % 3600000000ull) / N * N + (uint64_t)i) * 1000;
        order[i] = &ts[i];
        CHECK_OK(runtime_spawn_global(rt, timed, &ts[i]));
    }
    qsort(order, N, sizeof *order, cmp_deadline);
    atomic_store(&wake_seq, 0);
    atomic_store(&armed, 0);
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    while (atomic_load(&armed) < N) sched_yield();
    uint64_t wall0 = test_now_ns();
    for (int k = 0; k < N; k++) {
        vclock_wait_parked(&vc, 1); /* the worker: the thread in runtime_run */
        CHECK_EQ(atomic_load(&wake_seq), k); /* nothing woke before its deadline */
        vclock_set(&vc, order[k]->deadline);
    }
    test_join(th);
    for (int k = 0; k < N; k++) {
        CHECK_EQ(order[k]->seq, k);
        CHECK_EQ(order[k]->woke, order[k]->deadline);
    }
    cr_log_info("%d virtual timers over an hour: %.2f s of wall time", N,
                (double)(test_now_ns() - wall0) / 1e9);
    CHECK_OK(runtime_destroy(rt));
    vclock_destroy(&vc);
    free(ts);
    free(order);
}

typedef struct {
    int resumes;
    VexWakeReason reason;
    uint64_t woke;
} Hour;

static CoroStatus hour_sleeper(WorkerContext *ctx, void *data)
{
    Hour *h = data;
    if (h->resumes++ == 0) {
        worker_await_after(ctx, 3600 * 1000);
        atomic_fetch_add(&armed, 1);
        return CORO_STATUS_YIELDED;
    }
    h->reason = worker_wake_reason(ctx);
    h->woke = worker_now_ns(ctx);
    return CORO_STATUS_DONE;
}

Test(virtual_clock, an_hour_passes_in_no_time)
{
    VxVirtualClock vc;
    vclock_init(&vc, 0);
    Runtime *rt = virtual_runtime(&vc, 2);
    Hour h = {0};
    atomic_store(&armed, 0);
    CHECK_OK(runtime_spawn_global(rt, hour_sleeper, &h));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    while (!atomic_load(&armed)) sched_yield();
    vclock_wait_parked(&vc, 2); /* both workers (one is the thread in runtime_run) */
    vclock_advance(&vc, 3599ull * 1000000000ull); /* one second short: nothing */
    vclock_wait_parked(&vc, 2); /* both workers (one is the thread in runtime_run) */
    CHECK_INT(h.resumes, 1);
    vclock_advance(&vc, 1000000000ull);
    test_join(th);
    CHECK_INT(h.resumes, 2);
    CHECK_INT(h.reason, VEX_WAKE_TIMER);
    CHECK_EQ(h.woke, 3600ull * 1000000000ull);
    CHECK_OK(runtime_destroy(rt));
    vclock_destroy(&vc);
}

Test(virtual_clock, cancel_wakes_a_sleeper_without_time_passing)
{
    VxVirtualClock vc;
    vclock_init(&vc, 0);
    Runtime *rt = virtual_runtime(&vc, 2);
    CancelToken *tok = cancel_token_create(rt, NULL);
    Hour h = {0};
    atomic_store(&armed, 0);
    CHECK_OK(runtime_spawn_with_token(rt, hour_sleeper, &h, tok));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    while (!atomic_load(&armed)) sched_yield();
    vclock_wait_parked(&vc, 2); /* both workers (one is the thread in runtime_run) */
    CHECK_OK(cancel_request(tok));
    test_join(th);
    CHECK_INT(h.reason, VEX_WAKE_CANCELLED);
    CHECK_EQ(h.woke, 0); /* no virtual time passed */
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 0);
    CHECK_EQ(st.timers_cancelled, 1);
    cancel_token_destroy(tok);
    CHECK_OK(runtime_destroy(rt));
    vclock_destroy(&vc);
}
