/* tests/win32/test_win32_io.c - the runtime's I/O on the IOCP backend, with
 * Winsock handles: completion operations (worker_await_op) and readiness
 * awaits (worker_await_ioh), timeouts and cancellation of both, EOF and
 * reset, bad handles, files on both of the backend's paths (overlapped, and
 * the thread pool for synchronous handles), close, signals, many
 * connections, and memory coming back. The Linux I/O tests (tests/io/) are
 * written against file descriptors, pipes and AF_UNIX pairs; these are
 * their Windows counterparts. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>

#include <signal.h>
#include <string.h>

#include "support/support.h"
#include "vexrt/cancel.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

TestSuite(io_win, .timeout = 60);

/* --- Helpers --- */

static void wsa(void)
{
    WSADATA wd;
    cr_assert(WSAStartup(MAKEWORD(2, 2), &wd) == 0, "WSAStartup");
}

static Runtime *iocp_runtime(int workers, CountingAlloc *ca)
{
    wsa();
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    cfg.io_backend = "iocp";
    if (ca) cfg.allocator = &ca->vt;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    cr_assert_str_eq(runtime_io_backend(rt), "iocp");
    return rt;
}

static void run_all(Runtime *rt)
{
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.live_tasks, 0);
}

static void loopback(uint16_t port, struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static SOCKET listener(uint16_t *port)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    cr_assert(l != INVALID_SOCKET, "socket");
    struct sockaddr_in a;
    loopback(0, &a);
    int len = sizeof a;
    cr_assert(bind(l, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    cr_assert(listen(l, SOMAXCONN) == 0, "listen");
    cr_assert(getsockname(l, (struct sockaddr *)&a, &len) == 0, "getsockname");
    *port = ntohs(a.sin_port);
    return l;
}

/* A connected loopback TCP pair (blocking mode, as socket() makes them). */
static void tcp_pair(SOCKET s[2])
{
    uint16_t port;
    SOCKET l = listener(&port);
    struct sockaddr_in a;
    loopback(port, &a);
    s[0] = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    cr_assert(s[0] != INVALID_SOCKET, "socket");
    cr_assert(connect(s[0], (struct sockaddr *)&a, sizeof a) == 0, "connect");
    s[1] = accept(l, NULL, NULL);
    cr_assert(s[1] != INVALID_SOCKET, "accept");
    closesocket(l);
    int one = 1;
    setsockopt(s[0], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    setsockopt(s[1], IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
}

static void reset(SOCKET s)
{
    struct linger lg = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
    closesocket(s);
}

static void op_init(VexIoOp *op, uint8_t code, IoHandle h, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = h;
    op->buf = buf;
    op->len = len;
}

/* --- Echo over completion operations, several pairs on two workers ---
 * Each handle's packets go to the port of the worker that first used it;
 * tasks move between workers, so completions are forwarded between ports. */

enum { ECHO_PAIRS = 8, ECHO_ROUNDS = 300, ECHO_SIZE = 100 };

typedef struct {
    IoHandle h;
    bool client;
    int round, state, err;
    unsigned char buf[ECHO_SIZE];
    VexIoOp op;
} Echo;

static CoroStatus echo_task(WorkerContext *ctx, void *data)
{
    Echo *e = data;
    if (e->state) {
        if (worker_wake_reason(ctx) != VEX_WAKE_COMPLETED || e->op.result != ECHO_SIZE) {
            e->err = e->op.result < 0 ? (int)e->op.result : 1;
            return CORO_STATUS_DONE;
        }
        if (e->state == 2)
            for (int i = 0; i < ECHO_SIZE; i++)
                if (e->buf[i] != (unsigned char)(e->round * 7 + i)) e->err = 2;
        int sent = e->state == 1;
        if (sent == e->client) { /* client sent: receive; server received: send back */
            op_init(&e->op, sent ? VEX_OP_RECV : VEX_OP_SEND, e->h, e->buf, ECHO_SIZE);
            e->op.flags = sent ? VEX_MSG_WAITALL : 0;
            e->state = sent ? 2 : 1;
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        }
        if (++e->round == ECHO_ROUNDS || e->err) return CORO_STATUS_DONE;
        if (e->round % 50 == 0) { /* now and then, resume on whichever worker takes it */
            e->state = 0;
            return CORO_STATUS_YIELDED;
        }
    }
    if (e->client) {
        for (int i = 0; i < ECHO_SIZE; i++) e->buf[i] = (unsigned char)(e->round * 7 + i);
        op_init(&e->op, VEX_OP_SEND, e->h, e->buf, ECHO_SIZE);
        e->state = 1;
    } else {
        op_init(&e->op, VEX_OP_RECV, e->h, e->buf, ECHO_SIZE);
        e->op.flags = VEX_MSG_WAITALL;
        e->state = 2;
    }
    worker_await_op(ctx, &e->op);
    return CORO_STATUS_YIELDED;
}

Test(io_win, echo_over_ops_on_two_workers)
{
    Runtime *rt = iocp_runtime(2, NULL);
    static Echo e[2 * ECHO_PAIRS];
    SOCKET s[2 * ECHO_PAIRS];
    memset(e, 0, sizeof e);
    for (int i = 0; i < ECHO_PAIRS; i++) {
        tcp_pair(&s[2 * i]);
        e[2 * i] = (Echo){.h = (IoHandle)s[2 * i], .client = true};
        e[2 * i + 1] = (Echo){.h = (IoHandle)s[2 * i + 1], .client = false};
    }
    for (int i = 0; i < 2 * ECHO_PAIRS; i++) CHECK_OK(runtime_spawn_global(rt, echo_task, &e[i]));
    run_all(rt);
    for (int i = 0; i < 2 * ECHO_PAIRS; i++) {
        CHECK_INT(e[i].err, 0);
        CHECK_INT(e[i].round, ECHO_ROUNDS);
    }
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_GE(st.io_completed, (uint64_t)ECHO_PAIRS * ECHO_ROUNDS * 4);
    CHECK_OK(runtime_destroy(rt));
    for (int i = 0; i < 2 * ECHO_PAIRS; i++) closesocket(s[i]);
}

/* --- Accept and connect as operations, and the accepted socket --- */

typedef struct {
    IoHandle l, c;
    struct sockaddr_in to;
    unsigned char peer[128];
    VexIoOp op, cop;
    int step, cstep;
    int64_t accepted, connected;
    size_t peer_len;
    int peer_family;
    char got[8];
} AcceptT;

static CoroStatus acceptor(WorkerContext *ctx, void *data)
{
    AcceptT *a = data;
    if (a->step++ == 0) {
        op_init(&a->op, VEX_OP_ACCEPT, a->l, a->peer, sizeof a->peer);
        worker_await_op(ctx, &a->op);
        return CORO_STATUS_YIELDED;
    }
    if (a->step == 2) {
        a->accepted = a->op.result;
        a->peer_len = a->op.len;
        a->peer_family = ((struct sockaddr *)a->peer)->sa_family;
        if (a->accepted < 0) return CORO_STATUS_DONE;
        op_init(&a->op, VEX_OP_RECV, (IoHandle)a->accepted, a->got, 5);
        a->op.flags = VEX_MSG_WAITALL;
        worker_await_op(ctx, &a->op);
        return CORO_STATUS_YIELDED;
    }
    return CORO_STATUS_DONE;
}

static CoroStatus connector(WorkerContext *ctx, void *data)
{
    AcceptT *a = data;
    if (a->cstep++ == 0) {
        op_init(&a->cop, VEX_OP_CONNECT, a->c, &a->to, sizeof a->to);
        worker_await_op(ctx, &a->cop);
        return CORO_STATUS_YIELDED;
    }
    if (a->cstep == 2) {
        a->connected = a->cop.result;
        if (a->cop.result != 0) return CORO_STATUS_DONE;
        op_init(&a->cop, VEX_OP_SEND, a->c, "hello", 5);
        worker_await_op(ctx, &a->cop);
        return CORO_STATUS_YIELDED;
    }
    return CORO_STATUS_DONE;
}

Test(io_win, accept_and_connect_ops)
{
    Runtime *rt = iocp_runtime(2, NULL);
    static AcceptT a;
    memset(&a, 0, sizeof a);
    uint16_t port;
    SOCKET l = listener(&port);
    SOCKET c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP); /* not bound: CONNECT binds it */
    cr_assert(c != INVALID_SOCKET);
    a.l = (IoHandle)l;
    a.c = (IoHandle)c;
    a.accepted = a.connected = -999;
    loopback(port, &a.to);
    CHECK_OK(runtime_spawn_global(rt, acceptor, &a));
    CHECK_OK(runtime_spawn_global(rt, connector, &a));
    run_all(rt);
    CHECK_INT(a.connected, 0);
    cr_assert(a.accepted >= 0, "ACCEPT: %lld", (long long)a.accepted);
    CHECK_EQ(a.peer_len, sizeof(struct sockaddr_in));
    CHECK_INT(a.peer_family, AF_INET);
    CHECK_INT(a.op.result, 5);
    cr_assert(memcmp(a.got, "hello", 5) == 0);
    /* The accepted socket is usable directly, and non-blocking (like
     * accept4(SOCK_NONBLOCK) on Linux). */
    SOCKET as = (SOCKET)a.accepted;
    struct sockaddr_in pa;
    int plen = sizeof pa;
    CHECK_INT(getpeername(as, (struct sockaddr *)&pa, &plen), 0);
    char b;
    CHECK_INT(recv(as, &b, 1, 0), SOCKET_ERROR);
    CHECK_INT(WSAGetLastError(), WSAEWOULDBLOCK);
    CHECK_OK(runtime_destroy(rt));
    closesocket(as);
    closesocket(c);
    closesocket(l);
}

/* --- Readiness awaits, with timers as timeouts --- */

typedef struct {
    IoHandle h;
    EventType type;
    uint64_t after_ms;
    int step;
    unsigned reason;
} Waiter;

static CoroStatus await_task(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    if (w->step++ == 0) {
        CHECK_OK(worker_await_ioh(ctx, w->h, w->type));
        if (w->after_ms) CHECK_OK(worker_await_after(ctx, w->after_ms));
        return CORO_STATUS_YIELDED;
    }
    w->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus write_later(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    if (w->step++ == 0) {
        worker_await_after(ctx, 30);
        return CORO_STATUS_YIELDED;
    }
    send((SOCKET)w->h, "!", 1, 0);
    return CORO_STATUS_DONE;
}

Test(io_win, await_readable_writable_and_timeout)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET a[2], b[2];
    tcp_pair(a);
    tcp_pair(b);
    Waiter readable = {(IoHandle)a[0], EVENT_TYPE_READABLE, 10000, 0, 0};
    Waiter writer = {(IoHandle)a[1], EVENT_TYPE_NONE, 0, 0, 0};
    Waiter silent = {(IoHandle)b[0], EVENT_TYPE_READABLE, 40, 0, 0};
    Waiter writable = {(IoHandle)b[1], EVENT_TYPE_WRITABLE, 10000, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, await_task, &readable));
    CHECK_OK(runtime_spawn_global(rt, write_later, &writer));
    CHECK_OK(runtime_spawn_global(rt, await_task, &silent));
    CHECK_OK(runtime_spawn_global(rt, await_task, &writable));
    run_all(rt);
    CHECK_INT(readable.reason, VEX_WAKE_READABLE);
    CHECK_INT(silent.reason, VEX_WAKE_TIMER);
    CHECK_INT(writable.reason, VEX_WAKE_WRITABLE);
    /* The one-shot await left the byte unread. */
    char c = 0;
    CHECK_INT(recv(a[0], &c, 1, 0), 1);
    CHECK_INT(c, '!');
    CHECK_OK(runtime_destroy(rt));
    for (int i = 0; i < 2; i++) {
        closesocket(a[i]);
        closesocket(b[i]);
    }
}

/* The same handle awaited again and again (a poll per await; a timed-out
 * poll is cancelled), then readable data wakes the last await. */
typedef struct {
    IoHandle h, peer;
    int rounds, timeouts;
    unsigned last;
} Repeat;

static CoroStatus repeat_task(WorkerContext *ctx, void *data)
{
    Repeat *r = data;
    if (r->rounds > 0) {
        unsigned why = worker_wake_reason(ctx);
        if (why == VEX_WAKE_TIMER) r->timeouts++;
        r->last = why;
        if (why == VEX_WAKE_READABLE) return CORO_STATUS_DONE;
    }
    if (++r->rounds == 20) send((SOCKET)r->peer, "x", 1, 0);
    worker_await_ioh(ctx, r->h, EVENT_TYPE_READABLE);
    worker_await_after(ctx, r->rounds < 20 ? 2 : 10000);
    return CORO_STATUS_YIELDED;
}

Test(io_win, repeated_awaits_with_timeouts)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET s[2];
    tcp_pair(s);
    Repeat r = {(IoHandle)s[0], (IoHandle)s[1], 0, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, repeat_task, &r));
    run_all(rt);
    CHECK_INT(r.timeouts, 19);
    CHECK_INT(r.last, VEX_WAKE_READABLE);
    CHECK_OK(runtime_destroy(rt));
    closesocket(s[0]);
    closesocket(s[1]);
}

