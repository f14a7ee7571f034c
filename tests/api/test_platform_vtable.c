/* test_platform_vtable - the runtime reaches the OS only through the
 * platform vtable: every thread comes from it, a failing thread spawn is
 * reported by create with nothing leaked, and an idle runtime sleeps. */
#include "support/support.h"
#include "vexrt/notify.h"

TestSuite(platform_vtable, .timeout = 60);

typedef struct {
    int threads_seen;
} Seen;

static CoroStatus count_threads(WorkerContext *ctx, void *data)
{
    (void)ctx;
    ((Seen *)data)->threads_seen = test_thread_count();
    return CORO_STATUS_DONE;
}

Test(platform_vtable, every_thread_comes_from_the_platform)
{
    CountingPlatform cp;
    counting_platform_init(&cp);
    CountingAlloc ca;
    counting_alloc_init(&ca);
    int before = test_thread_count();
    Runtime *rt = test_runtime(3, &ca, &cp);
    CHECK_INT(atomic_load(&cp.spawns), 2); /* worker 0 is the thread that calls runtime_run */
    Seen s = {0};
    CHECK_OK(runtime_spawn_global(rt, count_threads, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    /* The caller's thread plus the two the platform started, nothing else. */
    CHECK_INT(s.threads_seen, before + 2);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&cp.joins), 2);
    CHECK_INT(test_thread_count(), before);
    cr_assert_gt(atomic_load(&cp.parks), 0, "parking went through the platform");
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

Test(platform_vtable, failed_thread_spawn_is_reported_without_leaks)
{
    for (long fail_at = 1; fail_at <= 3; fail_at++) { /* 4 workers: 3 threads */
        CountingPlatform cp;
        counting_platform_init(&cp);
        atomic_store(&cp.fail_spawn_at, fail_at);
        CountingAlloc ca;
        counting_alloc_init(&ca);
        int before = test_thread_count();
        RuntimeConfig cfg;
        runtime_config_init(&cfg);
        cfg.workers = 4;
        cfg.platform = &cp.vt;
        cfg.allocator = &ca.vt;
        Runtime *rt = NULL;
        CHECK_INT(runtime_new(&cfg, &rt), VEX_EAGAIN);
        cr_assert_null(rt);
        /* Threads started before the failure were stopped and joined. */
        CHECK_INT(atomic_load(&cp.joins), fail_at - 1);
        CHECK_INT(test_thread_count(), before);
        CHECK_INT(atomic_load(&ca.live_bytes), 0);
    }
}

static int init_calls, fini_calls;

static int failing_init(void *ctx)
{
    (void)ctx;
    init_calls++;
    return VEX_ENOSYS;
}

static void counting_fini(void *ctx)
{
    (void)ctx;
    fini_calls++;
}

Test(platform_vtable, platform_init_failure_aborts_create)
{
    VexPlatform p = *vex_platform_default();
    p.init = failing_init;
    p.fini = counting_fini;
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.platform = &p;
    Runtime *rt = NULL;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_ENOSYS);
    CHECK_INT(init_calls, 1);
    CHECK_INT(fini_calls, 0);
}

typedef struct {
    VexNotify *n;
    int resumes;
} Waiter;

static CoroStatus wait_once(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    if (w->resumes++) return CORO_STATUS_DONE;
    worker_await_notify(ctx, w->n);
    return CORO_STATUS_YIELDED;
}

/* An idle runtime (every task parked, no timers) makes no wake-ups: workers
 * sleep until something happens. Counted in park calls, with process CPU
 * time as a generous second check. */
Test(platform_vtable, idle_runtime_sleeps)
{
    CountingPlatform cp;
    counting_platform_init(&cp);
    Runtime *rt = test_runtime(2, NULL, &cp);
    Waiter w = {vex_notify_create(rt), 0};
    CHECK_OK(runtime_spawn_global(rt, wait_once, &w));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    RuntimeStats st;
    do {
        sched_yield();
        runtime_get_stats(rt, &st);
    } while (st.resumes == 0);
    test_sleep_ms(50); /* let both workers reach their sleep */
    long long parks0 = atomic_load(&cp.parks);
    uint64_t cpu0 = test_cpu_ns();
    test_sleep_ms(500);
    long long parks1 = atomic_load(&cp.parks);
    uint64_t cpu1 = test_cpu_ns();
    CHECK_OK(vex_notify_signal(w.n));
    test_join(th);
    cr_log_info("idle for 500 ms: %lld park calls, %.2f ms of CPU", parks1 - parks0,
                (double)(cpu1 - cpu0) / 1e6);
    CHECK_LE(parks1 - parks0, 2);
    CHECK_LE(cpu1 - cpu0, 50 * 1000000ull); /* 10% of one CPU: generous */
    CHECK_INT(w.resumes, 2);
    vex_notify_destroy(w.n);
    CHECK_OK(runtime_destroy(rt));
}
