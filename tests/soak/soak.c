/* tests/soak/soak.c - the soak run: a mixed workload for a given time, built
 * with ThreadSanitizer by `make soak` (mk/targets-soak.mk), that checks its
 * books at the end and exits non-zero on any mismatch.
 *
 *   vexrt-soak SECONDS
 *
 * The time is cut into rounds that alternate the I/O backends (io_uring and
 * epoll, a minute each; runs shorter than two minutes give each backend
 * half). A round is a fresh runtime (3 workers, a counting allocator,
 * auto-shutdown) running, until its deadline:
 *   - spawns from a task (local and global), chains of spawns, yielders,
 *     and global spawns from a thread that is not a worker;
 *   - timer tasks with random deadlines (three kinds of timer await);
 *   - cancellation: victims spawned with created tokens (some children of a
 *     parent token), parked on a long timer or a short random one, and a
 *     canceller that cancels the token (or its parent) at a random time;
 *   - notify ping-pong pairs;
 *   - an echo server on 127.0.0.1 (accept operations, handlers alternating
 *     the completion and readiness APIs) and client tasks (also alternating)
 *     sending random-sized messages and checking every byte that comes back.
 * Then generation stops, the tokens left are cancelled, the acceptor is
 * cancelled, and the round ends when every task is done. Checked per round:
 * spawned == completed (ours and the runtime's counters), every victim ended
 * exactly once (long-timer victims only by cancellation), timers fired ==
 * armed - cancelled (ours and the runtime's), bytes sent == echoed ==
 * received with every byte as sent, no task left, no allocator byte left and
 * no bad free. One JSON line sums the rounds up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/cancel.h"
#include "vexrt/config.h"
#include "vexrt/io.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

#define WORKERS 3
#define MAX_CLIENTS 12
#define MAX_MSG 8192
#define CLIENT_MSGS 24

/* --- A counting allocator (the runtime's every byte) --- */

typedef struct {
    size_t size, align;
    unsigned magic;
} Hdr;

#define HDR_MAGIC 0x50a4c0deu

static _Atomic long long live_bytes, live_blocks, bad_frees, alloc_calls;

static size_t hdr_room(size_t align) { return (sizeof(Hdr) + align - 1) / align * align; }

static void *ca_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (align < 16) align = 16;
    size_t room = hdr_room(align);
    char *base = aligned_alloc(align, (room + size + align - 1) / align * align);
    if (!base) return NULL;
    Hdr *h = (Hdr *)(void *)(base + room - sizeof(Hdr));
    h->size = size;
    h->align = align;
    h->magic = HDR_MAGIC;
    atomic_fetch_add(&live_bytes, (long long)size);
    atomic_fetch_add(&live_blocks, 1);
    atomic_fetch_add(&alloc_calls, 1);
    return base + room;
}

static void ca_free(void *ctx, void *p, size_t size, size_t align)
{
    (void)ctx;
    if (align < 16) align = 16;
    Hdr *h = (Hdr *)(void *)((char *)p - sizeof(Hdr));
    if (h->magic != HDR_MAGIC || h->size != size || h->align != align) {
        atomic_fetch_add(&bad_frees, 1);
        return;
    }
    h->magic = 0;
    atomic_fetch_sub(&live_bytes, (long long)size);
    atomic_fetch_sub(&live_blocks, 1);
    free((char *)p - hdr_room(align));
}

static const VexAllocator counting = {ca_alloc, ca_free, NULL};

/* --- The books of a round --- */

typedef struct {
    _Atomic uint64_t spawned, completed, yields;
    _Atomic uint64_t timers_armed, timers_fired, timers_cancelled;
    _Atomic uint64_t victims, victims_long, victims_cancel_seen, victims_long_cancel_seen;
    _Atomic uint64_t victims_timer, victims_started_cancelled, tokens, batches, tokens_cancelled;
    _Atomic uint64_t pings, pairs;
    _Atomic uint64_t clients, clients_done, conns_accepted, bytes_sent, bytes_echoed,
        bytes_received;
    _Atomic uint64_t foreign_spawns;
    _Atomic uint64_t errors;
} Books;

static struct {
    Runtime *rt;
    uint64_t deadline_ns;
    Books b;
    _Atomic bool stop_foreign, foreign_done;
    _Atomic int active_clients;
    VexNotify *foreign_note;
    CancelToken *server_token;
    int listen_fd;
    uint16_t port;
    _Atomic uint64_t seed;
} S;

static void soak_error(const char *what, long v)
{
    if (atomic_fetch_add(&S.b.errors, 1) < 20) fprintf(stderr, "soak: %s (%ld)\n", what, v);
}

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t new_seed(void)
{
    uint64_t z = 0x9E3779B97F4A7C15ULL * (atomic_fetch_add(&S.seed, 1) + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    return (z ^ (z >> 27)) | 1;
}

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n);
    if (!p) {
        fprintf(stderr, "soak: out of memory\n");
        exit(2);
    }
    return p;
}

