/* echo_server - a TCP echo server on 127.0.0.1 written with completion
 * operations (vexrt/io.h): one acceptor task, one task per connection
 * (RECV, then SEND until everything received went out, then RECV again),
 * an idle timeout per connection, and a graceful shutdown on SIGINT or
 * SIGTERM that cancels every task through one created token and waits for
 * the connections to close before stopping the runtime.
 *
 *   build/examples/echo_server [port] [--once] [--idle-ms N]
 *
 * port defaults to 7000 (0 picks a free one; the port in use is printed).
 * --once serves a single connection and exits, for scripted tests:
 *   build/examples/echo_server 7001 --once & sleep 0.2
 *   printf hello | nc -q1 127.0.0.1 7001       (prints hello; the server exits 0)
 * --idle-ms closes a connection that neither sends nor receives for that
 * long (default 10000). VEXRT_BACKEND=epoll|io_uring picks the backend. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/cancel.h"
#include "vexrt/io.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

#define BUF_SIZE 16384
#define DRAIN_GRACE_MS 2000 /* how long shutdown waits for connections to close */

/* Shared by every task. The fields above `live` are set by main before
 * runtime_run and only read by the tasks; the rest are atomics because tasks
 * on different workers update them. */
typedef struct {
    Runtime *rt;
    int lfd;
    bool once;
    uint64_t idle_ms;
    CancelToken *token;  /* the acceptor and every connection are spawned with it */
    VexNotify *drained;  /* signalled when `live` drops to zero while stopping */
    _Atomic int live;    /* acceptor + open connections: what shutdown waits for */
    _Atomic bool stopping;
    _Atomic bool listener_closed;
    _Atomic uint64_t conns, bytes, partial_sends, idle_closes, next_id;
} Server;

/* Completion ops are caller-owned and reused: clear the runtime's bookkeeping
 * from the previous use before each submission. */
static int submit(WorkerContext *ctx, VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
    return worker_await_op(ctx, op);
}

/* Called by each task holding a socket when it is done with it. The last
 * one tells a draining shutdown it may stop: the seq_cst decrement and the
 * stopper's seq_cst exchange of `stopping` make sure at least one side sees
 * the other, and the notify keeps a permit if the stopper is not waiting
 * yet, so the wake-up cannot be lost. With --once the acceptor stops after
 * one connection, so the count reaching zero is the end of the run. */
static void leave(WorkerContext *ctx, Server *s)
{
    if (atomic_fetch_sub(&s->live, 1) != 1) return;
    int rc = 0;
    if (atomic_load(&s->stopping))
        rc = worker_notify_signal(ctx, s->drained);
    else if (s->once)
        rc = runtime_shutdown(s->rt);
    if (rc) fprintf(stderr, "echo_server: leave: %s\n", vex_strerror(rc));
}

/* --- Connections --- */

enum { C_START, C_RECV, C_SEND, C_CLOSE };

typedef struct {
    Server *srv;
    uint64_t id;
    int fd;
    int state;
    size_t len, off;   /* bytes received in the last RECV, and how many went out */
    uint64_t total;
    VexIoOp op;
    char buf[BUF_SIZE];
} Conn;

static CoroStatus conn_close(WorkerContext *ctx, Conn *c);

/* The idle timeout is a timer await in the same resume as the operation:
 * whichever fires first wins, and a timer that wins cancels the operation. */
static CoroStatus conn_io(WorkerContext *ctx, Conn *c, uint8_t code, void *buf, size_t len)
{
    int rc = submit(ctx, &c->op, code, c->fd, buf, len);
    if (rc) {
        fprintf(stderr, "echo_server: conn %llu: submit: %s\n", (unsigned long long)c->id,
                vex_strerror(rc));
        return conn_close(ctx, c);
    }
    rc = worker_await_after(ctx, c->srv->idle_ms);
    if (rc) /* the operation still runs, just without a timeout */
        fprintf(stderr, "echo_server: conn %llu: timer: %s\n", (unsigned long long)c->id,
                vex_strerror(rc));
    return CORO_STATUS_YIELDED;
}

