/* test_fault_io - byte streams echoed under injected faults, on every
 * backend: every byte arrives, in order, no task hangs, and the counters
 * add up (bytes sent == bytes echoed == bytes received).
 *
 * Two ways of injecting:
 *   - through the platform layer (support/fault_platform.h): io_try
 *     transfers short, park and poller_wait return early with nothing (as
 *     EINTR makes them), poller_arm / poller_submit fail with VEX_EINTR;
 *   - below it (support/fault_syscalls.h): read, write, recv, send and
 *     accept4 fail with EINTR, close reports EINTR (having closed, as
 *     Linux does), and futex, epoll and io_uring waits are interrupted,
 *     proving the Linux backends retry what the OS interrupts.
 * io_uring runs operations natively (poller_submit), not through io_try or
 * the C library, so there the short transfers and the EINTRs of data calls
 * reach only the test's own readiness-path reads and writes; the waits, the
 * arms and the submissions are faulted on both backends.
 *
 * The workload: six connections, each a client writer, a client reader and
 * an echo server task: two over socketpairs through worker_await_op
 * (RECV/SEND and READ/WRITE), two over TCP on 127.0.0.1 (ACCEPT, CONNECT,
 * RECV/SEND), two over socketpairs through worker_await_ioh and raw
 * read/write. Each client sends STREAM_BYTES in messages of 1 to 3000
 * bytes, then shuts down its write side; the server echoes until EOF. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/fault_platform.h"
#include "support/fault_syscalls.h"
#include "support/io_support.h"
#include "support/watchdog.h"
#include "vexrt/task.h"

TestSuite(fault_io, .timeout = 120);

enum { STREAM_BYTES = 48 * 1024, CHUNK_MAX = 3000, BUF = 4096, NCONN = 6, WORKERS = 2 };
enum { K_OPS_RECV, K_OPS_READ, K_TCP, K_READY };

static unsigned char pattern(int conn, long i)
{
    return (unsigned char)(i * 7 + conn * 13 + (i >> 8));
}

typedef struct Conn Conn;

typedef struct {
    Conn *c;
    int role; /* 0 writer, 1 reader, 2 server */
    int fd;
    VexIoOp op;
    int state;
    long pos;                 /* writer: bytes sent; reader: received; server: echoed */
    size_t have, off;         /* server: bytes in buf, of which sent */
    unsigned char buf[BUF];
    long retries;
} Side;

struct Conn {
    int id, kind;
    int cfd, sfd;             /* client and server ends */
    Side writer, reader, server;
    _Atomic long sent, echoed, received;
    _Atomic int bad;          /* bytes out of order, or an unexpected error */
    _Atomic int done;         /* tasks finished */
};

static struct {
    Runtime *rt;
    Conn conns[NCONN];
    int listen_fd;
    uint16_t port;
    VexIoOp accept_op;
    int accepted;
    _Atomic long transient; /* VEX_EINTR / VEX_WAKE_ERROR results retried */
} g;

static void fail_conn(Conn *c, const char *what, long v)
{
    fprintf(stderr, "conn %d: %s (%ld)\n", c->id, what, v);
    atomic_fetch_add(&c->bad, 1);
}

/* --- Through operations --- */

static uint8_t send_code(Conn *c) { return c->kind == K_OPS_READ ? VEX_OP_WRITE : VEX_OP_SEND; }
static uint8_t recv_code(Conn *c) { return c->kind == K_OPS_READ ? VEX_OP_READ : VEX_OP_RECV; }

static void submit(WorkerContext *ctx, Side *s, uint8_t code, void *buf, size_t len)
{
    memset(&s->op, 0, sizeof s->op);
    s->op.opcode = code;
    s->op.handle = (IoHandle)s->fd;
    s->op.buf = buf;
    s->op.len = len;
    CHECK_OK(worker_await_op(ctx, &s->op));
}

static size_t chunk_at(long pos) { return 1 + (size_t)((pos * 2654435761u) % CHUNK_MAX); }

/* A failed submission (VEX_EINTR from the faulty platform) is retried; any
 * other error fails the connection. Returns true if the op must be redone. */
