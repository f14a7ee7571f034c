/* test_edge_cases - lifecycle corner cases and bad input: every call gives a
 * clear error and the runtime stays usable. */
#include <pthread.h>

#include "support/support.h"
#include "vexrt/notify.h"

TestSuite(edge_cases, .timeout = 60);

static _Atomic int ran;

static CoroStatus count(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&ran, 1);
    return CORO_STATUS_DONE;
}

Test(edge_cases, create_rejects_bad_worker_counts)
{
    cr_assert_null(runtime_create(-1));
    cr_assert_null(runtime_create(-1000));
    cr_assert_null(runtime_create(VEX_MAX_WORKERS + 1));
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = -3;
    Runtime *rt = (Runtime *)1;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    cr_assert_null(rt);
    CHECK_INT(runtime_new(&cfg, NULL), VEX_EINVAL);
}

Test(edge_cases, destroy_before_run_drops_tasks_without_leaks)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(3, &ca, NULL);
    atomic_store(&ran, 0);
    for (int i = 0; i < 5000; i++) CHECK_OK(runtime_spawn_global(rt, count, NULL));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ran), 0);
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.live_blocks), 0);
}

Test(edge_cases, shutdown_before_run_makes_run_return)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    atomic_store(&ran, 0);
    CHECK_OK(runtime_spawn_global(rt, count, NULL));
    CHECK_OK(runtime_shutdown(rt));
    CHECK_OK(runtime_shutdown(rt)); /* idempotent */
    CHECK_OK(runtime_run(rt));      /* returns promptly, runs nothing */
    CHECK_INT(atomic_load(&ran), 0);
    CHECK_INT(runtime_spawn_global(rt, count, NULL), VEX_ESHUTDOWN);
    CHECK_INT(runtime_run(rt), VEX_ESHUTDOWN); /* a runtime runs once */
    CHECK_OK(runtime_destroy(rt));
}

Test(edge_cases, auto_shutdown_with_nothing_spawned_returns_at_once)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    CHECK_OK(runtime_destroy(rt));
}

static CoroStatus weird_status(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&ran, 1);
    return (CoroStatus)42; /* not a CoroStatus: treated as DONE */
}

Test(edge_cases, out_of_range_status_finishes_the_task)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    atomic_store(&ran, 0);
    CHECK_OK(runtime_spawn_global(rt, weird_status, NULL));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&ran), 1);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.tasks_done, 1);
    CHECK_OK(runtime_destroy(rt));
}

typedef struct {
    Runtime *rt;
    int rc_spawn_local, rc_spawn_global;
} AfterStop;

static CoroStatus stopper(WorkerContext *ctx, void *data)
{
    AfterStop *a = data;
    runtime_shutdown(a->rt); /* from inside a task */
    a->rc_spawn_local = worker_spawn_local(ctx, count, NULL);
    a->rc_spawn_global = runtime_spawn_global(a->rt, count, NULL);
    return CORO_STATUS_DONE;
}

Test(edge_cases, spawn_after_shutdown_is_refused_not_dropped)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    AfterStop a = {rt, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, stopper, &a));
    CHECK_OK(runtime_run(rt));
    CHECK_INT(a.rc_spawn_local, VEX_ESHUTDOWN);
    CHECK_INT(a.rc_spawn_global, VEX_ESHUTDOWN);
    CHECK_OK(runtime_destroy(rt));
}

static void *run_thread(void *arg)
{
    runtime_run((Runtime *)arg);
    return NULL;
}

static CoroStatus forever(WorkerContext *ctx, void *data)
{
    worker_await_notify(ctx, (VexNotify *)data);
    return CORO_STATUS_YIELDED;
}

