/* host_loop - a program with an event loop of its own (poll() over stdin
 * and a UDP socket it serves itself) that hosts the runtime without giving
 * it a thread: the runtime's backend handle sits in the same poll() set,
 * runtime_backend_timeout_ns bounds the wait, and runtime_step runs the
 * tasks on this thread. Inside the runtime: a TCP echo server and a timer
 * that ticks every second.
 *
 *   build/examples/host_loop [--tcp PORT] [--udp PORT]
 *
 * Lines on stdin are answered by the host ("host: N bytes"); "quit" (or
 * end of input) stops the runtime and the program. The ports default to 0
 * (the kernel picks; both are printed). VEXRT_BACKEND=epoll|io_uring picks
 * the backend. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vexrt.h>

/* --- Inside the runtime: a TCP echo server and a ticker --- */

typedef struct {
    int fd, state; /* 0 start, 1 recv, 2 send, 3 close */
    size_t len, sent;
    VexIoOp op;
    char buf[2048];
} Conn;

static void op_set(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

static CoroStatus conn_task(WorkerContext *ctx, void *data)
{
    Conn *c = data;
    int64_t res = c->op.result;
    switch (c->state) {
    case 0: break;
    case 1:
        if (res <= 0) goto close;
        c->len = (size_t)res;
        c->sent = 0;
        break;
    case 2:
        if (res <= 0) goto close;
        c->sent += (size_t)res;
        break;
    default: free(c); return CORO_STATUS_DONE; /* closed */
    }
    if (c->state != 0 && c->sent < c->len) {
        c->state = 2;
        op_set(&c->op, VEX_OP_SEND, c->fd, c->buf + c->sent, c->len - c->sent);
    } else {
        c->state = 1;
        op_set(&c->op, VEX_OP_RECV, c->fd, c->buf, sizeof c->buf);
    }
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
close:
    c->state = 3;
    op_set(&c->op, VEX_OP_CLOSE, c->fd, NULL, 0);
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    int lfd;
    VexIoOp op;
    bool started;
} Acceptor;

static CoroStatus acceptor_task(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    if (a->started && a->op.result >= 0) {
        Conn *c = calloc(1, sizeof *c);
        if (c) c->fd = (int)a->op.result;
        if (!c || worker_spawn_local(ctx, conn_task, c) != 0) {
            close((int)a->op.result);
            free(c);
        }
    }
    a->started = true;
    op_set(&a->op, VEX_OP_ACCEPT, a->lfd, NULL, 0);
    worker_await_op(ctx, &a->op);
    return CORO_STATUS_YIELDED;
}

static CoroStatus ticker_task(WorkerContext *ctx, void *data)
{
    unsigned *ticks = data;
    if (worker_wake_reason(ctx) == VEX_WAKE_TIMER) printf("runtime: tick %u\n", ++*ticks);
    fflush(stdout);
    worker_await_after(ctx, 1000);
    return CORO_STATUS_YIELDED;
}

/* --- The host --- */

static int bound_socket(int type, int port, uint16_t *actual)
{
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        (type == SOCK_STREAM && listen(fd, 64) != 0) ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *actual = ntohs(a.sin_port);
    return fd;
}

int main(int argc, char **argv)
{
    int tcp_port = 0, udp_port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--tcp")) tcp_port = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--udp")) udp_port = atoi(argv[i + 1]);
    }
    Runtime *rt = runtime_create(1);
    if (!rt) return 1;
    uint16_t tcp, udp;
    Acceptor acc = {.lfd = bound_socket(SOCK_STREAM, tcp_port, &tcp)};
    int ufd = bound_socket(SOCK_DGRAM, udp_port, &udp);
    if (acc.lfd < 0 || ufd < 0) {
        perror("socket");
        return 1;
    }
    unsigned ticks = 0;
    runtime_spawn_global(rt, acceptor_task, &acc);
    runtime_spawn_global(rt, ticker_task, &ticks);

    IoHandle h;
    int rc = runtime_backend_handle(rt, &h);
    if (rc) {
        fprintf(stderr, "host_loop: no backend handle: %s\n", vex_strerror(rc));
        return 1;
    }
    printf("host_loop on %s: tcp echo (runtime) 127.0.0.1:%u, udp echo (host) 127.0.0.1:%u\n",
           runtime_io_backend(rt), tcp, udp);
    fflush(stdout);
    bool input_open = true;
    while (runtime_step(rt, 0) > 0) {
        uint64_t t = runtime_backend_timeout_ns(rt);
        int ms = t == VEX_WAIT_FOREVER ? -1 : (int)((t + 999999) / 1000000);
        struct pollfd pfd[3] = {{(int)h, POLLIN, 0}, {ufd, POLLIN, 0}, {0, POLLIN, 0}};
        int n = poll(pfd, input_open ? 3 : 2, ms);
        if (n < 0 && errno != EINTR) break; /* EINTR: io_uring task work may interrupt it */
        if (n > 0 && (pfd[1].revents & POLLIN)) { /* the host's own UDP echo */
            char d[1500];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t k = recvfrom(ufd, d, sizeof d, 0, (struct sockaddr *)&from, &fl);
            if (k >= 0) sendto(ufd, d, (size_t)k, 0, (struct sockaddr *)&from, fl);
        }
        if (n > 0 && input_open && (pfd[2].revents & (POLLIN | POLLHUP))) {
            char line[256];
            ssize_t k = read(0, line, sizeof line - 1);
            if (k <= 0 || (k >= 4 && !strncmp(line, "quit", 4))) {
                input_open = false;
                runtime_shutdown(rt); /* the next step returns 0 */
            } else {
                printf("host: %zd bytes\n", k);
                fflush(stdout);
            }
        }
    }
    printf("host_loop: stopped after %u ticks\n", ticks);
    runtime_destroy(rt);
    close(ufd);
    close(acc.lfd);
    return 0;
}
