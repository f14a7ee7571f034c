/* test_contract - the seed API's semantics (1)-(7), one test each, as the
 * foundation issue states them. I/O-specific halves of (3) and (4) are in
 * the I/O tests (they need a poller); here they use a notify and a bad fd. */
#include "support/support.h"
#include "vexrt/io.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(contract, .timeout = 60);

static Runtime *run_one(coro_resume_func fn, void *data, int workers)
{
    Runtime *rt = test_runtime(workers, NULL, NULL);
    CHECK_OK(runtime_spawn_global(rt, fn, data));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    return rt;
}

/* (1) RUNNING or YIELDED is not done: without an await the task is queued
 * again at once; with one it parks until the await fires. DONE ends it. */
typedef struct {
    int resumes;
    uint64_t deadline, woke;
} S1;

static CoroStatus s1(WorkerContext *ctx, void *data)
{
    S1 *s = data;
    switch (s->resumes++) {
    case 0: return CORO_STATUS_RUNNING; /* requeued at once */
    case 1: return CORO_STATUS_YIELDED; /* likewise */
    case 2:
        s->deadline = worker_now_ns(ctx) + 20 * 1000000ull;
        worker_await_deadline(ctx, s->deadline);
        return CORO_STATUS_YIELDED; /* parks until the deadline */
    default: s->woke = worker_now_ns(ctx); return CORO_STATUS_DONE;
    }
}

Test(contract, s1_running_or_yielded_is_not_done)
{
    S1 s = {0};
    Runtime *rt = run_one(s1, &s, 2);
    CHECK_INT(s.resumes, 4);
    CHECK_GE(s.woke, s.deadline);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.yields, 2);
    CHECK_EQ(st.timers_fired, 1);
    CHECK_EQ(st.tasks_done, 1);
    runtime_destroy(rt);
}

/* (2) Exactly-once resumption, no lost wake-ups: a signal that arrives
 * while the waiter is still running its resume is remembered. */
typedef struct {
    VexNotify *n;
    int resumes;
} S2;

static CoroStatus s2(WorkerContext *ctx, void *data)
{
    S2 *s = data;
    if (s->resumes++ == 100) return CORO_STATUS_DONE;
    worker_notify_signal(ctx, s->n); /* signalled before the await is even armed */
    worker_await_notify(ctx, s->n);
    return CORO_STATUS_YIELDED;
}

Test(contract, s2_wake_during_resume_is_not_lost)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    S2 s = {vex_notify_create(rt), 0};
    CHECK_OK(runtime_spawn_global(rt, s2, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(s.resumes, 101);
    CHECK_OK(vex_notify_destroy(s.n));
    runtime_destroy(rt);
}

/* (3) Two awaits of one kind in one resume: the second replaces the first;
 * a notify plus a timer: whichever fires first wins. */
typedef struct {
    int resumes;
    uint64_t t0, woke, long_deadline;
    VexWakeReason reason;
} S3;

static CoroStatus s3_replace_shorter(WorkerContext *ctx, void *data)
{
    S3 *s = data;
    if (s->resumes++) {
        s->woke = worker_now_ns(ctx);
        return CORO_STATUS_DONE;
    }
    s->t0 = worker_now_ns(ctx);
    worker_await_after(ctx, 3600 * 1000); /* replaced: must never fire */
    worker_await_after(ctx, 10);
    return CORO_STATUS_YIELDED;
}

static CoroStatus s3_replace_longer(WorkerContext *ctx, void *data)
{
    S3 *s = data;
    if (s->resumes++) {
        s->woke = worker_now_ns(ctx);
        return CORO_STATUS_DONE;
    }
    s->t0 = worker_now_ns(ctx);
    s->long_deadline = s->t0 + 60 * 1000000ull;
    worker_await_after(ctx, 5);                    /* replaced: must not wake us early */
    worker_await_deadline(ctx, s->long_deadline);
    return CORO_STATUS_YIELDED;
}

Test(contract, s3_second_timer_replaces_first)
{
    S3 a = {0}, b = {0};
    Runtime *rt = run_one(s3_replace_shorter, &a, 1); /* returns in ~10 ms, not an hour */
    CHECK_INT(a.resumes, 2);
    CHECK_GE(a.woke - a.t0, 10 * 1000000ull);
    runtime_destroy(rt);
    rt = run_one(s3_replace_longer, &b, 1);
    CHECK_INT(b.resumes, 2);
    CHECK_GE(b.woke, b.long_deadline);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 1);
    runtime_destroy(rt);
}