Test(edge_cases, run_twice_and_destroy_while_running_are_refused)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    VexNotify *n = vex_notify_create(rt);
    CHECK_OK(runtime_spawn_global(rt, forever, n));
    pthread_t th;
    pthread_create(&th, NULL, run_thread, rt);
    RuntimeStats st;
    do { /* wait until the task parked: the runtime is running */
        sched_yield();
        runtime_get_stats(rt, &st);
    } while (st.resumes == 0);
    CHECK_INT(runtime_run(rt), VEX_EBUSY);
    CHECK_INT(runtime_destroy(rt), VEX_EBUSY);
    CHECK_OK(runtime_shutdown(rt)); /* from a foreign thread */
    pthread_join(th, NULL);
    CHECK_INT(vex_notify_destroy(n), VEX_EBUSY); /* the task still waits on it (never resumed) */
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(vex_notify_signal(n), VEX_ESHUTDOWN);
    CHECK_OK(vex_notify_destroy(n)); /* its waiter went with the runtime */
}

Test(edge_cases, invalid_platform_or_allocator_is_rejected)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    VexPlatform p = *vex_platform_default();
    p.park = NULL;
    cfg.platform = &p;
    Runtime *rt = NULL;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    p = *vex_platform_default();
    p.abi_version = 999;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    VexAllocator a = {NULL, NULL, NULL};
    runtime_config_init(&cfg);
    cfg.allocator = &a;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    cr_assert_null(rt);
}

/* Reserved fields must be zero, and a timer tick outside its documented
 * range is refused, not clamped (2^62 ns used to give 4.3 s ticks). */
Test(edge_cases, config_reserved_and_tick_range_are_checked)
{
    RuntimeConfig cfg;
    Runtime *rt = NULL;
    for (int i = 0; i < 8; i++) {
        runtime_config_init(&cfg);
        cfg.workers = 1;
        cfg.reserved[i] = 1;
        CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
        cr_assert_null(rt);
    }
    const uint64_t bad[] = {(uint64_t)1 << 62, VEX_TIMER_TICK_MAX_NS + 1ull, UINT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        runtime_config_init(&cfg);
        cfg.workers = 1;
        cfg.timer_tick_ns = bad[i];
        CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    }
    const uint64_t good[] = {VEX_TIMER_TICK_MIN_NS, 1000, 1000000, VEX_TIMER_TICK_MAX_NS};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        runtime_config_init(&cfg);
        cfg.workers = 1;
        cfg.timer_tick_ns = good[i];
        CHECK_OK(runtime_new(&cfg, &rt));
        CHECK_OK(runtime_destroy(rt));
    }
}

Test(edge_cases, strerror_covers_every_code)
{
    cr_assert_str_eq(vex_strerror(0), "success");
    cr_assert_str_eq(vex_errname(VEX_ENOMEM), "VEX_ENOMEM");
    for (int e = -1; e > VEX_ERRNO_LAST; e--)
        cr_assert(strcmp(vex_strerror(e), "unknown error") != 0, "code %d has no message", e);
    cr_assert_str_eq(vex_strerror(-9999), "unknown error");
}

static _Atomic int trace_lines, trace_run_lines;

static void capture_trace(void *ctx, const char *line)
{
    (void)ctx;
    atomic_fetch_add(&trace_lines, 1);
    if (strstr(line, "run")) atomic_fetch_add(&trace_run_lines, 1);
}

Test(edge_cases, tracing_writes_through_the_platform)
{
    VexPlatform p = *vex_platform_default();
    p.trace = capture_trace;
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 1;
    cfg.platform = &p;
    Runtime *rt = runtime_create_with(&cfg);
    cr_assert_not_null(rt);
    CHECK_OK(runtime_spawn_global(rt, count, NULL));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt)); /* tracing off: nothing written */
    CHECK_INT(atomic_load(&trace_lines), 0);
    CHECK_OK(runtime_destroy(rt));

    rt = runtime_create_with(&cfg);
    CHECK_OK(runtime_set_tracing(rt, true));
    CHECK_OK(runtime_spawn_global(rt, count, NULL));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_OK(runtime_destroy(rt));
    cr_assert_gt(atomic_load(&trace_lines), 2);
    CHECK_INT(atomic_load(&trace_run_lines), 2); /* "run" and "run returned" */
}
