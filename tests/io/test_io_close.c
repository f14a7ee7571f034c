/* test_io_close - closing a handle that has operations in flight, on every
 * backend: VEX_OP_CLOSE and vex_io_forget cancel every operation still in
 * flight on the handle (RECV, SEND, ACCEPT), each completes promptly with
 * VEX_ECANCELED or VEX_EBADF, and the peer sees end-of-file (or the
 * listener refuses connections) once the close has completed, whichever
 * worker's poller held the operations. A close behind the runtime's back
 * is not noticed on Linux (docs/platform.md), but the operation's own
 * timeout still ends it. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/task.h"

static void op_init(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

/* One operation parked on a handle until the handle is closed. */
typedef struct {
    int fd;
    uint8_t opcode;
    VexIoOp op;
    char buf[65536];
    int step;
    _Atomic int submitted;
    _Atomic int done;
    int64_t result;
} Parked;

static CoroStatus parked_task(WorkerContext *ctx, void *data)
{
    Parked *p = data;
    if (p->step++) {
        p->result = p->op.result;
        atomic_store(&p->done, 1);
        return CORO_STATUS_DONE;
    }
    size_t len = p->opcode == VEX_OP_ACCEPT ? 0 : sizeof p->buf;
    op_init(&p->op, p->opcode, p->fd, p->opcode == VEX_OP_ACCEPT ? NULL : p->buf, len);
    worker_await_op(ctx, &p->op);
    atomic_store(&p->submitted, 1);
    return CORO_STATUS_YIELDED;
}

enum { BY_OP_CLOSE, BY_FORGET };

/* Closes three handles once their operations are parked, and looks at each
 * peer right after each close completed. */
typedef struct {
    int how;
    Runtime *rt;
    Parked *parked[3];
    int fds[3];
    int recv_peer, send_peer;
    uint16_t port;
    int step, which;
    VexIoOp op;
    int64_t close_res[3];
    int peer_eof, peer_epipe, refused;
} Closer;

