/* test_cross_runtime - a task of one runtime wakes a task of another:
 * through a notify, a channel, or a cancel token tree spanning both. The
 * woken task must run on its own runtime (its awaits accepted there), both
 * runtimes' live counts stay right (each auto-shuts down when its own
 * tasks are done, never earlier), and nothing is lost. */
#include <stdatomic.h>

#include "support/support.h"
#include "vexrt/cancel.h"
#include "vexrt/channel.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

/* B's side: parks on a notify (or a channel), then, woken, checks that an
 * await on one of B's own notifies is accepted (it would be refused on A's
 * worker). */
typedef struct {
    VexNotify *wake, *mine;
    VexChannel *ch;
    _Atomic int parked;
    int step;
    int rc_await_mine;
    unsigned reason;
    void *value;
    int rc_recv;
} BWaiter;

static CoroStatus b_waiter(WorkerContext *ctx, void *data)
{
    BWaiter *b = data;
    if (b->step++ == 0) {
        if (b->ch)
            worker_await_channel_recv(ctx, b->ch);
        else
            worker_await_notify(ctx, b->wake);
        atomic_store(&b->parked, 1);
        return CORO_STATUS_YIELDED;
    }
    b->reason = worker_wake_reason(ctx);
    if (b->ch) b->rc_recv = worker_channel_recv(ctx, b->ch, &b->value);
    b->rc_await_mine = worker_await_notify(ctx, b->mine);
    return CORO_STATUS_DONE; /* the await above is dropped with the task */
}

/* A's side: once B's task is parked, signals it from a task of A, while
 * another task of A sleeps a little longer (it must not be lost). */
typedef struct {
    BWaiter *b;
    int step;
    int rc_signal;
} ASignaller;

static CoroStatus a_signaller(WorkerContext *ctx, void *data)
{
    ASignaller *a = data;
    if (!atomic_load(&a->b->parked)) {
        worker_await_after_ns(ctx, 200000);
        return CORO_STATUS_YIELDED;
    }
    if (a->b->ch)
        a->rc_signal = worker_channel_send(ctx, a->b->ch, (void *)(uintptr_t)42);
    else
        a->rc_signal = worker_notify_signal(ctx, a->b->wake);
    return CORO_STATUS_DONE;
}

typedef struct {
    int step;
    _Atomic int done;
} Sleeper;

static CoroStatus a_sleeper(WorkerContext *ctx, void *data)
{
    Sleeper *s = data;
    if (s->step++ == 0) {
        worker_await_after(ctx, 50);
        return CORO_STATUS_YIELDED;
    }
    atomic_store(&s->done, 1);
    return CORO_STATUS_DONE;
}

static void check_done(Runtime *rt, uint64_t want_done)
{
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.tasks_done, want_done);
    CHECK_EQ(st.live_tasks, 0);
}

static void wake_across(bool channel, int workers)
{
    Runtime *ra = test_runtime(workers, NULL, NULL);
    Runtime *rb = test_runtime(workers, NULL, NULL);
    BWaiter b = {.wake = vex_notify_create(rb), .mine = vex_notify_create(rb)};
    if (channel) b.ch = vex_channel_create(rb, 4);
    ASignaller a = {.b = &b};
    Sleeper s = {0};
    CHECK_OK(runtime_spawn_global(rb, b_waiter, &b));
    CHECK_OK(runtime_spawn_global(ra, a_signaller, &a));
    CHECK_OK(runtime_spawn_global(ra, a_sleeper, &s));
    CHECK_OK(runtime_enable_auto_shutdown(ra, true));
    CHECK_OK(runtime_enable_auto_shutdown(rb, true));
    pthread_t tb = test_run_async(rb);
    CHECK_OK(runtime_run(ra));
    cr_assert(atomic_load(&s.done), "runtime A stopped while its own task was still parked");
    test_join(tb);
    CHECK_INT(a.rc_signal, 0);
    CHECK_INT(b.rc_await_mine, 0); /* resumed on a worker of B */
    if (channel) {
        CHECK_INT(b.rc_recv, 0);
        CHECK_EQ((uintptr_t)b.value, 42);
    } else {
        CHECK_INT(b.reason, VEX_WAKE_NOTIFIED);
    }
    check_done(ra, 2);
    check_done(rb, 1);
    runtime_destroy(ra);
    runtime_destroy(rb);
    vex_channel_destroy(b.ch);
    CHECK_OK(vex_notify_destroy(b.wake));
    CHECK_OK(vex_notify_destroy(b.mine));
}

Test(cross_runtime, notify_from_another_runtimes_task_wakes_it_there, .timeout = 30)
{
    wake_across(false, 1);
    wake_across(false, 2);
}

Test(cross_runtime, channel_send_from_another_runtimes_task_wakes_it_there, .timeout = 30)
{
    wake_across(true, 1);
    wake_across(true, 2);
}

/* A token created on A, a task of B spawned with it, cancelled by a task
 * of A: B's task wakes on B with VEX_WAKE_CANCELLED. */
typedef struct {
    _Atomic int parked;
    int step;
    unsigned reason;
    int rc_await_mine;
    VexNotify *mine;
} BCancellee;

static CoroStatus b_cancellee(WorkerContext *ctx, void *data)
{
    BCancellee *c = data;
    if (c->step++ == 0) {
        worker_await_after(ctx, 60000);
        atomic_store(&c->parked, 1);
        return CORO_STATUS_YIELDED;
    }
    c->reason = worker_wake_reason(ctx);
    c->rc_await_mine = worker_await_notify(ctx, c->mine);
    return CORO_STATUS_DONE;
}

typedef struct {
    BCancellee *c;
    CancelToken *tok;
} ACanceller;

static CoroStatus a_canceller(WorkerContext *ctx, void *data)
{
    ACanceller *a = data;
    if (!atomic_load(&a->c->parked)) {
        worker_await_after_ns(ctx, 200000);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(a->tok);
    return CORO_STATUS_DONE;
}

Test(cross_runtime, token_tree_spanning_two_runtimes, .timeout = 30)
{
    Runtime *ra = test_runtime(2, NULL, NULL);
    Runtime *rb = test_runtime(2, NULL, NULL);
    CancelToken *root = cancel_token_create(ra, NULL);
    CancelToken *child = cancel_token_create(rb, root);
    cr_assert(root && child);
    BCancellee c = {.mine = vex_notify_create(rb)};
    ACanceller a = {.c = &c, .tok = root};
    CHECK_OK(runtime_spawn_with_token(rb, b_cancellee, &c, child));
    CHECK_OK(runtime_spawn_global(ra, a_canceller, &a));
    CHECK_OK(runtime_enable_auto_shutdown(ra, true));
    CHECK_OK(runtime_enable_auto_shutdown(rb, true));
    pthread_t tb = test_run_async(rb);
    CHECK_OK(runtime_run(ra));
    test_join(tb);
    CHECK_INT(c.reason, VEX_WAKE_CANCELLED);
    CHECK_INT(c.rc_await_mine, 0);
    check_done(ra, 1);
    check_done(rb, 1);
    CHECK_OK(cancel_token_destroy(child));
    CHECK_OK(cancel_token_destroy(root));
    runtime_destroy(ra);
    runtime_destroy(rb);
    CHECK_OK(vex_notify_destroy(c.mine));
}
