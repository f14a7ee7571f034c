/* timer_cancel - timers, timeouts and cancellation in one short run:
 *
 *   - three "ticker" tasks wake every 40/60/90 ms with worker_await_after;
 *     they are spawned with created cancel tokens: ticker 0 and 1 with a
 *     child token, ticker 2 with its parent (vexrt/cancel.h);
 *   - a "deadline" task sleeps ~300 ms and cancels the parent token, which
 *     cancels the child too; each parked ticker is woken at once with
 *     VEX_WAKE_CANCELLED, its pending timer dropped, and finishes;
 *   - a "race" task awaits a pipe nobody writes to, first with a readiness
 *     await and then with a VEX_OP_READ, each against a timer in the same
 *     resume: the timer wins (VEX_WAKE_TIMER), and the read comes back as
 *     VEX_ECANCELED;
 *   - auto-shutdown ends runtime_run when the last task is done.
 *
 *   build/examples/timer_cancel        (about 0.3 s; exit 0 if all went as described)
 *   VEXRT_BACKEND=epoll build/examples/timer_cancel */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/cancel.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

#define NTICKERS 3
#define DEADLINE_MS 300
#define RACE_TIMEOUT_MS 100

static const char *reason_name(VexWakeReason r)
{
    switch (r) {
    case VEX_WAKE_NONE: return "NONE";
    case VEX_WAKE_READABLE: return "READABLE";
    case VEX_WAKE_WRITABLE: return "WRITABLE";
    case VEX_WAKE_TIMER: return "TIMER";
    case VEX_WAKE_CANCELLED: return "CANCELLED";
    case VEX_WAKE_NOTIFIED: return "NOTIFIED";
    case VEX_WAKE_ERROR: return "ERROR";
    case VEX_WAKE_HANGUP: return "HANGUP";
    case VEX_WAKE_COMPLETED: return "COMPLETED";
    default: return "READABLE|WRITABLE";
    }
}

/* The log's time origin: the runtime's clock when the first task ran.
 * worker_now_ns needs a WorkerContext, so main cannot take it; whichever
 * task runs first sets it, and the CAS makes every task agree on one value. */
static _Atomic uint64_t origin_ns;

static uint64_t origin(WorkerContext *ctx)
{
    uint64_t o = atomic_load(&origin_ns);
    if (o == 0) {
        uint64_t now = worker_now_ns(ctx);
        o = atomic_compare_exchange_strong(&origin_ns, &o, now) ? now : o;
    }
    return o;
}

/* Milliseconds since `start_ns` on the runtime's clock, for the log. */
static double ms_since(WorkerContext *ctx, uint64_t start_ns)
{
    return (double)(worker_now_ns(ctx) - start_ns) / 1e6;
}

/* Each task owns its struct while the runtime runs; main reads the results
 * only after runtime_run returned (the workers are joined by then). */
typedef struct {
    int id;
    uint64_t period_ms;
    int ticks;
    bool cancelled;
} Ticker;

static CoroStatus ticker_task(WorkerContext *ctx, void *data)
{
    Ticker *t = data;
    uint64_t start_ns = origin(ctx);
    VexWakeReason why = worker_wake_reason(ctx);
    /* VEX_WAKE_CANCELLED is the usual way to learn of it, but a cancel that
     * lands while the task runs only skips its next park, so the flag is
     * the check that never misses. */
    if (why == VEX_WAKE_CANCELLED || cancel_requested(worker_cancel_token(ctx))) {
        t->cancelled = true;
        printf("%7.1f ms  ticker %d: cancelled after %d ticks (wake reason %s)\n",
               ms_since(ctx, start_ns), t->id, t->ticks, reason_name(why));
        return CORO_STATUS_DONE;
    }
    if (why == VEX_WAKE_TIMER) {
        t->ticks++;
        printf("%7.1f ms  ticker %d: tick %d\n", ms_since(ctx, start_ns), t->id, t->ticks);
    }
    int rc = worker_await_after(ctx, t->period_ms);
    if (rc) {
        fprintf(stderr, "timer_cancel: ticker %d: worker_await_after: %s\n", t->id,
                vex_strerror(rc));
        return CORO_STATUS_DONE;
    }
    return CORO_STATUS_YIELDED;
}

typedef struct {
    CancelToken *target;
    bool fired;
} Deadline;