/* Every task ends through here. */
static CoroStatus finish(void *data)
{
    free(data);
    atomic_fetch_add(&S.b.completed, 1);
    return CORO_STATUS_DONE;
}

/* Spawns and counts; data is freed if the spawn fails (it never should). */
static void spawn(WorkerContext *ctx, bool global, coro_resume_func fn, void *data,
                  CancelToken *token)
{
    int rc;
    if (token)
        rc = ctx && !global ? worker_spawn_local_with_token(ctx, fn, data, token)
                            : runtime_spawn_with_token(S.rt, fn, data, token);
    else
        rc = ctx && !global ? worker_spawn_local(ctx, fn, data)
                            : runtime_spawn_global(S.rt, fn, data);
    if (rc) {
        soak_error(vex_errname(rc), global);
        free(data);
        return;
    }
    atomic_fetch_add(&S.b.spawned, 1);
}

/* --- Yielders and chains --- */

typedef struct {
    int left;
} Yielder;

static CoroStatus yielder(WorkerContext *ctx, void *data)
{
    (void)ctx;
    Yielder *y = data;
    if (y->left-- > 0) {
        atomic_fetch_add(&S.b.yields, 1);
        return CORO_STATUS_YIELDED;
    }
    return finish(data);
}

typedef struct {
    int depth;
    uint64_t rng;
} Chain;

static CoroStatus chain(WorkerContext *ctx, void *data)
{
    Chain *c = data;
    if (c->depth > 0) {
        Chain *n = xmalloc(sizeof *n);
        n->depth = c->depth - 1;
        n->rng = c->rng;
        spawn(ctx, rnd(&n->rng) % 4 == 0, chain, n, NULL);
    }
    return finish(data);
}

/* --- Timers --- */

typedef struct {
    int rounds;
    uint64_t rng;
} TimerTask;

static int arm_random(WorkerContext *ctx, uint64_t *rng, uint64_t max_ms)
{
    uint64_t ns = rnd(rng) % (max_ms * 1000000u + 1);
    switch (rnd(rng) % 3) {
    case 0: return worker_await_after(ctx, ns / 1000000u);
    case 1: return worker_await_after_ns(ctx, ns);
    default: return worker_await_deadline(ctx, worker_now_ns(ctx) + ns);
    }
}

static CoroStatus timer_task(WorkerContext *ctx, void *data)
{
    TimerTask *t = data;
    VexWakeReason why = worker_wake_reason(ctx);
    if (why == VEX_WAKE_TIMER) {
        atomic_fetch_add(&S.b.timers_fired, 1);
    } else if (why != VEX_WAKE_NONE) {
        soak_error("timer task woken by", why);
        return finish(data);
    }
    if (t->rounds-- <= 0) return finish(data);
    int rc = arm_random(ctx, &t->rng, 20);
    if (rc) {
        soak_error("timer await", rc);
        return finish(data);
    }
    atomic_fetch_add(&S.b.timers_armed, 1);
    return CORO_STATUS_YIELDED;
}

/* --- Cancellation --- */

typedef struct {
    bool long_wait, armed;
    uint64_t rng;
} Victim;

static CoroStatus victim(WorkerContext *ctx, void *data)
{
    Victim *v = data;
    bool cancelled = cancel_requested(worker_cancel_token(ctx));
    VexWakeReason why = worker_wake_reason(ctx);
    if (!v->armed) {
        /* A token cancelled before the spawn: the task starts cancelled
         * (vexrt/cancel.h) and sees it in its first resume. */
        if (cancelled) {
            atomic_fetch_add(&S.b.victims_started_cancelled, 1);
            atomic_fetch_add(&S.b.victims_cancel_seen, 1);
            if (v->long_wait) atomic_fetch_add(&S.b.victims_long_cancel_seen, 1);
            return finish(data);
        }
        int rc = v->long_wait ? worker_await_after(ctx, 600000) : arm_random(ctx, &v->rng, 10);
        if (rc) {
            soak_error("victim await", rc);
            return finish(data);
        }
        v->armed = true;
        atomic_fetch_add(&S.b.timers_armed, 1);
        return CORO_STATUS_YIELDED;
    }
    if (why == VEX_WAKE_CANCELLED && cancelled) {
        atomic_fetch_add(&S.b.timers_cancelled, 1); /* its timer never fired */
        atomic_fetch_add(&S.b.victims_cancel_seen, 1);
        if (v->long_wait) atomic_fetch_add(&S.b.victims_long_cancel_seen, 1);
    } else if (why == VEX_WAKE_TIMER && !v->long_wait) {
        atomic_fetch_add(&S.b.timers_fired, 1);
        atomic_fetch_add(&S.b.victims_timer, 1);
    } else {
        soak_error("victim woken by", why);
    }
    return finish(data);
}