typedef struct {
    VexNotify *n;
    int resumes;
    VexWakeReason first, second;
} S3b;

static CoroStatus s3_notify_or_timer(WorkerContext *ctx, void *data)
{
    S3b *s = data;
    switch (s->resumes++) {
    case 0: /* nobody signals: the timer wins */
        worker_await_notify(ctx, s->n);
        worker_await_after(ctx, 5);
        return CORO_STATUS_YIELDED;
    case 1:
        s->first = worker_wake_reason(ctx);
        worker_notify_signal(ctx, s->n); /* a permit is there: the notify wins */
        worker_await_notify(ctx, s->n);
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    default: s->second = worker_wake_reason(ctx); return CORO_STATUS_DONE;
    }
}

Test(contract, s3_notify_plus_timer_first_wins)
{
    Runtime *rt = test_runtime(1, NULL, NULL);
    S3b s = {vex_notify_create(rt), 0, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, s3_notify_or_timer, &s));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(s.first, VEX_WAKE_TIMER);
    CHECK_INT(s.second, VEX_WAKE_NOTIFIED);
    cr_assert(!vex_notify_try_take(s.n), "the permit was consumed by the await");
    vex_notify_destroy(s.n);
    runtime_destroy(rt);
}

/* (4) A timer never fires early; an await on an invalid handle resumes the
 * task promptly. */
enum { S4_TASKS = 200 };
typedef struct {
    uint64_t deadline;
    int resumes;
    _Atomic int *early;
} S4;

static CoroStatus s4(WorkerContext *ctx, void *data)
{
    S4 *s = data;
    if (s->resumes++ == 0) {
        worker_await_deadline(ctx, s->deadline);
        return CORO_STATUS_YIELDED;
    }
    if (worker_now_ns(ctx) < s->deadline) atomic_fetch_add(s->early, 1);
    return CORO_STATUS_DONE;
}

Test(contract, s4_timer_never_early)
{
    Runtime *rt = test_runtime(2, NULL, NULL);
    static S4 s[S4_TASKS];
    _Atomic int early = 0;
    uint64_t now = test_now_ns();
    uint64_t rng = 7;
    for (int i = 0; i < S4_TASKS; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        s[i] = (S4){now + (rng >> 40) % 30000000ull, 0, &early}; /* up to 30 ms, ns-granular */
        CHECK_OK(runtime_spawn_global(rt, s4, &s[i]));
    }
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_INT(atomic_load(&early), 0);
    for (int i = 0; i < S4_TASKS; i++) CHECK_INT(s[i].resumes, 2);
    runtime_destroy(rt);
}

typedef struct {
    int resumes;
    int rc_bad, rc_closed;
} S4b;

static CoroStatus s4_bad_handle(WorkerContext *ctx, void *data)
{
    S4b *s = data;
    if (s->resumes++) return CORO_STATUS_DONE;
    s->rc_bad = worker_await_io(ctx, -1, EVENT_TYPE_READABLE);
    s->rc_closed = worker_await_io(ctx, 1000000, EVENT_TYPE_READABLE); /* never open */
    return CORO_STATUS_YIELDED; /* must not hang */
}

