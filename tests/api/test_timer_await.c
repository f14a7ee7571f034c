/* test_timer_await - timer awaits on a real clock: never early, each task
 * resumed exactly once per timer. The firing order is checked exactly, with
 * no dependence on the machine's load, by test_virtual_clock; on a real
 * clock a descheduled worker can fire several deadlines in one batch, so
 * order is not asserted here. (Lateness is a benchmark figure, bench/
 * timers, not a pass/fail criterion.) */
#include "support/support.h"
#include "vexrt/task.h"

TestSuite(timer_await, .timeout = 60);

enum { N = 40 };

typedef struct {
    uint64_t deadline, woke;
    int resumes;
    _Atomic int *order;
    int rank;
} Sleeper;

static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    Sleeper *s = data;
    if (s->resumes++ == 0) {
        worker_await_deadline(ctx, s->deadline);
        return CORO_STATUS_YIELDED;
    }
    s->woke = worker_now_ns(ctx);
    s->rank = atomic_fetch_add(s->order, 1);
    return CORO_STATUS_DONE;
}

Test(timer_await, never_early_on_the_real_clock)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    static Sleeper s[N];
    _Atomic int order = 0;
    /* Far enough ahead that every task is parked before the first deadline,
     * even under sanitizers, so every one goes through the wheel. */
    uint64_t start = test_now_ns() + 100000000;
    for (int i = 0; i < N; i++) {
        /* Spawned in a shuffled order; deadlines 3 ms apart. */
        int k = (i * 17) % N;
        s[k] = (Sleeper){start + (uint64_t)k * 3000000, 0, 0, &order, -1};
    }
    for (int i = 0; i < N; i++) CHECK_OK(runtime_spawn_global(rt, sleeper, &s[(i * 7) % N]));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    for (int i = 0; i < N; i++) {
        CHECK_GE(s[i].woke, s[i].deadline);
        CHECK_INT(s[i].resumes, 2);
        cr_assert(s[i].rank >= 0 && s[i].rank < N, "rank %d", s[i].rank);
    }
    runtime_destroy(rt);
}

typedef struct {
    int resumes;
    uint64_t t0, woke;
} Short;

static CoroStatus short_sleep(WorkerContext *ctx, void *data)
{
    Short *s = data;
    if (s->resumes++ == 0) {
        s->t0 = worker_now_ns(ctx);
        worker_await_after_ns(ctx, 50000); /* 50 us: below a millisecond works */
        return CORO_STATUS_YIELDED;
    }
    s->woke = worker_now_ns(ctx);
    return CORO_STATUS_DONE;
}

Test(timer_await, sub_millisecond_sleep_is_not_early)
{
    Short s = {0};
    Runtime *rt = test_runtime(1, NULL, NULL);
    CHECK_OK(runtime_spawn_global(rt, short_sleep, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_GE(s.woke - s.t0, 50000);
    runtime_destroy(rt);
}
