/* test_caller_thread - runtime_run makes the calling thread worker 0: a
 * one-worker runtime starts no thread at all and runs every task on the
 * caller's thread; N workers start N-1 threads; shutdown from a task on the
 * caller's thread returns there; and a platform without threads
 * (thread_spawn NULL) runs tasks, timers, notify, channels, cancellation
 * and blocking jobs on that one thread. */
#include <stdatomic.h>
#include <string.h>

#include "support/support.h"
#include "vexrt/cancel.h"
#include "vexrt/channel.h"
#include "vexrt/io.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

typedef struct {
    pthread_t caller;
    _Atomic int elsewhere; /* resumes on another thread */
    _Atomic int resumes;
    int threads_max;
    int steps;
} Where;

static CoroStatus note_thread(WorkerContext *ctx, void *data)
{
    Where *w = data;
    if (!pthread_equal(pthread_self(), w->caller)) atomic_fetch_add(&w->elsewhere, 1);
    atomic_fetch_add(&w->resumes, 1);
    int n = test_thread_count();
    if (n > w->threads_max) w->threads_max = n;
    if (w->steps++ < 3) {
        worker_await_after(ctx, 1);
        return CORO_STATUS_YIELDED;
    }
    return CORO_STATUS_DONE;
}

static CoroStatus spawner(WorkerContext *ctx, void *data)
{
    Where *w = data;
    if (!pthread_equal(pthread_self(), w->caller)) atomic_fetch_add(&w->elsewhere, 1);
    for (int i = 0; i < 3; i++) CHECK_OK(worker_spawn_local(ctx, note_thread, &w[1 + i]));
    return CORO_STATUS_DONE;
}

Test(caller_thread, one_worker_runs_every_task_on_the_calling_thread)
{
    int before = test_thread_count();
    CountingPlatform cp;
    counting_platform_init(&cp);
    Runtime *rt = test_runtime(1, NULL, &cp);
    CHECK_INT(atomic_load(&cp.spawns), 0); /* no thread started */
    CHECK_INT(test_thread_count(), before);
    Where w[4];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 4; i++) w[i].caller = pthread_self();
    CHECK_OK(runtime_spawn_global(rt, spawner, &w[0]));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    for (int i = 0; i < 4; i++) CHECK_INT(atomic_load(&w[i].elsewhere), 0);
    for (int i = 1; i < 4; i++) {
        CHECK_INT(atomic_load(&w[i].resumes), 4);
        CHECK_INT(w[i].threads_max, before); /* nothing but the caller's thread */
    }
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.workers, 1);
    CHECK_EQ(st.tasks_done, 4);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&cp.joins), 0);
}

Test(caller_thread, n_workers_start_n_minus_one_threads)
{
    int before = test_thread_count();
    CountingPlatform cp;
    counting_platform_init(&cp);
    Runtime *rt = test_runtime(3, NULL, &cp);
    CHECK_INT(atomic_load(&cp.spawns), 2);
    CHECK_INT(test_thread_count(), before + 2);
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&cp.joins), 2);
    CHECK_INT(test_thread_count(), before);
}

/* runtime_shutdown from a task running on the caller's thread: runtime_run
 * returns, on that thread, although another task stays parked. */
typedef struct {
    Runtime *rt;
    pthread_t caller;
    bool on_caller;
} Stopper;

static CoroStatus parked_forever(WorkerContext *ctx, void *data)
{
    (void)data;
    worker_await_after(ctx, 3600 * 1000);
    return CORO_STATUS_YIELDED;
}

static CoroStatus stopper(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Stopper *s = data;
    s->on_caller = pthread_equal(pthread_self(), s->caller);
    CHECK_OK(runtime_shutdown(s->rt));
    return CORO_STATUS_DONE;
}

Test(caller_thread, shutdown_from_a_task_returns_on_the_calling_thread, .timeout = 30)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    Stopper s = {rt, pthread_self(), false};
    CHECK_OK(runtime_spawn_global(rt, parked_forever, NULL));
    CHECK_OK(runtime_spawn_global(rt, stopper, &s));
    CHECK_OK(runtime_run(rt)); /* an hour if the shutdown were lost */
    cr_assert(pthread_equal(pthread_self(), s.caller));
    cr_assert(s.on_caller, "the stopping task ran on the caller's thread");
    CHECK_INT(runtime_run(rt), VEX_ESHUTDOWN);
    CHECK_OK(runtime_destroy(rt));
}

/* --- A platform without threads --- */

