/* test_embed_steps - a host that drives the runtime with runtime_step and
 * timeouts alone, the way a host without a backend handle must (IOCP has
 * none; every platform supports this): timers fire on time (never early),
 * tasks spawned from another thread run, cancellation wakes a parked task,
 * and runtime_run is refused while a host drives the runtime. */
#include <stdatomic.h>

#include "support/support.h"
#include "vexrt/embed.h"
#include "vexrt/task.h"

typedef struct {
    int left, early;
    uint64_t due;
} Tick;

static CoroStatus ticker(WorkerContext *ctx, void *data)
{
    Tick *t = data;
    if (t->due && worker_now_ns(ctx) < t->due) t->early++;
    if (t->left-- == 0) return CORO_STATUS_DONE;
    t->due = worker_now_ns(ctx) + 3000000u;
    worker_await_after_ns(ctx, 3000000u);
    return CORO_STATUS_YIELDED;
}

static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    _Atomic(CancelToken *) *tok = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_CANCELLED) return CORO_STATUS_DONE;
    atomic_store(tok, worker_cancel_token(ctx));
    worker_await_after(ctx, 3600 * 1000);
    return CORO_STATUS_YIELDED;
}

static CoroStatus canceller(WorkerContext *ctx, void *data)
{
    _Atomic(CancelToken *) *tok = data;
    CancelToken *t = atomic_load(tok);
    if (!t) {
        worker_await_after(ctx, 1);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(t);
    return CORO_STATUS_DONE;
}

typedef struct {
    Runtime *rt;
    Tick tick;
} Outside;

static void *spawn_from_outside(void *arg)
{
    Outside *o = arg;
    test_sleep_ms(5);
    CHECK_OK(runtime_spawn_global(o->rt, ticker, &o->tick));
    return NULL;
}

Test(embed_steps, steps_with_timeouts_run_everything, .timeout = 60)
{
    for (int workers = 1; workers <= 2; workers++) {
        Runtime *rt = test_runtime(workers, NULL, NULL);
        IoHandle h;
        int hrc = runtime_backend_handle(rt, &h);
        cr_assert(hrc == 0 || hrc == VEX_ENOSYS, "backend handle: %s", vex_strerror(hrc));
        Tick t[4];
        for (int i = 0; i < 4; i++) {
            t[i] = (Tick){.left = 10};
            CHECK_OK(runtime_spawn_global(rt, ticker, &t[i]));
        }
        static _Atomic(CancelToken *) tok;
        atomic_store(&tok, NULL);
        CHECK_OK(runtime_spawn_global(rt, sleeper, &tok));
        CHECK_OK(runtime_spawn_global(rt, canceller, &tok));
        CHECK_OK(runtime_enable_auto_shutdown(rt, true));
        Outside out = {rt, {.left = 3}};
        pthread_t th;
        cr_assert(pthread_create(&th, NULL, spawn_from_outside, &out) == 0);
        int r, turns = 0;
        /* The host waits in runtime_step, at most 5 ms at a time, or as
         * long as the runtime says it may. */
        while ((r = runtime_step(rt, 5000000u)) > 0) {
            turns++;
            CHECK_INT(runtime_run(rt), VEX_EBUSY);
        }
        CHECK_INT(r, 0);
        pthread_join(th, NULL);
        CHECK_INT(out.tick.left, -1);
        for (int i = 0; i < 4; i++) {
            CHECK_INT(t[i].left, -1);
            CHECK_INT(t[i].early, 0);
        }
        RuntimeStats st;
        CHECK_OK(runtime_get_stats(rt, &st));
        CHECK_EQ(st.tasks_done, 4 + 2 + 1);
        CHECK_EQ(st.live_tasks, 0);
        CHECK_INT(runtime_step(rt, 0), 0); /* stopped: stays stopped */
        CHECK_OK(runtime_destroy(rt));
        cr_assert(turns > 0);
    }
}

static CoroStatus mark_running(WorkerContext *ctx, void *data)
{
    (void)ctx;
    atomic_store((_Atomic int *)data, 1);
    return CORO_STATUS_DONE;
}

Test(embed_steps, runtime_step_refused_while_runtime_run_drives, .timeout = 30)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    static _Atomic int running;
    atomic_store(&running, 0);
    CHECK_OK(runtime_spawn_global(rt, mark_running, (void *)&running));
    pthread_t th = test_run_async(rt);
    while (!atomic_load(&running)) test_sleep_ms(1); /* runtime_run has it */
    CHECK_INT(runtime_step(rt, 0), VEX_EBUSY);
    IoHandle h;
    CHECK_INT(runtime_backend_handle(rt, &h), VEX_EBUSY);
    CHECK_OK(runtime_shutdown(rt));
    test_join(th);
    CHECK_OK(runtime_destroy(rt));
}
