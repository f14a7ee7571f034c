/* test_cancellation - created tokens: spawning with a token, parent/child
 * trees (children linked before and after the parent was cancelled), waking
 * parked tasks and dropping their timers, reference lifetimes, and
 * cancelling after everything finished. */
#include "support/support.h"
#include "vexrt/cancel.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(cancellation, .timeout = 60);

typedef struct {
    _Atomic int parked, woke_cancelled, finished;
} Tally;

/* Parks on a one-hour timer; on the next resume reports whether it was
 * cancelled (and by a cancel wake). */
static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    Tally *t = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_NONE) {
        if (cancel_requested(worker_cancel_token(ctx))) { /* started cancelled */
            atomic_fetch_add(&t->woke_cancelled, 1);
            atomic_fetch_add(&t->finished, 1);
            return CORO_STATUS_DONE;
        }
        worker_await_after(ctx, 3600 * 1000);
        atomic_fetch_add(&t->parked, 1);
        return CORO_STATUS_YIELDED;
    }
    if (cancel_requested(worker_cancel_token(ctx)) &&
        worker_wake_reason(ctx) == VEX_WAKE_CANCELLED)
        atomic_fetch_add(&t->woke_cancelled, 1);
    atomic_fetch_add(&t->finished, 1);
    return CORO_STATUS_DONE;
}

static void wait_parked(Tally *t, int n)
{
    while (atomic_load(&t->parked) < n) sched_yield();
}

Test(cancellation, cancelling_a_token_wakes_its_parked_tasks)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    cr_assert_not_null(tok);
    Tally t = {0};
    for (int i = 0; i < 100; i++) CHECK_OK(runtime_spawn_with_token(rt, sleeper, &t, tok));
    runtime_enable_auto_shutdown(rt, true);
    pthread_t th = test_run_async(rt);
    wait_parked(&t, 100);
    cr_assert(!cancel_requested(tok));
    CHECK_OK(cancel_request(tok));
    cr_assert(cancel_requested(tok));
    test_join(th); /* an hour, if a task was not woken */
    CHECK_INT(atomic_load(&t.woke_cancelled), 100);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 0);
    CHECK_EQ(st.timers_cancelled, 100); /* their timers were dropped, not left to expire */
    CHECK_OK(cancel_request(tok));      /* after every task finished: harmless */
    CHECK_OK(cancel_token_destroy(tok));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

Test(cancellation, parent_cancels_children_linked_before_and_after)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    CancelToken *root = cancel_token_create(rt, NULL);
    CancelToken *mid = cancel_token_create(rt, root);
    CancelToken *leaf = cancel_token_create(rt, mid);
    cr_assert(root && mid && leaf);
    Tally t = {0};
    for (int i = 0; i < 10; i++) {
        CHECK_OK(runtime_spawn_with_token(rt, sleeper, &t, mid));
        CHECK_OK(runtime_spawn_with_token(rt, sleeper, &t, leaf));
    }
    pthread_t th = test_run_async(rt); /* no auto-shutdown: we spawn more later */
    wait_parked(&t, 20);
    CHECK_OK(cancel_request(root));
    cr_assert(cancel_requested(mid) && cancel_requested(leaf));
    /* Linked after the cancel: starts cancelled, and so do its tasks. */
    CancelToken *late = cancel_token_create(rt, mid);
    cr_assert(cancel_requested(late));
    CHECK_OK(runtime_spawn_with_token(rt, sleeper, &t, late));
    while (atomic_load(&t.finished) < 21) sched_yield();
    CHECK_OK(runtime_shutdown(rt));
    test_join(th);
    CHECK_INT(atomic_load(&t.woke_cancelled), 21);
    CHECK_OK(cancel_token_destroy(late));
    CHECK_OK(cancel_token_destroy(leaf));
    CHECK_OK(cancel_token_destroy(mid));
    CHECK_OK(cancel_token_destroy(root));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

Test(cancellation, cancelling_a_child_leaves_parent_and_siblings_alone)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    CancelToken *root = cancel_token_create(rt, NULL);
    CancelToken *a = cancel_token_create(rt, root);
    CancelToken *b = cancel_token_create(rt, root);
    CHECK_OK(cancel_request(a));
    cr_assert(cancel_requested(a));
    cr_assert(!cancel_requested(root));
    cr_assert(!cancel_requested(b));
    cancel_token_destroy(a);
    cancel_token_destroy(b);
    cancel_token_destroy(root);
    CHECK_OK(runtime_destroy(rt));
}

static CoroStatus quick(WorkerContext *ctx, void *data)
{
    (void)ctx;
    atomic_fetch_add((_Atomic int *)data, 1);
    return CORO_STATUS_DONE;
}

/* The creator may give its reference up right after spawning: the tasks
 * keep the token alive, and the last one to finish frees it. */
Test(cancellation, token_outlives_its_creator_while_tasks_use_it)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    _Atomic int ran = 0;
    for (int i = 0; i < 1000; i++) CHECK_OK(runtime_spawn_with_token(rt, quick, &ran, tok));
    CHECK_OK(cancel_token_destroy(tok));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&ran), 1000);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0); /* the token went with its last task */
}

