/* tests/valgrind/vg_check.c - programs `make valgrind` runs under valgrind
 * (memcheck, --leak-check=full --error-exitcode=1) on the default backend,
 * each under a time bound: a runtime that stalls under valgrind, leaks, or
 * touches memory it should not fails here. Plain executables: valgrind's
 * errors do not fail Criterion tests, and Criterion forks per test.
 *
 *   vg_check timers   2 workers: one task (ten times), then 8 tasks, each sleeping 1 ms 100
 *                     times (never early)
 *   vg_check wakes    notify ping-pong across workers, a channel, a foreign signaller
 *   vg_check io       socketpair echo with completion ops, readiness awaits, a TCP accept
 *
 * Each prints "vg_check <name>: ok (<backend>)" and exits 0, or says what
 * went wrong and exits 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/channel.h"
#include "vexrt/io.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

static int failures;

#define EXPECT(c, ...)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "vg_check: %s:%d: ", __FILE__, __LINE__);                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static Runtime *start(int workers)
{
    Runtime *rt = runtime_create(workers);
    EXPECT(rt != NULL, "runtime_create");
    runtime_enable_auto_shutdown(rt, true);
    return rt;
}

static void finish(Runtime *rt, uint64_t want_done)
{
    EXPECT(runtime_run(rt) == 0, "runtime_run");
    RuntimeStats st;
    runtime_get_stats(rt, &st);
    EXPECT(st.tasks_done == want_done, "tasks done %llu, want %llu",
           (unsigned long long)st.tasks_done, (unsigned long long)want_done);
    EXPECT(st.live_tasks == 0, "live tasks %llu", (unsigned long long)st.live_tasks);
    runtime_destroy(rt);
}

/* --- timers --- */

enum { SLEEPERS = 8, SLEEPS = 100, LONE_ROUNDS = 10 };

typedef struct {
    int n;
    uint64_t due;
    int early;
} Sleeper;

static CoroStatus sleeper(WorkerContext *ctx, void *data)
{
    Sleeper *s = data;
    if (s->n && worker_now_ns(ctx) < s->due) s->early++;
    if (s->n++ == SLEEPS) return CORO_STATUS_DONE;
    s->due = worker_now_ns(ctx) + 1000000u;
    worker_await_deadline(ctx, s->due);
    return CORO_STATUS_YIELDED;
}

static void run_timers(void)
{
    /* One task alone first, in ten runtimes: its worker's sibling sleeps in
     * its poller with nothing to wake it for, which is what froze the task's
     * worker under valgrind on io_uring (from nothing to about 2 s per 1 ms
     * sleep, depending on which worker waited where: 0.7 to 39 s for twenty
     * sleeps). */
    for (int round = 0; round < LONE_ROUNDS; round++) {
        Runtime *rt = start(2);
        Sleeper one = {0};
        runtime_spawn_global(rt, sleeper, &one);
        finish(rt, 1);
        EXPECT(one.n == SLEEPS + 1 && one.early == 0, "lone sleeper: %d resumes, %d early", one.n,
               one.early);
    }
    Runtime *rt = start(2);
    static Sleeper s[SLEEPERS];
    for (int i = 0; i < SLEEPERS; i++) runtime_spawn_global(rt, sleeper, &s[i]);
    finish(rt, SLEEPERS);
    for (int i = 0; i < SLEEPERS; i++) {
        EXPECT(s[i].n == SLEEPS + 1, "sleeper %d resumed %d times", i, s[i].n);
        EXPECT(s[i].early == 0, "sleeper %d woke early %d times", i, s[i].early);
    }
}

/* --- wakes --- */

enum { ROUNDS = 2000, FOREIGN = 200 };

typedef struct {
    VexNotify *mine, *other;
    int count, step;
    bool first; /* serves first */
} Pinger;

/* A serves, B answers: each wake counts a round and passes the ball. */
static CoroStatus pinger(WorkerContext *ctx, void *data)
{
    Pinger *p = data;
    if (p->step++ == 0) {
        if (p->first) worker_notify_signal(ctx, p->other);
    } else {
        p->count++;
        if (!p->first || p->count < ROUNDS) worker_notify_signal(ctx, p->other);
        if (p->count == ROUNDS) return CORO_STATUS_DONE;
    }
    worker_await_notify(ctx, p->mine);
    return CORO_STATUS_YIELDED;
}

typedef struct {
    VexChannel *ch;
    int got;
    uintptr_t sum;
} Consumer;

static CoroStatus consumer(WorkerContext *ctx, void *data)
{
    Consumer *c = data;
    for (;;) {
        void *v;
        int rc = worker_channel_recv(ctx, c->ch, &v);
        if (rc == VEX_EPIPE) return CORO_STATUS_DONE;
        if (rc == VEX_EAGAIN) {
            worker_await_channel_recv(ctx, c->ch);
            return CORO_STATUS_YIELDED;
        }
        c->got++;
        c->sum += (uintptr_t)v;
    }
}

static void *foreign_sender(void *arg)
{
    VexChannel *ch = arg;
    for (uintptr_t i = 1; i <= FOREIGN;) {
        int rc = vex_channel_send(ch, (void *)i);
        if (rc == 0) i++;
        else sched_yield();
    }
    vex_channel_close(ch);
    return NULL;
}

