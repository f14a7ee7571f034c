/* examples/showcase.c - what `make run` shows: an echo server and its
 * clients as tasks of one runtime, talking over 127.0.0.1 for a few seconds,
 * then the throughput, the round-trip latency percentiles and the runtime's
 * own counters.
 *
 *   build/examples/showcase [--seconds S] [--conns C] [--workers W] [--size B]
 *
 * Everything is written with the completion API (vexrt/io.h): the server
 * accepts with VEX_OP_ACCEPT and echoes with RECV/SEND, each client connects
 * with VEX_OP_CONNECT and runs request/response round trips, timing each.
 * Ctrl-C stops it early (a task awaits SIGINT through vex_signal_open). The
 * backend is io_uring where the kernel allows it, else epoll; set
 * VEXRT_BACKEND=epoll to compare. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/config.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

#define MAX_MSG 4096

/* --- Latency histogram: 32 sub-buckets per power of two of nanoseconds
 * (about 3% resolution), one per client, merged at the end. --- */

#define SUB 32
#define OCTAVES 40

typedef struct {
    uint64_t n[OCTAVES * SUB];
    uint64_t count, max_ns;
} Hist;

static void hist_add(Hist *h, uint64_t ns)
{
    unsigned oct = ns < SUB ? 0 : (unsigned)(63 - __builtin_clzll(ns)) - 4;
    uint64_t sub = ns < SUB ? ns : (ns >> oct) - SUB;
    if (oct >= OCTAVES) oct = OCTAVES - 1, sub = SUB - 1;
    h->n[oct * SUB + sub]++;
    h->count++;
    if (ns > h->max_ns) h->max_ns = ns;
}

/* Lower edge of bucket i in ns. */
static uint64_t hist_edge(unsigned i)
{
    unsigned oct = i / SUB, sub = i % SUB;
    return oct == 0 ? sub : ((uint64_t)SUB + sub) << oct;
}

static double hist_pct(const Hist *h, double p)
{
    double r = p * (double)h->count; /* nearest rank: ceil(p * n) */
    uint64_t rank = (uint64_t)r, seen = 0;
    if ((double)rank < r) rank++;
    for (unsigned i = 0; i < OCTAVES * SUB; i++) {
        seen += h->n[i];
        if (seen >= rank && rank) return (double)hist_edge(i) / 1000.0;
    }
    return (double)h->max_ns / 1000.0;
}

/* --- Shared settings --- */

typedef struct {
    Runtime *rt;
    uint16_t port;
    size_t size;
    uint64_t end_ns;            /* clients stop starting round trips here */
    _Atomic int clients_left;   /* the last client to finish stops the runtime */
    _Atomic int errors;
} Show;

/* --- Server: an acceptor task and one task per connection --- */

typedef struct {
    int fd, state;
    size_t len, off;
    VexIoOp op;
    char buf[MAX_MSG];
} Echo;

static void op_set(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

static CoroStatus echo_task(WorkerContext *ctx, void *data)
{
    Echo *e = data;
    for (;;) {
        switch (e->state) {
        case 0: /* receive */
            e->state = 1;
            op_set(&e->op, VEX_OP_RECV, e->fd, e->buf, sizeof e->buf);
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        case 1: /* received: echo it, or close on EOF / error */
            if (e->op.result <= 0) {
                e->state = 3;
                op_set(&e->op, VEX_OP_CLOSE, e->fd, NULL, 0);
                worker_await_op(ctx, &e->op);
                return CORO_STATUS_YIELDED;
            }
            e->len = (size_t)e->op.result;
            e->off = 0;
            e->state = 2;
            op_set(&e->op, VEX_OP_SEND, e->fd, e->buf, e->len);
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        case 2: /* sent (maybe partly) */
            if (e->op.result < 0) {
                e->op.result = 0;
                e->state = 1;
                continue;
            }
            e->off += (size_t)e->op.result;
            if (e->off < e->len) {
                op_set(&e->op, VEX_OP_SEND, e->fd, e->buf + e->off, e->len - e->off);
                worker_await_op(ctx, &e->op);
                return CORO_STATUS_YIELDED;
            }
            e->state = 0;
            continue;
        default: /* closed */
            free(e);
            return CORO_STATUS_DONE;
        }
    }
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
        int fd = (int)a->op.result, one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        Echo *e = calloc(1, sizeof *e);
        if (e) e->fd = fd;
        if (!e || worker_spawn_local(ctx, echo_task, e) != 0) {
            free(e);
            close(fd);
        }
    }
    a->started = true;
    op_set(&a->op, VEX_OP_ACCEPT, a->lfd, NULL, 0);
    worker_await_op(ctx, &a->op);
    return CORO_STATUS_YIELDED;
}

