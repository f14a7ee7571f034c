/* test_io_ready - the seed's readiness awaits (worker_await_io /
 * worker_await_ioh) on every backend: pipes, socketpairs, one-shot
 * semantics, EOF, writability, bad and closed handles, I/O plus timer as a
 * timeout, cancellation of a task parked on I/O, one waiter per side, and
 * handle reuse after vex_io_forget. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/cancel.h"
#include "vexrt/task.h"

/* --- The seed's socket test: a request/response exchange over a socketpair
 * between two tasks, every byte checked. (The seed's version was flaky; CI
 * runs this one 50 times in a row.) --- */

enum { PINGS = 2000 };

typedef struct {
    int fd;
    bool server;
    int step;      /* messages exchanged */
    uint32_t expect;
    int err;
} Pinger;

/* Reads one 4-byte message (or returns false if it must wait). */
static bool read_msg(Pinger *p, uint32_t *v)
{
    ssize_t r = read(p->fd, v, sizeof *v);
    if (r == (ssize_t)sizeof *v) return true;
    if (r < 0 && errno == EAGAIN) return false;
    p->err = r < 0 ? errno : 1000 + (int)r; /* short reads cannot happen for 4 bytes on a stream this small */
    return false;
}

static CoroStatus pinger(WorkerContext *ctx, void *data)
{
    Pinger *p = data;
    for (;;) {
        if (p->err) return CORO_STATUS_DONE;
        if (p->step == PINGS) return CORO_STATUS_DONE;
        if (!p->server && p->expect == (uint32_t)p->step) {
            /* Client: send ping `step`, then wait for the pong. */
            uint32_t v = (uint32_t)p->step;
            if (write(p->fd, &v, sizeof v) != (ssize_t)sizeof v) {
                p->err = errno;
                return CORO_STATUS_DONE;
            }
            p->expect = (uint32_t)p->step + 1000000u;
        }
        uint32_t v;
        if (!read_msg(p, &v)) {
            if (p->err) return CORO_STATUS_DONE;
            worker_await_io(ctx, p->fd, EVENT_TYPE_READABLE);
            return CORO_STATUS_YIELDED;
        }
        if (p->server) {
            if (v != (uint32_t)p->step) p->err = 2000;
            uint32_t pong = v + 1000000u;
            if (write(p->fd, &pong, sizeof pong) != (ssize_t)sizeof pong) p->err = errno;
            p->step++;
        } else {
            if (v != p->expect) p->err = 3000;
            p->step++;
            p->expect = (uint32_t)p->step;
        }
    }
}

