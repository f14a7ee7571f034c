/* test_work_stealing - idle workers take work queued on a busy one: tasks in
 * its ring, tasks it overflowed to the global queue, and (when the busy worker
 * is stuck in a long resume) the task in its LIFO slot. Each test blocks one
 * worker until another worker has done the work, so it can only pass if work
 * really moved; the suite's watchdog catches a hang. */
#include <pthread.h>

#include "support/support.h"

TestSuite(work_stealing, .timeout = 60);

typedef struct {
    _Atomic long ran;
    _Atomic int blocker_done;
    long n;
    pthread_t blocker_thread;
    _Atomic long ran_elsewhere;
} Shared;

static CoroStatus child(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Shared *s = data;
    if (!pthread_equal(pthread_self(), s->blocker_thread)) atomic_fetch_add(&s->ran_elsewhere, 1);
    atomic_fetch_add(&s->ran, 1);
    return CORO_STATUS_DONE;
}

/* Spawns n children on its own worker, then refuses to return until all of
 * them ran: only other workers can run them meanwhile. */
static CoroStatus blocker(WorkerContext *ctx, void *data)
{
    Shared *s = data;
    s->blocker_thread = pthread_self();
    for (long i = 0; i < s->n; i++) cr_assert(worker_spawn_local(ctx, child, s) == 0);
    while (atomic_load(&s->ran) < s->n) sched_yield();
    atomic_store(&s->blocker_done, 1);
    return CORO_STATUS_DONE;
}

static void run_blocker(long n, int workers)
{
    Runtime *rt = test_runtime(workers, NULL, NULL);
    Shared s = {0};
    s.n = n;
    CHECK_OK(runtime_spawn_global(rt, blocker, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&s.ran), n);
    CHECK_INT(atomic_load(&s.ran_elsewhere), n);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_GE(st.steals + st.global_pushes, 1);
    CHECK_EQ(st.tasks_done, n + 1);
    CHECK_OK(runtime_destroy(rt));
}

Test(work_stealing, ring_tasks_of_a_busy_worker_are_stolen) { run_blocker(100, 2); }

Test(work_stealing, overflow_to_global_queue_is_picked_up) { run_blocker(5000, 4); }

/* One child only: it sits in the blocker's LIFO slot, which nobody may take
 * while its owner makes progress. The owner is stuck, so a sleeping worker
 * must notice (stall detection) and take it. */
Test(work_stealing, lifo_task_of_a_stuck_worker_is_rescued) { run_blocker(1, 2); }

typedef struct {
    _Atomic long per_thread_hits;
    _Atomic int threads_seen;
    pthread_t seen[8];
    pthread_mutex_t mu;
    _Atomic long left;
} Spread;

static CoroStatus spin_task(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Spread *sp = data;
    pthread_t me = pthread_self();
    pthread_mutex_lock(&sp->mu);
    int known = 0, n = atomic_load(&sp->threads_seen);
    for (int i = 0; i < n; i++) known |= pthread_equal(sp->seen[i], me);
    if (!known && n < 8) sp->seen[atomic_fetch_add(&sp->threads_seen, 1)] = me;
    pthread_mutex_unlock(&sp->mu);
    /* Keep every worker busy until all of them have joined in. */
    while (atomic_load(&sp->threads_seen) < 4 && atomic_load(&sp->left) > 0) sched_yield();
    atomic_fetch_sub(&sp->left, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus spread_root(WorkerContext *ctx, void *data)
{
    for (int i = 0; i < 64; i++) cr_assert(worker_spawn_local(ctx, spin_task, data) == 0);
    return CORO_STATUS_DONE;
}

Test(work_stealing, every_worker_takes_part)
{
    Runtime *rt = test_runtime(4, NULL, NULL);
    Spread sp = {0};
    pthread_mutex_init(&sp.mu, NULL);
    atomic_store(&sp.left, 64);
    CHECK_OK(runtime_spawn_global(rt, spread_root, &sp));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&sp.threads_seen), 4);
    CHECK_OK(runtime_destroy(rt));
}

/* More runnable tasks than a ring holds: the excess lives in the global
 * queue, and the worker takes from it every few dozen ticks for fairness.
 * Taking a whole overflow batch into an almost full ring there pushed half
 * the ring straight back out, so tasks went round through the global queue
 * at nearly every fairness tick (over a thousand overflows here). A taken
 * batch only fills the ring up to half, and the rest waits in the global
 * queue: the ring overflows only when it really fills, a handful of times. */
typedef struct {
    _Atomic long yields_left;
    long tasks_left;
} Churn;

static CoroStatus churn_task(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Churn *c = data;
    if (atomic_fetch_sub(&c->yields_left, 1) <= 0) return CORO_STATUS_DONE;
    return CORO_STATUS_YIELDED;
}

static CoroStatus churn_root(WorkerContext *ctx, void *data)
{
    Churn *c = data;
    for (long i = 0; i < c->tasks_left; i++) cr_assert(worker_spawn_local(ctx, churn_task, c) == 0);
    return CORO_STATUS_DONE;
}

Test(work_stealing, a_full_ring_does_not_churn_through_the_global_queue)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    Churn c = {.tasks_left = 1500};
    atomic_store(&c.yields_left, 1500L * 100);
    CHECK_OK(runtime_spawn_global(rt, churn_root, &c));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    cr_log_info("overflows %llu, global pushes %llu", (unsigned long long)st.overflows,
                (unsigned long long)st.global_pushes);
    CHECK_EQ(st.tasks_done, 1501);
    CHECK_GE(st.overflows, 1); /* the spawns alone overflow the ring */
    CHECK_LE(st.overflows, 50);
    CHECK_OK(runtime_destroy(rt));
}
