/* test_cancel_token - the seed's per-task token: a flag the task polls, which
 * also wakes the task when it is parked. */
#include <pthread.h>

#include "support/support.h"

TestSuite(cancel_token, .timeout = 60);

typedef struct {
    CancelToken *_Atomic tok;
    _Atomic int resumes;
    _Atomic int saw_cancel;
    uint64_t woke_ns, parked_ns;
} Sleeper;

/* Parks on a one-hour timer; records whether it saw the cancel when woken. */
static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    Sleeper *s = data;
    int r = atomic_fetch_add(&s->resumes, 1);
    CancelToken *t = worker_cancel_token(ctx);
    cr_assert_not_null(t);
    if (r == 0) {
        cr_assert(!cancel_requested(t));
        s->parked_ns = test_now_ns();
        cr_assert(worker_await_after(ctx, 3600 * 1000) == 0);
        atomic_store(&s->tok, t);
        return CORO_STATUS_YIELDED;
    }
    s->woke_ns = test_now_ns();
    atomic_store(&s->saw_cancel, cancel_requested(t));
    atomic_store(&s->tok, NULL);
    return CORO_STATUS_DONE;
}

static void *canceller(void *arg)
{
    Sleeper *s = arg;
    CancelToken *t;
    while (!(t = atomic_load(&s->tok))) sched_yield();
    test_sleep_ms(20); /* let it really park (the test passes either way) */
    cr_assert(cancel_request(t) == 0);
    return NULL;
}

Test(cancel_token, cancel_wakes_a_parked_task)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    Sleeper s;
    memset(&s, 0, sizeof s);
    CHECK_OK(runtime_spawn_global(rt, sleeper, &s));
    pthread_t th;
    pthread_create(&th, NULL, canceller, &s);
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt)); /* would take an hour if the cancel were lost */
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&s.resumes), 2);
    CHECK_INT(atomic_load(&s.saw_cancel), 1);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 0);
    CHECK_EQ(st.cancels, 1);
    CHECK_OK(runtime_destroy(rt));
}

typedef struct {
    int phase;
    bool before, after, again;
} Flag;

static CoroStatus flag_task(WorkerContext *ctx, void *data)
{
    Flag *f = data;
    CancelToken *t = worker_cancel_token(ctx);
    f->before = cancel_requested(t);
    cr_assert(cancel_request(t) == 0);
    f->after = cancel_requested(t);
    cr_assert(cancel_request(t) == 0); /* a second request is harmless */
    f->again = cancel_requested(t);
    return CORO_STATUS_DONE;
}

Test(cancel_token, flag_semantics)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    Flag f = {0};
    CHECK_OK(runtime_spawn_global(rt, flag_task, &f));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    cr_assert(!f.before);
    cr_assert(f.after);
    cr_assert(f.again);
    CHECK_OK(runtime_destroy(rt));
}

Test(cancel_token, null_token_is_harmless)
{
    cr_assert(!cancel_requested(NULL));
    CHECK_INT(cancel_request(NULL), VEX_EINVAL);
    cr_assert_null(worker_cancel_token(NULL));
}

typedef struct {
    int resumes;
    bool cancelled_on_second;
} SelfCancel;

/* Cancelled while running, then parks: the park is skipped (the cancel is a
 * wake), so the task is resumed again at once instead of sleeping an hour. */
static CoroStatus self_cancel(WorkerContext *ctx, void *data)
{
    SelfCancel *s = data;
    if (s->resumes++ == 0) {
        cancel_request(worker_cancel_token(ctx));
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_RUNNING;
    }
    s->cancelled_on_second = cancel_requested(worker_cancel_token(ctx));
    return CORO_STATUS_DONE;
}

Test(cancel_token, cancel_while_running_skips_the_next_park)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    SelfCancel s = {0};
    CHECK_OK(runtime_spawn_global(rt, self_cancel, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(s.resumes, 2);
    cr_assert(s.cancelled_on_second);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 0);
    CHECK_OK(runtime_destroy(rt));
}