Test(contract, s4_invalid_handle_resumes_promptly)
{
    S4b s = {0};
    Runtime *rt = run_one(s4_bad_handle, &s, 1);
    CHECK_INT(s.resumes, 2);
    cr_assert(s.rc_bad < 0, "await on fd -1 reports an error");
    runtime_destroy(rt);
}

/* (4) An await that cannot be armed returns its error and also ends the
 * wait at once with VEX_WAKE_ERROR, whatever else the resume armed: a
 * program written against the seed (which shows these calls as void) and
 * pairing it with an hour's timer must not sleep the hour. A bad op
 * completes at once with its error in op.result. */
enum { BAD_FD, BAD_HANDLE, BAD_TYPE, NULL_NOTIFY, BAD_OP, NULL_OP, BAD_KINDS };

typedef struct {
    int kind, resumes, rc;
    unsigned reason;
    VexIoOp op;
} S4t;

static CoroStatus s4_bad_with_timer(WorkerContext *ctx, void *data)
{
    S4t *s = data;
    if (s->resumes++) {
        s->reason = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    worker_await_after(ctx, 3600 * 1000); /* before: the failure must still win */
    switch (s->kind) {
    case BAD_FD: s->rc = worker_await_io(ctx, -1, EVENT_TYPE_READABLE); break;
    case BAD_HANDLE: s->rc = worker_await_ioh(ctx, ~(IoHandle)0 >> 1, EVENT_TYPE_READABLE); break;
    case BAD_TYPE: s->rc = worker_await_io(ctx, 0, EVENT_TYPE_NONE); break;
    case NULL_NOTIFY: s->rc = worker_await_notify(ctx, NULL); break;
    case BAD_OP:
        s->op.opcode = VEX_OP_RECV;
        s->op.handle = ~(IoHandle)0;
        s->op.result = 12345;
        s->rc = worker_await_op(ctx, &s->op);
        break;
    default: s->rc = worker_await_op(ctx, NULL); break;
    }
    return CORO_STATUS_YIELDED;
}

Test(contract, s4_unarmable_await_with_a_timer_resumes_at_once)
{
    for (int k = 0; k < BAD_KINDS; k++) {
        S4t s = {.kind = k};
        Runtime *rt = run_one(s4_bad_with_timer, &s, 2); /* an hour if the failure is lost */
        CHECK_INT(s.resumes, 2);
        cr_assert(s.rc < 0, "kind %d: the await reports its error (got %d)", k, s.rc);
        if (k == BAD_OP) {
            CHECK_INT(s.rc, VEX_EBADF);
            CHECK_INT(s.op.result, VEX_EBADF);
            CHECK_INT(s.reason, VEX_WAKE_COMPLETED);
        } else {
            CHECK_INT(s.reason, VEX_WAKE_ERROR);
        }
        runtime_destroy(rt);
    }
}

/* (5) cancel_request on a parked task wakes it promptly. (See also
 * test_cancel_token.) */
typedef struct {
    int resumes;
    bool saw;
} S5;

static CoroStatus s5(WorkerContext *ctx, void *data)
{
    S5 *s = data;
    if (s->resumes++ == 0) {
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    }
    s->saw = cancel_requested(worker_cancel_token(ctx)) &&
             worker_wake_reason(ctx) == VEX_WAKE_CANCELLED;
    return CORO_STATUS_DONE;
}

typedef struct {
    CancelToken *tok;
    int resumes;
} Killer;

static CoroStatus s5_killer(WorkerContext *ctx, void *data)
{
    Killer *k = data;
    if (k->resumes++ == 0) { /* give the victim time to park */
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(k->tok);
    return CORO_STATUS_DONE;
}

static CoroStatus s5_victim_setup(WorkerContext *ctx, void *data)
{
    Killer *k = data;
    k->tok = worker_cancel_token(ctx);
    return s5(ctx, (S5 *)(k + 1));
}

Test(contract, s5_cancel_wakes_parked_task)
{
    struct {
        Killer k;
        S5 s;
    } both = {{0}, {0}};
    Runtime *rt = test_runtime(2, NULL, NULL);
    CHECK_OK(runtime_spawn_global(rt, s5_victim_setup, &both.k));
    CHECK_OK(runtime_spawn_global(rt, s5_killer, &both.k));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt)); /* an hour if the cancel did not wake it */
    CHECK_INT(both.s.resumes, 2);
    cr_assert(both.s.saw);
    runtime_destroy(rt);
}

