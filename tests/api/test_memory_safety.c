/* test_memory_safety - every byte comes back at destroy, no allocation
 * bypasses the allocator vtable, allocation failures are clean error returns
 * (swept over every allocation a workload reaches), and the memory a live
 * task costs. */
#include "support/support.h"
#include "vexrt/notify.h"

TestSuite(memory_safety, .timeout = 120);

static _Atomic long done_count;

static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    intptr_t *left = data;
    if ((*left)-- <= 0) {
        atomic_fetch_add(&done_count, 1);
        return CORO_STATUS_DONE;
    }
    worker_await_after(ctx, 1);
    return CORO_STATUS_YIELDED;
}

static CoroStatus fan(WorkerContext *ctx, void *data)
{
    intptr_t *lefts = data;
    for (int i = 0; i < 200; i++)
        if (worker_spawn_local(ctx, sleeper, &lefts[i])) return CORO_STATUS_DONE;
    return CORO_STATUS_DONE;
}

Test(memory_safety, every_byte_comes_back)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(3, &ca, NULL);
    static intptr_t lefts[200];
    for (int i = 0; i < 200; i++) lefts[i] = i % 4;
    VexNotify *n = vex_notify_create(rt);
    CHECK_OK(runtime_spawn_global(rt, fan, lefts));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    cr_assert_gt(atomic_load(&ca.allocs), 0, "the runtime allocated through the vtable");
    CHECK_OK(vex_notify_destroy(n));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.live_blocks), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
}

/* One complete workload on an allocator that fails its n-th call. Returns
 * whether the failure was injected (false: the workload needs fewer calls). */
static bool run_with_failure_at(long n, long *completed)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    atomic_store(&ca.fail_at, n);
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 2;
    cfg.allocator = &ca.vt;
    cfg.auto_shutdown = true;
    Runtime *rt = NULL;
    int rc = runtime_new(&cfg, &rt);
    if (rc == 0) {
        static intptr_t lefts[200];
        for (int i = 0; i < 200; i++) lefts[i] = i % 3;
        atomic_store(&done_count, 0);
        VexNotify *note = vex_notify_create(rt); /* may fail: NULL is fine */
        int src = runtime_spawn_global(rt, fan, lefts);
        cr_assert(src == 0 || src == VEX_ENOMEM, "spawn: %s", vex_strerror(src));
        CHECK_OK(runtime_run(rt));
        if (note) CHECK_OK(vex_notify_destroy(note));
        CHECK_OK(runtime_destroy(rt));
        if (src == 0) (*completed)++;
    } else {
        cr_assert(rc == VEX_ENOMEM, "runtime_new: %s", vex_strerror(rc));
        cr_assert_null(rt);
    }
    /* Whatever failed, nothing leaked and nothing was freed wrongly. */
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
    return atomic_load(&ca.failures) > 0;
}

Test(memory_safety, allocation_failure_sweep)
{
    long n, completed = 0;
    for (n = 1; n < 10000; n++)
        if (!run_with_failure_at(n, &completed)) break;
    cr_log_info("allocation sweep: %ld allocation sites reached, %ld runs completed", n - 1,
                completed);
    cr_assert_gt(n, 5, "the workload reaches several allocations");
    cr_assert_lt(n, 10000, "the sweep ended (a run with no injected failure)");
}

static CoroStatus park_on(WorkerContext *ctx, void *data)
{
    VexNotify *n = data;
    if (vex_notify_try_take(n)) return CORO_STATUS_DONE;
    worker_await_notify(ctx, n);
    return CORO_STATUS_YIELDED;
}

/* Runtime memory per live task, measured with the counting allocator: tasks
 * queued before run (nothing else allocated per task) must cost at most 64
 * bytes each. */
Test(memory_safety, live_task_costs_at_most_64_bytes)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    enum { N = 200000 };
    long long base = atomic_load(&ca.live_bytes);
    VexNotify *n = vex_notify_create(rt);
    long long note_bytes = atomic_load(&ca.live_bytes) - base;
    for (int i = 0; i < N; i++) CHECK_OK(runtime_spawn_global(rt, park_on, n));
    long long per_task_x100 = (atomic_load(&ca.live_bytes) - base - note_bytes) * 100 / N;
    cr_log_info("runtime memory per live task: %lld.%02lld bytes", per_task_x100 / 100,
                per_task_x100 % 100);
    CHECK_LE(per_task_x100, 6400);
    CHECK_OK(runtime_destroy(rt)); /* never ran: dropped without being resumed */
    vex_notify_destroy(n);
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

/* A parked task with a pending timer: task plus timer entry. */
static CoroStatus park_timer(WorkerContext *ctx, void *data)
{
    _Atomic long *parked = data;
    atomic_fetch_add(parked, 1);
    worker_await_after(ctx, 3600 * 1000);
    return CORO_STATUS_YIELDED;
}

static _Atomic long spawned_parkers;

/* Spawns in steps of 200 and yields between them, so the tasks park as they
 * go instead of piling up in queues: what is measured is the parked state. */
static CoroStatus spawn_parkers(WorkerContext *ctx, void *data)
{
    for (int i = 0; i < 200; i++) cr_assert(worker_spawn_local(ctx, park_timer, data) == 0);
    return atomic_fetch_add(&spawned_parkers, 200) + 200 < 50000 ? CORO_STATUS_YIELDED
                                                                  : CORO_STATUS_DONE;
}

Test(memory_safety, parked_task_with_timer_costs_at_most_128_bytes)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(1, &ca, NULL);
    _Atomic long parked = 0;
    long long base = atomic_load(&ca.live_bytes);
    CHECK_OK(runtime_spawn_global(rt, spawn_parkers, &parked));
    pthread_t th = test_run_async(rt);
    while (atomic_load(&parked) < 50000) sched_yield();
    RuntimeStats st;
    do { /* the last ones may still be between resume and park */
        sched_yield();
        runtime_get_stats(rt, &st);
    } while (st.timers_armed < 50000);
    long long per_task = (atomic_load(&ca.live_bytes) - base) / 50000;
    cr_log_info("runtime memory per parked task with a timer: %lld bytes", per_task);
    CHECK_LE(per_task, 128);
    runtime_shutdown(rt);
    test_join(th);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}
