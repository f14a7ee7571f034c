/* bench/vexrt_server.c - the network server of ../shared/peers/WORKLOADS.md
 * on libvexrt: tcp_echo (--mode echo) and http_plaintext (--mode http).
 *
 *   vexrt-server --port N --mode echo|http [--threads T] [--backend epoll|io_uring]
 *                [--drive run|host]
 *
 * --drive host runs worker 0 the way a program with its own loop hosts the
 * runtime (vexrt/embed.h): poll() on runtime_backend_handle with
 * runtime_backend_timeout_ns, then runtime_step(rt, 0); the default is
 * runtime_run. The two can then be compared (throughput, strace -c).
 *
 * Prints "READY <port>" once it accepts connections and runs until SIGTERM
 * (or SIGINT), which a task awaits through vex_signal_open. One task per
 * connection, written with the completion API: RECV, then SEND what came
 * (echo) or one response per complete request (http), until the peer
 * closes; the backend runs the operations natively (io_uring) or as
 * readiness-then-syscall (epoll). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/config.h"
#include "vexrt/embed.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

#define BUF_SIZE 16384

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

enum { MODE_ECHO, MODE_HTTP };

typedef struct {
    int fd;
    int mode;
    int state;        /* 0: receive next, 1: sending, 2: closing */
    int http_match;   /* bytes of "\r\n\r\n" matched so far */
    size_t out_len, out_off;
    VexIoOp op;
    char in[BUF_SIZE];
    char out[BUF_SIZE];
} Conn;

typedef struct {
    int lfd, mode;
    VexIoOp op;
    int step;
} Acceptor;

/* Counts the requests the bytes complete, carrying the matcher state. */
static size_t http_requests(Conn *c, const char *p, size_t n)
{
    size_t k = 0;
    int st = c->http_match;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\r') {
            st = st == 2 ? 3 : 1;
        } else if (ch == '\n') {
            if (st == 3) {
                k++;
                st = 0;
            } else {
                st = st == 1 ? 2 : 0;
            }
        } else {
            st = 0;
        }
    }
    c->http_match = st;
    return k;
}

static void submit(WorkerContext *ctx, Conn *c, uint8_t code, void *buf, size_t len)
{
    memset(&c->op, 0, sizeof c->op);
    c->op.opcode = code;
    c->op.handle = (IoHandle)c->fd;
    c->op.buf = buf;
    c->op.len = len;
    worker_await_op(ctx, &c->op);
}

/* Fills c->out with responses for pending requests (as many as fit). */
static size_t http_fill(Conn *c, size_t *pending)
{
    size_t n = 0;
    while (*pending && n + RESPONSE_LEN <= sizeof c->out) {
        memcpy(c->out + n, RESPONSE, RESPONSE_LEN);
        n += RESPONSE_LEN;
        (*pending)--;
    }
    return n;
}

typedef struct {
    Conn c;
    size_t http_pending; /* responses owed but not yet written */
} ConnTask;

static CoroStatus conn_task(WorkerContext *ctx, void *data)
{
    ConnTask *ct = data;
    Conn *c = &ct->c;
    for (;;) {
        switch (c->state) {
        case 0: /* submit a receive */
            c->state = 3;
            submit(ctx, c, VEX_OP_RECV, c->in, sizeof c->in);
            return CORO_STATUS_YIELDED;
        case 3: { /* received */
            int64_t n = c->op.result;
            if (n <= 0) {
                c->state = 2;
                submit(ctx, c, VEX_OP_CLOSE, NULL, 0);
                return CORO_STATUS_YIELDED;
            }
            if (c->mode == MODE_ECHO) {
                c->out_len = (size_t)n;
                c->out_off = 0;
                c->state = 1;
                submit(ctx, c, VEX_OP_SEND, c->in, (size_t)n);
                return CORO_STATUS_YIELDED;
            }
            ct->http_pending += http_requests(c, c->in, (size_t)n);
            if (!ct->http_pending) {
                c->state = 0;
                continue;
            }
            c->out_len = http_fill(c, &ct->http_pending);
            c->out_off = 0;
            c->state = 1;
            submit(ctx, c, VEX_OP_SEND, c->out, c->out_len);
            return CORO_STATUS_YIELDED;
        }
        case 1: { /* a send completed */
            int64_t n = c->op.result;
            if (n < 0) {
                c->state = 2;
                submit(ctx, c, VEX_OP_CLOSE, NULL, 0);
                return CORO_STATUS_YIELDED;
            }
            c->out_off += (size_t)n;
            char *base = c->mode == MODE_ECHO ? c->in : c->out;
            if (c->out_off < c->out_len) { /* a partial send: the rest */
                submit(ctx, c, VEX_OP_SEND, base + c->out_off, c->out_len - c->out_off);
                return CORO_STATUS_YIELDED;
            }
            if (c->mode == MODE_HTTP && ct->http_pending) {
                c->out_len = http_fill(c, &ct->http_pending);
                c->out_off = 0;
                submit(ctx, c, VEX_OP_SEND, c->out, c->out_len);
                return CORO_STATUS_YIELDED;
            }
            c->state = 0;
            continue;
        }
        default: /* closed */
            free(ct);
            return CORO_STATUS_DONE;
        }
    }
}