typedef struct {
    CancelToken *target; /* cancelled */
    CancelToken *other;  /* a child of target (victims on it), or NULL */
    uint64_t rng;
    bool waited;
} Canceller;

static CoroStatus canceller(WorkerContext *ctx, void *data)
{
    Canceller *c = data;
    if (!c->waited) {
        c->waited = true;
        if (worker_await_after_ns(ctx, rnd(&c->rng) % 10000000u) == 0) return CORO_STATUS_YIELDED;
    }
    int rc = cancel_request(c->target);
    if (rc) soak_error("cancel_request", rc);
    atomic_fetch_add(&S.b.tokens_cancelled, 1);
    /* The creator's references; the victims keep theirs until they end. */
    if (c->other) cancel_token_destroy(c->other);
    cancel_token_destroy(c->target);
    return finish(data);
}

/* A batch of victims on a new token (a parent and child, half the time),
 * and the canceller that ends them. */
static void victims_batch(WorkerContext *ctx, uint64_t *rng)
{
    bool tree = rnd(rng) & 1;
    CancelToken *parent = cancel_token_create(S.rt, NULL);
    CancelToken *tok = tree && parent ? cancel_token_create(S.rt, parent) : parent;
    if (!parent || !tok) {
        soak_error("cancel_token_create", 0);
        return;
    }
    atomic_fetch_add(&S.b.tokens, tree ? 2 : 1);
    atomic_fetch_add(&S.b.batches, 1);
    int n = 2 + (int)(rnd(rng) % 4);
    for (int i = 0; i < n; i++) {
        Victim *v = xmalloc(sizeof *v);
        v->long_wait = rnd(rng) % 3 == 0;
        v->rng = new_seed();
        atomic_fetch_add(&S.b.victims, 1);
        if (v->long_wait) atomic_fetch_add(&S.b.victims_long, 1);
        spawn(ctx, rnd(rng) % 4 == 0, victim, v, tok);
    }
    Canceller *c = xmalloc(sizeof *c);
    c->target = parent;
    c->other = tree ? tok : NULL;
    c->rng = new_seed();
    spawn(ctx, false, canceller, c, NULL);
}

/* --- Notify ping-pong --- */

typedef struct Pair {
    VexNotify *n[2];
    _Atomic int finished;
} Pair;

typedef struct {
    Pair *p;
    int side, count, rounds;
} Pinger;

static CoroStatus pinger(WorkerContext *ctx, void *data)
{
    Pinger *g = data;
    VexNotify *mine = g->p->n[g->side], *peer = g->p->n[!g->side];
    VexWakeReason why = worker_wake_reason(ctx);
    bool starts = g->side == 0;
    if (why == VEX_WAKE_NOTIFIED) {
        g->count++;
        atomic_fetch_add(&S.b.pings, 1);
        if (!starts) worker_notify_signal(ctx, peer);
        if (g->count == g->rounds) {
            Pair *p = g->p;
            if (atomic_fetch_add(&p->finished, 1) == 1) { /* the last one out frees */
                vex_notify_destroy(p->n[0]);
                vex_notify_destroy(p->n[1]);
                free(p);
            }
            return finish(data);
        }
        if (starts) worker_notify_signal(ctx, peer);
    } else if (why == VEX_WAKE_NONE) {
        if (starts) worker_notify_signal(ctx, peer);
    } else {
        soak_error("pinger woken by", why);
    }
    worker_await_notify(ctx, mine);
    return CORO_STATUS_YIELDED;
}

static void ping_pair(WorkerContext *ctx, uint64_t *rng)
{
    Pair *p = xmalloc(sizeof *p);
    p->n[0] = vex_notify_create(S.rt);
    p->n[1] = vex_notify_create(S.rt);
    if (!p->n[0] || !p->n[1]) {
        soak_error("vex_notify_create", 0);
        return;
    }
    atomic_fetch_add(&S.b.pairs, 1);
    int rounds = 5 + (int)(rnd(rng) % 50);
    for (int side = 0; side < 2; side++) {
        Pinger *g = xmalloc(sizeof *g);
        g->p = p;
        g->side = side;
        g->rounds = rounds;
        spawn(ctx, side == 1, pinger, g, NULL);
    }
}

/* --- Echo over TCP --- */

static unsigned char pat(uint32_t id, int msg, size_t i)
{
    return (unsigned char)(id * 31u + (unsigned)msg * 7u + (unsigned)i);
}