static bool transient(Side *s)
{
    if (s->op.result != VEX_EINTR) return false;
    s->retries++;
    atomic_fetch_add(&g.transient, 1);
    return true;
}

static CoroStatus ops_side(WorkerContext *ctx, void *data)
{
    Side *s = data;
    Conn *c = s->c;
    if (s->state == 1) { /* the op of the last resume completed */
        if (transient(s)) {
            submit(ctx, s, s->op.opcode, s->op.buf, s->op.len);
            return CORO_STATUS_YIELDED;
        }
        int64_t r = s->op.result;
        if (s->op.opcode == VEX_OP_CLOSE) {
            if (r != 0) fail_conn(c, "close", (long)r);
            atomic_fetch_add(&c->done, 1);
            return CORO_STATUS_DONE;
        }
        if (r < 0) {
            fail_conn(c, vex_errname((int)r), s->role);
            atomic_fetch_add(&c->done, 1);
            return CORO_STATUS_DONE;
        }
        switch (s->role) {
        case 0: /* writer */
            for (int64_t i = 0; i < r; i++)
                if (s->buf[i] != pattern(c->id, s->pos + i)) fail_conn(c, "writer buffer", (long)i);
            s->pos += r;
            atomic_fetch_add(&c->sent, r);
            break;
        case 1: /* reader */
            if (r == 0) { /* EOF: everything echoed came back */
                submit(ctx, s, VEX_OP_CLOSE, NULL, 0);
                return CORO_STATUS_YIELDED;
            }
            for (int64_t i = 0; i < r; i++)
                if (s->buf[i] != pattern(c->id, s->pos + i)) {
                    fail_conn(c, "byte out of order at", (long)(s->pos + i));
                    break;
                }
            s->pos += r;
            atomic_fetch_add(&c->received, r);
            break;
        default: /* server: a receive or a send completed */
            if (s->op.opcode == recv_code(c)) {
                if (r == 0) {
                    submit(ctx, s, VEX_OP_CLOSE, NULL, 0);
                    return CORO_STATUS_YIELDED;
                }
                s->have = (size_t)r;
                s->off = 0;
            } else {
                s->off += (size_t)r;
                atomic_fetch_add(&c->echoed, r);
            }
            break;
        }
    }
    s->state = 1;
    switch (s->role) {
    case 0: {
        if (s->pos == STREAM_BYTES) {
            shutdown(s->fd, SHUT_WR); /* the server sees EOF once it has everything */
            atomic_fetch_add(&c->done, 1);
            return CORO_STATUS_DONE;
        }
        size_t n = chunk_at(s->pos);
        if (n > (size_t)(STREAM_BYTES - s->pos)) n = (size_t)(STREAM_BYTES - s->pos);
        for (size_t i = 0; i < n; i++) s->buf[i] = pattern(c->id, s->pos + (long)i);
        submit(ctx, s, send_code(c), s->buf, n);
        return CORO_STATUS_YIELDED;
    }
    case 1:
        submit(ctx, s, recv_code(c), s->buf, sizeof s->buf);
        return CORO_STATUS_YIELDED;
    default:
        if (s->off < s->have)
            submit(ctx, s, send_code(c), s->buf + s->off, s->have - s->off);
        else
            submit(ctx, s, recv_code(c), s->buf, sizeof s->buf);
        return CORO_STATUS_YIELDED;
    }
}

/* --- Through readiness: raw calls, worker_await_ioh when they would block --- */

static void ready_close(Side *s)
{
    CHECK_OK(vex_io_forget(g.rt, (IoHandle)s->fd));
    fault_sys_close(s->fd);
}

