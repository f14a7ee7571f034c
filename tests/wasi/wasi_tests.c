/* tests/wasi/wasi_tests.c - the runtime on WebAssembly (WASI preview 1),
 * where there are no threads: run under Node.js's node:wasi by
 * `make test-wasi`, with stdin a pipe the make recipe writes "ping\n" into.
 * Each test is a plain function; the program prints a line per test and
 * "N passed, M failed" last, and exits non-zero on a failure. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vexrt.h>

static int failed_checks;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("    %s:%d: %s\n", __FILE__, __LINE__, #c);                                     \
            failed_checks++;                                                                       \
        }                                                                                          \
    } while (0)

static Runtime *fresh(int workers)
{
    Runtime *rt = runtime_create(workers);
    CHECK(rt != NULL);
    if (rt) runtime_enable_auto_shutdown(rt, true);
    return rt;
}

static void finish(Runtime *rt, uint64_t done)
{
    CHECK(runtime_run(rt) == 0);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK(st.tasks_done == done);
    CHECK(st.live_tasks == 0);
    CHECK(st.workers == 1);
    runtime_destroy(rt);
}

/* --- spawn, global and local --- */

static int spawned_ran;

static CoroStatus leaf(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    spawned_ran++;
    return CORO_STATUS_DONE;
}

static CoroStatus fan(WorkerContext *ctx, void *data)
{
    (void)data;
    for (int i = 0; i < 10; i++) CHECK(worker_spawn_local(ctx, leaf, NULL) == 0);
    spawned_ran++;
    return CORO_STATUS_DONE;
}

static void test_spawn(void)
{
    Runtime *rt = fresh(4); /* no threads here: one worker, whatever is asked */
    spawned_ran = 0;
    for (int i = 0; i < 10; i++) CHECK(runtime_spawn_global(rt, fan, NULL) == 0);
    finish(rt, 110);
    CHECK(spawned_ran == 110);
}

/* --- yields --- */

static CoroStatus yielder(WorkerContext *ctx, void *data)
{
    (void)ctx;
    int *n = data;
    return ++*n == 1000 ? CORO_STATUS_DONE : CORO_STATUS_YIELDED;
}

static void test_yields(void)
{
    Runtime *rt = fresh(1);
    int a = 0, b = 0;
    runtime_spawn_global(rt, yielder, &a);
    runtime_spawn_global(rt, yielder, &b);
    finish(rt, 2);
    CHECK(a == 1000 && b == 1000);
}

/* --- timers and deadlines: never early --- */

typedef struct {
    uint64_t wait_ns, due;
    int step, early;
    bool deadline;
} Sleeper;

static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    Sleeper *s = data;
    if (s->step++ == 0) {
        s->due = worker_now_ns(ctx) + s->wait_ns;
        if (s->deadline)
            worker_await_deadline(ctx, s->due);
        else
            worker_await_after_ns(ctx, s->wait_ns);
        return CORO_STATUS_YIELDED;
    }
    if (worker_now_ns(ctx) < s->due || worker_wake_reason(ctx) != VEX_WAKE_TIMER) s->early++;
    return CORO_STATUS_DONE;
}

static void test_timers(void)
{
    Runtime *rt = fresh(1);
    Sleeper s[24];
    for (int i = 0; i < 24; i++) {
        s[i] = (Sleeper){.wait_ns = (uint64_t)(i % 12) * 1700000u + 300000u, .deadline = i >= 12};
        runtime_spawn_global(rt, sleeper, &s[i]);
    }
    Sleeper past = {.wait_ns = 0, .deadline = true}; /* a deadline already past: prompt */
    runtime_spawn_global(rt, sleeper, &past);
    finish(rt, 25);
    for (int i = 0; i < 24; i++) CHECK(s[i].early == 0 && s[i].step == 2);
    CHECK(past.early == 0);
}

/* --- cancellation of a parked task --- */

typedef struct {
    CancelToken *tok;
    int step;
    unsigned reason;
} Parked;

static CoroStatus parked(WorkerContext *ctx, void *data)
{
    Parked *p = data;
    if (p->step++ == 0) {
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    }
    p->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus canceller(WorkerContext *ctx, void *data)
{
    Parked *p = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_NONE) {
        worker_await_after(ctx, 5);
        return CORO_STATUS_YIELDED;
    }
    CHECK(cancel_request(p->tok) == 0);
    return CORO_STATUS_DONE;
}