static CoroStatus deadline_task(WorkerContext *ctx, void *data)
{
    Deadline *d = data;
    uint64_t start_ns = origin(ctx);
    if (worker_wake_reason(ctx) != VEX_WAKE_TIMER) {
        /* An absolute deadline from the common origin, so the cancel lands at
         * ~300 ms however late this task first ran. */
        int rc = worker_await_deadline(ctx, start_ns + (uint64_t)DEADLINE_MS * 1000000u);
        if (rc) {
            fprintf(stderr, "timer_cancel: deadline: worker_await_deadline: %s\n",
                    vex_strerror(rc));
            return CORO_STATUS_DONE;
        }
        return CORO_STATUS_YIELDED;
    }
    printf("%7.1f ms  deadline: cancelling the parent token\n", ms_since(ctx, start_ns));
    int rc = cancel_request(d->target);
    if (rc)
        fprintf(stderr, "timer_cancel: cancel_request: %s\n", vex_strerror(rc));
    else
        d->fired = true;
    return CORO_STATUS_DONE;
}

/* --- Racing I/O against a timeout --- */

enum { R_START, R_POLL, R_READ, R_CLOSE };

typedef struct {
    Runtime *rt;
    int rfd;        /* the read end of a pipe nobody writes to */
    int state;
    uint64_t armed_ns;
    VexWakeReason poll_reason, read_reason;
    int64_t read_result;
    bool closed;
    VexIoOp op;
    char buf[64];
} Race;

static CoroStatus race_close(WorkerContext *ctx, Race *r)
{
    /* The read end was used with the runtime, so it is closed through it. */
    r->state = R_CLOSE;
    memset(&r->op, 0, sizeof r->op);
    r->op.opcode = VEX_OP_CLOSE;
    r->op.handle = (IoHandle)r->rfd;
    int rc = worker_await_op(ctx, &r->op);
    if (rc == 0) return CORO_STATUS_YIELDED;
    fprintf(stderr, "timer_cancel: race: close: %s\n", vex_strerror(rc));
    vex_io_forget(r->rt, (IoHandle)r->rfd);
    close(r->rfd);
    r->closed = true;
    return CORO_STATUS_DONE;
}

static CoroStatus race_task(WorkerContext *ctx, void *data)
{
    Race *r = data;
    uint64_t start_ns = origin(ctx);
    int rc;
    switch (r->state) {
    case R_START:
        /* Readiness await and timer in one resume: the first to fire wins,
         * the other becomes stale and is released. */
        r->state = R_POLL;
        r->armed_ns = worker_now_ns(ctx);
        rc = worker_await_io(ctx, r->rfd, EVENT_TYPE_READABLE);
        if (rc == 0) rc = worker_await_after(ctx, RACE_TIMEOUT_MS);
        if (rc) {
            fprintf(stderr, "timer_cancel: race: await: %s\n", vex_strerror(rc));
            return race_close(ctx, r);
        }
        return CORO_STATUS_YIELDED;

    case R_POLL:
        r->poll_reason = worker_wake_reason(ctx);
        printf("%7.1f ms  race: readiness await on an idle pipe ended after %.1f ms: %s\n",
               ms_since(ctx, start_ns), ms_since(ctx, r->armed_ns),
               reason_name(r->poll_reason));
        /* A completion op with a timer: the timer is its timeout. The op is
         * cancelled, and the task is resumed only once the kernel (or the
         * runtime) has let go of the buffer. */
        r->state = R_READ;
        r->armed_ns = worker_now_ns(ctx);
        memset(&r->op, 0, sizeof r->op);
        r->op.opcode = VEX_OP_READ;
        r->op.handle = (IoHandle)r->rfd;
        r->op.buf = r->buf;
        r->op.len = sizeof r->buf;
        rc = worker_await_op(ctx, &r->op);
        if (rc == 0) rc = worker_await_after(ctx, RACE_TIMEOUT_MS / 2);
        if (rc) {
            fprintf(stderr, "timer_cancel: race: read: %s\n", vex_strerror(rc));
            return race_close(ctx, r);
        }
        return CORO_STATUS_YIELDED;

    case R_READ:
        r->read_reason = worker_wake_reason(ctx);
        r->read_result = r->op.result;
        printf("%7.1f ms  race: VEX_OP_READ with a %d ms timeout ended after %.1f ms: %s, "
               "result %s\n",
               ms_since(ctx, start_ns), RACE_TIMEOUT_MS / 2, ms_since(ctx, r->armed_ns),
               reason_name(r->read_reason),
               r->read_result < 0 ? vex_errname((int)r->read_result) : "data?");
        return race_close(ctx, r);

    case R_CLOSE:
    default:
        if (r->op.result < 0)
            fprintf(stderr, "timer_cancel: race: close: %s\n", vex_strerror((int)r->op.result));
        /* close() releases the fd even when it reports an error; only an op
         * that never ran leaves it open. */
        r->closed = r->op.result != VEX_ECANCELED;
        return CORO_STATUS_DONE;
    }
}