static void op_set(VexIoOp *op, uint8_t code, int fd, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = (IoHandle)fd;
    op->buf = buf;
    op->len = len;
}

/* The server side of a connection: echoes until EOF. */
typedef struct {
    int fd;
    bool ready_api, closing;
    size_t have, off;
    VexIoOp op;
    unsigned char buf[MAX_MSG];
} Handler;

static CoroStatus handler_ops(WorkerContext *ctx, Handler *h)
{
    if (h->closing) {
        if (h->op.result != 0) soak_error("server close", (long)h->op.result);
        return finish(h);
    }
    if (h->op.opcode) { /* a completion */
        int64_t r = h->op.result;
        if (r < 0) {
            soak_error("server op", (long)r);
            r = 0; /* close */
        }
        if (h->op.opcode == VEX_OP_RECV) {
            if (r == 0) {
                h->closing = true;
                op_set(&h->op, VEX_OP_CLOSE, h->fd, NULL, 0);
                worker_await_op(ctx, &h->op);
                return CORO_STATUS_YIELDED;
            }
            h->have = (size_t)r;
            h->off = 0;
        } else {
            h->off += (size_t)r;
            atomic_fetch_add(&S.b.bytes_echoed, (uint64_t)r);
        }
    }
    if (h->off < h->have)
        op_set(&h->op, VEX_OP_SEND, h->fd, h->buf + h->off, h->have - h->off);
    else
        op_set(&h->op, VEX_OP_RECV, h->fd, h->buf, sizeof h->buf);
    worker_await_op(ctx, &h->op);
    return CORO_STATUS_YIELDED;
}

static void ready_close(int fd)
{
    vex_io_forget(S.rt, (IoHandle)fd);
    close(fd);
}

static CoroStatus handler_ready(WorkerContext *ctx, Handler *h)
{
    for (;;) {
        bool writing = h->off < h->have;
        ssize_t k = writing ? send(h->fd, h->buf + h->off, h->have - h->off, MSG_NOSIGNAL)
                            : recv(h->fd, h->buf, sizeof h->buf, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            worker_await_io(ctx, h->fd, writing ? EVENT_TYPE_WRITABLE : EVENT_TYPE_READABLE);
            return CORO_STATUS_YIELDED;
        }
        if (k <= 0) {
            if (k < 0) soak_error("server raw I/O", errno);
            ready_close(h->fd);
            return finish(h);
        }
        if (writing) {
            h->off += (size_t)k;
            atomic_fetch_add(&S.b.bytes_echoed, (uint64_t)k);
        } else {
            h->have = (size_t)k;
            h->off = 0;
        }
    }
}

static CoroStatus handler(WorkerContext *ctx, void *data)
{
    Handler *h = data;
    return h->ready_api ? handler_ready(ctx, h) : handler_ops(ctx, h);
}

typedef struct {
    VexIoOp op;
    uint64_t n;
} Acceptor;

static CoroStatus acceptor(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    if (a->op.opcode) {
        int64_t r = a->op.result;
        if (r >= 0) {
            Handler *h = xmalloc(sizeof *h);
            h->fd = (int)r;
            h->ready_api = a->n++ & 1;
            atomic_fetch_add(&S.b.conns_accepted, 1);
            spawn(ctx, false, handler, h, NULL);
        } else if (r != VEX_ECANCELED) {
            soak_error("accept", (long)r);
        }
        if (cancel_requested(worker_cancel_token(ctx))) return finish(data);
    }
    op_set(&a->op, VEX_OP_ACCEPT, S.listen_fd, NULL, 0);
    worker_await_op(ctx, &a->op);
    return CORO_STATUS_YIELDED;
}

/* A client: connects, sends CLIENT_MSGS random-sized messages one at a time
 * and checks each echo, then closes. */
enum { CL_CONNECT, CL_SEND, CL_RECV, CL_CLOSE };

typedef struct {
    int fd, state, msg;
    bool ready_api, started;
    uint32_t id;
    size_t len, off;
    uint64_t rng;
    VexIoOp op;
    struct sockaddr_in addr;
    unsigned char out[MAX_MSG], in[MAX_MSG];
} Client;

static void client_next(Client *c)
{
    c->len = 1 + (size_t)(rnd(&c->rng) % MAX_MSG);
    for (size_t i = 0; i < c->len; i++) c->out[i] = pat(c->id, c->msg, i);
    c->off = 0;
    c->state = CL_SEND;
}

static CoroStatus client_end(Client *c, bool ok)
{
    if (ok) atomic_fetch_add(&S.b.clients_done, 1);
    atomic_fetch_sub(&S.active_clients, 1);
    return finish(c);
}

