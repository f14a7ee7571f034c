/* test_basic_spawn - spawning tasks from outside and inside the runtime,
 * running them to completion, and the counters that say so. */
#include <pthread.h>
#include <sched.h>

#include "support/support.h"

TestSuite(basic_spawn, .timeout = 60);

static _Atomic long counter;

static CoroStatus count_once(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&counter, 1);
    return CORO_STATUS_DONE;
}

Test(basic_spawn, global_tasks_all_run_once)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(4, &ca, NULL);
    atomic_store(&counter, 0);
    enum { N = 10000 };
    for (int i = 0; i < N; i++) CHECK_OK(runtime_spawn_global(rt, count_once, NULL));
    CHECK_INT(atomic_load(&counter), 0); /* nothing runs before runtime_run */
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&counter), N);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.tasks_spawned, N);
    CHECK_EQ(st.tasks_done, N);
    CHECK_EQ(st.live_tasks, 0);
    CHECK_EQ(st.workers, 4);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
}

typedef struct {
    int resumes;
    int yields;
} Yielder;

static CoroStatus yield_k(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Yielder *y = data;
    y->resumes++;
    return y->resumes > y->yields ? CORO_STATUS_DONE
                                  : (y->resumes & 1 ? CORO_STATUS_YIELDED : CORO_STATUS_RUNNING);
}

Test(basic_spawn, yielding_task_is_resumed_once_per_yield)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    Yielder ys[64];
    for (int i = 0; i < 64; i++) {
        ys[i].resumes = 0;
        ys[i].yields = i * 3;
        CHECK_OK(runtime_spawn_global(rt, yield_k, &ys[i]));
    }
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    for (int i = 0; i < 64; i++) CHECK_INT(ys[i].resumes, i * 3 + 1);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.tasks_done, 64);
    CHECK_OK(runtime_destroy(rt));
}

typedef struct {
    Runtime *rt;
    long n;
    _Atomic long done;
} Foreign;

static CoroStatus count_and_stop(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Foreign *f = data;
    if (atomic_fetch_add(&f->done, 1) + 1 == f->n) runtime_shutdown(f->rt);
    return CORO_STATUS_DONE;
}

static void *spawner(void *arg)
{
    Foreign *f = arg;
    for (long i = 0; i < f->n / 2; i++)
        cr_assert(runtime_spawn_global(f->rt, count_and_stop, f) == 0);
    return NULL;
}

Test(basic_spawn, spawn_from_foreign_threads_during_run)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    Foreign f = {rt, 20000, 0};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, spawner, &f);
    CHECK_OK(runtime_run(rt)); /* returns when the last task calls shutdown */
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&f.done), f.n);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.tasks_spawned, f.n);
    CHECK_EQ(st.tasks_done, f.n);
    CHECK_OK(runtime_destroy(rt));
}

static CoroStatus spawn_global_from_task(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Runtime *rt = data;
    for (int i = 0; i < 1000; i++) cr_assert(runtime_spawn_global(rt, count_once, NULL) == 0);
    return CORO_STATUS_DONE;
}

Test(basic_spawn, spawn_global_from_a_task)
{
    Runtime *rt = test_runtime(3, NULL, NULL);
    atomic_store(&counter, 0);
    CHECK_OK(runtime_spawn_global(rt, spawn_global_from_task, rt));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&counter), 1000);
    CHECK_OK(runtime_destroy(rt));
}

Test(basic_spawn, default_worker_count_is_cpu_count)
{
    Runtime *rt = runtime_create(0);
    cr_assert_not_null(rt);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    cpu_set_t set;
    CHECK_INT(sched_getaffinity(0, sizeof set, &set), 0);
    CHECK_EQ(st.workers, CPU_COUNT(&set));
    CHECK_OK(runtime_destroy(rt));
}
