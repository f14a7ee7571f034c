/* test_local_spawn - worker_spawn_local from inside tasks: fan-out, chains,
 * and the rule that it is refused outside a resume. */
#include "support/support.h"

TestSuite(local_spawn, .timeout = 60);

static _Atomic long hits;

static CoroStatus leaf(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&hits, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus fan_out(WorkerContext *ctx, void *data)
{
    long n = (long)(intptr_t)data;
    for (long i = 0; i < n; i++) cr_assert(worker_spawn_local(ctx, leaf, NULL) == 0);
    return CORO_STATUS_DONE;
}

Test(local_spawn, fan_out_runs_every_child_once)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    atomic_store(&hits, 0);
    CHECK_OK(runtime_spawn_global(rt, fan_out, (void *)(intptr_t)100000));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&hits), 100000);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.tasks_spawned, 100001);
    CHECK_EQ(st.tasks_done, 100001);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

typedef struct {
    long k, n;
    long *last;
} Link;

static Link links[20001];

static CoroStatus chain(WorkerContext *ctx, void *data)
{
    Link *l = data;
    *l->last = l->k; /* each link runs after the previous one finished */
    if (l->k < l->n) {
        Link *next = &links[l->k + 1];
        next->k = l->k + 1;
        next->n = l->n;
        next->last = l->last;
        cr_assert(worker_spawn_local(ctx, chain, next) == 0);
    }
    return CORO_STATUS_DONE;
}

Test(local_spawn, chain_runs_in_order)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    long last = -1;
    links[0] = (Link){0, 20000, &last};
    CHECK_OK(runtime_spawn_global(rt, chain, &links[0]));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(last, 20000);
    CHECK_OK(runtime_destroy(rt));
}

static WorkerContext *saved_ctx;

static CoroStatus save_ctx(WorkerContext *ctx, void *data)
{
    (void)data;
    saved_ctx = ctx;
    return CORO_STATUS_DONE;
}

Test(local_spawn, refused_outside_a_resume)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    CHECK_OK(runtime_spawn_global(rt, save_ctx, NULL));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    cr_assert_not_null(saved_ctx);
    CHECK_INT(worker_spawn_local(saved_ctx, leaf, NULL), VEX_EINVAL);
    CHECK_INT(worker_spawn_local(NULL, leaf, NULL), VEX_EINVAL);
    cr_assert_null(worker_cancel_token(saved_ctx));
    CHECK_OK(runtime_destroy(rt));
}