static bool client_got(Client *c, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (c->in[c->off + i] != c->out[c->off + i]) {
            soak_error("echoed byte differs at", (long)(c->off + i));
            return false;
        }
    c->off += k;
    atomic_fetch_add(&S.b.bytes_received, k);
    if (c->off == c->len) {
        if (++c->msg == CLIENT_MSGS)
            c->state = CL_CLOSE;
        else
            client_next(c);
    }
    return true;
}

static CoroStatus client_ops(WorkerContext *ctx, Client *c)
{
    if (c->started) {
        int64_t r = c->op.result;
        switch (c->state) {
        case CL_CONNECT:
            if (r != 0) {
                soak_error("connect", (long)r);
                c->state = CL_CLOSE;
                break;
            }
            client_next(c);
            break;
        case CL_SEND:
            if (r <= 0) {
                soak_error("client send", (long)r);
                c->state = CL_CLOSE;
                break;
            }
            c->off += (size_t)r;
            atomic_fetch_add(&S.b.bytes_sent, (uint64_t)r);
            if (c->off == c->len) {
                c->off = 0;
                c->state = CL_RECV;
            }
            break;
        case CL_RECV:
            if (r <= 0) {
                soak_error("client recv", (long)r);
                c->state = CL_CLOSE;
            } else if (!client_got(c, (size_t)r)) {
                c->state = CL_CLOSE;
            }
            break;
        default: /* the close completed */
            if (r != 0) soak_error("client close", (long)r);
            return client_end(c, c->msg == CLIENT_MSGS);
        }
    }
    c->started = true;
    switch (c->state) {
    case CL_CONNECT:
        op_set(&c->op, VEX_OP_CONNECT, c->fd, &c->addr, sizeof c->addr);
        break;
    case CL_SEND:
        op_set(&c->op, VEX_OP_SEND, c->fd, c->out + c->off, c->len - c->off);
        break;
    case CL_RECV:
        op_set(&c->op, VEX_OP_RECV, c->fd, c->in + c->off, c->len - c->off);
        break;
    default:
        c->state = 99; /* the next completion is the close's */
        op_set(&c->op, VEX_OP_CLOSE, c->fd, NULL, 0);
        break;
    }
    worker_await_op(ctx, &c->op);
    return CORO_STATUS_YIELDED;
}

static CoroStatus client_ready(WorkerContext *ctx, Client *c)
{
    for (;;) {
        ssize_t k;
        bool writing;
        switch (c->state) {
        case CL_CONNECT:
            if (!c->started) {
                c->started = true;
                if (connect(c->fd, (struct sockaddr *)&c->addr, sizeof c->addr) != 0 &&
                    errno != EINPROGRESS) {
                    soak_error("raw connect", errno);
                    c->state = CL_CLOSE;
                    continue;
                }
                worker_await_io(ctx, c->fd, EVENT_TYPE_WRITABLE);
                return CORO_STATUS_YIELDED;
            } else {
                int err = 0; /* woken writable (or hung up): the outcome */
                socklen_t el = sizeof err;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
                if (err) {
                    soak_error("raw connect result", err);
                    c->state = CL_CLOSE;
                    continue;
                }
                client_next(c);
                continue;
            }
        case CL_SEND:
            writing = true;
            k = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
            break;
        case CL_RECV:
            writing = false;
            k = recv(c->fd, c->in + c->off, c->len - c->off, 0);
            break;
        default:
            ready_close(c->fd);
            return client_end(c, c->msg == CLIENT_MSGS);
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            worker_await_io(ctx, c->fd, writing ? EVENT_TYPE_WRITABLE : EVENT_TYPE_READABLE);
            return CORO_STATUS_YIELDED;
        }
        if (k <= 0) {
            soak_error(writing ? "raw send" : "raw recv", k < 0 ? errno : 0);
            c->state = CL_CLOSE;
            continue;
        }
        if (writing) {
            c->off += (size_t)k;
            atomic_fetch_add(&S.b.bytes_sent, (uint64_t)k);
            if (c->off == c->len) {
                c->off = 0;
                c->state = CL_RECV;
            }
        } else if (!client_got(c, (size_t)k)) {
            c->state = CL_CLOSE;
        }
    }
}

static CoroStatus client(WorkerContext *ctx, void *data)
{
    Client *c = data;
    return c->ready_api ? client_ready(ctx, c) : client_ops(ctx, c);
}

static void start_client(WorkerContext *ctx, bool ready_api)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        soak_error("socket", errno);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Client *c = xmalloc(sizeof *c);
    c->fd = fd;
    c->ready_api = ready_api;
    c->id = (uint32_t)atomic_fetch_add(&S.b.clients, 1);
    c->rng = new_seed();
    c->addr.sin_family = AF_INET;
    c->addr.sin_port = htons(S.port);
    c->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    atomic_fetch_add(&S.active_clients, 1);
    spawn(ctx, false, client, c, NULL);
}