static CoroStatus conn_close(WorkerContext *ctx, Conn *c)
{
    c->state = C_CLOSE;
    int rc = submit(ctx, &c->op, VEX_OP_CLOSE, c->fd, NULL, 0);
    if (rc == 0) return CORO_STATUS_YIELDED;
    /* Without the op the runtime still knows the handle: forget it first. */
    fprintf(stderr, "echo_server: conn %llu: close: %s\n", (unsigned long long)c->id,
            vex_strerror(rc));
    vex_io_forget(c->srv->rt, (IoHandle)c->fd);
    close(c->fd);
    Server *s = c->srv;
    free(c);
    leave(ctx, s);
    return CORO_STATUS_DONE;
}

static CoroStatus conn_task(WorkerContext *ctx, void *data)
{
    Conn *c = data;
    Server *s = c->srv;
    int64_t res = c->op.result;

    /* A cancel wakes the task once; any later op it submits runs normally,
     * so the check is made on every resume, not only on VEX_WAKE_CANCELLED. */
    if (c->state != C_CLOSE && cancel_requested(worker_cancel_token(ctx))) {
        printf("conn %llu: closing for shutdown after %llu bytes\n", (unsigned long long)c->id,
               (unsigned long long)c->total);
        return conn_close(ctx, c);
    }

    switch (c->state) {
    case C_START:
        c->state = C_RECV;
        return conn_io(ctx, c, VEX_OP_RECV, c->buf, sizeof c->buf);

    case C_RECV:
        if (res > 0) {
            c->len = (size_t)res;
            c->off = 0;
            c->state = C_SEND;
            return conn_io(ctx, c, VEX_OP_SEND, c->buf, c->len);
        }
        if (res == 0) {
            printf("conn %llu: peer closed after %llu bytes\n", (unsigned long long)c->id,
                   (unsigned long long)c->total);
        } else if (res == VEX_ECANCELED && worker_wake_reason(ctx) == VEX_WAKE_TIMER) {
            atomic_fetch_add(&s->idle_closes, 1);
            printf("conn %llu: idle for %llu ms, closing\n", (unsigned long long)c->id,
                   (unsigned long long)s->idle_ms);
        } else {
            fprintf(stderr, "echo_server: conn %llu: recv: %s\n", (unsigned long long)c->id,
                    vex_strerror((int)res));
        }
        return conn_close(ctx, c);

    case C_SEND:
        if (res < 0) {
            if (res == VEX_ECANCELED && worker_wake_reason(ctx) == VEX_WAKE_TIMER) {
                atomic_fetch_add(&s->idle_closes, 1);
                printf("conn %llu: peer stopped reading for %llu ms, closing\n",
                       (unsigned long long)c->id, (unsigned long long)s->idle_ms);
            } else {
                fprintf(stderr, "echo_server: conn %llu: send: %s\n", (unsigned long long)c->id,
                        vex_strerror((int)res));
            }
            return conn_close(ctx, c);
        }
        c->off += (size_t)res;
        c->total += (uint64_t)res;
        atomic_fetch_add(&s->bytes, (uint64_t)res);
        if (c->off < c->len) { /* a partial send: the kernel took only part of it */
            atomic_fetch_add(&s->partial_sends, 1);
            return conn_io(ctx, c, VEX_OP_SEND, c->buf + c->off, c->len - c->off);
        }
        c->state = C_RECV;
        return conn_io(ctx, c, VEX_OP_RECV, c->buf, sizeof c->buf);

    case C_CLOSE:
    default:
        /* A CLOSE is never abandoned (vexrt/io.h): a cancel or a timeout
         * that lands while it runs is simply waited out, so the result is
         * the close's own, and the descriptor is gone. */
        if (res < 0)
            fprintf(stderr, "echo_server: conn %llu: close: %s\n", (unsigned long long)c->id,
                    vex_strerror((int)res));
        free(c);
        leave(ctx, s);
        return CORO_STATUS_DONE;
    }
}

