/* test_notify - notification semantics: one stored permit that does not
 * accumulate, try_take, the single-waiter rule, and destroy while waited on. */
#include "support/support.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(notify, .timeout = 30);

Test(notify, one_permit_that_does_not_accumulate)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    VexNotify *n = vex_notify_create(rt);
    cr_assert_not_null(n);
    cr_assert(!vex_notify_try_take(n));
    CHECK_OK(vex_notify_signal(n));
    CHECK_OK(vex_notify_signal(n));
    CHECK_OK(vex_notify_signal(n));
    cr_assert(vex_notify_try_take(n));
    cr_assert(!vex_notify_try_take(n), "three signals, one permit");
    CHECK_OK(vex_notify_destroy(n));
    CHECK_OK(runtime_destroy(rt));
    cr_assert_null(vex_notify_create(NULL));
    CHECK_INT(vex_notify_signal(NULL), VEX_EINVAL);
    cr_assert(!vex_notify_try_take(NULL));
}

typedef struct {
    VexNotify *n;
    _Atomic int resumes; /* read by the test thread while the runtime runs */
    _Atomic int reason;
} W;

static CoroStatus waiter(WorkerContext *ctx, void *data)
{
    W *w = data;
    if (atomic_fetch_add(&w->resumes, 1)) {
        atomic_store(&w->reason, worker_wake_reason(ctx));
        return CORO_STATUS_DONE;
    }
    cr_assert(worker_await_notify(ctx, w->n) == 0);
    return CORO_STATUS_YIELDED;
}

/* Two tasks awaiting one notify: the first parks, the second is resumed at
 * once with VEX_WAKE_ERROR; one signal then wakes the first. */
Test(notify, second_waiter_is_refused)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    VexNotify *n = vex_notify_create(rt);
    W a = {n, 0, 0}, b = {n, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, waiter, &a));
    CHECK_OK(runtime_spawn_global(rt, waiter, &b));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    while (atomic_load(&b.reason) == 0) sched_yield(); /* b refused at once */
    CHECK_INT(atomic_load(&b.reason), VEX_WAKE_ERROR);
    CHECK_INT(vex_notify_destroy(n), VEX_EBUSY); /* a still waits */
    CHECK_OK(vex_notify_signal(n));
    test_join(th);
    CHECK_INT(atomic_load(&a.reason), VEX_WAKE_NOTIFIED);
    CHECK_OK(vex_notify_destroy(n));
    CHECK_OK(runtime_destroy(rt));
}

static CoroStatus await_foreign(WorkerContext *ctx, void *data)
{
    W *w = data;
    atomic_store(&w->reason, worker_await_notify(ctx, w->n)); /* the rc */
    return CORO_STATUS_DONE;
}

Test(notify, await_refuses_a_notify_of_another_runtime)
{
    Runtime *rt1 = test_runtime(1, NULL, NULL), *rt2 = test_runtime(1, NULL, NULL);
    VexNotify *n = vex_notify_create(rt2);
    W a = {n, 0, 0};
    CHECK_OK(runtime_spawn_global(rt1, await_foreign, &a));
    runtime_enable_auto_shutdown(rt1, true);
    CHECK_OK(runtime_run(rt1));
    CHECK_INT(atomic_load(&a.reason), VEX_EINVAL);
    CHECK_INT(worker_await_notify(NULL, n), VEX_EINVAL);
    CHECK_OK(runtime_destroy(rt1));
    CHECK_OK(vex_notify_destroy(n));
    CHECK_OK(runtime_destroy(rt2));
}
