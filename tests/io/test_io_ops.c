/* test_io_ops - completion operations (worker_await_op) and the blocking
 * pool on every backend: recv/send, read/write on pipes, accept/connect with
 * 1,000+ concurrent TCP connections, partial writes, EOF, peer reset, bad
 * handles and ops, timeouts and cancellation of a task parked on an op,
 * regular files (pread/pwrite/fsync), close, blocking jobs, and signals. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/cancel.h"
#include "vexrt/task.h"

static void op_init(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

/* --- recv/send round trips over a socketpair, every byte checked. --- */

enum { RT_ROUNDS = 2000, RT_SIZE = 64 };

/* Set when the other worker is to be kept busy in one long resume (the
 * stuck test below). */
typedef struct {
    _Atomic int done;
    _Atomic int spinning;
} Stuck;

typedef struct {
    int fd;
    bool client;
    int round, state;
    unsigned char buf[RT_SIZE];
    VexIoOp op;
    int err;
    Stuck *stuck; /* or NULL */
} Echo;

static CoroStatus echo_step(WorkerContext *ctx, Echo *e)
{
    for (;;) {
        if (e->state == 1 || e->state == 2) { /* an op just completed */
            if (worker_wake_reason(ctx) != VEX_WAKE_COMPLETED || e->op.result != RT_SIZE) {
                e->err = e->op.result < 0 ? (int)e->op.result : 1;
                return CORO_STATUS_DONE;
            }
        }
        if (e->round == RT_ROUNDS) return CORO_STATUS_DONE;
        switch (e->state) {
        case 0: /* client: send round; server: receive */
            if (e->client) {
                memset(e->buf, (unsigned char)e->round, RT_SIZE);
                op_init(&e->op, VEX_OP_SEND, e->fd, e->buf, RT_SIZE);
                e->state = 1;
            } else {
                op_init(&e->op, VEX_OP_RECV, e->fd, e->buf, RT_SIZE);
                e->state = 2;
            }
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        case 1: /* sent: client waits for the reply, server is done with the round */
            if (e->client) {
                op_init(&e->op, VEX_OP_RECV, e->fd, e->buf, RT_SIZE);
                e->state = 2;
                worker_await_op(ctx, &e->op);
                return CORO_STATUS_YIELDED;
            }
            e->round++;
            e->state = 0;
            continue;
        default: /* received */
            for (int i = 0; i < RT_SIZE; i++)
                if (e->buf[i] != (unsigned char)e->round) e->err = 2;
            if (e->client) {
                e->round++;
                e->state = 0;
                continue;
            }
            op_init(&e->op, VEX_OP_SEND, e->fd, e->buf, RT_SIZE);
            e->state = 1;
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        }
    }
}

static CoroStatus echo_task(WorkerContext *ctx, void *data)
{
    Echo *e = data;
    if (!e->stuck) return echo_step(ctx, e);
    if (!atomic_load(&e->stuck->spinning)) return CORO_STATUS_YIELDED; /* until the other worker is taken */
    CoroStatus st = echo_step(ctx, e);
    if (st == CORO_STATUS_DONE) atomic_fetch_add(&e->stuck->done, 1);
    return st;
}

/* Keeps its worker in one resume until both echo tasks are done (the
 * suite's watchdog bounds it). */
static CoroStatus stuck_task(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Stuck *s = data;
    atomic_store(&s->spinning, 1);
    while (atomic_load(&s->done) < 2) {}
    return CORO_STATUS_DONE;
}

/* RT_ROUNDS round trips between two tasks over a socketpair, on 2 workers;
 * with `stuck`, a third task holds one of the workers meanwhile. */
static void run_echo_pair(const IoBackend *b, Stuck *stuck)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    static Echo c, s;
    c = (Echo){.fd = sv[0], .client = true, .stuck = stuck};
    s = (Echo){.fd = sv[1], .client = false, .stuck = stuck};
    if (stuck) CHECK_OK(runtime_spawn_global(rt, stuck_task, stuck));
    CHECK_OK(runtime_spawn_global(rt, echo_task, &s));
    CHECK_OK(runtime_spawn_global(rt, echo_task, &c));
    io_run(rt);
    CHECK_INT(c.err, 0);
    CHECK_INT(s.err, 0);
    CHECK_INT(c.round, RT_ROUNDS);
    CHECK_INT(s.round, RT_ROUNDS);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_GE(st.io_submitted, 4 * RT_ROUNDS);
    CHECK_EQ(st.tasks_done, stuck ? 3 : 2);
    cr_log_info("%s: %llu steals", runtime_io_backend(rt), (unsigned long long)st.steals);
    runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