/* Tasks that never finished (the runtime was shut down) give their
 * references back at runtime_destroy; the token can be destroyed after. */
Test(cancellation, destroy_runtime_with_linked_tasks_parked)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = test_runtime(2, &ca, NULL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    Tally t = {0};
    for (int i = 0; i < 50; i++) CHECK_OK(runtime_spawn_with_token(rt, sleeper, &t, tok));
    pthread_t th = test_run_async(rt);
    wait_parked(&t, 50);
    CHECK_OK(runtime_shutdown(rt));
    test_join(th);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(cancel_request(tok)); /* no task left to reach: harmless */
    CHECK_OK(cancel_token_destroy(tok));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
}

typedef struct {
    CancelToken *seen;
    CancelToken *child;
    int rc;
} Inherit;

static CoroStatus inherit(WorkerContext *ctx, void *data)
{
    Inherit *in = data;
    in->seen = worker_spawn_token(ctx);
    in->child = cancel_token_create(NULL, in->seen); /* NULL runtime: refused */
    return CORO_STATUS_DONE;
}

Test(cancellation, task_sees_the_token_it_was_spawned_with)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    Inherit in = {0};
    CHECK_OK(runtime_spawn_with_token(rt, inherit, &in, tok));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    cr_assert(in.seen == tok);
    cr_assert_null(in.child);
    CHECK_OK(cancel_token_destroy(tok));
    CHECK_OK(runtime_destroy(rt));
}

Test(cancellation, bad_arguments_are_refused)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    cr_assert_null(cancel_token_create(NULL, NULL));
    CHECK_INT(cancel_token_destroy(NULL), VEX_EINVAL);
    CHECK_INT(runtime_spawn_with_token(NULL, quick, NULL, NULL), VEX_EINVAL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    CHECK_INT(runtime_spawn_with_token(rt, NULL, NULL, tok), VEX_EINVAL);
    CHECK_INT(worker_spawn_local_with_token(NULL, quick, NULL, tok), VEX_EINVAL);
    cr_assert_null(worker_spawn_token(NULL));
    CHECK_OK(cancel_token_destroy(tok));
    CHECK_OK(runtime_destroy(rt));
}

/* A task's own token is not a created token: it cannot be a parent or be
 * destroyed. */
typedef struct {
    Runtime *rt;
    CancelToken *child;
    int destroy_rc;
} OwnTok;

static CoroStatus own_token(WorkerContext *ctx, void *data)
{
    OwnTok *o = data;
    o->child = cancel_token_create(o->rt, worker_cancel_token(ctx));
    o->destroy_rc = cancel_token_destroy(worker_cancel_token(ctx));
    return CORO_STATUS_DONE;
}

Test(cancellation, a_task_token_is_not_a_created_token)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    OwnTok o = {rt, NULL, 0};
    CHECK_OK(runtime_spawn_global(rt, own_token, &o));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    cr_assert_null(o.child);
    CHECK_INT(o.destroy_rc, VEX_EINVAL);
    CHECK_OK(runtime_destroy(rt));
}

/* A task spawned with a cancelled token: its first resume is reason
 * CANCELLED with cancel_requested() true, and an await it registers anyway
 * does not park it for the hour: it is resumed again at once. */
static CoroStatus started_cancelled(WorkerContext *ctx, void *data)
{
    int *steps = data;
    VexWakeReason why = worker_wake_reason(ctx);
    bool cancelled = cancel_requested(worker_cancel_token(ctx));
    if ((*steps)++ == 0) {
        if (why != VEX_WAKE_CANCELLED || !cancelled) *steps = 100;
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    }
    if (!cancelled) *steps = 200;
    return CORO_STATUS_DONE;
}

Test(cancellation, started_cancelled_task_is_not_parked_by_its_awaits)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    CancelToken *tok = cancel_token_create(rt, NULL);
    CHECK_OK(cancel_request(tok));
    int steps = 0;
    CHECK_OK(runtime_spawn_with_token(rt, started_cancelled, &steps, tok));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    CHECK_INT(steps, 2);
    CHECK_OK(cancel_token_destroy(tok));
    CHECK_OK(runtime_destroy(rt));
}

/* runtime_now_ns works outside tasks and is the clock of worker_now_ns. */
static CoroStatus read_clock(WorkerContext *ctx, void *data)
{
    uint64_t *t = data;
    t[1] = worker_now_ns(ctx);
    return CORO_STATUS_DONE;
}

Test(cancellation, runtime_clock_outside_tasks_matches_worker_clock)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    uint64_t t[3] = {0};
    t[0] = runtime_now_ns(rt);
    CHECK_OK(runtime_spawn_global(rt, read_clock, t));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    t[2] = runtime_now_ns(rt);
    cr_assert(t[0] > 0 && t[0] <= t[1] && t[1] <= t[2], "%llu %llu %llu",
              (unsigned long long)t[0], (unsigned long long)t[1], (unsigned long long)t[2]);
    CHECK_INT(runtime_now_ns(NULL), 0);
    CHECK_OK(runtime_destroy(rt));
}
