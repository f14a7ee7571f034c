/* test_embed - a host loop drives the runtime only through vexrt/embed.h
 * (runtime_backend_handle, runtime_backend_timeout_ns, runtime_step), on
 * every backend: the seed example's workload (timers, never early), I/O
 * completing, cancellation waking a parked task, and the host's own
 * descriptors served while tasks are busy. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/embed.h"
#include "vexrt/task.h"

/* The host: polls the backend handle and its own descriptor (or none) with
 * the runtime's timeout, and steps the runtime; returns the number of turns.
 * on_own is called when the host's own descriptor is readable. */
typedef void (*own_fn)(void *arg);

static long host_loop(Runtime *rt, int own_fd, own_fn on_own, void *arg)
{
    IoHandle h;
    CHECK_OK(runtime_backend_handle(rt, &h));
    long turns = 0;
    for (;;) {
        int more = runtime_step(rt, 0);
        cr_assert(more >= 0, "runtime_step: %s", vex_strerror(more));
        turns++;
        if (!more) return turns;
        uint64_t t = runtime_backend_timeout_ns(rt);
        int ms = t == VEX_WAIT_FOREVER ? 1000 : (int)((t + 999999) / 1000000); /* round up */
        struct pollfd pfd[2] = {{(int)h, POLLIN, 0}, {own_fd, POLLIN, 0}};
        int n = poll(pfd, own_fd >= 0 ? 2 : 1, ms);
        cr_assert(n >= 0 || errno == EINTR, "poll: %s", strerror(errno));
        if (n > 0 && own_fd >= 0 && (pfd[1].revents & POLLIN)) on_own(arg);
    }
}

/* --- The seed example's workload: countdown tasks on 10 ms timers --- */

typedef struct {
    int left;
    uint64_t due;
    int early;
} Countdown;

static CoroStatus countdown(WorkerContext *ctx, void *data)
{
    Countdown *c = data;
    if (c->due && worker_now_ns(ctx) < c->due) c->early++;
    if (c->left-- == 0) return CORO_STATUS_DONE;
    c->due = worker_now_ns(ctx) + 10 * 1000000u;
    worker_await_after(ctx, 10);
    return CORO_STATUS_YIELDED;
}

IO_TEST(embed, host_loop_runs_timers_never_early, .timeout = 30)
{
    for (int workers = 1; workers <= 2; workers++) {
        Runtime *rt = io_runtime(b, workers);
        Countdown c[10];
        for (int i = 0; i < 10; i++) {
            c[i] = (Countdown){.left = 5};
            CHECK_OK(runtime_spawn_global(rt, countdown, &c[i]));
        }
        CHECK_OK(runtime_enable_auto_shutdown(rt, true));
        host_loop(rt, -1, NULL, NULL);
        for (int i = 0; i < 10; i++) {
            CHECK_INT(c[i].left, -1);
            CHECK_INT(c[i].early, 0);
        }
        CHECK_INT(runtime_run(rt), VEX_EBUSY); /* the host drives it */
        RuntimeStats st;
        CHECK_OK(runtime_get_stats(rt, &st));
        CHECK_EQ(st.tasks_done, 10);
        CHECK_OK(runtime_destroy(rt));
    }
}

/* --- I/O: an echo over a socketpair through completion ops --- */

typedef struct {
    int fd, round, step;
    bool client;
    VexIoOp op;
    char buf[32];
    int err;
} Echo;