/* --- The generator --- */

typedef struct {
    uint64_t rng;
    uint64_t ticks;
    bool ending;
} Root;

static void generate(WorkerContext *ctx, Root *r)
{
    uint64_t *rng = &r->rng;
    int n = 2 + (int)(rnd(rng) % 8);
    for (int i = 0; i < n; i++) {
        Yielder *y = xmalloc(sizeof *y);
        y->left = (int)(rnd(rng) % 6);
        spawn(ctx, rnd(rng) % 3 == 0, yielder, y, NULL);
    }
    if (rnd(rng) % 2 == 0) {
        Chain *c = xmalloc(sizeof *c);
        c->depth = 1 + (int)(rnd(rng) % 8);
        c->rng = new_seed();
        spawn(ctx, false, chain, c, NULL);
    }
    n = (int)(rnd(rng) % 5);
    for (int i = 0; i < n; i++) {
        TimerTask *t = xmalloc(sizeof *t);
        t->rounds = 1 + (int)(rnd(rng) % 3);
        t->rng = new_seed();
        spawn(ctx, rnd(rng) % 4 == 0, timer_task, t, NULL);
    }
    if (rnd(rng) % 6 == 0) victims_batch(ctx, rng);
    if (rnd(rng) % 10 == 0) ping_pair(ctx, rng);
    if (rnd(rng) % 4 == 0 && atomic_load(&S.active_clients) < MAX_CLIENTS)
        start_client(ctx, rnd(rng) & 1);
}

static CoroStatus root(WorkerContext *ctx, void *data)
{
    Root *r = data;
    if (!r->ending && worker_now_ns(ctx) < S.deadline_ns) {
        generate(ctx, r);
        r->ticks++;
        worker_await_after_ns(ctx, 500000 + rnd(&r->rng) % 1000000);
        return CORO_STATUS_YIELDED;
    }
    /* The end: the foreign spawner stops (it signals when it has), the
     * clients finish, then the acceptor is cancelled. */
    if (!r->ending) {
        r->ending = true;
        atomic_store(&S.stop_foreign, true);
    }
    if (!atomic_load(&S.foreign_done)) {
        worker_await_notify(ctx, S.foreign_note);
        return CORO_STATUS_YIELDED;
    }
    if (atomic_load(&S.active_clients) > 0) {
        worker_await_after(ctx, 2);
        return CORO_STATUS_YIELDED;
    }
    cancel_request(S.server_token);
    return finish(data);
}

static CoroStatus foreign_leaf(WorkerContext *ctx, void *data)
{
    (void)ctx;
    return finish(data);
}

static void *foreign_spawner(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 1000000};
    while (!atomic_load(&S.stop_foreign)) {
        for (int i = 0; i < 4; i++) {
            Yielder *y = xmalloc(sizeof *y);
            int rc = runtime_spawn_global(S.rt, i & 1 ? yielder : foreign_leaf, y);
            if (rc) {
                soak_error("foreign spawn", rc);
                free(y);
            } else {
                atomic_fetch_add(&S.b.spawned, 1);
                atomic_fetch_add(&S.b.foreign_spawns, 1);
            }
        }
        nanosleep(&ts, NULL);
    }
    atomic_store(&S.foreign_done, true);
    vex_notify_signal(S.foreign_note); /* the root waits for it */
    return NULL;
}

/* --- A round --- */

typedef struct {
    Runtime *rt;
    int seconds;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, hung;
} Watch;