static void check_peer(Closer *c, int which)
{
    char x;
    if (which == 0) {
        ssize_t r = recv(c->recv_peer, &x, 1, MSG_DONTWAIT);
        c->peer_eof = r == 0;
    } else if (which == 1) {
        /* The peer of the sender: its own buffer drains into a closed
         * socket, so writing gives EPIPE once the socket is really gone. */
        ssize_t r = send(c->send_peer, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        c->peer_epipe = r < 0 && (errno == EPIPE || errno == ECONNRESET);
    } else {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a;
        io_addr(c->port, &a);
        c->refused = connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno == ECONNREFUSED;
        close(fd);
    }
}

static CoroStatus closer_task(WorkerContext *ctx, void *data)
{
    Closer *c = data;
    for (;;) {
        if (c->step == 0) {
            for (int i = 0; i < 3; i++) {
                if (!atomic_load(&c->parked[i]->submitted)) {
                    worker_await_after_ns(ctx, 200000);
                    return CORO_STATUS_YIELDED;
                }
            }
            c->step = 1;
            worker_await_after(ctx, 20); /* the operations are in the kernel by now */
            return CORO_STATUS_YIELDED;
        }
        if (c->step == 2) { /* a VEX_OP_CLOSE completed */
            c->close_res[c->which] = c->op.result;
            check_peer(c, c->which);
            c->which++;
        }
        if (c->which == 3) return CORO_STATUS_DONE;
        if (c->how == BY_FORGET) {
            c->close_res[c->which] = vex_io_forget(c->rt, (IoHandle)c->fds[c->which]);
            close(c->fds[c->which]);
            check_peer(c, c->which);
            c->which++;
            continue;
        }
        op_init(&c->op, VEX_OP_CLOSE, c->fds[c->which], NULL, 0);
        worker_await_op(ctx, &c->op);
        c->step = 2;
        return CORO_STATUS_YIELDED;
    }
}

/* Fills fd's send buffer so that a SEND on it parks. */
static void fill(int fd)
{
    static char junk[65536];
    while (send(fd, junk, sizeof junk, MSG_DONTWAIT | MSG_NOSIGNAL) > 0) {}
}

static void close_with_ops_in_flight(const IoBackend *b, int how, int workers)
{
    Runtime *rt = io_runtime(b, workers);
    int rsv[2], ssv[2];
    io_socketpair(rsv);
    io_socketpair(ssv);
    io_small_buffers(ssv[0]);
    io_small_buffers(ssv[1]);
    fill(ssv[0]);
    uint16_t port;
    int lfd = io_listen(&port, 4);
    io_set_nonblocking(lfd);
    static Parked rp, sp, ap;
    rp = (Parked){.fd = rsv[0], .opcode = VEX_OP_RECV};
    sp = (Parked){.fd = ssv[0], .opcode = VEX_OP_SEND};
    ap = (Parked){.fd = lfd, .opcode = VEX_OP_ACCEPT};
    Closer c = {.how = how, .rt = rt, .parked = {&rp, &sp, &ap}, .fds = {rsv[0], ssv[0], lfd},
                .recv_peer = rsv[1], .send_peer = ssv[1], .port = port};
    CHECK_OK(runtime_spawn_global(rt, parked_task, &rp));
    CHECK_OK(runtime_spawn_global(rt, parked_task, &sp));
    CHECK_OK(runtime_spawn_global(rt, parked_task, &ap));
    CHECK_OK(runtime_spawn_global(rt, closer_task, &c));
    io_run(rt);
    for (int i = 0; i < 3; i++) CHECK_INT(c.close_res[i], 0);
    Parked *ps[3] = {&rp, &sp, &ap};
    for (int i = 0; i < 3; i++)
        cr_assert(ps[i]->result == VEX_ECANCELED || ps[i]->result == VEX_EBADF,
                  "%s op %d ended with %lld (%s), want VEX_ECANCELED or VEX_EBADF", b->name, i,
                  (long long)ps[i]->result, vex_strerror((int)ps[i]->result));
    cr_assert(c.peer_eof, "%s: the receiver's peer sees end-of-file once the close completed", b->name);
    cr_assert(c.peer_epipe, "%s: the sender's peer sees the socket gone once the close completed", b->name);
    cr_assert(c.refused, "%s: the listener refuses connections once the close completed", b->name);
    runtime_destroy(rt);
    close(rsv[1]);
    close(ssv[1]);
}

IO_TEST(io_close, op_close_cancels_the_ops_in_flight, .timeout = 60)
{
    for (int round = 0; round < 10; round++) close_with_ops_in_flight(b, BY_OP_CLOSE, 2);
    close_with_ops_in_flight(b, BY_OP_CLOSE, 1);
}

IO_TEST(io_close, forget_cancels_the_ops_in_flight, .timeout = 60)
{
    for (int round = 0; round < 10; round++) close_with_ops_in_flight(b, BY_FORGET, 2);
    close_with_ops_in_flight(b, BY_FORGET, 1);
}

/* vex_io_forget from a thread that is not a worker: every operation was
 * made by a worker, so each cancellation is the owner's to issue. */
IO_TEST(io_close, forget_from_another_thread, .timeout = 60)
{
    Runtime *rt = io_runtime(b, 2);
    int sv[2];
    io_socketpair(sv);
    static Parked rp;
    rp = (Parked){.fd = sv[0], .opcode = VEX_OP_RECV};
    CHECK_OK(runtime_spawn_global(rt, parked_task, &rp));
    pthread_t th = test_run_async(rt);
    while (!atomic_load(&rp.submitted)) test_sleep_ms(1);
    test_sleep_ms(20);
    CHECK_OK(vex_io_forget(rt, (IoHandle)sv[0]));
    close(sv[0]);
    char x;
    CHECK_INT(recv(sv[1], &x, 1, MSG_DONTWAIT), 0); /* end-of-file at once */
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    test_join(th);
    cr_assert(rp.result == VEX_ECANCELED || rp.result == VEX_EBADF, "ended with %lld",
              (long long)rp.result);
    runtime_destroy(rt);
    close(sv[1]);
}

/* A close behind the runtime's back: the operation's timeout still ends
 * it (Linux cannot tell a task that its descriptor went away, see
 * docs/platform.md; the cancellation names the request, not the number).
 * One worker, and the close made by a task, so the close is ordered after
 * the operation's first attempt (no race on the descriptor). */
typedef struct {
    int fd, step;
    bool closing;
    VexIoOp op;
    char buf[16];
    unsigned reason;
    int64_t result;
} Behind;

static CoroStatus behind_task(WorkerContext *ctx, void *data)
{
    Behind *t = data;
    switch (t->step++) {
    case 0:
        op_init(&t->op, VEX_OP_RECV, t->fd, t->buf, sizeof t->buf);
        worker_await_op(ctx, &t->op);
        worker_await_after(ctx, 100);
        return CORO_STATUS_YIELDED;
    default:
        t->reason = worker_wake_reason(ctx);
        t->result = t->op.result;
        return CORO_STATUS_DONE;
    }
}

static CoroStatus behind_closer(WorkerContext *ctx, void *data)
{
    Behind *t = data;
    if (t->step == 0 || !t->closing) { /* let the op reach the kernel first */
        t->closing = t->step != 0;
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    }
    close(t->fd);
    return CORO_STATUS_DONE;
}

IO_TEST(io_close, close_behind_the_back_does_not_hang_a_timed_op, .timeout = 30)
{
    Runtime *rt = io_runtime(b, 1);
    int sv[2];
    io_socketpair(sv);
    Behind t = {.fd = sv[0]};
    CHECK_OK(runtime_spawn_global(rt, behind_task, &t));
    CHECK_OK(runtime_spawn_global(rt, behind_closer, &t));
    io_run(rt);
    cr_assert(t.result == VEX_ECANCELED || t.result == VEX_EBADF, "%s: ended with %lld (reason %u)",
              b->name, (long long)t.result, t.reason);
    CHECK_INT(t.reason, VEX_WAKE_TIMER);
    runtime_destroy(rt);
    close(sv[1]);
}