static CoroStatus echo(WorkerContext *ctx, void *data)
{
    Echo *e = data;
    if (e->step && e->op.result != (int64_t)sizeof e->buf) e->err++;
    if (e->round == 200) return CORO_STATUS_DONE;
    bool send_now = e->client ? e->step % 2 == 0 : e->step % 2 == 1;
    if (e->step % 2 == 1) e->round++;
    memset(&e->op, 0, sizeof e->op);
    e->op.opcode = send_now ? VEX_OP_SEND : VEX_OP_RECV;
    e->op.flags = send_now ? 0 : VEX_MSG_WAITALL;
    e->op.handle = (IoHandle)e->fd;
    e->op.buf = e->buf;
    e->op.len = sizeof e->buf;
    e->step++;
    worker_await_op(ctx, &e->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(embed, host_loop_completes_io, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 1);
    int sv[2];
    io_socketpair(sv);
    Echo cl = {.fd = sv[0], .client = true}, sv_ = {.fd = sv[1]};
    CHECK_OK(runtime_spawn_global(rt, echo, &cl));
    CHECK_OK(runtime_spawn_global(rt, echo, &sv_));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    host_loop(rt, -1, NULL, NULL);
    CHECK_INT(cl.round, 200);
    CHECK_INT(sv_.round, 200);
    CHECK_INT(cl.err + sv_.err, 0);
    CHECK_OK(runtime_destroy(rt));
    close(sv[0]);
    close(sv[1]);
}

/* --- Cancellation wakes a task parked for an hour --- */

typedef struct {
    _Atomic(CancelToken *) tok;
    unsigned reason;
} Victim;

static CoroStatus victim(WorkerContext *ctx, void *data)
{
    Victim *v = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_NONE) {
        atomic_store(&v->tok, worker_cancel_token(ctx));
        worker_await_after(ctx, 3600 * 1000);
        return CORO_STATUS_YIELDED;
    }
    v->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static void *cancel_later(void *arg)
{
    Victim *v = arg;
    while (!atomic_load(&v->tok)) test_sleep_ms(1);
    test_sleep_ms(20); /* the host is asleep in poll() by now, most likely */
    cancel_request(atomic_load(&v->tok));
    return NULL;
}

IO_TEST(embed, cancellation_from_another_thread_wakes_the_host, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 1);
    Victim v;
    memset(&v, 0, sizeof v);
    atomic_init(&v.tok, NULL);
    CHECK_OK(runtime_spawn_global(rt, victim, &v));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, cancel_later, &v) == 0);
    host_loop(rt, -1, NULL, NULL); /* an hour if the wake-up did not reach the host */
    pthread_join(th, NULL);
    CHECK_INT(v.reason, VEX_WAKE_CANCELLED);
    CHECK_OK(runtime_destroy(rt));
}

/* --- The host's own descriptor is served while tasks keep the runtime
 * busy: runtime_step returns after a bounded amount of work. --- */

enum { HOST_MSGS = 50 };

typedef struct {
    int rfd;
    int got;
    _Atomic int tasks_done;
} Host;

static void host_read(void *arg)
{
    Host *h = arg;
    char buf[64];
    ssize_t n = read(h->rfd, buf, sizeof buf);
    if (n > 0) h->got += (int)n;
}

static CoroStatus busy(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Host *h = data;
    if (h->got < HOST_MSGS) return CORO_STATUS_YIELDED; /* busy until the host got everything */
    atomic_fetch_add(&h->tasks_done, 1);
    return CORO_STATUS_DONE;
}

static void *host_writer(void *arg)
{
    int fd = *(int *)arg;
    for (int i = 0; i < HOST_MSGS; i++) {
        cr_assert(write(fd, "m", 1) == 1);
        test_sleep_ms(1);
    }
    return NULL;
}

IO_TEST(embed, host_descriptors_served_while_tasks_are_busy, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 1);
    int p[2];
    io_pipe(p);
    Host h = {.rfd = p[0]};
    for (int i = 0; i < 100; i++) CHECK_OK(runtime_spawn_global(rt, busy, &h));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, host_writer, &p[1]) == 0);
    host_loop(rt, p[0], host_read, &h);
    pthread_join(th, NULL);
    CHECK_INT(h.got, HOST_MSGS);
    CHECK_INT(atomic_load(&h.tasks_done), 100);
    CHECK_OK(runtime_destroy(rt));
    close(p[0]);
    close(p[1]);
}

/* --- A step that leaves work behind does not wake its own handle --- */

static CoroStatus long_yielder(WorkerContext *ctx, void *data)
{
    (void)ctx;
    int *left = data;
    return --*left > 0 ? CORO_STATUS_YIELDED : CORO_STATUS_DONE;
}

#define BUSY_TASKS 2000

/* More work than one step runs: the step returns with tasks queued and the
 * timeout 0. The host is about to call again anyway, so the runtime must
 * not also make its backend handle readable (a wake-up it would pay for
 * twice: the write, and the drain in the next step). */
IO_TEST(embed, a_step_that_leaves_work_does_not_wake_its_own_handle, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 1);
    IoHandle h;
    CHECK_OK(runtime_backend_handle(rt, &h));
    static int left[BUSY_TASKS];
    for (int i = 0; i < BUSY_TASKS; i++) {
        left[i] = 200;
        CHECK_OK(runtime_spawn_global(rt, long_yielder, &left[i]));
    }
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    int steps = 0, more;
    while ((more = runtime_step(rt, 0)) > 0) {
        steps++;
        if (runtime_backend_timeout_ns(rt) != 0) break; /* the tasks are done */
        struct pollfd pfd = {(int)h, POLLIN, 0};
        cr_assert(poll(&pfd, 1, 0) == 0, "step %d left the backend handle readable", steps);
    }
    cr_assert(steps > 1, "one step ran everything: the test needs more work");
    host_loop(rt, -1, NULL, NULL);
    for (int i = 0; i < BUSY_TASKS; i++) CHECK_INT(left[i], 0);
    runtime_destroy(rt);
}