static CoroStatus ready_side(WorkerContext *ctx, void *data)
{
    Side *s = data;
    Conn *c = s->c;
    if (worker_wake_reason(ctx) == VEX_WAKE_ERROR) /* the arm failed: try the call again */
        atomic_fetch_add(&g.transient, 1);
    for (;;) {
        bool writing;
        ssize_t k;
        if (s->role == 0) {
            if (s->pos == STREAM_BYTES) {
                shutdown(s->fd, SHUT_WR);
                atomic_fetch_add(&c->done, 1);
                return CORO_STATUS_DONE;
            }
            if (s->have == 0) { /* the next message */
                size_t n = chunk_at(s->pos);
                if (n > (size_t)(STREAM_BYTES - s->pos)) n = (size_t)(STREAM_BYTES - s->pos);
                for (size_t i = 0; i < n; i++) s->buf[i] = pattern(c->id, s->pos + (long)i);
                s->have = n;
                s->off = 0;
            }
            writing = true;
            k = fault_sys_write(s->fd, s->buf + s->off, s->have - s->off);
        } else if (s->role == 2 && s->off < s->have) {
            writing = true;
            k = fault_sys_write(s->fd, s->buf + s->off, s->have - s->off);
        } else {
            writing = false;
            k = fault_sys_read(s->fd, s->buf, sizeof s->buf);
        }
        if (k < 0 && errno == EINTR) continue; /* interrupted: again at once */
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            CHECK_OK(worker_await_ioh(ctx, (IoHandle)s->fd,
                                      writing ? EVENT_TYPE_WRITABLE : EVENT_TYPE_READABLE));
            return CORO_STATUS_YIELDED;
        }
        if (k < 0) {
            fail_conn(c, strerror(errno), s->role);
            atomic_fetch_add(&c->done, 1);
            return CORO_STATUS_DONE;
        }
        if (writing) {
            s->off += (size_t)k;
            if (s->role == 0) {
                s->pos += k;
                atomic_fetch_add(&c->sent, k);
                if (s->off == s->have) s->have = 0;
            } else {
                atomic_fetch_add(&c->echoed, k);
            }
            continue;
        }
        if (k == 0) { /* EOF */
            ready_close(s);
            atomic_fetch_add(&c->done, 1);
            return CORO_STATUS_DONE;
        }
        if (s->role == 1) {
            for (ssize_t i = 0; i < k; i++)
                if (s->buf[i] != pattern(c->id, s->pos + i)) {
                    fail_conn(c, "byte out of order at", (long)(s->pos + i));
                    break;
                }
            s->pos += k;
            atomic_fetch_add(&c->received, k);
        } else {
            s->have = (size_t)k;
            s->off = 0;
        }
    }
}

/* --- TCP: accepting and connecting --- */

static void start_side(WorkerContext *ctx, Side *s, coro_resume_func fn)
{
    int rc;
    do rc = ctx ? worker_spawn_local(ctx, fn, s) : runtime_spawn_global(g.rt, fn, s);
    while (rc == VEX_ENOMEM);
    CHECK_OK(rc);
}

static CoroStatus acceptor(WorkerContext *ctx, void *data)
{
    (void)data;
    if (g.accepted > 0 || g.accept_op.opcode) {
        int64_t r = g.accept_op.result;
        if (r == VEX_EINTR) {
            atomic_fetch_add(&g.transient, 1);
        } else {
            cr_assert(r >= 0, "accept: %s", vex_errname((int)r));
            /* Connections are accepted in any order: find the one whose
             * client port matches. */
            struct sockaddr_in peer, mine;
            socklen_t pl = sizeof peer, ml = sizeof mine;
            cr_assert(getpeername((int)r, (struct sockaddr *)&peer, &pl) == 0);
            Conn *c = NULL;
            for (int i = 0; i < NCONN && !c; i++) {
                Conn *x = &g.conns[i];
                if (x->kind != K_TCP || x->cfd < 0) continue;
                if (getsockname(x->cfd, (struct sockaddr *)&mine, &ml) == 0 &&
                    mine.sin_port == peer.sin_port)
                    c = x;
                ml = sizeof mine;
            }
            cr_assert_not_null(c, "accepted a connection nobody made");
            c->sfd = (int)r;
            fault_sys_watch(c->sfd);
            c->server.fd = c->sfd;
            start_side(ctx, &c->server, ops_side);
            if (++g.accepted == 2) return CORO_STATUS_DONE;
        }
    }
    memset(&g.accept_op, 0, sizeof g.accept_op);
    g.accept_op.opcode = VEX_OP_ACCEPT;
    g.accept_op.handle = (IoHandle)g.listen_fd;
    CHECK_OK(worker_await_op(ctx, &g.accept_op));
    return CORO_STATUS_YIELDED;
}