/* --- Acceptor --- */

enum { A_START, A_ACCEPT, A_CLOSING };

typedef struct {
    Server *srv;
    int state;
    struct sockaddr_in peer;
    VexIoOp op;
} Acceptor;

/* Closing the listener through the runtime (not close()) makes it drop what
 * it knows of the handle first; with --once it also refuses later clients. */
static CoroStatus acceptor_close(WorkerContext *ctx, Acceptor *a)
{
    a->state = A_CLOSING;
    int rc = submit(ctx, &a->op, VEX_OP_CLOSE, a->srv->lfd, NULL, 0);
    if (rc == 0) return CORO_STATUS_YIELDED;
    fprintf(stderr, "echo_server: close listener: %s\n", vex_strerror(rc));
    vex_io_forget(a->srv->rt, (IoHandle)a->srv->lfd);
    close(a->srv->lfd);
    atomic_store(&a->srv->listener_closed, true);
    leave(ctx, a->srv);
    return CORO_STATUS_DONE;
}

static CoroStatus acceptor_accept(WorkerContext *ctx, Acceptor *a)
{
    a->state = A_ACCEPT;
    int rc = submit(ctx, &a->op, VEX_OP_ACCEPT, a->srv->lfd, &a->peer, sizeof a->peer);
    if (rc == 0) return CORO_STATUS_YIELDED;
    fprintf(stderr, "echo_server: accept: %s\n", vex_strerror(rc));
    return acceptor_close(ctx, a);
}

/* Starts a task for an accepted socket; false if it could not (fd closed). */
static bool start_conn(WorkerContext *ctx, Acceptor *a, int fd)
{
    Server *s = a->srv;
    Conn *c = calloc(1, sizeof *c);
    if (!c) {
        fprintf(stderr, "echo_server: out of memory for a connection\n");
        close(fd);
        return false;
    }
    c->srv = s;
    c->fd = fd;
    c->id = atomic_fetch_add(&s->next_id, 1) + 1;
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &a->peer.sin_addr, ip, sizeof ip);
    printf("conn %llu: accepted from %s:%u\n", (unsigned long long)c->id, ip,
           ntohs(a->peer.sin_port));
    /* Counted before the spawn so a draining stopper never sees zero while
     * this connection is starting; a token cancelled meanwhile makes the new
     * task start cancelled, and it closes at once. */
    atomic_fetch_add(&s->live, 1);
    atomic_fetch_add(&s->conns, 1);
    int rc = worker_spawn_local_with_token(ctx, conn_task, c, s->token);
    if (rc) {
        fprintf(stderr, "echo_server: spawn: %s\n", vex_strerror(rc));
        close(fd);
        free(c);
        leave(ctx, s);
        return false;
    }
    return true;
}

static CoroStatus acceptor_task(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    Server *s = a->srv;
    int64_t res = a->op.result;

    if (a->state == A_CLOSING) { /* never abandoned: see conn_task */
        if (res < 0) fprintf(stderr, "echo_server: close listener: %s\n", vex_strerror((int)res));
        atomic_store(&s->listener_closed, true);
        leave(ctx, s);
        return CORO_STATUS_DONE;
    }
    if (a->state == A_START) {
        if (cancel_requested(worker_cancel_token(ctx))) return acceptor_close(ctx, a);
        return acceptor_accept(ctx, a);
    }

    if (res >= 0) {
        /* An accept that completed in the same instant as the cancel still
         * gets its task: it starts cancelled and closes the socket. */
        bool started = start_conn(ctx, a, (int)res);
        if (s->once && started) return acceptor_close(ctx, a);
    } else if (res != VEX_ECANCELED) {
        /* Per-connection failures (EMFILE, ECONNABORTED...) must not stop
         * the server. */
        fprintf(stderr, "echo_server: accept: %s\n", vex_strerror((int)res));
    }
    if (cancel_requested(worker_cancel_token(ctx))) return acceptor_close(ctx, a);
    return acceptor_accept(ctx, a);
}