static VexPlatform threadless(void)
{
    VexPlatform p = *vex_platform_default();
    p.thread_spawn = NULL;
    p.thread_join = NULL;
    return p;
}

typedef struct {
    pthread_t caller;
    VexNotify *n;
    VexChannel *ch;
    CancelToken *tok;
    _Atomic int elsewhere;
    int step;
    bool job_on_caller, timer_ok, notified, got_value, cancelled;
    uint64_t due;
} Solo;

static void job(void *arg)
{
    Solo *s = arg;
    s->job_on_caller = pthread_equal(pthread_self(), s->caller);
}

static CoroStatus solo_a(WorkerContext *ctx, void *data)
{
    Solo *s = data;
    if (!pthread_equal(pthread_self(), s->caller)) atomic_fetch_add(&s->elsewhere, 1);
    switch (s->step++) {
    case 0:
        CHECK_OK(worker_await_blocking(ctx, job, s));
        return CORO_STATUS_YIELDED;
    case 1:
        s->due = worker_now_ns(ctx) + 5000000u;
        worker_await_deadline(ctx, s->due);
        return CORO_STATUS_YIELDED;
    case 2:
        s->timer_ok = worker_wake_reason(ctx) == VEX_WAKE_TIMER && worker_now_ns(ctx) >= s->due;
        worker_await_notify(ctx, s->n);
        return CORO_STATUS_YIELDED;
    case 3:
        s->notified = worker_wake_reason(ctx) == VEX_WAKE_NOTIFIED;
        worker_await_channel_recv(ctx, s->ch);
        return CORO_STATUS_YIELDED;
    case 4: {
        void *v = NULL;
        s->got_value = worker_channel_recv(ctx, s->ch, &v) == 0 && v == (void *)s;
        return CORO_STATUS_DONE;
    }
    default: return CORO_STATUS_DONE;
    }
}

static CoroStatus solo_b(WorkerContext *ctx, void *data)
{
    Solo *s = data;
    if (!pthread_equal(pthread_self(), s->caller)) atomic_fetch_add(&s->elsewhere, 1);
    if (s->step < 3) { /* until A waits on the notify */
        worker_await_after_ns(ctx, 100000);
        return CORO_STATUS_YIELDED;
    }
    if (s->step == 3) {
        CHECK_OK(worker_notify_signal(ctx, s->n));
        worker_await_after_ns(ctx, 100000);
        return CORO_STATUS_YIELDED;
    }
    CHECK_OK(worker_channel_send(ctx, s->ch, s));
    return CORO_STATUS_DONE;
}

static CoroStatus solo_victim(WorkerContext *ctx, void *data)
{
    Solo *s = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_CANCELLED) {
        s->cancelled = true;
        return CORO_STATUS_DONE;
    }
    worker_await_after(ctx, 3600 * 1000);
    return CORO_STATUS_YIELDED;
}

static CoroStatus solo_killer(WorkerContext *ctx, void *data)
{
    Solo *s = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_NONE) {
        worker_await_after(ctx, 2);
        return CORO_STATUS_YIELDED;
    }
    CHECK_OK(cancel_request(s->tok));
    return CORO_STATUS_DONE;
}

Test(caller_thread, a_platform_without_threads_runs_everything_on_the_caller, .timeout = 30)
{
    VexPlatform p = threadless();
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.platform = &p;
    cfg.workers = 4; /* one is all it can have: that is what it gets */
    Runtime *rt = NULL;
    int before = test_thread_count();
    CHECK_OK(runtime_new(&cfg, &rt));
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.workers, 1);
    Solo s = {.caller = pthread_self(), .n = vex_notify_create(rt), .ch = vex_channel_create(rt, 2),
              .tok = cancel_token_create(rt, NULL)};
    CHECK_OK(runtime_spawn_global(rt, solo_a, &s));
    CHECK_OK(runtime_spawn_global(rt, solo_b, &s));
    CHECK_OK(runtime_spawn_with_token(rt, solo_victim, &s, s.tok));
    CHECK_OK(runtime_spawn_global(rt, solo_killer, &s));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&s.elsewhere), 0);
    CHECK_INT(test_thread_count(), before); /* not even a pool thread */
    cr_assert(s.job_on_caller, "the blocking job ran inline, on the caller's thread");
    cr_assert(s.timer_ok && s.notified && s.got_value && s.cancelled);
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.blocking_jobs, 1);
    CHECK_EQ(st.live_tasks, 0);
    CHECK_OK(runtime_destroy(rt));
    vex_channel_destroy(s.ch);
    vex_notify_destroy(s.n);
    cancel_token_destroy(s.tok);
}