typedef struct {
    Conn *c;
    VexIoOp op;
    struct sockaddr_in addr;
    bool started;
} Connector;

static Connector connectors[NCONN];

static CoroStatus connector(WorkerContext *ctx, void *data)
{
    Connector *k = data;
    if (k->started) {
        if (k->op.result == VEX_EINTR) {
            atomic_fetch_add(&g.transient, 1);
        } else {
            cr_assert(k->op.result == 0, "connect: %s", vex_errname((int)k->op.result));
            start_side(ctx, &k->c->writer, ops_side);
            start_side(ctx, &k->c->reader, ops_side);
            atomic_fetch_add(&k->c->done, 1);
            return CORO_STATUS_DONE;
        }
    }
    k->started = true;
    io_addr(g.port, &k->addr);
    memset(&k->op, 0, sizeof k->op);
    k->op.opcode = VEX_OP_CONNECT;
    k->op.handle = (IoHandle)k->c->cfd;
    k->op.buf = &k->addr;
    k->op.len = sizeof k->addr;
    CHECK_OK(worker_await_op(ctx, &k->op));
    return CORO_STATUS_YIELDED;
}

/* --- The workload --- */

static void side_init(Side *s, Conn *c, int role, int fd)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->role = role;
    s->fd = fd;
}

static void run_workload(Runtime *rt)
{
    memset(&g, 0, sizeof g);
    g.rt = rt;
    g.listen_fd = io_listen(&g.port, 16);
    io_set_nonblocking(g.listen_fd);
    fault_sys_watch(g.listen_fd);
    static const int kinds[NCONN] = {K_OPS_RECV, K_OPS_READ, K_TCP, K_TCP, K_READY, K_READY};
    for (int i = 0; i < NCONN; i++) {
        Conn *c = &g.conns[i];
        c->id = i;
        c->kind = kinds[i];
        if (c->kind == K_TCP) {
            c->cfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            cr_assert(c->cfd >= 0);
            c->sfd = -1;
        } else {
            int sv[2];
            io_socketpair(sv);
            if (c->kind == K_READY) { /* small buffers: writes block, awaits are many */
                io_small_buffers(sv[0]);
                io_small_buffers(sv[1]);
            }
            c->cfd = sv[0];
            c->sfd = sv[1];
            fault_sys_watch(c->sfd);
        }
        fault_sys_watch(c->cfd);
        coro_resume_func fn = c->kind == K_READY ? ready_side : ops_side;
        side_init(&c->writer, c, 0, c->cfd);
        side_init(&c->reader, c, 1, c->cfd);
        side_init(&c->server, c, 2, c->sfd);
        if (c->kind == K_TCP) {
            connectors[i] = (Connector){.c = c};
            CHECK_OK(runtime_spawn_global(rt, connector, &connectors[i]));
        } else {
            start_side(NULL, &c->server, fn);
            start_side(NULL, &c->writer, fn);
            start_side(NULL, &c->reader, fn);
        }
    }
    CHECK_OK(runtime_spawn_global(rt, acceptor, NULL));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    int rc;
    bool hung = test_run_watched(rt, 60, &rc);
    long sent = 0, echoed = 0, received = 0;
    for (int i = 0; i < NCONN; i++) {
        Conn *c = &g.conns[i];
        if (hung || atomic_load(&c->received) != STREAM_BYTES)
            fprintf(stderr, "conn %d (kind %d): sent %ld echoed %ld received %ld done %d\n", i,
                    c->kind, atomic_load(&c->sent), atomic_load(&c->echoed),
                    atomic_load(&c->received), atomic_load(&c->done));
        sent += atomic_load(&c->sent);
        echoed += atomic_load(&c->echoed);
        received += atomic_load(&c->received);
    }
    cr_assert(!hung, "the echo hung: %ld sent, %ld echoed, %ld received", sent, echoed, received);
    CHECK_OK(rc);
    for (int i = 0; i < NCONN; i++) {
        Conn *c = &g.conns[i];
        CHECK_INT(atomic_load(&c->bad), 0);
        CHECK_INT(atomic_load(&c->sent), STREAM_BYTES);
        CHECK_INT(atomic_load(&c->echoed), STREAM_BYTES);
        CHECK_INT(atomic_load(&c->received), STREAM_BYTES);
        CHECK_INT(atomic_load(&c->done), c->kind == K_TCP ? 4 : 3);
    }
    CHECK_INT(g.accepted, 2);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.live_tasks, 0);
    /* Ops and readiness ends were closed by their tasks; the listener is ours. */
    fault_sys_close(g.listen_fd);
}