/* --- Signals and shutdown --- */

typedef struct {
    Server *srv;
    IoHandle h;
    const char *name;
    bool draining;
    uint64_t drain_start_ns;
} SignalWatch;

/* One task per signal: a resume may hold only one I/O await, and each
 * signal has its own handle. */
static CoroStatus signal_task(WorkerContext *ctx, void *data)
{
    SignalWatch *w = data;
    Server *s = w->srv;

    if (w->draining) {
        /* Woken by the last connection (NOTIFIED) or by the grace timer. */
        int left = atomic_load(&s->live);
        if (left > 0)
            printf("shutdown: %d task(s) still open after %d ms, stopping anyway\n", left,
                   DRAIN_GRACE_MS);
        else
            printf("shutdown: all connections closed in %.1f ms\n",
                   (double)(worker_now_ns(ctx) - w->drain_start_ns) / 1e6);
        int rc = runtime_shutdown(s->rt);
        if (rc) fprintf(stderr, "echo_server: shutdown: %s\n", vex_strerror(rc));
        return CORO_STATUS_DONE;
    }

    int got = vex_signal_consume(s->rt, w->h);
    if (got < 0) {
        fprintf(stderr, "echo_server: %s: %s\n", w->name, vex_strerror(got));
        return CORO_STATUS_DONE;
    }
    if (got == 0) { /* first resume, or a wake-up with nothing pending */
        int rc = worker_await_ioh(ctx, w->h, EVENT_TYPE_READABLE);
        if (rc) {
            fprintf(stderr, "echo_server: await %s: %s\n", w->name, vex_strerror(rc));
            return CORO_STATUS_DONE;
        }
        return CORO_STATUS_YIELDED;
    }

    if (atomic_exchange(&s->stopping, true)) return CORO_STATUS_DONE; /* the other signal won */
    printf("\n%s: shutting down\n", w->name);
    int rc = cancel_request(s->token);
    if (rc) fprintf(stderr, "echo_server: cancel: %s\n", vex_strerror(rc));
    w->draining = true;
    w->drain_start_ns = worker_now_ns(ctx);
    /* Whoever brings `live` to zero signals `drained` (see leave()); if it
     * already is zero the permit may or may not be there, so do not wait. */
    if (atomic_load(&s->live) == 0) return signal_task(ctx, w);
    rc = worker_await_notify(ctx, s->drained);
    if (rc == 0) rc = worker_await_after(ctx, DRAIN_GRACE_MS);
    if (rc) /* no await armed: the next resume stops without waiting */
        fprintf(stderr, "echo_server: drain wait: %s\n", vex_strerror(rc));
    return CORO_STATUS_YIELDED;
}

/* --- Setup --- */

static int listen_on(int port, int *out_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("echo_server: socket");
        return -1;
    }
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("echo_server: listen on 127.0.0.1");
        close(fd);
        return -1;
    }
    *out_port = ntohs(addr.sin_port);
    return fd;
}