IO_TEST(io_ops, recv_send_round_trips, .timeout = 60) { run_echo_pair(b, NULL); }

/* Round trips while the other worker is stuck in one long resume. With a
 * poller per worker, a worker woken by its own poller hands the tasks it
 * woke to a running sibling with a short queue (sched.c); this sibling never
 * returns from its resume until the round trips are done, so the tasks it
 * was handed must be rescued from its inbox, and not handed to it again.
 * With a shared poller, the idle worker must take the poller over and keep
 * it. Every round trip completes once with its bytes intact. */
IO_TEST(io_ops, round_trips_while_the_other_worker_is_stuck, .timeout = 60)
{
    static Stuck stuck;
    atomic_store(&stuck.done, 0);
    atomic_store(&stuck.spinning, 0);
    run_echo_pair(b, &stuck);
}

/* --- READ/WRITE on a pipe, with a reader that asks for more than there is
 * (short reads), until EOF. --- */

typedef struct {
    int fd;
    VexIoOp op;
    unsigned char buf[1000];
    long total;
    int sum_ok;
    bool writer;
    int step;
} PipeOp;

enum { PIPE_BYTES = 300000 };

static CoroStatus pipe_op_task(WorkerContext *ctx, void *data)
{
    PipeOp *p = data;
    if (p->step++ > 0) {
        if (p->op.result < 0) {
            p->sum_ok = (int)p->op.result;
            return CORO_STATUS_DONE;
        }
        if (!p->writer) {
            if (p->op.result == 0) {
                close(p->fd);
                return CORO_STATUS_DONE; /* EOF */
            }
            for (long i = 0; i < p->op.result; i++)
                if (p->buf[i] != (unsigned char)((p->total + i) % 251)) p->sum_ok = -1000;
        }
        p->total += p->op.result;
    }
    if (p->writer) {
        if (p->total == PIPE_BYTES) {
            op_init(&p->op, VEX_OP_CLOSE, p->fd, NULL, 0);
            p->writer = false; /* the next resume is the close's */
            p->fd = -1;
            worker_await_op(ctx, &p->op);
            return CORO_STATUS_YIELDED;
        }
        size_t n = sizeof p->buf;
        if ((long)n > PIPE_BYTES - p->total) n = (size_t)(PIPE_BYTES - p->total);
        for (size_t i = 0; i < n; i++) p->buf[i] = (unsigned char)((p->total + (long)i) % 251);
        op_init(&p->op, VEX_OP_WRITE, p->fd, p->buf, n);
    } else {
        if (p->fd < 0) return CORO_STATUS_DONE; /* the writer's close completed */
        op_init(&p->op, VEX_OP_READ, p->fd, p->buf, sizeof p->buf);
    }
    worker_await_op(ctx, &p->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, pipe_read_write_until_eof, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 2);
    int pp[2];
    io_pipe(pp);
    static PipeOp r, w;
    r = (PipeOp){.fd = pp[0], .writer = false};
    w = (PipeOp){.fd = pp[1], .writer = true};
    CHECK_OK(runtime_spawn_global(rt, pipe_op_task, &r));
    CHECK_OK(runtime_spawn_global(rt, pipe_op_task, &w));
    io_run(rt);
    CHECK_INT(r.sum_ok, 0);
    CHECK_INT(w.sum_ok, 0);
    CHECK_INT(r.total, PIPE_BYTES);
    CHECK_INT(w.op.result, 0); /* the close */
    cr_assert(fcntl(pp[1], F_GETFD) < 0 && errno == EBADF, "VEX_OP_CLOSE closed the pipe");
    runtime_destroy(rt);
}

/* --- TCP: 1,100 connections open at once. The server accepts with
 * VEX_OP_ACCEPT and gives each connection a handler; handlers hold their
 * echo until every connection is up (a created cancel token, cancelled by
 * the last one, releases them all), so the peak really is 1,100 concurrent
 * connections; clients connect with VEX_OP_CONNECT. --- */

enum { CONNS = 1100, MSG = 64 };

typedef struct Server Server;

typedef struct {
    Server *srv;
    int fd, step;
    VexIoOp op;
    unsigned char buf[MSG];
} Handler;