IO_TEST(io_ready, real_io_socket, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    Pinger c = {.fd = sv[0], .server = false}, s = {.fd = sv[1], .server = true};
    CHECK_OK(runtime_spawn_global(rt, pinger, &s));
    CHECK_OK(runtime_spawn_global(rt, pinger, &c));
    io_run(rt);
    CHECK_INT(c.err, 0);
    CHECK_INT(s.err, 0);
    CHECK_INT(c.step, PINGS);
    CHECK_INT(s.step, PINGS);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_GE(st.poller_events, 1);
    runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

/* --- Pipe: a reader woken by a writer task, and one-shot semantics: data
 * left unread wakes the next await again; then EOF. --- */

typedef struct {
    int rfd, wfd;
    int wakes, bytes, eof_seen;
    unsigned last_reason;
    int resumes;
} PipeT;

static CoroStatus pipe_reader(WorkerContext *ctx, void *data)
{
    PipeT *p = data;
    if (p->resumes++ > 0) {
        p->wakes++;
        p->last_reason = worker_wake_reason(ctx);
        char c;
        ssize_t r = read(p->rfd, &c, 1); /* one byte per wake: the rest stays */
        if (r == 1) p->bytes++;
        if (r == 0) {
            p->eof_seen = 1;
            return CORO_STATUS_DONE;
        }
    }
    worker_await_io(ctx, p->rfd, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

static CoroStatus pipe_writer(WorkerContext *ctx, void *data)
{
    (void)ctx;
    PipeT *p = data;
    cr_assert(write(p->wfd, "0123456789", 10) == 10);
    close(p->wfd); /* EOF after the ten bytes */
    return CORO_STATUS_DONE;
}

IO_TEST(io_ready, pipe_one_shot_then_eof, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int pp[2];
    io_pipe(pp);
    PipeT p = {.rfd = pp[0], .wfd = pp[1]};
    CHECK_OK(runtime_spawn_global(rt, pipe_reader, &p));
    CHECK_OK(runtime_spawn_global(rt, pipe_writer, &p));
    io_run(rt);
    CHECK_INT(p.bytes, 10);
    CHECK_INT(p.eof_seen, 1);
    CHECK_GE(p.wakes, 11); /* ten bytes one at a time, then EOF */
    runtime_destroy(rt);
    close(pp[0]);
}

/* --- Writability: a full socket buffer, drained by the peer. --- */

typedef struct {
    int fd, peer;
    _Atomic long written; /* the filler's; read by the drainer */
    long drained;
    int resumes;
    unsigned reason;
    _Atomic bool filled;
} Fill;

static CoroStatus filler(WorkerContext *ctx, void *data)
{
    Fill *f = data;
    if (f->resumes++ > 0 && f->filled) {
        f->reason = worker_wake_reason(ctx);
        /* The drainer may have read everything before `filled` was set and
         * be waiting for more: end-of-file tells it there is none. */
        shutdown(f->fd, SHUT_WR);
        return CORO_STATUS_DONE;
    }
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    for (;;) {
        ssize_t r = write(f->fd, buf, sizeof buf);
        if (r > 0) {
            f->written += r;
            continue;
        }
        cr_assert(r < 0 && errno == EAGAIN, "write: %s", strerror(errno));
        break;
    }
    f->filled = true;
    worker_await_io(ctx, f->fd, EVENT_TYPE_WRITABLE);
    return CORO_STATUS_YIELDED;
}

static CoroStatus drainer(WorkerContext *ctx, void *data)
{
    Fill *f = data;
    char buf[65536];
    for (;;) {
        ssize_t r = read(f->peer, buf, sizeof buf);
        if (r > 0) {
            f->drained += r;
            if (f->filled && f->drained == f->written) return CORO_STATUS_DONE;
            continue;
        }
        if (r == 0) return CORO_STATUS_DONE; /* the filler is done */
        break;
    }
    worker_await_io(ctx, f->peer, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ready, writable_after_peer_drains, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    io_small_buffers(sv[0]);
    Fill f = {.fd = sv[0], .peer = sv[1]};
    CHECK_OK(runtime_spawn_global(rt, filler, &f));
    CHECK_OK(runtime_spawn_global(rt, drainer, &f));
    io_run(rt);
    CHECK_INT(f.reason & VEX_WAKE_WRITABLE, VEX_WAKE_WRITABLE);
    CHECK_EQ(f.drained, f.written);
    runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

/* --- Bad and closed handles resume the task promptly, with an error. --- */

typedef struct {
    int fd;
    int rc;
    unsigned reason;
    int resumes;
} Bad;

static CoroStatus bad_waiter(WorkerContext *ctx, void *data)
{
    Bad *x = data;
    if (x->resumes++) {
        x->reason = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    x->rc = worker_await_io(ctx, x->fd, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ready, bad_and_closed_handles, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int pp[2];
    io_pipe(pp);
    /* A closed number no new descriptor takes (the lowest free one goes
     * first): worker 0's ring is made by runtime_run, after this. */
    int gone = fcntl(pp[0], F_DUPFD_CLOEXEC, 1000);
    cr_assert(gone >= 1000);
    close(gone); /* closed before the await */
    close(pp[0]);
    Bad neg = {.fd = -1}, never = {.fd = 900000}, closed = {.fd = gone};
    CHECK_OK(runtime_spawn_global(rt, bad_waiter, &neg));
    CHECK_OK(runtime_spawn_global(rt, bad_waiter, &never));
    CHECK_OK(runtime_spawn_global(rt, bad_waiter, &closed));
    io_run(rt); /* a hang here is the failure */
    CHECK_INT(neg.rc, VEX_EBADF);
    CHECK_INT(neg.resumes, 2); /* refused await: the yield just requeues */
    CHECK_INT(never.rc, 0);
    CHECK_INT(never.reason, VEX_WAKE_ERROR);
    CHECK_INT(closed.rc, 0);
    CHECK_INT(closed.reason, VEX_WAKE_ERROR);
    runtime_destroy(rt);
    close(pp[1]);
}

/* --- I/O plus a timer in one resume: the timer is a timeout; the handle
 * stays usable afterwards. --- */

typedef struct {
    int fd, wfd;
    int resumes;
    unsigned r1, r2;
    uint64_t t0, t1;
} Tmo;

static CoroStatus timeout_waiter(WorkerContext *ctx, void *data)
{
    Tmo *t = data;
    switch (t->resumes++) {
    case 0:
        t->t0 = worker_now_ns(ctx);
        worker_await_io(ctx, t->fd, EVENT_TYPE_READABLE);
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    case 1:
        t->r1 = worker_wake_reason(ctx);
        t->t1 = worker_now_ns(ctx);
        cr_assert(write(t->wfd, "z", 1) == 1);
        worker_await_io(ctx, t->fd, EVENT_TYPE_READABLE);
        worker_await_after(ctx, 60000);
        return CORO_STATUS_YIELDED;
    default:
        t->r2 = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
}

IO_TEST(io_ready, io_with_timer_is_a_timeout, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int pp[2];
    io_pipe(pp);
    Tmo t = {.fd = pp[0], .wfd = pp[1]};
    CHECK_OK(runtime_spawn_global(rt, timeout_waiter, &t));
    io_run(rt);
    CHECK_INT(t.r1, VEX_WAKE_TIMER);
    CHECK_GE(t.t1 - t.t0, 20000000ull);
    CHECK_INT(t.r2, VEX_WAKE_READABLE);
    runtime_destroy(rt);
    close(pp[0]);
    close(pp[1]);
}

/* --- Cancelling a task parked on I/O wakes it promptly; the handle, closed
 * with plain close(), really closes (an io_uring poll left behind would keep
 * the file open: the peer would never see EOF). --- */

typedef struct {
    int fd, peer;
    _Atomic(CancelToken *) tok; /* the victim's own token, published to the killer */
    int resumes, kresumes, presumes;
    unsigned reason;
    bool saw_cancel, peer_eof;
} Cx;

static CoroStatus cx_victim(WorkerContext *ctx, void *data)
{
    Cx *c = data;
    if (c->resumes++ == 0) {
        c->tok = worker_cancel_token(ctx);
        worker_await_io(ctx, c->fd, EVENT_TYPE_READABLE); /* no data ever comes */
        return CORO_STATUS_YIELDED;
    }
    c->reason = worker_wake_reason(ctx);
    c->saw_cancel = cancel_requested(worker_cancel_token(ctx));
    close(c->fd);
    return CORO_STATUS_DONE;
}

static CoroStatus cx_killer(WorkerContext *ctx, void *data)
{
    Cx *c = data;
    c->kresumes++;
    if (c->kresumes == 1 || !atomic_load(&c->tok)) {
        worker_await_after(ctx, 10); /* usually parked by then; either way must work */
        return CORO_STATUS_YIELDED;
    }
    cancel_request(atomic_load(&c->tok));
    return CORO_STATUS_DONE;
}

static CoroStatus cx_peer(WorkerContext *ctx, void *data)
{
    Cx *c = data;
    c->presumes++;
    char buf[16];
    ssize_t r = read(c->peer, buf, sizeof buf);
    if (r == 0) {
        c->peer_eof = true;
        return CORO_STATUS_DONE;
    }
    worker_await_io(ctx, c->peer, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ready, cancel_parked_on_io, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    Cx c = {.fd = sv[0], .peer = sv[1]};
    CHECK_OK(runtime_spawn_global(rt, cx_victim, &c));
    CHECK_OK(runtime_spawn_global(rt, cx_killer, &c));
    CHECK_OK(runtime_spawn_global(rt, cx_peer, &c));
    io_run(rt); /* hangs if the cancel is lost or the socket never closes */
    CHECK_INT(c.reason, VEX_WAKE_CANCELLED);
    cr_assert(c.saw_cancel);
    cr_assert(c.peer_eof);
    runtime_destroy(rt);
    close(sv[1]);
}

/* --- One waiter per side: a second task awaiting the same side of the same
 * handle is resumed at once with VEX_WAKE_ERROR; the first is unaffected. */

typedef struct {
    int fd, wfd;
    int r1, r2;
    unsigned reason1, reason2;
    _Atomic int phase;
} Two;

static CoroStatus two_first(WorkerContext *ctx, void *data)
{
    Two *t = data;
    if (t->r1++ == 0) {
        worker_await_io(ctx, t->fd, EVENT_TYPE_READABLE);
        atomic_store(&t->phase, 1);
        return CORO_STATUS_YIELDED;
    }
    t->reason1 = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus two_second(WorkerContext *ctx, void *data)
{
    Two *t = data;
    if (t->r2 == 0 && atomic_load(&t->phase) == 0) {
        worker_await_after(ctx, 1); /* let the first park (not a correctness issue) */
        return CORO_STATUS_YIELDED;
    }
    if (t->r2++ == 0) {
        worker_await_io(ctx, t->fd, EVENT_TYPE_READABLE);
        return CORO_STATUS_YIELDED;
    }
    t->reason2 = worker_wake_reason(ctx);
    cr_assert(write(t->wfd, "k", 1) == 1); /* now release the first */
    return CORO_STATUS_DONE;
}

IO_TEST(io_ready, one_waiter_per_side, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 1);
    int pp[2];
    io_pipe(pp);
    Two t = {.fd = pp[0], .wfd = pp[1]};
    CHECK_OK(runtime_spawn_global(rt, two_first, &t));
    CHECK_OK(runtime_spawn_global(rt, two_second, &t));
    io_run(rt);
    CHECK_INT(t.reason2, VEX_WAKE_ERROR);
    CHECK_INT(t.reason1, VEX_WAKE_READABLE);
    runtime_destroy(rt);
    close(pp[0]);
    close(pp[1]);
}

/* --- A handle number reused after vex_io_forget + close works again. --- */

typedef struct {
    int fd;
    int resumes;
    _Atomic unsigned reason; /* polled by the test thread */
} One;

static CoroStatus one_read(WorkerContext *ctx, void *data)
{
    One *o = data;
    if (o->resumes++ == 0) {
        worker_await_io(ctx, o->fd, EVENT_TYPE_READABLE);
        return CORO_STATUS_YIELDED;
    }
    char c;
    cr_assert(read(o->fd, &c, 1) == 1);
    o->reason = worker_wake_reason(ctx); /* after the read: the test closes the fd then */
    return CORO_STATUS_DONE;
}

IO_TEST(io_ready, forget_then_reuse_number, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    pthread_t th = test_run_async(rt);
    int a[2], c[2];
    io_pipe(a);
    cr_assert(write(a[1], "1", 1) == 1);
    One o1 = {.fd = a[0]};
    CHECK_OK(runtime_spawn_global(rt, one_read, &o1));
    while (atomic_load(&o1.reason) == 0) test_sleep_ms(1);
    /* Forget and close the handle, then put another pipe at the same number. */
    int num = a[0];
    CHECK_OK(vex_io_forget(rt, (IoHandle)num));
    close(a[0]);
    close(a[1]);
    io_pipe(c);
    if (c[0] != num) { /* usually the lowest free number is num itself */
        cr_assert(dup2(c[0], num) == num);
        close(c[0]);
    }
    io_set_nonblocking(num);
    One o2 = {.fd = num};
    CHECK_OK(runtime_spawn_global(rt, one_read, &o2));
    test_sleep_ms(5); /* give it time to park: the test holds either way */
    cr_assert(write(c[1], "2", 1) == 1);
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    test_join(th);
    CHECK_INT(o1.reason, VEX_WAKE_READABLE);
    CHECK_INT(o2.reason, VEX_WAKE_READABLE);
    runtime_destroy(rt);
    close(num);
    close(c[1]);
}

/* --- EAGAIN storm: many readers on many sockets, bytes trickling in from a
 * writer in scattered order; readers drain until EAGAIN and wait again. --- */

enum { STORM_PAIRS = 128, STORM_ROUNDS = 40 };

typedef struct {
    int fd;
    int got;
} StormReader;

typedef struct {
    int wfds[STORM_PAIRS];
    int round;
    uint64_t rng;
} StormWriter;

static CoroStatus storm_reader(WorkerContext *ctx, void *data)
{
    StormReader *s = data;
    char buf[64];
    for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r > 0) {
            s->got += (int)r;
            continue;
        }
        if (r == 0) return CORO_STATUS_DONE; /* writer closed: all bytes are in */
        cr_assert(errno == EAGAIN);
        break;
    }
    worker_await_io(ctx, s->fd, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

static CoroStatus storm_writer(WorkerContext *ctx, void *data)
{
    StormWriter *w = data;
    if (w->round == STORM_ROUNDS) {
        for (int i = 0; i < STORM_PAIRS; i++) close(w->wfds[i]);
        return CORO_STATUS_DONE;
    }
    for (int i = 0; i < STORM_PAIRS; i++) {
        w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((w->rng >> 33) % STORM_PAIRS);
        cr_assert(write(w->wfds[k], "s", 1) == 1);
    }
    w->round++;
    (void)ctx;
    return CORO_STATUS_YIELDED; /* a yield: readers run between rounds */
}

IO_TEST(io_ready, eagain_storm, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 2);
    static StormReader rd[STORM_PAIRS];
    static StormWriter wr;
    wr.round = 0;
    wr.rng = 42;
    for (int i = 0; i < STORM_PAIRS; i++) {
        int sv[2];
        io_socketpair(sv);
        rd[i] = (StormReader){sv[0], 0};
        wr.wfds[i] = sv[1];
        CHECK_OK(runtime_spawn_global(rt, storm_reader, &rd[i]));
    }
    CHECK_OK(runtime_spawn_global(rt, storm_writer, &wr));
    io_run(rt);
    int total = 0;
    for (int i = 0; i < STORM_PAIRS; i++) {
        total += rd[i].got;
        close(rd[i].fd);
    }
    CHECK_INT(total, STORM_PAIRS * STORM_ROUNDS);
    runtime_destroy(rt);
}

/* A reader is told "readable", not "readable and writable", even though the
 * socket is writable too when its data arrives (one event reports both). */
typedef struct {
    int fd;
    _Atomic int resumes;
    int reason;
} ReadOnly;

static CoroStatus read_only_waiter(WorkerContext *ctx, void *data)
{
    ReadOnly *r = data;
    if (atomic_fetch_add(&r->resumes, 1) == 0) {
        worker_await_io(ctx, r->fd, EVENT_TYPE_READABLE);
        return CORO_STATUS_YIELDED;
    }
    r->reason = (int)worker_wake_reason(ctx);
    char buf[8];
    (void)read(r->fd, buf, sizeof buf);
    return CORO_STATUS_DONE;
}

IO_TEST(io_ready, reason_names_only_the_awaited_side, .timeout = 30)
{
    for (int round = 0; round < 2; round++) {
        Runtime *rt = io_runtime(b, 1);
        int sv[2];
        io_socketpair(sv);
        ReadOnly r = {.fd = sv[0]};
        /* Round 0: data already there (the cached or immediate path);
         * round 1: data arrives while the task is parked. */
        if (round == 0) CHECK_INT(write(sv[1], "x", 1), 1);
        CHECK_OK(runtime_spawn_global(rt, read_only_waiter, &r));
        pthread_t th = test_run_async(rt);
        if (round == 1) {
            while (atomic_load(&r.resumes) == 0) sched_yield();
            CHECK_INT(write(sv[1], "x", 1), 1);
        }
        runtime_enable_auto_shutdown(rt, true);
        test_join(th);
        CHECK_INT(atomic_load(&r.resumes), 2);
        CHECK_INT(r.reason, VEX_WAKE_READABLE);
        runtime_destroy(rt);
        close(sv[0]);
        close(sv[1]);
    }
}

/* --- Fresh handles, awaited on one worker and reported to another: each
 * record is created by the awaiting worker and found again through the
 * poller's token by whichever worker collects the event (on epoll, the one
 * waiting in the shared poller). Under TSan this is the case where only the
 * kernel orders the two: the backend must tell TSan so. --- */

enum { FRESH = 40 };

typedef struct {
    int fd;
    _Atomic int step;
    _Atomic int armed;
    unsigned reason;
    char c;
    VexIoOp op;
} Fresh;

/* Keeps the arming worker in one resume until the event was handled, so the
 * other worker is the one that collects it. */
static CoroStatus fresh_spinner(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Fresh *f = data;
    while (atomic_load(&f->step) < 2) sched_yield();
    return CORO_STATUS_DONE;
}

static CoroStatus fresh_task(WorkerContext *ctx, void *data)
{
    Fresh *f = data;
    switch (atomic_fetch_add(&f->step, 1)) {
    case 0:
        worker_await_io(ctx, f->fd, EVENT_TYPE_READABLE);
        worker_spawn_local(ctx, fresh_spinner, f);
        atomic_store(&f->armed, 1);
        return CORO_STATUS_YIELDED;
    default:
        f->reason = worker_wake_reason(ctx);
        if (read(f->fd, &f->c, 1) != 1) f->c = 0;
        return CORO_STATUS_DONE;
    }
}

IO_TEST(io_ready, fresh_handles_across_workers, .timeout = 120)
{
    /* A shared poller only: with a ring per worker (io_uring, IOCP) the
     * event can only be collected by the worker kept busy here. */
    if (strcmp(b->name, "epoll") != 0 && strcmp(b->name, "kqueue") != 0) return;
    Runtime *rt = io_runtime(b, 2);
    static Fresh f[FRESH];
    static int peer[FRESH];
    pthread_t th = test_run_async(rt);
    for (int i = 0; i < FRESH; i++) {
        int sv[2];
        io_socketpair(sv);
        f[i] = (Fresh){.fd = sv[0]};
        peer[i] = sv[1];
        CHECK_OK(runtime_spawn_global(rt, fresh_task, &f[i]));
        while (!atomic_load(&f[i].armed)) sched_yield();
        cr_assert(write(sv[1], "k", 1) == 1);
        while (atomic_load(&f[i].step) < 2) sched_yield(); /* one at a time */
    }
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    test_join(th);
    for (int i = 0; i < FRESH; i++) {
        CHECK_INT(f[i].reason, VEX_WAKE_READABLE);
        CHECK_INT(f[i].c, 'k');
    }
    runtime_destroy(rt);
    for (int i = 0; i < FRESH; i++) { /* kept open until now: a new record each time */
        close(f[i].fd);
        close(peer[i]);
    }
}

/* --- A lone worker busy with yields still takes readiness --- */

typedef struct {
    int fd;
    int step;
    unsigned reason;
    _Atomic int *stop;
} PipeWaiter;

static CoroStatus pipe_waiter(WorkerContext *ctx, void *data)
{
    PipeWaiter *p = data;
    if (p->step++ == 0) {
        CHECK_OK(worker_await_io(ctx, p->fd, EVENT_TYPE_READABLE));
        return CORO_STATUS_YIELDED;
    }
    p->reason = worker_wake_reason(ctx);
    atomic_store(p->stop, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus yield_until(WorkerContext *ctx, void *data)
{
    (void)ctx;
    return atomic_load((_Atomic int *)data) ? CORO_STATUS_DONE : CORO_STATUS_YIELDED;
}

static void *write_later(void *arg)
{
    test_sleep_ms(20);
    cr_assert(write(*(int *)arg, "x", 1) == 1);
    return NULL;
}

/* The only worker runs plain yields back to back (sched.c, solo_yields);
 * the poller must still get its turn, or this hangs until the watchdog. */
IO_TEST(io_ready, one_worker_yielding_still_sees_readiness, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 1);
    int p[2];
    io_pipe(p);
    _Atomic int stop = 0;
    PipeWaiter w = {p[0], 0, 0, &stop};
    CHECK_OK(runtime_spawn_global(rt, pipe_waiter, &w));
    for (int i = 0; i < 3; i++) CHECK_OK(runtime_spawn_global(rt, yield_until, &stop));
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, write_later, &p[1]) == 0);
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    pthread_join(th, NULL);
    CHECK_INT(w.reason, VEX_WAKE_READABLE);
    close(p[0]);
    close(p[1]);
    runtime_destroy(rt);
}