static void usage(void)
{
    fprintf(stderr, "usage: echo_server [port] [--once] [--idle-ms N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 7000;
    bool once = false;
    uint64_t idle_ms = 10000;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--once")) {
            once = true;
        } else if (!strcmp(argv[i], "--idle-ms") && i + 1 < argc) {
            idle_ms = strtoull(argv[++i], &end, 10);
            if (*end || idle_ms == 0) usage();
        } else if (argv[i][0] != '-') {
            long p = strtol(argv[i], &end, 10);
            if (*end || p < 0 || p > 65535) usage();
            port = (int)p;
        } else {
            usage();
        }
    }

    int lfd = listen_on(port, &port);
    if (lfd < 0) return 1;

    Runtime *rt = runtime_create(0);
    if (!rt) {
        fprintf(stderr, "echo_server: runtime_create failed\n");
        close(lfd);
        return 1;
    }
    Server srv = {.rt = rt, .lfd = lfd, .once = once, .idle_ms = idle_ms};
    srv.token = cancel_token_create(rt, NULL);
    srv.drained = vex_notify_create(rt);
    if (!srv.token || !srv.drained) {
        fprintf(stderr, "echo_server: out of memory\n");
        return 1;
    }

    /* Before runtime_run: vex_signal_open blocks the signal in this thread,
     * and the workers block every signal, so delivery goes to the handle. */
    SignalWatch sig[2] = {{.srv = &srv, .name = "SIGINT"}, {.srv = &srv, .name = "SIGTERM"}};
    int rc = vex_signal_open(rt, SIGINT, &sig[0].h);
    if (rc == 0) rc = vex_signal_open(rt, SIGTERM, &sig[1].h);
    if (rc) {
        fprintf(stderr, "echo_server: vex_signal_open: %s\n", vex_strerror(rc));
        return 1;
    }

    Acceptor acc = {.srv = &srv};
    atomic_store(&srv.live, 1); /* the acceptor */
    rc = runtime_spawn_global(rt, signal_task, &sig[0]);
    if (rc == 0) rc = runtime_spawn_global(rt, signal_task, &sig[1]);
    if (rc == 0) rc = runtime_spawn_with_token(rt, acceptor_task, &acc, srv.token);
    if (rc) {
        fprintf(stderr, "echo_server: spawn: %s\n", vex_strerror(rc));
        return 1;
    }

    printf("echo_server: listening on 127.0.0.1:%d, backend %s, idle timeout %llu ms%s\n", port,
           runtime_io_backend(rt), (unsigned long long)idle_ms, once ? ", one connection" : "");
    fflush(stdout);

    rc = runtime_run(rt);
    if (rc) fprintf(stderr, "echo_server: runtime_run: %s\n", vex_strerror(rc));

    RuntimeStats st;
    if (runtime_get_stats(rt, &st) == 0)
        printf("stats: connections=%llu bytes_echoed=%llu partial_sends=%llu idle_closes=%llu "
               "tasks=%llu/%llu io_submitted=%llu io_completed=%llu poller_events=%llu "
               "timers_armed=%llu timers_fired=%llu cancels=%llu\n",
               (unsigned long long)atomic_load(&srv.conns),
               (unsigned long long)atomic_load(&srv.bytes),
               (unsigned long long)atomic_load(&srv.partial_sends),
               (unsigned long long)atomic_load(&srv.idle_closes),
               (unsigned long long)st.tasks_done, (unsigned long long)st.tasks_spawned,
               (unsigned long long)st.io_submitted, (unsigned long long)st.io_completed,
               (unsigned long long)st.poller_events, (unsigned long long)st.timers_armed,
               (unsigned long long)st.timers_fired, (unsigned long long)st.cancels);

    for (int i = 0; i < 2; i++) {
        int r = vex_signal_close(rt, sig[i].h);
        if (r) fprintf(stderr, "echo_server: vex_signal_close: %s\n", vex_strerror(r));
    }
    rc = cancel_token_destroy(srv.token);
    if (rc) fprintf(stderr, "echo_server: cancel_token_destroy: %s\n", vex_strerror(rc));
    /* Tasks still parked (the other signal watcher, connections that outlived
     * the grace period) are dropped here without being resumed. */
    rc = runtime_destroy(rt);
    if (rc) fprintf(stderr, "echo_server: runtime_destroy: %s\n", vex_strerror(rc));
    rc = vex_notify_destroy(srv.drained); /* allowed after runtime_destroy */
    if (rc) fprintf(stderr, "echo_server: vex_notify_destroy: %s\n", vex_strerror(rc));
    if (!atomic_load(&srv.listener_closed)) close(lfd); /* the acceptor was dropped */
    return 0;
}