struct Server {
    int lfd;
    VexIoOp op;
    int accepted, step;
    _Atomic int up, peak, done, errors;
    CancelToken *release;
    Handler h[CONNS];
};

typedef struct {
    uint16_t port;
    int fd, step, id;
    VexIoOp op;
    struct sockaddr_in addr;
    unsigned char buf[MSG];
    _Atomic int *errors, *ok;
} Client;

static CoroStatus handler_task(WorkerContext *ctx, void *data)
{
    Handler *h = data;
    Server *s = h->srv;
    switch (h->step++) {
    case 0:
        op_init(&h->op, VEX_OP_RECV, h->fd, h->buf, MSG);
        worker_await_op(ctx, &h->op);
        return CORO_STATUS_YIELDED;
    case 1: {
        if (h->op.result != MSG) atomic_fetch_add(&s->errors, 1);
        int up = atomic_fetch_add(&s->up, 1) + 1;
        int pk = atomic_load(&s->peak);
        while (up > pk && !atomic_compare_exchange_weak(&s->peak, &pk, up)) {}
        if (up == CONNS) {
            cancel_request(s->release); /* everyone is up: release them all */
        } else if (!cancel_requested(worker_cancel_token(ctx))) {
            worker_await_after(ctx, 3600 * 1000); /* woken by the release */
            return CORO_STATUS_YIELDED;
        }
    }
        /* fallthrough */
    case 2:
        h->step = 3;
        op_init(&h->op, VEX_OP_SEND, h->fd, h->buf, MSG);
        worker_await_op(ctx, &h->op);
        return CORO_STATUS_YIELDED;
    case 3:
        if (h->op.result != MSG) atomic_fetch_add(&s->errors, 1);
        op_init(&h->op, VEX_OP_RECV, h->fd, h->buf, MSG); /* until EOF */
        worker_await_op(ctx, &h->op);
        return CORO_STATUS_YIELDED;
    case 4:
        if (h->op.result != 0) atomic_fetch_add(&s->errors, 1);
        atomic_fetch_sub(&s->up, 1);
        op_init(&h->op, VEX_OP_CLOSE, h->fd, NULL, 0);
        worker_await_op(ctx, &h->op);
        return CORO_STATUS_YIELDED;
    default:
        if (h->op.result != 0) atomic_fetch_add(&s->errors, 1);
        atomic_fetch_add(&s->done, 1);
        return CORO_STATUS_DONE;
    }
}

static CoroStatus acceptor_task(WorkerContext *ctx, void *data)
{
    Server *s = data;
    if (s->step++ > 0) {
        if (s->op.result < 0) {
            atomic_fetch_add(&s->errors, 1);
            return CORO_STATUS_DONE;
        }
        Handler *h = &s->h[s->accepted++];
        h->srv = s;
        h->fd = (int)s->op.result;
        cr_assert(worker_spawn_local_with_token(ctx, handler_task, h, s->release) == 0);
        if (s->accepted == CONNS) return CORO_STATUS_DONE;
    }
    op_init(&s->op, VEX_OP_ACCEPT, s->lfd, NULL, 0);
    worker_await_op(ctx, &s->op);
    return CORO_STATUS_YIELDED;
}