static void run_wakes(void)
{
    Runtime *rt = start(2);
    VexNotify *a = vex_notify_create(rt), *b = vex_notify_create(rt);
    Pinger pa = {.mine = a, .other = b, .first = true}, pb = {.mine = b, .other = a};
    Consumer c = {.ch = vex_channel_create(rt, 4)};
    runtime_spawn_global(rt, pinger, &pa);
    runtime_spawn_global(rt, pinger, &pb);
    runtime_spawn_global(rt, consumer, &c);
    pthread_t th;
    pthread_create(&th, NULL, foreign_sender, c.ch);
    finish(rt, 3);
    pthread_join(th, NULL);
    EXPECT(pa.count == ROUNDS && pb.count == ROUNDS, "ping-pong %d/%d rounds", pa.count, pb.count);
    EXPECT(c.got == FOREIGN && c.sum == (uintptr_t)FOREIGN * (FOREIGN + 1) / 2,
           "channel: %d values, sum %lu", c.got, (unsigned long)c.sum);
    vex_channel_destroy(c.ch);
    vex_notify_destroy(a);
    vex_notify_destroy(b);
}

/* --- io --- */

enum { ECHOES = 500, SIZE = 64 };

typedef struct {
    int fd, round, step;
    bool client, ready_style;
    VexIoOp op;
    unsigned char buf[SIZE];
    int err;
} Echo;

static void op_set(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

/* The client sends a round and reads the reply through completion ops;
 * the server answers with readiness awaits and plain recv/send. */
static CoroStatus echo(WorkerContext *ctx, void *data)
{
    Echo *e = data;
    if (e->client) {
        for (;;) {
            switch (e->step) {
            case 0:
                if (e->round == ECHOES) return CORO_STATUS_DONE;
                memset(e->buf, e->round & 0xFF, SIZE);
                op_set(&e->op, VEX_OP_SEND, e->fd, e->buf, SIZE);
                e->step = 1;
                worker_await_op(ctx, &e->op);
                return CORO_STATUS_YIELDED;
            case 1:
                if (e->op.result != SIZE) e->err = 1;
                op_set(&e->op, VEX_OP_RECV, e->fd, e->buf, SIZE);
                e->op.flags = VEX_MSG_WAITALL;
                e->step = 2;
                worker_await_op(ctx, &e->op);
                return CORO_STATUS_YIELDED;
            default:
                if (e->op.result != SIZE || e->buf[0] != (e->round & 0xFF) ||
                    e->buf[SIZE - 1] != (e->round & 0xFF))
                    e->err = 2;
                e->round++;
                e->step = 0;
            }
        }
    }
    for (;;) {
        ssize_t n = recv(e->fd, e->buf, SIZE, MSG_DONTWAIT);
        if (n == 0) return CORO_STATUS_DONE; /* the client closed */
        if (n < 0) {
            worker_await_io(ctx, e->fd, EVENT_TYPE_READABLE);
            return CORO_STATUS_YIELDED;
        }
        if (send(e->fd, e->buf, (size_t)n, MSG_NOSIGNAL) != n) e->err = 3;
    }
}

typedef struct {
    int lfd;
    VexIoOp op;
    int accepted;
    int step;
} Acceptor;

static CoroStatus acceptor(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    if (a->step++ == 0) {
        op_set(&a->op, VEX_OP_ACCEPT, a->lfd, NULL, 0);
        worker_await_op(ctx, &a->op);
        return CORO_STATUS_YIELDED;
    }
    a->accepted = (int)a->op.result;
    return CORO_STATUS_DONE;
}

static void *connector(void *arg)
{
    uint16_t port = *(uint16_t *)arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, (struct sockaddr *)&sa, sizeof sa);
    close(fd);
    return NULL;
}

static CoroStatus closer(WorkerContext *ctx, void *data)
{
    Echo *client = data;
    if (client->round < ECHOES) { /* poll until the echo is through */
        worker_await_after(ctx, 1);
        return CORO_STATUS_YIELDED;
    }
    shutdown(client->fd, SHUT_WR);
    return CORO_STATUS_DONE;
}

static void run_io(void)
{
    Runtime *rt = start(2);
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    Echo cl = {.fd = sv[0], .client = true}, sv_ = {.fd = sv[1]};
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    EXPECT(bind(lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(lfd, 4) == 0 &&
               getsockname(lfd, (struct sockaddr *)&sa, &len) == 0,
           "listen");
    uint16_t port = ntohs(sa.sin_port);
    Acceptor acc = {.lfd = lfd};
    runtime_spawn_global(rt, echo, &cl);
    runtime_spawn_global(rt, echo, &sv_);
    runtime_spawn_global(rt, closer, &cl);
    runtime_spawn_global(rt, acceptor, &acc);
    pthread_t th;
    pthread_create(&th, NULL, connector, &port);
    finish(rt, 4);
    pthread_join(th, NULL);
    EXPECT(cl.round == ECHOES && !cl.err && !sv_.err, "echo: %d rounds, errors %d/%d", cl.round,
           cl.err, sv_.err);
    EXPECT(acc.accepted >= 0, "accept gave %d", acc.accepted);
    if (acc.accepted >= 0) close(acc.accepted);
    close(lfd);
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "";
    const char *backend = "?";
    Runtime *probe = runtime_create(1);
    if (probe) {
        backend = runtime_io_backend(probe);
        runtime_destroy(probe);
    }
    if (!strcmp(what, "timers"))
        run_timers();
    else if (!strcmp(what, "wakes"))
        run_wakes();
    else if (!strcmp(what, "io"))
        run_io();
    else {
        fprintf(stderr, "usage: vg_check timers|wakes|io\n");
        return 2;
    }
    if (failures) return 1;
    printf("vg_check %s: ok (%s)\n", what, backend);
    return 0;
}