static void test_cancel(void)
{
    Runtime *rt = fresh(1);
    Parked p = {.tok = cancel_token_create(rt, NULL)};
    CHECK(runtime_spawn_with_token(rt, parked, &p, p.tok) == 0);
    runtime_spawn_global(rt, canceller, &p);
    finish(rt, 2); /* an hour if the cancel were lost */
    CHECK(p.reason == VEX_WAKE_CANCELLED);
    cancel_token_destroy(p.tok);
}

/* --- notify ping-pong --- */

typedef struct {
    VexNotify *mine, *other;
    int count, step;
    bool serve;
} Pinger;

static CoroStatus pinger(WorkerContext *ctx, void *data)
{
    Pinger *p = data;
    if (p->step++ == 0) {
        if (p->serve) worker_notify_signal(ctx, p->other);
    } else {
        p->count++;
        if (!p->serve || p->count < 100) worker_notify_signal(ctx, p->other);
        if (p->count == 100) return CORO_STATUS_DONE;
    }
    worker_await_notify(ctx, p->mine);
    return CORO_STATUS_YIELDED;
}

static void test_notify(void)
{
    Runtime *rt = fresh(1);
    VexNotify *a = vex_notify_create(rt), *b = vex_notify_create(rt);
    Pinger pa = {a, b, 0, 0, true}, pb = {b, a, 0, 0, false};
    runtime_spawn_global(rt, pinger, &pa);
    runtime_spawn_global(rt, pinger, &pb);
    finish(rt, 2);
    CHECK(pa.count == 100 && pb.count == 100);
    vex_notify_destroy(a);
    vex_notify_destroy(b);
}

/* --- a channel: 100 values through 4 slots, in order --- */

typedef struct {
    VexChannel *ch;
    uintptr_t next, bad;
} Pipe;

static CoroStatus producer(WorkerContext *ctx, void *data)
{
    Pipe *p = data;
    while (p->next <= 100) {
        int rc = worker_channel_send(ctx, p->ch, (void *)p->next);
        if (rc == VEX_EAGAIN) {
            worker_await_channel_send(ctx, p->ch);
            return CORO_STATUS_YIELDED;
        }
        p->next++;
    }
    vex_channel_close(p->ch);
    return CORO_STATUS_DONE;
}

static CoroStatus consumer(WorkerContext *ctx, void *data)
{
    Pipe *p = data;
    static uintptr_t want = 1;
    for (;;) {
        void *v;
        int rc = worker_channel_recv(ctx, p->ch, &v);
        if (rc == VEX_EPIPE) return CORO_STATUS_DONE;
        if (rc == VEX_EAGAIN) {
            worker_await_channel_recv(ctx, p->ch);
            return CORO_STATUS_YIELDED;
        }
        if ((uintptr_t)v != want++) p->bad++;
    }
}

static void test_channel(void)
{
    Runtime *rt = fresh(1);
    Pipe p = {vex_channel_create(rt, 4), 1, 0};
    Pipe c = {p.ch, 0, 0};
    runtime_spawn_global(rt, consumer, &c);
    runtime_spawn_global(rt, producer, &p);
    finish(rt, 2);
    CHECK(c.bad == 0 && p.next == 101);
    vex_channel_destroy(p.ch);
}

/* --- a blocking job runs inline (no pool threads) --- */

static void job(void *arg) { *(int *)arg = 42; }

static CoroStatus job_task(WorkerContext *ctx, void *data)
{
    int *v = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_COMPLETED) return CORO_STATUS_DONE;
    CHECK(worker_await_blocking(ctx, job, v) == 0);
    return CORO_STATUS_YIELDED;
}

static void test_blocking_inline(void)
{
    Runtime *rt = fresh(1);
    int v = 0;
    runtime_spawn_global(rt, job_task, &v);
    finish(rt, 1);
    CHECK(v == 42);
}

/* --- auto-shutdown and runtime_shutdown from a task --- */

typedef struct {
    int step;
    Runtime *rt;
} Stopper;

static CoroStatus late_spawner(WorkerContext *ctx, void *data)
{
    (void)data;
    /* Auto-shutdown must not end the run while a task sleeps, nor before
     * what it spawns has run. */
    if (worker_wake_reason(ctx) == VEX_WAKE_NONE) {
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    }
    CHECK(worker_spawn_local(ctx, leaf, NULL) == 0);
    return CORO_STATUS_DONE;
}