static void *watchdog(void *arg)
{
    Watch *w = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += w->seconds;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0) break;
    if (!w->done) {
        w->hung = true;
        runtime_shutdown(w->rt);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int listen_local(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct {
    uint64_t spawned, completed, yields, timers_armed, timers_fired, timers_cancelled, victims,
        cancel_seen, tokens, pings, clients, bytes_sent, bytes_echoed, bytes_received,
        foreign_spawns, rt_timers_armed, rt_timers_fired, rt_timers_cancelled, io_completed;
    int rounds, failures;
} Totals;

static int check(bool ok, const char *what, uint64_t a, uint64_t b)
{
    if (ok) return 0;
    fprintf(stderr, "soak: MISMATCH %s: %llu vs %llu\n", what, (unsigned long long)a,
            (unsigned long long)b);
    return 1;
}

/* Runs one round on backend for seconds; returns the number of failed
 * checks. */
static int run_round(const char *backend, int seconds, Totals *tot)
{
    memset(&S, 0, sizeof S);
    atomic_store(&S.seed, (uint64_t)tot->rounds * 1000003u + 17u);
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = WORKERS;
    cfg.allocator = &counting;
    cfg.io_backend = backend;
    cfg.auto_shutdown = true;
    int rc = runtime_new(&cfg, &S.rt);
    if (rc) {
        fprintf(stderr, "soak: runtime_new on %s: %s\n", backend, vex_strerror(rc));
        return 1;
    }
    S.listen_fd = listen_local(&S.port);
    S.foreign_note = vex_notify_create(S.rt);
    S.server_token = cancel_token_create(S.rt, NULL);
    if (S.listen_fd < 0 || !S.foreign_note || !S.server_token) {
        fprintf(stderr, "soak: setup failed\n");
        return 1;
    }
    S.deadline_ns = now_ns() + (uint64_t)seconds * 1000000000u;
    Root *r = xmalloc(sizeof *r);
    r->rng = new_seed();
    spawn(NULL, true, root, r, NULL);
    Acceptor *a = xmalloc(sizeof *a);
    spawn(NULL, true, acceptor, a, S.server_token);
    pthread_t fth, wth;
    pthread_create(&fth, NULL, foreign_spawner, NULL);
    Watch w = {.rt = S.rt, .seconds = seconds + 120, .mu = PTHREAD_MUTEX_INITIALIZER,
               .cv = PTHREAD_COND_INITIALIZER};
    pthread_create(&wth, NULL, watchdog, &w);
    int run_rc = runtime_run(S.rt);
    pthread_mutex_lock(&w.mu);
    w.done = true;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    pthread_join(wth, NULL);
    atomic_store(&S.stop_foreign, true);
    pthread_join(fth, NULL);

    RuntimeStats st;
    runtime_get_stats(S.rt, &st);
    Books *b = &S.b;
    int bad = 0;
    bad += check(!w.hung, "round finished before the watchdog (a task was lost)", 0, 1);
    bad += check(run_rc == 0, "runtime_run result", (uint64_t)-run_rc, 0);
    bad += check(b->errors == 0, "errors", b->errors, 0);
    bad += check(b->spawned == b->completed, "spawned == completed", b->spawned, b->completed);
    bad += check(st.tasks_spawned == b->spawned, "runtime tasks_spawned == ours", st.tasks_spawned,
                 b->spawned);
    bad += check(st.tasks_done == st.tasks_spawned, "runtime tasks_done == tasks_spawned",
                 st.tasks_done, st.tasks_spawned);
    bad += check(st.live_tasks == 0, "no task left", st.live_tasks, 0);
    bad += check(b->victims_cancel_seen + b->victims_timer == b->victims,
                 "every victim ended once (cancel seen + timer) == victims",
                 b->victims_cancel_seen + b->victims_timer, b->victims);
    bad += check(b->victims_long_cancel_seen == b->victims_long,
                 "long-timer victims all saw their cancellation", b->victims_long_cancel_seen,
                 b->victims_long);
    bad += check(b->tokens_cancelled == b->batches, "every victim batch's token cancelled",
                 b->tokens_cancelled, b->batches);
    bad += check(b->timers_fired == b->timers_armed - b->timers_cancelled,
                 "timers fired == armed - cancelled", b->timers_fired,
                 b->timers_armed - b->timers_cancelled);
    bad += check(st.timers_fired + st.timers_cancelled == st.timers_armed,
                 "runtime timers fired + cancelled == armed", st.timers_fired + st.timers_cancelled,
                 st.timers_armed);
    bad += check(b->bytes_sent == b->bytes_echoed, "bytes sent == echoed", b->bytes_sent,
                 b->bytes_echoed);
    bad += check(b->bytes_echoed == b->bytes_received, "bytes echoed == received",
                 b->bytes_echoed, b->bytes_received);
    bad += check(b->clients_done == b->clients, "clients finished", b->clients_done, b->clients);
    bad += check(b->conns_accepted == b->clients, "connections accepted", b->conns_accepted,
                 b->clients);
    bad += check(b->clients > 0 && b->bytes_received > 0, "the echo ran", b->clients, 1);
    bad += check(b->pings > 0 && b->victims > 0 && b->yields > 0, "the mix ran", b->pings, 1);

    rc = runtime_destroy(S.rt);
    bad += check(rc == 0, "runtime_destroy", (uint64_t)-rc, 0);
    vex_notify_destroy(S.foreign_note);
    cancel_token_destroy(S.server_token);
    close(S.listen_fd);
    bad += check(live_bytes == 0, "allocator bytes left", (uint64_t)live_bytes, 0);
    bad += check(live_blocks == 0, "allocator blocks left", (uint64_t)live_blocks, 0);
    bad += check(bad_frees == 0, "bad frees", (uint64_t)bad_frees, 0);

    fprintf(stderr,
            "soak: round %d on %s, %d s: %llu tasks, %llu yields, %llu timers armed (%llu fired, "
            "%llu cancelled), %llu victims (%llu saw cancel), %llu pings, %llu clients, %llu "
            "bytes echoed, %llu foreign spawns: %s\n",
            tot->rounds + 1, backend, seconds, (unsigned long long)b->spawned,
            (unsigned long long)b->yields, (unsigned long long)b->timers_armed,
            (unsigned long long)b->timers_fired, (unsigned long long)b->timers_cancelled,
            (unsigned long long)b->victims, (unsigned long long)b->victims_cancel_seen,
            (unsigned long long)b->pings, (unsigned long long)b->clients,
            (unsigned long long)b->bytes_echoed, (unsigned long long)b->foreign_spawns,
            bad ? "FAILED" : "ok");

    tot->rounds++;
    tot->failures += bad;
    tot->spawned += b->spawned;
    tot->completed += b->completed;
    tot->yields += b->yields;
    tot->timers_armed += b->timers_armed;
    tot->timers_fired += b->timers_fired;
    tot->timers_cancelled += b->timers_cancelled;
    tot->victims += b->victims;
    tot->cancel_seen += b->victims_cancel_seen;
    tot->tokens += b->tokens;
    tot->pings += b->pings;
    tot->clients += b->clients;
    tot->bytes_sent += b->bytes_sent;
    tot->bytes_echoed += b->bytes_echoed;
    tot->bytes_received += b->bytes_received;
    tot->foreign_spawns += b->foreign_spawns;
    tot->rt_timers_armed += st.timers_armed;
    tot->rt_timers_fired += st.timers_fired;
    tot->rt_timers_cancelled += st.timers_cancelled;
    tot->io_completed += st.io_completed;
    return bad;
}

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 120;
    if (total < 2) {
        fprintf(stderr, "usage: %s SECONDS (at least 2)\n", argv[0]);
        return 2;
    }
    const char *backends[2] = {"io_uring", "epoll"};
    int nb = vex_platform_with_backend("io_uring") ? 2 : 1;
    const char **use = nb == 2 ? backends : backends + 1;
    /* A minute per round, alternating; shorter runs give each backend half. */
    int round_s = total >= 120 ? 60 : (total + nb - 1) / nb;
    Totals tot;
    memset(&tot, 0, sizeof tot);
    uint64_t start = now_ns();
    int left = total, i = 0;
    while (left > 0) {
        int s = left < round_s ? left : round_s;
        run_round(use[i++ % nb], s, &tot);
        left -= s;
    }
    double wall = (double)(now_ns() - start) / 1e9;
    printf("{\"soak\":\"%s\",\"seconds\":%d,\"wall_s\":%.1f,\"rounds\":%d,\"backends\":\"%s\","
           "\"workers\":%d,\"tasks_spawned\":%llu,\"tasks_completed\":%llu,\"yields\":%llu,"
           "\"timers_armed\":%llu,\"timers_fired\":%llu,\"timers_cancelled\":%llu,"
           "\"runtime_timers_armed\":%llu,\"runtime_timers_fired\":%llu,"
           "\"runtime_timers_cancelled\":%llu,\"cancel_victims\":%llu,\"cancel_seen\":%llu,"
           "\"tokens\":%llu,\"pings\":%llu,\"clients\":%llu,\"bytes_sent\":%llu,"
           "\"bytes_echoed\":%llu,\"bytes_received\":%llu,\"foreign_spawns\":%llu,"
           "\"io_completed\":%llu,\"allocator_calls\":%lld,\"live_bytes\":%lld,\"bad_frees\":%lld,"
           "\"failed_checks\":%d}\n",
           tot.failures ? "FAILED" : "ok", total, wall, tot.rounds,
           nb == 2 ? "io_uring,epoll" : "epoll", WORKERS, (unsigned long long)tot.spawned,
           (unsigned long long)tot.completed, (unsigned long long)tot.yields,
           (unsigned long long)tot.timers_armed, (unsigned long long)tot.timers_fired,
           (unsigned long long)tot.timers_cancelled, (unsigned long long)tot.rt_timers_armed,
           (unsigned long long)tot.rt_timers_fired, (unsigned long long)tot.rt_timers_cancelled,
           (unsigned long long)tot.victims, (unsigned long long)tot.cancel_seen,
           (unsigned long long)tot.tokens, (unsigned long long)tot.pings,
           (unsigned long long)tot.clients, (unsigned long long)tot.bytes_sent,
           (unsigned long long)tot.bytes_echoed, (unsigned long long)tot.bytes_received,
           (unsigned long long)tot.foreign_spawns, (unsigned long long)tot.io_completed,
           (long long)alloc_calls, (long long)live_bytes, (long long)bad_frees, tot.failures);
    return tot.failures ? 1 : 0;
}