/* --- End of stream and reset --- */

typedef struct {
    IoHandle h;
    int step;
    char buf[16];
    VexIoOp op;
    int64_t res;
    unsigned reason;
} OneOp;

static CoroStatus recv_once(WorkerContext *ctx, void *data)
{
    OneOp *o = data;
    if (o->step++ == 0) {
        op_init(&o->op, VEX_OP_RECV, o->h, o->buf, sizeof o->buf);
        worker_await_op(ctx, &o->op);
        return CORO_STATUS_YIELDED;
    }
    o->reason = worker_wake_reason(ctx);
    o->res = o->op.result;
    return CORO_STATUS_DONE;
}

Test(io_win, eof_and_reset_as_op_results)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET a[2], b[2];
    tcp_pair(a);
    tcp_pair(b);
    shutdown(a[1], SD_SEND);  /* an orderly end: RECV gives 0 */
    reset(b[1]);              /* an abortive one: VEX_ECONNRESET */
    OneOp eof = {(IoHandle)a[0], 0, {0}, {0}, 99, 0};
    OneOp rst = {(IoHandle)b[0], 0, {0}, {0}, 99, 0};
    CHECK_OK(runtime_spawn_global(rt, recv_once, &eof));
    CHECK_OK(runtime_spawn_global(rt, recv_once, &rst));
    run_all(rt);
    CHECK_INT(eof.reason, VEX_WAKE_COMPLETED);
    CHECK_INT(eof.res, 0);
    CHECK_INT(rst.reason, VEX_WAKE_COMPLETED);
    CHECK_INT(rst.res, VEX_ECONNRESET);
    CHECK_OK(runtime_destroy(rt));
    closesocket(a[0]);
    closesocket(a[1]);
    closesocket(b[0]);
}