/* --- Clients --- */

typedef struct {
    Show *show;
    int fd, state;
    size_t got;
    uint64_t t0;
    VexIoOp op;
    struct sockaddr_in addr;
    Hist hist;
    char out[MAX_MSG], in[MAX_MSG];
} Client;

static CoroStatus client_task(WorkerContext *ctx, void *data)
{
    Client *c = data;
    Show *s = c->show;
    for (;;) {
        switch (c->state) {
        case 0: /* connect */
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) goto fail;
            {
                int one = 1;
                setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            c->addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(s->port)};
            c->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            for (size_t i = 0; i < s->size; i++) c->out[i] = (char)('a' + i % 26);
            c->state = 1;
            op_set(&c->op, VEX_OP_CONNECT, c->fd, &c->addr, sizeof c->addr);
            worker_await_op(ctx, &c->op);
            return CORO_STATUS_YIELDED;
        case 1: /* connected, or a round trip done: start the next one */
            if (c->op.result < 0) goto fail;
            if (worker_now_ns(ctx) >= s->end_ns) {
                c->state = 4;
                op_set(&c->op, VEX_OP_CLOSE, c->fd, NULL, 0);
                worker_await_op(ctx, &c->op);
                return CORO_STATUS_YIELDED;
            }
            c->t0 = worker_now_ns(ctx);
            c->state = 2;
            op_set(&c->op, VEX_OP_SEND, c->fd, c->out, s->size);
            worker_await_op(ctx, &c->op);
            return CORO_STATUS_YIELDED;
        case 2: /* request sent: read the whole reply */
            if (c->op.result != (int64_t)s->size) goto fail;
            c->got = 0;
            c->state = 3;
            op_set(&c->op, VEX_OP_RECV, c->fd, c->in, s->size);
            worker_await_op(ctx, &c->op);
            return CORO_STATUS_YIELDED;
        case 3:
            if (c->op.result <= 0) goto fail;
            c->got += (size_t)c->op.result;
            if (c->got < s->size) {
                op_set(&c->op, VEX_OP_RECV, c->fd, c->in + c->got, s->size - c->got);
                worker_await_op(ctx, &c->op);
                return CORO_STATUS_YIELDED;
            }
            if (memcmp(c->in, c->out, s->size) != 0) atomic_fetch_add(&s->errors, 1);
            hist_add(&c->hist, worker_now_ns(ctx) - c->t0);
            c->op.result = 0;
            c->state = 1;
            continue;
        default: /* closed */
            goto done;
        }
    }
fail:
    atomic_fetch_add(&s->errors, 1);
    if (c->fd >= 0) close(c->fd);
done:
    if (atomic_fetch_sub(&s->clients_left, 1) == 1) runtime_shutdown(s->rt); /* the last one */
    return CORO_STATUS_DONE;
}

/* --- Ctrl-C --- */

typedef struct {
    Runtime *rt;
    IoHandle sig;
} Stop;