static CoroStatus acceptor_task(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    if (a->step++ > 0) {
        int64_t fd = a->op.result;
        if (fd >= 0) {
            int one = 1;
            setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ConnTask *ct = calloc(1, sizeof *ct);
            if (ct) {
                ct->c.fd = (int)fd;
                ct->c.mode = a->mode;
            }
            if (!ct || worker_spawn_local(ctx, conn_task, ct) != 0) {
                free(ct);
                close((int)fd);
            }
        } else if (fd != VEX_ECANCELED) {
            fprintf(stderr, "vexrt-server: accept: %s\n", vex_strerror((int)fd));
        }
    }
    memset(&a->op, 0, sizeof a->op);
    a->op.opcode = VEX_OP_ACCEPT;
    a->op.handle = (IoHandle)a->lfd;
    worker_await_op(ctx, &a->op);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    IoHandle h[2];
    Runtime *rt;
} Stopper;

static CoroStatus stop_task(WorkerContext *ctx, void *data)
{
    Stopper *s = data;
    if (vex_signal_consume(s->rt, s->h[0]) > 0 || vex_signal_consume(s->rt, s->h[1]) > 0) {
        runtime_shutdown(s->rt);
        return CORO_STATUS_DONE;
    }
    worker_await_ioh(ctx, s->h[0], EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

/* SIGINT has its own small task: one await per task. */
static CoroStatus stop_task_int(WorkerContext *ctx, void *data)
{
    Stopper *s = data;
    if (vex_signal_consume(s->rt, s->h[1]) > 0) {
        runtime_shutdown(s->rt);
        return CORO_STATUS_DONE;
    }
    worker_await_ioh(ctx, s->h[1], EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

static void usage(void)
{
    fprintf(stderr, "usage: vexrt-server --port N --mode echo|http [--threads T] "
                    "[--backend epoll|io_uring] [--drive run|host]\n");
    exit(2);
}

/* A host's loop around the runtime: wait in poll() on the backend handle
 * (or let runtime_step wait, where there is none) at most until the next
 * timer, then run what is ready. */
static void host_drive(Runtime *rt)
{
    IoHandle h;
    bool pollable = runtime_backend_handle(rt, &h) == 0;
    struct pollfd pfd = {.fd = (int)h, .events = POLLIN};
    while (runtime_step(rt, 0) > 0) {
        uint64_t ns = runtime_backend_timeout_ns(rt);
        if (ns == 0) continue;
        if (!pollable) {
            runtime_step(rt, ns);
            continue;
        }
        int ms = ns == VEX_WAIT_FOREVER ? -1 : (int)(ns / 1000000 + (ns % 1000000 != 0));
        poll(&pfd, 1, ms);
    }
}

int main(int argc, char **argv)
{
    int port = 0, threads = 2, mode = -1;
    bool host = false;
    const char *backend = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backend"))
            backend = argv[i + 1];
        else if (!strcmp(argv[i], "--drive") && (!strcmp(argv[i + 1], "run") || !strcmp(argv[i + 1], "host")))
            host = !strcmp(argv[i + 1], "host");
        else if (!strcmp(argv[i], "--mode"))
            mode = !strcmp(argv[i + 1], "echo") ? MODE_ECHO
                   : !strcmp(argv[i + 1], "http") ? MODE_HTTP
                                                   : -1;
        else
            usage();
    }
    if (mode < 0 || threads < 1) usage();

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof addr;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
        perror("vexrt-server: listen");
        return 1;
    }

    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = threads;
    cfg.io_backend = backend;
    Runtime *rt = NULL;
    int rc = runtime_new(&cfg, &rt);
    if (rc) {
        fprintf(stderr, "vexrt-server: runtime_new: %s\n", vex_strerror(rc));
        return 1;
    }
    /* Signals are blocked in this thread before the runtime runs; the
     * workers block every signal, so SIGTERM reaches the signalfd. */
    Stopper st = {.rt = rt};
    if (vex_signal_open(rt, SIGTERM, &st.h[0]) != 0 || vex_signal_open(rt, SIGINT, &st.h[1]) != 0) {
        fprintf(stderr, "vexrt-server: signals unavailable\n");
        return 1;
    }
    Acceptor acc = {.lfd = lfd, .mode = mode};
    runtime_spawn_global(rt, stop_task, &st);
    runtime_spawn_global(rt, stop_task_int, &st);
    runtime_spawn_global(rt, acceptor_task, &acc);
    fprintf(stderr, "vexrt-server: %s mode, %d workers, backend %s, %s\n",
            mode == MODE_ECHO ? "echo" : "http", threads, runtime_io_backend(rt),
            host ? "hosted (runtime_step)" : "runtime_run");
    printf("READY %d\n", ntohs(addr.sin_port));
    fflush(stdout);
    if (host)
        host_drive(rt);
    else
        runtime_run(rt);
    RuntimeStats rs;
    runtime_get_stats(rt, &rs);
    fprintf(stderr,
            "vexrt-server: resumes %llu wakeups %llu steals %llu parks %llu unparks %llu "
            "poller_events %llu io_submitted %llu io_completed %llu global_pushes %llu\n",
            (unsigned long long)rs.resumes, (unsigned long long)rs.wakeups,
            (unsigned long long)rs.steals, (unsigned long long)rs.parks,
            (unsigned long long)rs.unparks, (unsigned long long)rs.poller_events,
            (unsigned long long)rs.io_submitted, (unsigned long long)rs.io_completed,
            (unsigned long long)rs.global_pushes);
    vex_signal_close(rt, st.h[0]);
    vex_signal_close(rt, st.h[1]);
    runtime_destroy(rt); /* connection tasks still open are dropped with it */
    close(lfd);
    return 0;
}