static CoroStatus stopper(WorkerContext *ctx, void *data)
{
    Stopper *s = data;
    if (s->step++ == 0) {
        worker_await_after(ctx, 10);
        return CORO_STATUS_YIELDED;
    }
    runtime_shutdown(s->rt);
    return CORO_STATUS_DONE;
}

static void test_shutdown(void)
{
    Runtime *rt = fresh(1);
    spawned_ran = 0;
    runtime_spawn_global(rt, late_spawner, NULL);
    finish(rt, 2);
    CHECK(spawned_ran == 1);

    /* Without auto-shutdown a parked task would keep the run going for an
     * hour: runtime_shutdown from a task ends it, on this (the only) thread. */
    rt = runtime_create(1);
    CHECK(rt != NULL);
    Stopper s = {0, rt};
    Parked p = {0};
    runtime_spawn_global(rt, parked, &p);
    runtime_spawn_global(rt, stopper, &s);
    CHECK(runtime_run(rt) == 0);
    CHECK(s.step == 2);
    runtime_destroy(rt);
}

/* --- a host loop drives the runtime (vexrt/embed.h) --- */

static void test_host_loop(void)
{
    Runtime *rt = fresh(1);
    IoHandle h;
    CHECK(runtime_backend_handle(rt, &h) == VEX_ENOSYS); /* WASI has no pollable handle */
    Sleeper s[6];
    for (int i = 0; i < 6; i++) {
        s[i] = (Sleeper){.wait_ns = (uint64_t)i * 2500000u + 500000u, .deadline = i & 1};
        runtime_spawn_global(rt, sleeper, &s[i]);
    }
    Parked p = {.tok = cancel_token_create(rt, NULL)};
    runtime_spawn_with_token(rt, parked, &p, p.tok);
    runtime_spawn_global(rt, canceller, &p);
    /* The host's loop: step without waiting, then sleep for the runtime's
     * timeout (as a host would in its own poll), until the runtime is done. */
    int rounds = 0, rc;
    while ((rc = runtime_step(rt, 0)) > 0 && rounds < 100000) {
        uint64_t t = runtime_backend_timeout_ns(rt);
        CHECK(t == 0 || t <= 20000000u); /* the next timer, never "forever" with timers armed */
        if (t) CHECK(runtime_step(rt, t) >= 0);
        rounds++;
    }
    CHECK(rc == 0);
    for (int i = 0; i < 6; i++) CHECK(s[i].early == 0 && s[i].step == 2);
    CHECK(p.reason == VEX_WAKE_CANCELLED);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK(st.tasks_done == 8);
    runtime_destroy(rt);
    cancel_token_destroy(p.tok);
}

/* --- readiness on a descriptor the host provides: stdin, a pipe --- */

typedef struct {
    int step;
    unsigned reason;
    char got[16];
} Reader;

static CoroStatus reader(WorkerContext *ctx, void *data)
{
    Reader *r = data;
    if (r->step++ == 0) {
        CHECK(worker_await_io(ctx, 0, EVENT_TYPE_READABLE) == 0);
        worker_await_after(ctx, 10000); /* a watchdog, never the answer */
        return CORO_STATUS_YIELDED;
    }
    r->reason = worker_wake_reason(ctx);
    ssize_t n = read(0, r->got, sizeof r->got - 1);
    if (n > 0) r->got[n] = 0;
    return CORO_STATUS_DONE;
}

static void test_stdin(void)
{
    Runtime *rt = fresh(1);
    printf("    (backend %s)\n", runtime_io_backend(rt));
    fflush(stdout); /* make test-wasi writes "ping" once it sees this line */
    Reader r = {0};
    runtime_spawn_global(rt, reader, &r);
    finish(rt, 1);
    CHECK(r.reason == VEX_WAKE_READABLE);
    CHECK(strcmp(r.got, "ping\n") == 0);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"spawn_global_and_local", test_spawn},
        {"yields", test_yields},
        {"timers_and_deadlines_never_early", test_timers},
        {"cancellation_wakes_a_parked_task", test_cancel},
        {"notify_ping_pong", test_notify},
        {"channel_in_order", test_channel},
        {"blocking_job_runs_inline", test_blocking_inline},
        {"auto_shutdown_and_shutdown_from_a_task", test_shutdown},
        {"host_loop_drives_timers_and_cancellation", test_host_loop},
        {"readiness_on_stdin", test_stdin},
    };
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = failed_checks;
        tests[i].fn();
        bool ok = failed_checks == before;
        printf("[%s] wasi::%s\n", ok ? "PASS" : "FAIL", tests[i].name);
        ok ? passed++ : failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