static CoroStatus client_task(WorkerContext *ctx, void *data)
{
    Client *c = data;
    VexIoOp *op = &c->op;
    if (c->step > 0 && c->step < 5 && op->result < 0) {
        atomic_fetch_add(c->errors, 1);
        if (c->fd >= 0) close(c->fd);
        return CORO_STATUS_DONE;
    }
    switch (c->step++) {
    case 0:
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        cr_assert(c->fd >= 0);
        io_addr(c->port, &c->addr);
        op_init(op, VEX_OP_CONNECT, c->fd, &c->addr, sizeof c->addr);
        break;
    case 1:
        memset(c->buf, (unsigned char)c->id, MSG);
        op_init(op, VEX_OP_SEND, c->fd, c->buf, MSG);
        break;
    case 2:
        memset(c->buf, 0, MSG);
        op_init(op, VEX_OP_RECV, c->fd, c->buf, MSG);
        op->flags = VEX_MSG_WAITALL;
        break;
    case 3:
        for (int i = 0; i < MSG; i++)
            if (c->buf[i] != (unsigned char)c->id || op->result != MSG) {
                atomic_fetch_add(c->errors, 1);
                break;
            }
        op_init(op, VEX_OP_CLOSE, c->fd, NULL, 0);
        break;
    default:
        if (op->result == 0) atomic_fetch_add(c->ok, 1);
        return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, tcp_1100_concurrent_connections, .timeout = 120)
{
    long lim = io_raise_nofile(2 * CONNS + 64);
    cr_assert(lim >= 2 * CONNS + 64, "need %d open files, have %ld", 2 * CONNS + 64, lim);
    Runtime *rt = io_runtime(b, 2);
    static Server s;
    static Client cl[CONNS];
    memset(&s, 0, sizeof s);
    uint16_t port;
    s.lfd = io_listen(&port, 2048);
    s.release = cancel_token_create(rt, NULL);
    cr_assert_not_null(s.release);
    _Atomic int errors = 0, ok = 0;
    CHECK_OK(runtime_spawn_global(rt, acceptor_task, &s));
    for (int i = 0; i < CONNS; i++) {
        cl[i] = (Client){.port = port, .fd = -1, .id = i, .errors = &errors, .ok = &ok};
        CHECK_OK(runtime_spawn_global(rt, client_task, &cl[i]));
    }
    io_run(rt);
    CHECK_INT(atomic_load(&errors), 0);
    CHECK_INT(atomic_load(&s.errors), 0);
    CHECK_INT(atomic_load(&ok), CONNS);
    CHECK_INT(atomic_load(&s.done), CONNS);
    CHECK_INT(atomic_load(&s.peak), CONNS);
    cancel_token_destroy(s.release);
    runtime_destroy(rt);
    close(s.lfd);
}

/* --- Partial writes: 4 MB through small socket buffers; the writer loops
 * on what each send took, the reader checks every byte. --- */

enum { BIG = 4 << 20 };

typedef struct {
    int fd;
    unsigned char *data;
    VexIoOp op;
    long off;
    int sends, step;
    long short_sends;
} BigWriter;

typedef struct {
    int fd;
    unsigned char buf[8192];
    VexIoOp op;
    long got;
    int bad, step;
} BigReader;

static CoroStatus big_writer(WorkerContext *ctx, void *data)
{
    BigWriter *w = data;
    if (w->step++ > 0) {
        cr_assert(w->op.result > 0, "send: %lld", (long long)w->op.result);
        if ((size_t)w->op.result < w->op.len) w->short_sends++;
        w->off += w->op.result;
        if (w->off == BIG) {
            shutdown(w->fd, SHUT_WR);
            return CORO_STATUS_DONE;
        }
    }
    op_init(&w->op, VEX_OP_SEND, w->fd, w->data + w->off, (size_t)(BIG - w->off));
    w->sends++;
    worker_await_op(ctx, &w->op);
    return CORO_STATUS_YIELDED;
}

static CoroStatus big_reader(WorkerContext *ctx, void *data)
{
    BigReader *r = data;
    if (r->step++ > 0) {
        cr_assert(r->op.result >= 0, "recv: %lld", (long long)r->op.result);
        if (r->op.result == 0) return CORO_STATUS_DONE;
        for (long i = 0; i < r->op.result; i++)
            if (r->buf[i] != (unsigned char)((r->got + i) * 7)) r->bad++;
        r->got += r->op.result;
    }
    op_init(&r->op, VEX_OP_RECV, r->fd, r->buf, sizeof r->buf);
    worker_await_op(ctx, &r->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, partial_writes_keep_every_byte, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    io_small_buffers(sv[0]);
    io_small_buffers(sv[1]);
    static BigWriter w;
    static BigReader r;
    w = (BigWriter){.fd = sv[0]};
    r = (BigReader){.fd = sv[1]};
    w.data = malloc(BIG);
    for (long i = 0; i < BIG; i++) w.data[i] = (unsigned char)(i * 7);
    CHECK_OK(runtime_spawn_global(rt, big_reader, &r));
    CHECK_OK(runtime_spawn_global(rt, big_writer, &w));
    io_run(rt);
    CHECK_INT(r.got, BIG);
    CHECK_INT(r.bad, 0);
    cr_log_info("%s: %d sends, %ld short", b->name, w.sends, w.short_sends);
    free(w.data);
    runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

/* --- EOF and peer reset, seen by RECV. --- */

typedef struct {
    int fd;
    VexIoOp op;
    char buf[16];
    int step;
} Once;

static CoroStatus recv_once(WorkerContext *ctx, void *data)
{
    Once *o = data;
    if (o->step++) return CORO_STATUS_DONE;
    op_init(&o->op, VEX_OP_RECV, o->fd, o->buf, sizeof o->buf);
    worker_await_op(ctx, &o->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, eof_and_peer_reset, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    uint16_t port;
    int lfd = io_listen(&port, 4);
    int cfd = io_connect(port);
    int afd = accept(lfd, NULL, NULL);
    cr_assert(afd >= 0);
    io_set_nonblocking(afd);
    Once eof = {.fd = sv[0]}, rst = {.fd = afd};
    CHECK_OK(runtime_spawn_global(rt, recv_once, &eof));
    CHECK_OK(runtime_spawn_global(rt, recv_once, &rst));
    pthread_t th = test_run_async(rt);
    close(sv[1]); /* EOF for the first */
    struct linger lg = {1, 0};
    setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(cfd); /* an RST for the second */
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    test_join(th);
    CHECK_INT(eof.op.result, 0);
    CHECK_INT(rst.op.result, VEX_ECONNRESET);
    runtime_destroy(rt);
    close(sv[0]);
    close(afd);
    close(lfd);
}

/* --- Bad handles and bad ops. --- */

typedef struct {
    VexIoOp op;
    char buf[8];
    int rc_null, rc_code, rc_neg, step;
    unsigned reason;
} BadOp;

static CoroStatus bad_op_task(WorkerContext *ctx, void *data)
{
    BadOp *x = data;
    if (x->step++) {
        x->reason = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    x->rc_null = worker_await_op(ctx, NULL);
    VexIoOp junk;
    op_init(&junk, 99, 0, NULL, 0);
    x->rc_code = worker_await_op(ctx, &junk);
    op_init(&junk, VEX_OP_RECV, 0, x->buf, sizeof x->buf);
    junk.handle = (IoHandle)-1;
    x->rc_neg = worker_await_op(ctx, &junk);
    op_init(&x->op, VEX_OP_RECV, 900000, x->buf, sizeof x->buf); /* never open */
    worker_await_op(ctx, &x->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, bad_handles_and_ops, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    BadOp x = {0};
    CHECK_OK(runtime_spawn_global(rt, bad_op_task, &x));
    io_run(rt);
    CHECK_INT(x.rc_null, VEX_EINVAL);
    CHECK_INT(x.rc_code, VEX_EINVAL);
    CHECK_INT(x.rc_neg, VEX_EBADF);
    CHECK_INT(x.op.result, VEX_EBADF);
    CHECK_INT(x.reason, VEX_WAKE_COMPLETED);
    runtime_destroy(rt);
}

/* --- A timeout, then cancellation, of a task parked on an op: it resumes
 * with the reason and VEX_ECANCELED, never while the op could still write
 * its buffer; the handle works afterwards. --- */

typedef struct {
    int fd, peer;
    VexIoOp op;
    char buf[32];
    int step;
    unsigned r_timeout, r_cancel, r_data;
    int64_t res_timeout, res_cancel, res_data;
    _Atomic(CancelToken *) tok; /* published when the second op is submitted */
} OpTmo;

static CoroStatus op_timeout_task(WorkerContext *ctx, void *data)
{
    OpTmo *t = data;
    switch (t->step++) {
    case 0:
        op_init(&t->op, VEX_OP_RECV, t->fd, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    case 1:
        t->r_timeout = worker_wake_reason(ctx);
        t->res_timeout = t->op.result;
        op_init(&t->op, VEX_OP_RECV, t->fd, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op); /* no timer: ended by cancel_request */
        atomic_store(&t->tok, worker_cancel_token(ctx));
        return CORO_STATUS_YIELDED;
    case 2:
        t->r_cancel = worker_wake_reason(ctx);
        t->res_cancel = t->op.result;
        cr_assert(write(t->peer, "after", 5) == 5);
        op_init(&t->op, VEX_OP_RECV, t->fd, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        worker_await_after(ctx, 60000);
        return CORO_STATUS_YIELDED;
    default:
        t->r_data = worker_wake_reason(ctx);
        t->res_data = t->op.result;
        return CORO_STATUS_DONE;
    }
}

static CoroStatus op_canceller(WorkerContext *ctx, void *data)
{
    OpTmo *t = data;
    CancelToken *tok = atomic_load(&t->tok);
    if (!tok) { /* not yet submitted: look again shortly */
        worker_await_after(ctx, 2);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(tok);
    return CORO_STATUS_DONE;
}

IO_TEST(io_ops, timeout_and_cancel_of_parked_op, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    static OpTmo t;
    t = (OpTmo){.fd = sv[0], .peer = sv[1]};
    CHECK_OK(runtime_spawn_global(rt, op_timeout_task, &t));
    CHECK_OK(runtime_spawn_global(rt, op_canceller, &t));
    io_run(rt);
    CHECK_INT(t.r_timeout, VEX_WAKE_TIMER);
    CHECK_INT(t.res_timeout, VEX_ECANCELED);
    CHECK_INT(t.r_cancel, VEX_WAKE_CANCELLED);
    CHECK_INT(t.res_cancel, VEX_ECANCELED);
    CHECK_INT(t.r_data, VEX_WAKE_COMPLETED);
    CHECK_INT(t.res_data, 5);
    cr_assert(memcmp(t.buf, "after", 5) == 0);
    runtime_destroy(rt);
    close(sv[0]);
    close(sv[1]);
}

/* --- Regular files: pwrite at offsets, fsync, pread back; READ/WRITE at
 * the file position. (Blocking pool on epoll, native on io_uring.) --- */

typedef struct {
    int fd, step;
    VexIoOp op;
    char a[4096], b[4096], back[8192];
    int64_t res[8];
} FileT;

static CoroStatus file_task(WorkerContext *ctx, void *data)
{
    FileT *f = data;
    if (f->step > 0) f->res[f->step - 1] = f->op.result;
    switch (f->step++) {
    case 0:
        memset(f->a, 'a', sizeof f->a);
        op_init(&f->op, VEX_OP_PWRITE, f->fd, f->a, sizeof f->a);
        f->op.offset = 4096;
        break;
    case 1:
        memset(f->b, 'b', sizeof f->b);
        op_init(&f->op, VEX_OP_PWRITE, f->fd, f->b, sizeof f->b);
        f->op.offset = 0;
        break;
    case 2:
        op_init(&f->op, VEX_OP_FSYNC, f->fd, NULL, 0);
        break;
    case 3:
        op_init(&f->op, VEX_OP_PREAD, f->fd, f->back, sizeof f->back);
        f->op.offset = 0;
        break;
    case 4:
        op_init(&f->op, VEX_OP_WRITE, f->fd, "tail", 4); /* at the position: 0 */
        break;
    case 5:
        op_init(&f->op, VEX_OP_PREAD, f->fd, f->back, 4);
        f->op.offset = 8192; /* past the end: 0 bytes */
        break;
    default:
        return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &f->op);
    return CORO_STATUS_YIELDED;
}

IO_TEST(io_ops, regular_file_ops, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    char path[] = "/tmp/vexrt-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    unlink(path);
    static FileT f;
    memset(&f, 0, sizeof f);
    f.fd = fd;
    CHECK_OK(runtime_spawn_global(rt, file_task, &f));
    io_run(rt);
    CHECK_INT(f.res[0], 4096);
    CHECK_INT(f.res[1], 4096);
    CHECK_INT(f.res[2], 0);
    CHECK_INT(f.res[3], 8192);
    for (int i = 0; i < 8192; i++) cr_assert(f.back[i] == (i < 4096 ? 'b' : 'a'), "byte %d", i);
    CHECK_INT(f.res[4], 4);
    CHECK_INT(f.res[5], 0);
    char head[4];
    cr_assert(pread(fd, head, 4, 0) == 4 && memcmp(head, "tail", 4) == 0);
    runtime_destroy(rt);
    close(fd);
}

/* --- The blocking pool: a job runs on another thread and the task resumes
 * only after it returned, also when a timeout fires meanwhile. --- */

typedef struct {
    _Atomic int ran, done;
    _Atomic int gate, resumed;
    pthread_t worker_tid, job_tid;
    int step, ran_at_resume, done_at_resume;
    unsigned r1, r2;
} Job;

static void slow_job(void *arg)
{
    Job *j = arg;
    j->job_tid = pthread_self();
    atomic_fetch_add(&j->ran, 1);
    while (!atomic_load(&j->gate)) test_sleep_ms(1); /* blocks until the test opens it */
    atomic_store(&j->done, 1);
}

static void quick_job(void *arg)
{
    Job *j = arg;
    atomic_fetch_add(&j->ran, 1);
}

static CoroStatus job_task(WorkerContext *ctx, void *data)
{
    Job *j = data;
    switch (j->step++) {
    case 0:
        j->worker_tid = pthread_self();
        cr_assert(worker_await_blocking(ctx, slow_job, j) == 0);
        worker_await_after(ctx, 5); /* times out long before the job ends */
        return CORO_STATUS_YIELDED;
    case 1:
        j->r1 = worker_wake_reason(ctx);
        j->ran_at_resume = atomic_load(&j->ran);
        j->done_at_resume = atomic_load(&j->done);
        atomic_store(&j->resumed, 1);
        cr_assert(worker_await_blocking(ctx, quick_job, j) == 0);
        return CORO_STATUS_YIELDED;
    default:
        j->r2 = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
}

IO_TEST(io_ops, blocking_jobs, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    static Job j;
    memset(&j, 0, sizeof j);
    CHECK_OK(runtime_spawn_global(rt, job_task, &j));
    pthread_t th = test_run_async(rt);
    while (atomic_load(&j.ran) == 0 && atomic_load(&j.resumed) == 0) test_sleep_ms(1);
    test_sleep_ms(20); /* usually the timeout fires while the job blocks */
    atomic_store(&j.gate, 1);
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    test_join(th);
    if (j.ran_at_resume == 0) {
        /* The timeout came before a pool thread took the job: it was
         * withdrawn and never runs. */
        CHECK_INT(j.r1, VEX_WAKE_TIMER);
        CHECK_INT(atomic_load(&j.ran), 1);
    } else {
        /* It started: the task waits for its end, whatever the timer did. */
        CHECK_INT(j.done_at_resume, 1);
        CHECK_INT(j.r1, VEX_WAKE_COMPLETED);
        CHECK_INT(atomic_load(&j.ran), 2);
        cr_assert(!pthread_equal(j.worker_tid, j.job_tid), "the job ran on a pool thread");
    }
    CHECK_INT(j.r2, VEX_WAKE_COMPLETED);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.blocking_jobs, atomic_load(&j.ran)); /* jobs that ran, not jobs submitted */
    runtime_destroy(rt);
}

/* Every pool thread busy, one more job queued behind them: its task's
 * timeout drops it from the queue, its function never runs, and it is not
 * counted in blocking_jobs (jobs that ran). The busy ones are waited for. */
enum { POOL_THREADS = 4 }; /* the pool's size (core/io.c) */

static struct {
    _Atomic int started, release, late_ran;
    int late_step;
    unsigned late_reason;
} bp;

static void busy_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&bp.started, 1);
    while (!atomic_load(&bp.release)) sched_yield();
}

static void late_job(void *arg)
{
    (void)arg;
    atomic_store(&bp.late_ran, 1);
}

static CoroStatus busy_task(WorkerContext *ctx, void *data)
{
    int *step = data;
    if ((*step)++) return CORO_STATUS_DONE;
    cr_assert(worker_await_blocking(ctx, busy_job, NULL) == 0);
    return CORO_STATUS_YIELDED;
}

static CoroStatus late_task(WorkerContext *ctx, void *data)
{
    (void)data;
    if (bp.late_step == 0 && atomic_load(&bp.started) < POOL_THREADS) {
        worker_await_after(ctx, 1); /* until every pool thread is taken */
        return CORO_STATUS_YIELDED;
    }
    if (bp.late_step++ == 0) {
        cr_assert(worker_await_blocking(ctx, late_job, NULL) == 0);
        worker_await_after(ctx, 10);
        return CORO_STATUS_YIELDED;
    }
    bp.late_reason = worker_wake_reason(ctx);
    atomic_store(&bp.release, 1);
    return CORO_STATUS_DONE;
}

IO_TEST(io_ops, blocking_jobs_count_only_jobs_that_ran, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    memset(&bp, 0, sizeof bp);
    static int steps[POOL_THREADS];
    memset(steps, 0, sizeof steps);
    for (int i = 0; i < POOL_THREADS; i++) CHECK_OK(runtime_spawn_global(rt, busy_task, &steps[i]));
    CHECK_OK(runtime_spawn_global(rt, late_task, NULL));
    io_run(rt);
    CHECK_INT(bp.late_reason, VEX_WAKE_TIMER);
    CHECK_INT(atomic_load(&bp.late_ran), 0);
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    CHECK_EQ(st.blocking_jobs, POOL_THREADS);
    runtime_destroy(rt);
    CHECK_INT(atomic_load(&bp.late_ran), 0); /* nor later */
}

/* Which calls change a descriptor's flags (vexrt/io.h): on the readiness
 * backends ACCEPT and CONNECT make their socket non-blocking, and READ and
 * WRITE their pipe, socket or terminal; RECV and SEND change nothing
 * anywhere; io_uring changes nothing at all. */
typedef struct {
    int fd, step;
    uint8_t code;
    VexIoOp op;
    char buf[4];
} FlagOp;

static CoroStatus flag_op_task(WorkerContext *ctx, void *data)
{
    FlagOp *f = data;
    if (f->step++) return CORO_STATUS_DONE;
    op_init(&f->op, f->code, f->fd, f->code == VEX_OP_ACCEPT ? NULL : f->buf,
            f->code == VEX_OP_ACCEPT ? 0 : 1);
    worker_await_op(ctx, &f->op);
    return CORO_STATUS_YIELDED;
}

static bool nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

static void run_flag_op(const IoBackend *b, int fd, uint8_t code)
{
    Runtime *rt = io_runtime(b, 1);
    FlagOp f = {.fd = fd, .code = code};
    CHECK_OK(runtime_spawn_global(rt, flag_op_task, &f));
    io_run(rt);
    cr_assert(f.op.result >= 0, "%s: op %u gave %lld", b->name, code, (long long)f.op.result);
    if (code == VEX_OP_ACCEPT) close((int)f.op.result);
    runtime_destroy(rt);
}

IO_TEST(io_ops, descriptor_flags_are_as_documented, .timeout = 30)
{
    bool readiness = strcmp(b->name, "io_uring") != 0;
    int p[2];
    cr_assert(pipe(p) == 0); /* blocking */
    cr_assert(write(p[1], "x", 1) == 1);
    run_flag_op(b, p[0], VEX_OP_READ);
    CHECK_INT(nonblocking(p[0]), readiness);
    int sv[2];
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0); /* blocking */
    cr_assert(write(sv[1], "y", 1) == 1);
    run_flag_op(b, sv[0], VEX_OP_RECV);
    CHECK_INT(nonblocking(sv[0]), 0);
    run_flag_op(b, sv[0], VEX_OP_SEND);
    CHECK_INT(nonblocking(sv[0]), 0);
    uint16_t port;
    int lfd = io_listen(&port, 4); /* blocking */
    int cfd = io_connect(port);
    run_flag_op(b, lfd, VEX_OP_ACCEPT);
    CHECK_INT(nonblocking(lfd), readiness);
    close(cfd);
    close(lfd);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* A job never started (the task finished in the same resume) and jobs whose
 * tasks were dropped at shutdown are freed: the counting allocator ends at 0. */
static CoroStatus job_dropped(WorkerContext *ctx, void *data)
{
    (void)data;
    worker_await_blocking(ctx, quick_job, data);
    return CORO_STATUS_DONE;
}

IO_TEST(io_ops, blocking_jobs_freed, .timeout = 30)
{
    CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = io_runtime_alloc(b, 2, &ca);
    static Job j;
    memset(&j, 0, sizeof j);
    for (int i = 0; i < 10; i++) CHECK_OK(runtime_spawn_global(rt, job_dropped, &j));
    io_run(rt);
    CHECK_INT(atomic_load(&j.ran), 0);
    runtime_destroy(rt);
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
}

/* --- Signals: a task awaits SIGUSR1 through vex_signal_open. --- */

typedef struct {
    IoHandle h;
    int step, consumed;
    unsigned reason;
} Sig;

static CoroStatus sig_task(WorkerContext *ctx, void *data)
{
    Sig *s = data;
    if (s->step++ == 0) {
        kill(getpid(), SIGUSR1);
        worker_await_ioh(ctx, s->h, EVENT_TYPE_READABLE);
        return CORO_STATUS_YIELDED;
    }
    s->reason = worker_wake_reason(ctx);
    Runtime *rt = NULL;
    (void)rt;
    return CORO_STATUS_DONE;
}

IO_TEST(io_ops, signal_await, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 2);
    Sig s = {0};
    CHECK_OK(vex_signal_open(rt, SIGUSR1, &s.h));
    CHECK_OK(runtime_spawn_global(rt, sig_task, &s));
    io_run(rt);
    CHECK_INT(s.reason, VEX_WAKE_READABLE);
    CHECK_INT(vex_signal_consume(rt, s.h), 1);
    CHECK_INT(vex_signal_consume(rt, s.h), 0);
    CHECK_OK(vex_signal_close(rt, s.h));
    CHECK_INT(vex_signal_open(NULL, SIGUSR1, &s.h), VEX_EINVAL);
    runtime_destroy(rt);
}