/* (6) NULL runtime, context, callback or token never crashes. */
static CoroStatus noop(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    return CORO_STATUS_DONE;
}

Test(contract, s6_null_arguments_are_refused)
{
    CHECK_INT(runtime_spawn_global(NULL, noop, NULL), VEX_EINVAL);
    CHECK_INT(runtime_run(NULL), VEX_EINVAL);
    CHECK_INT(runtime_shutdown(NULL), VEX_EINVAL);
    CHECK_INT(runtime_destroy(NULL), 0);
    CHECK_INT(runtime_enable_auto_shutdown(NULL, true), VEX_EINVAL);
    CHECK_INT(runtime_set_tracing(NULL, true), VEX_EINVAL);
    RuntimeStats st;
    CHECK_INT(runtime_get_stats(NULL, &st), VEX_EINVAL);
    CHECK_INT(worker_spawn_local(NULL, noop, NULL), VEX_EINVAL);
    CHECK_INT(worker_await_after(NULL, 1), VEX_EINVAL);
    CHECK_INT(worker_await_deadline(NULL, 1), VEX_EINVAL);
    CHECK_INT(worker_await_io(NULL, 0, EVENT_TYPE_READABLE), VEX_EINVAL);
    CHECK_INT(worker_await_ioh(NULL, 0, EVENT_TYPE_READABLE), VEX_EINVAL);
    CHECK_EQ(worker_now_ns(NULL), 0);
    cr_assert_null(worker_cancel_token(NULL));
    cr_assert(!cancel_requested(NULL));
    CHECK_INT(cancel_request(NULL), VEX_EINVAL);

    Runtime *rt = test_runtime(1, NULL, NULL);
    CHECK_INT(runtime_spawn_global(rt, NULL, NULL), VEX_EINVAL); /* refused, not counted */
    CHECK_INT(runtime_get_stats(rt, NULL), VEX_EINVAL);
    CHECK_OK(runtime_spawn_global(rt, noop, NULL));
    runtime_enable_auto_shutdown(rt, true);
    CHECK_OK(runtime_run(rt));
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.tasks_spawned, 1);
    CHECK_EQ(st.tasks_done, 1);
    runtime_destroy(rt);
}

/* (7) An await that was replaced or dropped never fires later and never
 * keeps auto-shutdown waiting; a deadline already past resumes promptly. */
typedef struct {
    int resumes;
    VexWakeReason reason;
} S7;

static CoroStatus s7_drop(WorkerContext *ctx, void *data)
{
    (void)data;
    worker_await_after(ctx, 3600 * 1000); /* dropped: the task returns DONE */
    return CORO_STATUS_DONE;
}

static CoroStatus s7_past(WorkerContext *ctx, void *data)
{
    S7 *s = data;
    if (s->resumes++) {
        s->reason = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    worker_await_deadline(ctx, 1); /* long past */
    return CORO_STATUS_YIELDED;
}

Test(contract, s7_dropped_await_never_fires_and_past_deadline_is_prompt)
{
    Runtime *rt = run_one(s7_drop, NULL, 2); /* an hour if the dropped timer counted */
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.timers_fired, 0);
    CHECK_EQ(st.tasks_done, 1);
    runtime_destroy(rt);

    S7 s = {0};
    rt = run_one(s7_past, &s, 1);
    CHECK_INT(s.resumes, 2);
    CHECK_INT(s.reason, VEX_WAKE_TIMER);
    runtime_destroy(rt);
}