static CoroStatus stop_task(WorkerContext *ctx, void *data)
{
    Stop *st = data;
    if (vex_signal_consume(st->rt, st->sig) > 0) {
        fprintf(stderr, "showcase: interrupted\n");
        runtime_shutdown(st->rt);
        return CORO_STATUS_DONE;
    }
    worker_await_ioh(ctx, st->sig, EVENT_TYPE_READABLE);
    return CORO_STATUS_YIELDED;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    double seconds = 3.0;
    int conns = 32, workers = 2;
    size_t size = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--conns")) conns = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) workers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) size = (size_t)atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--seconds S] [--conns C] [--workers W] [--size B]\n", argv[0]);
            return 2;
        }
    }
    if (conns < 1 || workers < 1 || size < 1 || size > MAX_MSG || seconds <= 0) {
        fprintf(stderr, "showcase: bad arguments\n");
        return 2;
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1024) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("showcase: listen");
        return 1;
    }

    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    Runtime *rt = NULL;
    int rc = runtime_new(&cfg, &rt);
    if (rc) {
        fprintf(stderr, "showcase: runtime_new: %s\n", vex_strerror(rc));
        return 1;
    }
    Stop stop = {.rt = rt};
    if ((rc = vex_signal_open(rt, SIGINT, &stop.sig)) != 0) {
        fprintf(stderr, "showcase: vex_signal_open: %s\n", vex_strerror(rc));
        return 1;
    }
    Show show = {.rt = rt, .port = ntohs(a.sin_port), .size = size};
    atomic_init(&show.clients_left, conns);
    atomic_init(&show.errors, 0);
    Acceptor acc = {.lfd = lfd};
    Client *cl = calloc((size_t)conns, sizeof *cl);
    if (!cl) return 1;

    printf("libvexrt showcase: echo server + %d client tasks on 127.0.0.1:%u, %zu-byte "
           "messages, %d workers, backend %s, %.1f s\n",
           conns, show.port, size, workers, runtime_io_backend(rt), seconds);
    fflush(stdout);
    runtime_spawn_global(rt, stop_task, &stop);
    runtime_spawn_global(rt, acceptor_task, &acc);
    uint64_t t0 = mono_ns();
    show.end_ns = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < conns; i++) {
        cl[i].show = &show;
        cl[i].fd = -1;
        if ((rc = runtime_spawn_global(rt, client_task, &cl[i])) != 0) {
            fprintf(stderr, "showcase: spawn: %s\n", vex_strerror(rc));
            return 1;
        }
    }
    runtime_run(rt);
    double elapsed = (double)(mono_ns() - t0) / 1e9;

    Hist *all = calloc(1, sizeof *all);
    if (!all) return 1;
    for (int i = 0; i < conns; i++) {
        for (unsigned k = 0; k < OCTAVES * SUB; k++) all->n[k] += cl[i].hist.n[k];
        all->count += cl[i].hist.count;
        if (cl[i].hist.max_ns > all->max_ns) all->max_ns = cl[i].hist.max_ns;
    }
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    printf("\n  round trips   %llu in %.2f s = %.0f per second (%.1f MB/s each way)\n",
           (unsigned long long)all->count, elapsed, (double)all->count / elapsed,
           (double)all->count * (double)size / elapsed / 1e6);
    printf("  latency       p50 %.1f us   p90 %.1f us   p99 %.1f us   max %.1f us\n",
           hist_pct(all, 0.50), hist_pct(all, 0.90), hist_pct(all, 0.99),
           (double)all->max_ns / 1000.0);
    printf("  errors        %d\n", atomic_load(&show.errors));
    printf("\n  runtime stats (%llu workers)\n", (unsigned long long)st.workers);
    printf("    tasks       spawned %llu, done %llu, live %llu\n",
           (unsigned long long)st.tasks_spawned, (unsigned long long)st.tasks_done,
           (unsigned long long)st.live_tasks);
    printf("    scheduling  resumes %llu, wake-ups %llu, yields %llu, steals %llu\n",
           (unsigned long long)st.resumes, (unsigned long long)st.wakeups,
           (unsigned long long)st.yields, (unsigned long long)st.steals);
    printf("    sleeping    parks %llu, unparks %llu\n", (unsigned long long)st.parks,
           (unsigned long long)st.unparks);
    printf("    i/o         submitted %llu, completed %llu, poller events %llu\n",
           (unsigned long long)st.io_submitted, (unsigned long long)st.io_completed,
           (unsigned long long)st.poller_events);
    printf("    queues      global pushes %llu, overflows %llu\n",
           (unsigned long long)st.global_pushes, (unsigned long long)st.overflows);
    int errors = atomic_load(&show.errors);
    vex_signal_close(rt, stop.sig);
    runtime_destroy(rt); /* the server's tasks are still parked: dropped here */
    close(lfd);
    free(cl);
    free(all);
    return errors ? 1 : 0;
}