Test(io_win, hangup_wakes_a_readiness_await)
{
    Runtime *rt = iocp_runtime(1, NULL);
    SOCKET s[2];
    tcp_pair(s);
    closesocket(s[1]);
    Waiter w = {(IoHandle)s[0], EVENT_TYPE_READABLE, 10000, 0, 0};
    CHECK_OK(runtime_spawn_global(rt, await_task, &w));
    run_all(rt);
    cr_assert(w.reason == VEX_WAKE_HANGUP || w.reason == VEX_WAKE_READABLE, "woke with %u", w.reason);
    CHECK_OK(runtime_destroy(rt));
    closesocket(s[0]);
}

/* --- Timeouts and cancellation of a parked operation --- */

typedef struct {
    IoHandle h, peer;
    int step;
    char buf[16];
    VexIoOp op;
    _Atomic(CancelToken *) tok;
    unsigned r_timeout, r_cancel, r_data;
    int64_t res_timeout, res_cancel, res_data;
} OpTmo;

static CoroStatus op_timeout_task(WorkerContext *ctx, void *data)
{
    OpTmo *t = data;
    switch (t->step++) {
    case 0: /* a RECV that cannot complete, with a 30 ms timeout */
        op_init(&t->op, VEX_OP_RECV, t->h, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        worker_await_after(ctx, 30);
        return CORO_STATUS_YIELDED;
    case 1: /* the same, cancelled through the task's token */
        t->r_timeout = worker_wake_reason(ctx);
        t->res_timeout = t->op.result;
        op_init(&t->op, VEX_OP_RECV, t->h, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        atomic_store(&t->tok, worker_cancel_token(ctx));
        return CORO_STATUS_YIELDED;
    case 2: /* the data sent now was left for us: nothing was taken */
        t->r_cancel = worker_wake_reason(ctx);
        t->res_cancel = t->op.result;
        send((SOCKET)t->peer, "after", 5, 0);
        op_init(&t->op, VEX_OP_RECV, t->h, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
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
    if (!tok) {
        worker_await_after(ctx, 2);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(tok);
    return CORO_STATUS_DONE;
}

Test(io_win, timeout_and_cancel_of_parked_op)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET s[2];
    tcp_pair(s);
    static OpTmo t;
    memset(&t, 0, sizeof t);
    t.h = (IoHandle)s[0];
    t.peer = (IoHandle)s[1];
    CHECK_OK(runtime_spawn_global(rt, op_timeout_task, &t));
    CHECK_OK(runtime_spawn_global(rt, op_canceller, &t));
    run_all(rt);
    CHECK_INT(t.r_timeout, VEX_WAKE_TIMER);
    CHECK_INT(t.res_timeout, VEX_ECANCELED);
    CHECK_INT(t.r_cancel, VEX_WAKE_CANCELLED);
    CHECK_INT(t.res_cancel, VEX_ECANCELED);
    CHECK_INT(t.r_data, VEX_WAKE_COMPLETED);
    CHECK_INT(t.res_data, 5);
    cr_assert(memcmp(t.buf, "after", 5) == 0);
    CHECK_OK(runtime_destroy(rt));
    closesocket(s[0]);
    closesocket(s[1]);
}

/* A task parked on a readiness await is cancelled from another thread. */
typedef struct {
    IoHandle h;
    _Atomic int parked;
    unsigned reason;
    int step;
} ParkedIo;

static CoroStatus cancel_io_task(WorkerContext *ctx, void *data)
{
    ParkedIo *c = data;
    if (c->step++ == 0) {
        worker_await_ioh(ctx, c->h, EVENT_TYPE_READABLE);
        atomic_store(&c->parked, 1);
        return CORO_STATUS_YIELDED;
    }
    c->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

Test(io_win, cancel_wakes_a_task_parked_on_io)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET s[2];
    tcp_pair(s);
    CancelToken *tok = cancel_token_create(rt, NULL);
    cr_assert_not_null(tok);
    ParkedIo c = {(IoHandle)s[0], 0, 0, 0};
    CHECK_OK(runtime_spawn_with_token(rt, cancel_io_task, &c, tok));
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    pthread_t th = test_run_async(rt);
    while (!atomic_load(&c.parked)) Sleep(1);
    test_sleep_ms(20); /* let it really park (the test passes either way) */
    CHECK_OK(cancel_request(tok));
    test_join(th);
    CHECK_INT(c.reason, VEX_WAKE_CANCELLED);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(cancel_token_destroy(tok));
    closesocket(s[0]);
    closesocket(s[1]);
}

/* --- Bad handles --- */

typedef struct {
    IoHandle bad;
    int step;
    unsigned io_reason;
    VexIoOp op;
    int64_t op_res;
    char buf[8];
} BadT;

static CoroStatus bad_task(WorkerContext *ctx, void *data)
{
    BadT *b = data;
    switch (b->step++) {
    case 0:
        CHECK_OK(worker_await_ioh(ctx, b->bad, EVENT_TYPE_READABLE));
        return CORO_STATUS_YIELDED;
    case 1:
        b->io_reason = worker_wake_reason(ctx);
        op_init(&b->op, VEX_OP_RECV, b->bad, b->buf, sizeof b->buf);
        worker_await_op(ctx, &b->op);
        return CORO_STATUS_YIELDED;
    default: b->op_res = b->op.result; return CORO_STATUS_DONE;
    }
}

Test(io_win, bad_handles_resume_promptly_with_errors)
{
    Runtime *rt = iocp_runtime(1, NULL);
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    closesocket(s); /* a handle value that was a socket and is closed now */
    BadT b = {(IoHandle)s, 0, 0, {0}, 0, {0}};
    CHECK_OK(runtime_spawn_global(rt, bad_task, &b));
    run_all(rt);
    CHECK_INT(b.io_reason, VEX_WAKE_ERROR);
    CHECK_INT(b.op_res, VEX_EBADF);
    CHECK_OK(runtime_destroy(rt));
}

/* --- Files: overlapped (native) and synchronous (thread pool) handles --- */

typedef struct {
    IoHandle h;
    int step;
    VexIoOp op;
    char a[3000], back[4000];
    int64_t res[6];
} FileT;

static CoroStatus file_task(WorkerContext *ctx, void *data)
{
    FileT *f = data;
    if (f->step > 0) f->res[f->step - 1] = f->op.result;
    switch (f->step++) {
    case 0:
        memset(f->a, 'a', sizeof f->a);
        op_init(&f->op, VEX_OP_PWRITE, f->h, f->a, sizeof f->a);
        f->op.offset = 1000;
        break;
    case 1: op_init(&f->op, VEX_OP_FSYNC, f->h, NULL, 0); break;
    case 2:
        op_init(&f->op, VEX_OP_PREAD, f->h, f->back, sizeof f->back);
        f->op.offset = 0;
        break;
    case 3:
        op_init(&f->op, VEX_OP_PREAD, f->h, f->back, 10);
        f->op.offset = 1u << 20; /* past the end */
        break;
    case 4: op_init(&f->op, VEX_OP_CLOSE, f->h, NULL, 0); break;
    default: return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &f->op);
    return CORO_STATUS_YIELDED;
}

static void file_ops_on(DWORD flags)
{
    Runtime *rt = iocp_runtime(2, NULL);
    char dir[MAX_PATH], path[MAX_PATH];
    cr_assert(GetTempPathA(sizeof dir, dir) > 0 && GetTempFileNameA(dir, "vxt", 0, path));
    HANDLE h = CreateFileA(path, GENERIC_READ | GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
                           FILE_FLAG_DELETE_ON_CLOSE | flags, NULL);
    cr_assert(h != INVALID_HANDLE_VALUE, "CreateFile: %lu", GetLastError());
    static FileT f;
    memset(&f, 0, sizeof f);
    f.h = (IoHandle)h;
    CHECK_OK(runtime_spawn_global(rt, file_task, &f));
    run_all(rt);
    CHECK_INT(f.res[0], 3000);
    CHECK_INT(f.res[1], 0);
    CHECK_INT(f.res[2], 4000);
    for (int i = 0; i < 1000; i++) cr_assert(f.back[i] == 0);
    for (int i = 1000; i < 4000; i++) cr_assert(f.back[i] == 'a');
    CHECK_INT(f.res[3], 0);
    CHECK_INT(f.res[4], 0); /* closed, and so deleted */
    CHECK_INT(GetFileAttributesA(path), INVALID_FILE_ATTRIBUTES);
    CHECK_OK(runtime_destroy(rt));
}

Test(io_win, file_ops_overlapped_handle) { file_ops_on(FILE_FLAG_OVERLAPPED); }

Test(io_win, file_ops_synchronous_handle) { file_ops_on(0); }

/* --- Close as an operation --- */

typedef struct {
    IoHandle h;
    int step;
    VexIoOp op;
    int64_t close_res, after_res;
    char buf[4];
} CloseT;

static CoroStatus close_task(WorkerContext *ctx, void *data)
{
    CloseT *c = data;
    switch (c->step++) {
    case 0: op_init(&c->op, VEX_OP_CLOSE, c->h, NULL, 0); break;
    case 1:
        c->close_res = c->op.result;
        op_init(&c->op, VEX_OP_SEND, c->h, "x", 1);
        break;
    default: c->after_res = c->op.result; return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
}

Test(io_win, close_op_then_the_handle_is_gone)
{
    Runtime *rt = iocp_runtime(1, NULL);
    SOCKET s[2];
    tcp_pair(s);
    CloseT c = {(IoHandle)s[0], 0, {0}, 99, 99, {0}};
    CHECK_OK(runtime_spawn_global(rt, close_task, &c));
    run_all(rt);
    CHECK_INT(c.close_res, 0);
    CHECK_INT(c.after_res, VEX_EBADF);
    CHECK_OK(runtime_destroy(rt));
    closesocket(s[1]);
}

/* --- Closing a handle with a RECV in flight (tests/io/test_io_close.c's
 * Windows counterpart): VEX_OP_CLOSE, vex_io_forget + closesocket, or a
 * plain closesocket behind the runtime's back (IOCP notices that one too:
 * the pending operation completes with an error). The RECV ends with
 * VEX_ECANCELED or VEX_EBADF, and the peer sees end-of-file once the close
 * has completed. --- */

enum { WC_OP_CLOSE, WC_FORGET, WC_BEHIND };

typedef struct {
    Runtime *rt;
    IoHandle h;
    SOCKET peer;
    int how, step;
    _Atomic int submitted;
    VexIoOp op, cop;
    char buf[16];
    int64_t recv_res, close_res;
    int peer_eof;
} WinClose;

static CoroStatus wc_reader(WorkerContext *ctx, void *data)
{
    WinClose *w = data;
    if (atomic_load(&w->submitted)) {
        w->recv_res = w->op.result;
        return CORO_STATUS_DONE;
    }
    op_init(&w->op, VEX_OP_RECV, w->h, w->buf, sizeof w->buf);
    worker_await_op(ctx, &w->op);
    atomic_store(&w->submitted, 1);
    return CORO_STATUS_YIELDED;
}

static void wc_check_peer(WinClose *w)
{
    u_long one = 1;
    ioctlsocket(w->peer, FIONBIO, &one);
    char x;
    w->peer_eof = recv(w->peer, &x, 1, 0) == 0;
}

static CoroStatus wc_closer(WorkerContext *ctx, void *data)
{
    WinClose *w = data;
    switch (w->step++) {
    case 0:
        worker_await_after(ctx, 20); /* the RECV is in the kernel by then */
        return CORO_STATUS_YIELDED;
    case 1:
        if (w->how == WC_OP_CLOSE) {
            op_init(&w->cop, VEX_OP_CLOSE, w->h, NULL, 0);
            worker_await_op(ctx, &w->cop);
            return CORO_STATUS_YIELDED;
        }
        w->close_res = w->how == WC_FORGET ? vex_io_forget(w->rt, w->h) : 0;
        closesocket((SOCKET)w->h);
        wc_check_peer(w);
        return CORO_STATUS_DONE;
    default:
        w->close_res = w->cop.result;
        wc_check_peer(w);
        return CORO_STATUS_DONE;
    }
}

Test(io_win, close_with_a_recv_in_flight)
{
    for (int how = WC_OP_CLOSE; how <= WC_BEHIND; how++) {
        for (int workers = 1; workers <= 2; workers++) {
            Runtime *rt = iocp_runtime(workers, NULL);
            SOCKET s[2];
            tcp_pair(s);
            static WinClose w;
            memset(&w, 0, sizeof w);
            w.rt = rt;
            w.h = (IoHandle)s[0];
            w.peer = s[1];
            w.how = how;
            CHECK_OK(runtime_spawn_global(rt, wc_reader, &w));
            CHECK_OK(runtime_spawn_global(rt, wc_closer, &w));
            run_all(rt);
            CHECK_INT(w.close_res, 0);
            /* Behind the runtime's back, Windows aborts the pending receive
             * (an error); Wine completes it as end-of-data (0). Either way the
             * task is not left waiting. */
            cr_assert(w.recv_res == VEX_ECANCELED || w.recv_res == VEX_EBADF ||
                          (how == WC_BEHIND && w.recv_res <= 0),
                      "close %d, %d workers: the RECV ended with %lld", how, workers,
                      (long long)w.recv_res);
            cr_assert(w.peer_eof, "close %d, %d workers: the peer sees end-of-file", how, workers);
            CHECK_OK(runtime_destroy(rt));
            closesocket(s[1]);
        }
    }
}

/* --- Signals: a C-runtime signal becomes a readable handle --- */

typedef struct {
    IoHandle h;
    int step;
    unsigned reason;
} Sig;

static CoroStatus sig_task(WorkerContext *ctx, void *data)
{
    Sig *s = data;
    if (s->step++ == 0) {
        raise(SIGTERM); /* delivered to the handler: the process goes on */
        worker_await_ioh(ctx, s->h, EVENT_TYPE_READABLE);
        worker_await_after(ctx, 10000);
        return CORO_STATUS_YIELDED;
    }
    s->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

Test(io_win, signal_await)
{
    Runtime *rt = iocp_runtime(2, NULL);
    Sig s = {0, 0, 0};
    CHECK_OK(vex_signal_open(rt, SIGTERM, &s.h));
    CHECK_INT(vex_signal_consume(rt, s.h), 0);
    CHECK_OK(runtime_spawn_global(rt, sig_task, &s));
    run_all(rt);
    CHECK_INT(s.reason, VEX_WAKE_READABLE);
    CHECK_INT(vex_signal_consume(rt, s.h), 1);
    CHECK_INT(vex_signal_consume(rt, s.h), 0);
    CHECK_OK(vex_signal_close(rt, s.h));
    IoHandle h;
    CHECK_INT(vex_signal_open(rt, 10 /* no SIGUSR1 on Windows */, &h), VEX_ENOTSUP);
    CHECK_INT(vex_signal_open(NULL, SIGTERM, &h), VEX_EINVAL);
    CHECK_OK(runtime_destroy(rt));
}

/* --- Many connections: accept, echo, close, all as operations --- */

enum { CONNS = 300, CONN_MSG = 32 };

typedef struct Conn {
    IoHandle h;
    int step, err;
    VexIoOp op;
    unsigned char buf[CONN_MSG];
    struct sockaddr_in to;
    int id;
} Conn;

static CoroStatus client_task(WorkerContext *ctx, void *data)
{
    Conn *c = data;
    if (c->step > 0 && c->step < 4 && c->op.result < 0) {
        c->err = (int)c->op.result;
        return CORO_STATUS_DONE;
    }
    switch (c->step++) {
    case 0: op_init(&c->op, VEX_OP_CONNECT, c->h, &c->to, sizeof c->to); break;
    case 1:
        memset(c->buf, (unsigned char)c->id, CONN_MSG);
        op_init(&c->op, VEX_OP_SEND, c->h, c->buf, CONN_MSG);
        break;
    case 2:
        memset(c->buf, 0, CONN_MSG);
        op_init(&c->op, VEX_OP_RECV, c->h, c->buf, CONN_MSG);
        c->op.flags = VEX_MSG_WAITALL;
        break;
    case 3:
        for (int i = 0; i < CONN_MSG; i++)
            if (c->buf[i] != (unsigned char)c->id) c->err = 1;
        op_init(&c->op, VEX_OP_CLOSE, c->h, NULL, 0);
        break;
    default:
        if (c->op.result != 0) c->err = 2;
        return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    IoHandle l;
    int accepted, err;
    VexIoOp op;
} Server;

static CoroStatus served_task(WorkerContext *ctx, void *data)
{
    Conn *c = data; /* echo one message back, then close */
    if (c->step > 0 && c->step < 3 && c->op.result < 0) {
        c->err = (int)c->op.result;
        return CORO_STATUS_DONE;
    }
    switch (c->step++) {
    case 0:
        op_init(&c->op, VEX_OP_RECV, c->h, c->buf, CONN_MSG);
        c->op.flags = VEX_MSG_WAITALL;
        break;
    case 1: op_init(&c->op, VEX_OP_SEND, c->h, c->buf, CONN_MSG); break;
    case 2: op_init(&c->op, VEX_OP_CLOSE, c->h, NULL, 0); break;
    default: return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
}

static Conn served[CONNS];

static CoroStatus server_task(WorkerContext *ctx, void *data)
{
    Server *s = data;
    if (s->op.opcode == VEX_OP_ACCEPT) {
        if (s->op.result < 0) {
            s->err = (int)s->op.result;
            return CORO_STATUS_DONE;
        }
        Conn *c = &served[s->accepted++];
        c->h = (IoHandle)s->op.result;
        if (worker_spawn_local(ctx, served_task, c) != 0) s->err = 1;
        if (s->accepted == CONNS) return CORO_STATUS_DONE;
    }
    op_init(&s->op, VEX_OP_ACCEPT, s->l, NULL, 0);
    worker_await_op(ctx, &s->op);
    return CORO_STATUS_YIELDED;
}

Test(io_win, three_hundred_connections, .timeout = 120)
{
    Runtime *rt = iocp_runtime(2, NULL);
    uint16_t port;
    SOCKET l = listener(&port);
    static Conn clients[CONNS];
    static Server srv;
    memset(clients, 0, sizeof clients);
    memset(served, 0, sizeof served);
    memset(&srv, 0, sizeof srv);
    srv.l = (IoHandle)l;
    CHECK_OK(runtime_spawn_global(rt, server_task, &srv));
    for (int i = 0; i < CONNS; i++) {
        SOCKET c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
        cr_assert(c != INVALID_SOCKET);
        clients[i].h = (IoHandle)c;
        clients[i].id = i;
        loopback(port, &clients[i].to);
        CHECK_OK(runtime_spawn_global(rt, client_task, &clients[i]));
    }
    run_all(rt);
    CHECK_INT(srv.err, 0);
    CHECK_INT(srv.accepted, CONNS);
    for (int i = 0; i < CONNS; i++) {
        cr_assert(clients[i].err == 0, "client %d: %d", i, clients[i].err);
        cr_assert(served[i].err == 0, "served %d: %d", i, served[i].err);
    }
    CHECK_OK(runtime_destroy(rt));
    closesocket(l);
}

/* --- Memory: every byte of an I/O run comes back --- */

Test(io_win, io_run_returns_every_byte)
{
    static CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = iocp_runtime(2, &ca);
    SOCKET s[2];
    tcp_pair(s);
    static Echo e[2];
    memset(e, 0, sizeof e);
    e[0] = (Echo){.h = (IoHandle)s[0], .client = true};
    e[1] = (Echo){.h = (IoHandle)s[1], .client = false};
    CHECK_OK(runtime_spawn_global(rt, echo_task, &e[0]));
    CHECK_OK(runtime_spawn_global(rt, echo_task, &e[1]));
    run_all(rt);
    CHECK_INT(e[0].err, 0);
    CHECK_INT(e[1].err, 0);
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.live_blocks), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
    closesocket(s[0]);
    closesocket(s[1]);
}

/* Destroying a runtime with operations still in flight (tasks parked on
 * them, never resumed) cancels them and waits for the kernel to let go of
 * their buffers before the memory is freed. */
static CoroStatus park_on_recv(WorkerContext *ctx, void *data)
{
    OneOp *o = data;
    op_init(&o->op, VEX_OP_RECV, o->h, o->buf, sizeof o->buf);
    worker_await_op(ctx, &o->op);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    Runtime *rt;
    int step;
} Stop;

static CoroStatus stop_soon(WorkerContext *ctx, void *data)
{
    Stop *s = data;
    if (s->step++ == 0) {
        worker_await_after(ctx, 30);
        return CORO_STATUS_YIELDED;
    }
    runtime_shutdown(s->rt);
    return CORO_STATUS_DONE;
}

Test(io_win, destroy_with_ops_in_flight)
{
    static CountingAlloc ca;
    counting_alloc_init(&ca);
    Runtime *rt = iocp_runtime(2, &ca);
    SOCKET s[2];
    tcp_pair(s);
    static OneOp parked[2];
    memset(parked, 0, sizeof parked);
    parked[0].h = (IoHandle)s[0];
    parked[1].h = (IoHandle)s[1];
    CHECK_OK(runtime_spawn_global(rt, park_on_recv, &parked[0]));
    CHECK_OK(runtime_spawn_global(rt, park_on_recv, &parked[1]));
    Stop stop = {rt, 0};
    CHECK_OK(runtime_spawn_global(rt, stop_soon, &stop));
    CHECK_OK(runtime_run(rt));
    CHECK_OK(runtime_destroy(rt));
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.live_blocks), 0);
    /* The cancelled RECVs took nothing: data sent now is all there. */
    CHECK_INT(send(s[1], "abc", 3, 0), 3);
    char b[8];
    u_long one = 1;
    ioctlsocket(s[0], FIONBIO, &one);
    int got = 0;
    for (int tries = 0; tries < 1000 && got < 3; tries++) {
        int r = recv(s[0], b + got, 3 - got, 0);
        if (r > 0) got += r;
        else Sleep(1);
    }
    CHECK_INT(got, 3);
    closesocket(s[0]);
    closesocket(s[1]);
}

/* --- READ and WRITE: on sockets (Winsock), and on a synchronous pipe (the
 * thread pool), where a timeout cancels the blocked call --- */

typedef struct {
    IoHandle sock, peer, pipe_rd, pipe_wr;
    int step;
    VexIoOp op;
    char buf[16];
    int64_t res[4];
    unsigned why[4];
} RwT;

static CoroStatus rw_task(WorkerContext *ctx, void *data)
{
    RwT *t = data;
    if (t->step > 0) {
        t->res[t->step - 1] = t->op.result;
        t->why[t->step - 1] = worker_wake_reason(ctx);
    }
    switch (t->step++) {
    case 0: op_init(&t->op, VEX_OP_WRITE, t->sock, "sock", 4); break;
    case 1:
        memset(t->buf, 0, sizeof t->buf);
        op_init(&t->op, VEX_OP_READ, t->peer, t->buf, 4);
        break;
    case 2: /* nothing will come: the 40 ms timeout ends the blocked read */
        op_init(&t->op, VEX_OP_READ, t->pipe_rd, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        worker_await_after(ctx, 40);
        return CORO_STATUS_YIELDED;
    case 3: op_init(&t->op, VEX_OP_WRITE, t->pipe_wr, "pipe", 4); break;
    default: return CORO_STATUS_DONE;
    }
    worker_await_op(ctx, &t->op);
    return CORO_STATUS_YIELDED;
}

Test(io_win, read_write_on_sockets_and_a_synchronous_pipe)
{
    Runtime *rt = iocp_runtime(2, NULL);
    SOCKET s[2];
    tcp_pair(s);
    HANDLE rd, wr;
    cr_assert(CreatePipe(&rd, &wr, NULL, 0), "CreatePipe");
    static RwT t;
    memset(&t, 0, sizeof t);
    t.sock = (IoHandle)s[0];
    t.peer = (IoHandle)s[1];
    t.pipe_rd = (IoHandle)rd;
    t.pipe_wr = (IoHandle)wr;
    CHECK_OK(runtime_spawn_global(rt, rw_task, &t));
    run_all(rt);
    CHECK_INT(t.res[0], 4);
    CHECK_INT(t.res[1], 4);
    cr_assert(memcmp(t.buf, "sock", 4) == 0);
    CHECK_INT(t.why[2], VEX_WAKE_TIMER);
    CHECK_INT(t.res[2], VEX_ECANCELED);
    CHECK_INT(t.res[3], 4); /* the cancelled read took nothing: all 4 bytes are there */
    char back[8] = {0};
    DWORD got = 0;
    cr_assert(ReadFile(rd, back, sizeof back, &got, NULL));
    CHECK_INT(got, 4);
    cr_assert(memcmp(back, "pipe", 4) == 0);
    CHECK_OK(runtime_destroy(rt));
    CloseHandle(rd);
    CloseHandle(wr);
    closesocket(s[0]);
    closesocket(s[1]);
}