/* Through the platform layer. */
IO_TEST(fault_io, echo_under_platform_faults, .timeout = 120)
{
    FaultPlatform fp;
    cr_assert(fault_platform_init(&fp, b->name, 0x5eed));
    fp.short_io_1_in = 3;
    fp.spurious_park_1_in = 4;
    fp.spurious_wait_1_in = 4;
    fp.fail_arm_1_in = 8;
    CountingAlloc ca;
    counting_alloc_init(&ca);
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = WORKERS;
    cfg.platform = &fp.vt;
    cfg.allocator = &ca.vt;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    cr_assert_str_eq(runtime_io_backend(rt), b->name);
    run_workload(rt);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    bool native = (fp.vt.poller_caps & VEX_POLLER_NATIVE_OPS) != 0;
    fprintf(stderr,
            "fault_io %s (platform): %lld of %lld io_try short, %lld of %lld parks and "
            "%lld of %lld waits spurious, %lld of %lld arms and %lld of %lld submits failed, "
            "%ld retried\n",
            b->name, (long long)fp.short_ios, (long long)fp.io_tries, (long long)fp.spurious_parks,
            (long long)fp.parks, (long long)fp.spurious_waits, (long long)fp.waits,
            (long long)fp.failed_arms, (long long)fp.arms, (long long)fp.failed_submits,
            (long long)fp.submits, atomic_load(&g.transient));
    /* The faults were really injected (a test that injects nothing proves nothing). */
    if (!native) CHECK_GE(atomic_load(&fp.short_ios), 1);
    if (native) CHECK_GE(atomic_load(&fp.failed_submits), 1);
    CHECK_GE(atomic_load(&fp.failed_arms), 1);
    CHECK_GE(atomic_load(&fp.spurious_waits), 1);
}

/* Below the platform layer. */
IO_TEST(fault_io, echo_with_eintr_below_the_platform, .timeout = 120)
{
    Runtime *rt = io_runtime(b, WORKERS);
    FaultSyscalls fs = {.eintr_1_in = 4, .wait_eintr_1_in = 4, .short_1_in = 3, .seed = 0xe1e1};
    fault_sys_enable(&fs);
    run_workload(rt);
    fault_sys_disable();
    fault_sys_unwatch_all();
    CHECK_OK(runtime_destroy(rt));
    fprintf(stderr,
            "fault_io %s (syscalls): %lld of %lld data calls EINTR (%lld accepts, %lld closes), "
            "%lld of %lld waits EINTR, %lld short raw transfers\n",
            b->name, (long long)fault_sys_data_eintrs, (long long)fault_sys_data_calls,
            (long long)fault_sys_accept_eintrs, (long long)fault_sys_close_eintrs,
            (long long)fault_sys_wait_eintrs,
            (long long)fault_sys_wait_calls, (long long)fault_sys_shorts);
    CHECK_GE(atomic_load(&fault_sys_data_eintrs), 1);
    CHECK_GE(atomic_load(&fault_sys_wait_eintrs), 1);
    CHECK_GE(atomic_load(&fault_sys_shorts), 1);
    if (strcmp(b->name, "epoll") == 0) { /* io_uring accepts and closes natively */
        CHECK_GE(atomic_load(&fault_sys_accept_eintrs), 1);
        CHECK_GE(atomic_load(&fault_sys_close_eintrs), 1);
    }
}