int main(void)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    Runtime *rt = runtime_create(2);
    if (!rt) {
        fprintf(stderr, "timer_cancel: runtime_create failed\n");
        return 1;
    }
    int rc = runtime_enable_auto_shutdown(rt, true);
    if (rc) {
        fprintf(stderr, "timer_cancel: runtime_enable_auto_shutdown: %s\n", vex_strerror(rc));
        return 1;
    }
    printf("backend %s\n", runtime_io_backend(rt));

    /* parent cancels child: cancelling `all` reaches every ticker. */
    CancelToken *all = cancel_token_create(rt, NULL);
    CancelToken *group = all ? cancel_token_create(rt, all) : NULL;
    if (!group) {
        fprintf(stderr, "timer_cancel: cancel_token_create failed\n");
        return 1;
    }

    int fds[2];
    if (pipe(fds) != 0) {
        perror("timer_cancel: pipe");
        return 1;
    }

    static const uint64_t periods[NTICKERS] = {40, 60, 90};
    Ticker tick[NTICKERS];
    for (int i = 0; i < NTICKERS; i++) {
        tick[i] = (Ticker){.id = i, .period_ms = periods[i]};
        rc = runtime_spawn_with_token(rt, ticker_task, &tick[i], i < 2 ? group : all);
        if (rc) {
            fprintf(stderr, "timer_cancel: spawn ticker: %s\n", vex_strerror(rc));
            return 1;
        }
    }
    Deadline dl = {.target = all};
    Race race = {.rt = rt, .rfd = fds[0]};
    rc = runtime_spawn_global(rt, deadline_task, &dl);
    if (rc == 0) rc = runtime_spawn_global(rt, race_task, &race);
    if (rc) {
        fprintf(stderr, "timer_cancel: spawn: %s\n", vex_strerror(rc));
        return 1;
    }

    int run_rc = runtime_run(rt);
    if (run_rc) fprintf(stderr, "timer_cancel: runtime_run: %s\n", vex_strerror(run_rc));
    clock_gettime(CLOCK_MONOTONIC, &t1);

    RuntimeStats st;
    if (runtime_get_stats(rt, &st) == 0)
        printf("stats: tasks %llu/%llu done, timers armed %llu, fired %llu, cancelled %llu, "
               "cancels %llu, wakeups %llu\n",
               (unsigned long long)st.tasks_done, (unsigned long long)st.tasks_spawned,
               (unsigned long long)st.timers_armed, (unsigned long long)st.timers_fired,
               (unsigned long long)st.timers_cancelled, (unsigned long long)st.cancels,
               (unsigned long long)st.wakeups);

    /* The tasks linked to the tokens are done; these are the last references. */
    rc = cancel_token_destroy(group);
    if (rc == 0) rc = cancel_token_destroy(all);
    if (rc) fprintf(stderr, "timer_cancel: cancel_token_destroy: %s\n", vex_strerror(rc));
    int drc = runtime_destroy(rt);
    if (drc) fprintf(stderr, "timer_cancel: runtime_destroy: %s\n", vex_strerror(drc));
    if (!race.closed) close(fds[0]);
    close(fds[1]);

    bool ok = run_rc == 0 && rc == 0 && drc == 0 && dl.fired && race.poll_reason == VEX_WAKE_TIMER &&
              race.read_reason == VEX_WAKE_TIMER && race.read_result == VEX_ECANCELED;
    for (int i = 0; i < NTICKERS; i++) ok = ok && tick[i].cancelled && tick[i].ticks > 0;
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("%s in %.0f ms\n", ok ? "OK" : "UNEXPECTED", ms);
    return ok ? 0 : 1;
}
