/* test_alloc_sweep - allocation failures, swept (SQLite's test_malloc.c): for
 * N = 1, 2, ... the N-th allocation of a workload fails, until a run
 * reaches no N-th allocation. One workload per phase (create, spawn, timers,
 * cancellation, notify, channel, I/O on every backend), so each sweep stays
 * short.
 *
 * Each run must end cleanly: creation fails with VEX_ENOMEM or succeeds; an
 * API call that allocates returns VEX_ENOMEM (the workload then tries again
 * and must succeed: one failure per run); a failure with nobody to tell
 * (inside the runtime) is absorbed as the runtime documents it (an await
 * that cannot be armed wakes with VEX_WAKE_ERROR, an operation completes
 * with an error) and the workload retries. Either way every run finishes all
 * of its work, no task is lost or hangs, and after runtime_destroy the
 * counting allocator holds zero bytes and saw no bad free.
 *
 * Coverage: the allocator records where each call comes from: the call
 * site (the return address into the library) and the call path (that and
 * the return address into its caller, which tells apart the pools a slab
 * page is for: task, timer, batch or handle record). A call path some run
 * reached but no run failed (threads can reorder allocations between runs)
 * gets a targeted run that fails its first call; the test asserts that
 * every call path reached was failed at least once, and prints the counts.
 * VEXRT_SWEEP_SITES=file appends the sites reached (for addr2line). */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/io_support.h"
#include "support/watchdog.h"
#include "vexrt/cancel.h"
#include "vexrt/channel.h"
#include "vexrt/notify.h"
#include "vexrt/task.h"

TestSuite(alloc_sweep, .timeout = 300);

/* --- The recording, failing allocator --- */

enum { PATH_DEPTH = 2, MAX_PATHS = 512, MAX_RUNS = 4000 };

typedef struct {
    uintptr_t f[PATH_DEPTH]; /* f[0]: the call site in the library */
} Path;

/* Every call path seen during one phase's sweep, and whether a failure was
 * injected there. Shared by the runs of a phase (one test process). */
static struct {
    pthread_mutex_t mu;
    Path paths[MAX_PATHS];
    bool failed[MAX_PATHS];
    int n;
    bool overflow;
} table = {.mu = PTHREAD_MUTEX_INITIALIZER};

typedef struct {
    VexAllocator vt;
    CountingAlloc ca;     /* live bytes and bad frees (its own fail_at stays 0) */
    _Atomic long calls;
    long fail_at;         /* the n-th call (1-based) fails; 0 = none */
    int fail_path;        /* the first call with this path fails; -1 = none */
    _Atomic size_t fail_size; /* the first call of this size fails; 0 = none */
    _Atomic bool path_hit;
    _Atomic int injected; /* failures injected in this run */
} SweepAlloc;

static int path_index(const Path *p)
{
    pthread_mutex_lock(&table.mu);
    int i = 0;
    while (i < table.n && memcmp(&table.paths[i], p, sizeof *p) != 0) i++;
    if (i == table.n) {
        if (table.n == MAX_PATHS) {
            table.overflow = true;
            i = -1;
        } else {
            table.paths[table.n++] = *p;
        }
    }
    pthread_mutex_unlock(&table.mu);
    return i;
}

static __attribute__((noinline)) void *sa_alloc(void *ctx, size_t size, size_t align)
{
    SweepAlloc *sa = ctx;
    /* The call site is our return address; the rest of the path is what
     * backtrace() finds above it (sanitizer builds add a frame of their own
     * before it, so look for the call site rather than count frames). */
    void *frames[PATH_DEPTH + 4];
    int got = backtrace(frames, PATH_DEPTH + 4);
    void *site = __builtin_return_address(0);
    Path p;
    memset(&p, 0, sizeof p);
    p.f[0] = (uintptr_t)site;
    for (int i = 0; i < got; i++) {
        if (frames[i] != site) continue;
        for (int d = 1; d < PATH_DEPTH && i + d < got; d++) p.f[d] = (uintptr_t)frames[i + d];
        break;
    }
    int k = path_index(&p);
    long n = atomic_fetch_add(&sa->calls, 1) + 1;
    bool fail = n == sa->fail_at;
    if (!fail && sa->fail_path >= 0 && k == sa->fail_path) {
        bool no = false; /* only the first call of that path */
        fail = atomic_compare_exchange_strong(&sa->path_hit, &no, true);
    }
    if (!fail && size == atomic_load(&sa->fail_size)) {
        size_t want = size;
        fail = atomic_compare_exchange_strong(&sa->fail_size, &want, 0);
    }
    if (fail) {
        atomic_fetch_add(&sa->injected, 1);
        if (k >= 0) {
            pthread_mutex_lock(&table.mu);
            table.failed[k] = true;
            pthread_mutex_unlock(&table.mu);
        }
        return NULL;
    }
    return sa->ca.vt.alloc(sa->ca.vt.ctx, size, align);
}

static void sa_free(void *ctx, void *ptr, size_t size, size_t align)
{
    SweepAlloc *sa = ctx;
    sa->ca.vt.free(sa->ca.vt.ctx, ptr, size, align);
}

static void sa_init(SweepAlloc *sa, long fail_at, int fail_path)
{
    memset(sa, 0, sizeof *sa);
    counting_alloc_init(&sa->ca);
    sa->vt.alloc = sa_alloc;
    sa->vt.free = sa_free;
    sa->vt.ctx = sa;
    sa->fail_at = fail_at;
    sa->fail_path = fail_path;
}

/* --- One run --- */

typedef struct {
    SweepAlloc sa;
    const char *backend;  /* I/O backend, or NULL for the default */
    long n;               /* for messages: the allocation made to fail */
    int watch_s;          /* watchdog; 0 = 30 s */
} Run;

/* Retries an API call that may fail with VEX_ENOMEM (one failure per run:
 * the second attempt must work). */
#define RETRY(rc, expr)                                                      \
    do {                                                                     \
        int tries_ = 0;                                                      \
        do (rc) = (expr);                                                    \
        while ((rc) == VEX_ENOMEM && ++tries_ < 3);                          \
    } while (0)

#define RETRY_PTR(p, expr)                                                   \
    do {                                                                     \
        int tries_ = 0;                                                      \
        do (p) = (expr);                                                     \
        while (!(p) && ++tries_ < 3);                                        \
    } while (0)

/* Creates a runtime with auto-shutdown; NULL (after checking the error is
 * VEX_ENOMEM) when the injected failure hit creation. */
static Runtime *run_rt(Run *r, int workers)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    cfg.allocator = &r->sa.vt;
    cfg.io_backend = r->backend;
    cfg.auto_shutdown = true;
    Runtime *rt = NULL;
    int rc = runtime_new(&cfg, &rt);
    if (rc) {
        cr_assert(rc == VEX_ENOMEM, "allocation %ld failed: runtime_new gave %s", r->n,
                  vex_errname(rc));
        cr_assert_null(rt);
        return NULL;
    }
    if (r->backend) cr_assert_str_eq(runtime_io_backend(rt), r->backend);
    return rt;
}

/* runtime_run under a watchdog (30 s: a healthy run takes milliseconds),
 * then no task may be left. */
static void run_watched(Run *r, Runtime *rt)
{
    int rc;
    bool hung = test_run_watched(rt, r->watch_s ? r->watch_s : 30, &rc);
    cr_assert(!hung, "allocation %ld failed: the run hung (a task was lost)", r->n);
    CHECK_OK(rc);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    cr_assert(st.live_tasks == 0 && st.tasks_spawned == st.tasks_done,
              "allocation %ld failed: %llu spawned, %llu done", r->n,
              (unsigned long long)st.tasks_spawned, (unsigned long long)st.tasks_done);
}

/* ===================================================================== */
/* --- Phase: create (1 and 3 workers) --- */

static void phase_create(Run *r)
{
    Runtime *rt = run_rt(r, 1);
    if (rt) {
        run_watched(r, rt); /* nothing spawned: returns at once */
        CHECK_OK(runtime_destroy(rt));
    }
    rt = run_rt(r, 3);
    if (rt) CHECK_OK(runtime_destroy(rt)); /* never ran */
}

/* --- Phase: spawn (global from the main and a foreign thread, local,
 * chained; enough tasks for several slab pages and ring overflows) --- */

enum { FAN = 600, CHAIN = 2, FOREIGN = 40 };

static struct {
    _Atomic long done;
    VexNotify *note;
    Runtime *rt;
} sp;

static CoroStatus sp_chain(WorkerContext *ctx, void *data)
{
    intptr_t depth = (intptr_t)data;
    if (depth > 0) {
        int rc;
        RETRY(rc, worker_spawn_local(ctx, sp_chain, (void *)(depth - 1)));
        CHECK_OK(rc);
    }
    atomic_fetch_add(&sp.done, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus sp_fan(WorkerContext *ctx, void *data)
{
    intptr_t *step = data;
    if ((*step)++ == 0) return CORO_STATUS_YIELDED; /* one yield each */
    int rc;
    RETRY(rc, worker_spawn_local(ctx, sp_chain, (void *)(intptr_t)(CHAIN - 1)));
    CHECK_OK(rc);
    atomic_fetch_add(&sp.done, 1);
    return CORO_STATUS_DONE;
}

static intptr_t fan_steps[FAN];

static CoroStatus sp_root(WorkerContext *ctx, void *data)
{
    (void)data;
    if (worker_wake_reason(ctx) == VEX_WAKE_NOTIFIED) {
        atomic_fetch_add(&sp.done, 1);
        return CORO_STATUS_DONE;
    }
    for (int i = 0; i < FAN; i++) { /* 600 in one resume: the ring (256) overflows */
        fan_steps[i] = 0;
        int rc;
        RETRY(rc, worker_spawn_local(ctx, sp_fan, &fan_steps[i]));
        CHECK_OK(rc);
    }
    CHECK_OK(worker_await_notify(ctx, sp.note)); /* until the foreign spawner is done */
    return CORO_STATUS_YIELDED;
}

static CoroStatus sp_leaf(WorkerContext *ctx, void *data)
{
    (void)ctx;
    (void)data;
    atomic_fetch_add(&sp.done, 1);
    return CORO_STATUS_DONE;
}

static void *sp_foreign(void *arg)
{
    (void)arg;
    for (int i = 0; i < FOREIGN; i++) {
        int rc;
        RETRY(rc, runtime_spawn_global(sp.rt, sp_leaf, NULL));
        CHECK_OK(rc);
    }
    CHECK_OK(vex_notify_signal(sp.note));
    return NULL;
}

static void phase_spawn_on(Run *r, int workers)
{
    Runtime *rt = run_rt(r, workers);
    if (!rt) return;
    memset(&sp, 0, sizeof sp);
    sp.rt = rt;
    RETRY_PTR(sp.note, vex_notify_create(rt));
    cr_assert_not_null(sp.note);
    int rc;
    RETRY(rc, runtime_spawn_global(rt, sp_root, NULL));
    CHECK_OK(rc);
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, sp_foreign, NULL) == 0);
    run_watched(r, rt);
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&sp.done), 1 + FAN * (1 + CHAIN) + FOREIGN);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(vex_notify_destroy(sp.note));
}

static void phase_spawn(Run *r) { phase_spawn_on(r, 1); }
static void phase_spawn_2w(Run *r) { phase_spawn_on(r, 2); }

/* --- Phase: timers (many timers, three await calls, timer + notify) --- */

enum { TIMERS = 2500 };

static struct {
    _Atomic long fired, done, notified;
    VexNotify *note;
} tm;

static CoroStatus tm_task(WorkerContext *ctx, void *data)
{
    intptr_t i = (intptr_t)data;
    int rc;
    switch (worker_wake_reason(ctx)) {
    case VEX_WAKE_NONE: /* first resume: deadlines spread over 0..15 ms */
        if (i % 3 == 0)
            RETRY(rc, worker_await_after(ctx, (uint64_t)(i % 16)));
        else if (i % 3 == 1)
            RETRY(rc, worker_await_after_ns(ctx, (uint64_t)(i % 16) * 1000000u + 1));
        else
            RETRY(rc, worker_await_deadline(ctx, worker_now_ns(ctx) +
                                                     (uint64_t)(i % 16) * 999999u));
        CHECK_OK(rc);
        return CORO_STATUS_YIELDED;
    case VEX_WAKE_TIMER:
        atomic_fetch_add(&tm.fired, 1);
        atomic_fetch_add(&tm.done, 1);
        return CORO_STATUS_DONE;
    default:
        cr_assert_fail("timer task woken with reason %d", (int)worker_wake_reason(ctx));
        return CORO_STATUS_DONE;
    }
}

/* Awaits a notify with a 10 s timeout: the notify wins and the timer is
 * released unfired. */
static CoroStatus tm_waiter(WorkerContext *ctx, void *data)
{
    (void)data;
    VexWakeReason why = worker_wake_reason(ctx);
    if (why == VEX_WAKE_NOTIFIED) {
        atomic_fetch_add(&tm.notified, 1);
        atomic_fetch_add(&tm.done, 1);
        return CORO_STATUS_DONE;
    }
    cr_assert(why == VEX_WAKE_NONE, "waiter woken with reason %d", (int)why);
    int rc;
    RETRY(rc, worker_await_after(ctx, 10000));
    CHECK_OK(rc);
    CHECK_OK(worker_await_notify(ctx, tm.note));
    return CORO_STATUS_YIELDED;
}

static CoroStatus tm_signaller(WorkerContext *ctx, void *data)
{
    (void)data;
    if (worker_wake_reason(ctx) == VEX_WAKE_TIMER) {
        CHECK_OK(worker_notify_signal(ctx, tm.note));
        atomic_fetch_add(&tm.done, 1);
        return CORO_STATUS_DONE;
    }
    int rc;
    RETRY(rc, worker_await_after(ctx, 2));
    CHECK_OK(rc);
    return CORO_STATUS_YIELDED;
}

static CoroStatus tm_root(WorkerContext *ctx, void *data)
{
    (void)data;
    int rc;
    for (intptr_t i = 0; i < TIMERS; i++) {
        RETRY(rc, worker_spawn_local(ctx, tm_task, (void *)i));
        CHECK_OK(rc);
    }
    RETRY(rc, worker_spawn_local(ctx, tm_waiter, NULL));
    CHECK_OK(rc);
    RETRY(rc, worker_spawn_local(ctx, tm_signaller, NULL));
    CHECK_OK(rc);
    return CORO_STATUS_DONE;
}

static void phase_timers(Run *r)
{
    Runtime *rt = run_rt(r, 1);
    if (!rt) return;
    memset(&tm, 0, sizeof tm);
    RETRY_PTR(tm.note, vex_notify_create(rt));
    cr_assert_not_null(tm.note);
    int rc;
    RETRY(rc, runtime_spawn_global(rt, tm_root, NULL));
    CHECK_OK(rc);
    run_watched(r, rt);
    CHECK_INT(atomic_load(&tm.fired), TIMERS);
    CHECK_INT(atomic_load(&tm.notified), 1);
    CHECK_INT(atomic_load(&tm.done), TIMERS + 2);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.timers_fired + st.timers_cancelled, st.timers_armed);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(vex_notify_destroy(tm.note));
}

/* --- Phase: cancellation (created tokens, a child token, spawns with a
 * token from outside and from a task, victims parked on long timers) --- */

enum { VICTIMS_OUT = 8, VICTIMS_IN = 8, VICTIMS = VICTIMS_OUT + VICTIMS_IN };

static struct {
    CancelToken *root, *child;
    _Atomic long parked, saw, wrong;
} cn;

static CoroStatus cn_victim(WorkerContext *ctx, void *data)
{
    (void)data;
    VexWakeReason why = worker_wake_reason(ctx);
    if (why == VEX_WAKE_NONE) {
        int rc;
        RETRY(rc, worker_await_after(ctx, 60000));
        CHECK_OK(rc);
        atomic_fetch_add(&cn.parked, 1);
        return CORO_STATUS_YIELDED;
    }
    if (why == VEX_WAKE_CANCELLED && cancel_requested(worker_cancel_token(ctx)))
        atomic_fetch_add(&cn.saw, 1);
    else
        atomic_fetch_add(&cn.wrong, 1);
    return CORO_STATUS_DONE;
}

static CoroStatus cn_spawner(WorkerContext *ctx, void *data)
{
    (void)data;
    for (int i = 0; i < VICTIMS_IN; i++) {
        int rc;
        RETRY(rc, worker_spawn_local_with_token(ctx, cn_victim, NULL, cn.child));
        CHECK_OK(rc);
    }
    return CORO_STATUS_DONE;
}

/* Cancels the root once every victim has armed its timer. */
static CoroStatus cn_controller(WorkerContext *ctx, void *data)
{
    (void)data;
    if (atomic_load(&cn.parked) < VICTIMS) {
        int rc;
        RETRY(rc, worker_await_after(ctx, 1));
        CHECK_OK(rc);
        return CORO_STATUS_YIELDED;
    }
    CHECK_OK(cancel_request(cn.root));
    return CORO_STATUS_DONE;
}

static void phase_cancel(Run *r)
{
    Runtime *rt = run_rt(r, 1);
    if (!rt) return;
    memset(&cn, 0, sizeof cn);
    RETRY_PTR(cn.root, cancel_token_create(rt, NULL));
    cr_assert_not_null(cn.root);
    RETRY_PTR(cn.child, cancel_token_create(rt, cn.root));
    cr_assert_not_null(cn.child);
    int rc;
    for (int i = 0; i < VICTIMS_OUT; i++) {
        RETRY(rc, runtime_spawn_with_token(rt, cn_victim, NULL, cn.child));
        CHECK_OK(rc);
    }
    RETRY(rc, runtime_spawn_global(rt, cn_spawner, NULL));
    CHECK_OK(rc);
    RETRY(rc, runtime_spawn_global(rt, cn_controller, NULL));
    CHECK_OK(rc);
    run_watched(r, rt);
    CHECK_INT(atomic_load(&cn.wrong), 0);
    CHECK_INT(atomic_load(&cn.saw), VICTIMS);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(cancel_token_destroy(cn.child));
    CHECK_OK(cancel_token_destroy(cn.root));
}

/* --- Phase: notify (ping-pong pairs on two workers) --- */

enum { PAIRS = 6, PINGS = 50 };

typedef struct {
    VexNotify *mine, *peer;
    int count;
    bool starts;
} Ping;

static Ping pings[2 * PAIRS];
static _Atomic long nt_wrong;

static CoroStatus nt_task(WorkerContext *ctx, void *data)
{
    Ping *p = data;
    VexWakeReason why = worker_wake_reason(ctx);
    if (why == VEX_WAKE_NOTIFIED) {
        p->count++;
        if (!p->starts) CHECK_OK(worker_notify_signal(ctx, p->peer)); /* answer */
        if (p->count == PINGS) return CORO_STATUS_DONE;
        if (p->starts) CHECK_OK(worker_notify_signal(ctx, p->peer)); /* next ping */
    } else if (why == VEX_WAKE_NONE) {
        if (p->starts) CHECK_OK(worker_notify_signal(ctx, p->peer));
    } else {
        atomic_fetch_add(&nt_wrong, 1);
        return CORO_STATUS_DONE;
    }
    CHECK_OK(worker_await_notify(ctx, p->mine));
    return CORO_STATUS_YIELDED;
}

static void phase_notify(Run *r)
{
    Runtime *rt = run_rt(r, 2);
    if (!rt) return;
    VexNotify *n[2 * PAIRS];
    for (int i = 0; i < 2 * PAIRS; i++) {
        RETRY_PTR(n[i], vex_notify_create(rt));
        cr_assert_not_null(n[i]);
    }
    atomic_store(&nt_wrong, 0);
    for (int i = 0; i < PAIRS; i++) {
        pings[2 * i] = (Ping){n[2 * i], n[2 * i + 1], 0, true};
        pings[2 * i + 1] = (Ping){n[2 * i + 1], n[2 * i], 0, false};
    }
    for (int i = 0; i < 2 * PAIRS; i++) {
        int rc;
        RETRY(rc, runtime_spawn_global(rt, nt_task, &pings[i]));
        CHECK_OK(rc);
    }
    run_watched(r, rt);
    CHECK_INT(atomic_load(&nt_wrong), 0);
    for (int i = 0; i < 2 * PAIRS; i++) CHECK_INT(pings[i].count, PINGS);
    CHECK_OK(runtime_destroy(rt));
    for (int i = 0; i < 2 * PAIRS; i++) CHECK_OK(vex_notify_destroy(n[i]));
}

/* --- Phase: channel (a producer and a consumer through 4 slots) --- */

enum { CHAN_VALUES = 200 };

static struct {
    VexChannel *ch;
    intptr_t sent, received;
    _Atomic long bad;
} chs;

static CoroStatus ch_producer(WorkerContext *ctx, void *data)
{
    (void)data;
    while (chs.sent < CHAN_VALUES) {
        int rc = worker_channel_send(ctx, chs.ch, (void *)(chs.sent + 1));
        if (rc == VEX_EAGAIN) { /* full: wait for room */
            CHECK_OK(worker_await_channel_send(ctx, chs.ch));
            return CORO_STATUS_YIELDED;
        }
        CHECK_OK(rc);
        chs.sent++;
    }
    CHECK_OK(vex_channel_close(chs.ch));
    return CORO_STATUS_DONE;
}

static CoroStatus ch_consumer(WorkerContext *ctx, void *data)
{
    (void)data;
    for (;;) {
        void *v;
        int rc = worker_channel_recv(ctx, chs.ch, &v);
        if (rc == VEX_EPIPE) return CORO_STATUS_DONE; /* closed and drained */
        if (rc == VEX_EAGAIN) {
            CHECK_OK(worker_await_channel_recv(ctx, chs.ch));
            return CORO_STATUS_YIELDED;
        }
        CHECK_OK(rc);
        if ((intptr_t)v != ++chs.received) atomic_fetch_add(&chs.bad, 1);
    }
}

static void phase_channel(Run *r)
{
    Runtime *rt = run_rt(r, 1);
    if (!rt) return;
    memset(&chs, 0, sizeof chs);
    RETRY_PTR(chs.ch, vex_channel_create(rt, 4));
    cr_assert_not_null(chs.ch);
    int rc;
    RETRY(rc, runtime_spawn_global(rt, ch_consumer, NULL));
    CHECK_OK(rc);
    RETRY(rc, runtime_spawn_global(rt, ch_producer, NULL));
    CHECK_OK(rc);
    run_watched(r, rt);
    CHECK_INT(atomic_load(&chs.bad), 0);
    CHECK_INT(chs.received, CHAN_VALUES);
    CHECK_OK(runtime_destroy(rt));
    CHECK_OK(vex_channel_destroy(chs.ch));
}

/* --- Phase: I/O on one backend ---
 * A readiness echo (worker_await_io + raw read/write) and an operation echo
 * (RECV/SEND) on socketpairs, READ/WRITE on a pipe, accept on a listener
 * with several connections waiting, blocking jobs and file operations, and
 * an operation that times out. An operation that ends with an error (the
 * runtime could not allocate what it needed) is submitted again. */

enum { MSGS = 20, MSG_LEN = 64, CONNS_WAITING = 3, IO_JOBS = 3, MAX_RETRIES = 8 };

/* A byte transfer of len bytes through operations, resubmitted until done. */
typedef struct {
    VexIoOp op;
    uint8_t code;
    int fd;
    unsigned char *buf;
    size_t len, done;
    int retries;
} Xfer;

static void xfer_begin(WorkerContext *ctx, Xfer *x, uint8_t code, int fd, unsigned char *buf,
                       size_t len)
{
    x->code = code;
    x->fd = fd;
    x->buf = buf;
    x->len = len;
    x->done = 0;
    memset(&x->op, 0, sizeof x->op);
    x->op.opcode = code;
    x->op.handle = (IoHandle)fd;
    x->op.buf = buf;
    x->op.len = len;
    CHECK_OK(worker_await_op(ctx, &x->op));
}

/* After the op's resume: true when the transfer is complete; otherwise it
 * was resubmitted (the task returns YIELDED). */
static bool xfer_step(WorkerContext *ctx, Xfer *x)
{
    int64_t res = x->op.result;
    if (res < 0) {
        /* Running out of memory is the only fault injected here. */
        cr_assert(res == VEX_ENOMEM, "op %d on fd %d failed with %s", x->code, x->fd,
                  vex_errname((int)res));
        cr_assert(++x->retries <= MAX_RETRIES, "op %d on fd %d keeps failing", x->code, x->fd);
    } else {
        cr_assert(res > 0 || x->code == VEX_OP_SEND || x->code == VEX_OP_WRITE,
                  "unexpected EOF on fd %d", x->fd);
        x->done += (size_t)res;
        if (x->done == x->len) return true;
    }
    memset(&x->op, 0, sizeof x->op);
    x->op.opcode = x->code;
    x->op.handle = (IoHandle)x->fd;
    x->op.buf = x->buf + x->done;
    x->op.len = x->len - x->done;
    CHECK_OK(worker_await_op(ctx, &x->op));
    return false;
}

static void fill(unsigned char *b, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed * 31 + (int)i);
}

static bool same(const unsigned char *b, size_t n, int seed)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed * 31 + (int)i)) return false;
    return true;
}

static struct {
    _Atomic long echoed_ready, echoed_ops, piped, accepted, served, jobs, files, timeouts;
    _Atomic long bad;
    int ready_sv[2], op_sv[2], pipe_fd[2], idle_sv[2], forget_sv[2], listen_fd, file_fd;
    int clients[CONNS_WAITING];
} io;

/* Readiness echo, client side: raw writes and reads on a non-blocking
 * socket, waiting with worker_await_io when they would block. */
typedef struct {
    int fd, round, state;
    size_t off;
    unsigned char buf[MSG_LEN];
    bool client;
} ReadyEcho;

static CoroStatus ready_echo(WorkerContext *ctx, void *data)
{
    ReadyEcho *e = data;
    for (;;) {
        if (e->round == MSGS) return CORO_STATUS_DONE;
        bool writing = e->client ? e->state == 0 : e->state == 1;
        if (e->off == 0 && writing && e->client) fill(e->buf, MSG_LEN, e->round);
        ssize_t k = writing ? write(e->fd, e->buf + e->off, MSG_LEN - e->off)
                            : read(e->fd, e->buf + e->off, MSG_LEN - e->off);
        if (k < 0) {
            /* Would block (or the await could not be armed: VEX_WAKE_ERROR,
             * and we simply wait again). */
            cr_assert(errno == EAGAIN || errno == EWOULDBLOCK, "raw I/O: %s", strerror(errno));
            CHECK_OK(worker_await_io(ctx, e->fd,
                                     writing ? EVENT_TYPE_WRITABLE : EVENT_TYPE_READABLE));
            return CORO_STATUS_YIELDED;
        }
        cr_assert(k > 0, "ready echo: EOF");
        e->off += (size_t)k;
        if (e->off < MSG_LEN) continue;
        e->off = 0;
        if (e->state == 1) { /* a round trip done */
            if (e->client && !same(e->buf, MSG_LEN, e->round)) atomic_fetch_add(&io.bad, 1);
            if (e->client) atomic_fetch_add(&io.echoed_ready, 1);
            e->round++;
            e->state = 0;
        } else {
            e->state = 1;
        }
    }
}

/* Operation echo over a socketpair (RECV/SEND). */
typedef struct {
    int fd, round, state;
    bool client;
    Xfer x;
    unsigned char buf[MSG_LEN];
} OpEcho;

static CoroStatus op_echo(WorkerContext *ctx, void *data)
{
    OpEcho *e = data;
    if (e->state != 0 && !xfer_step(ctx, &e->x)) return CORO_STATUS_YIELDED;
    for (;;) {
        switch (e->state) {
        case 0: /* start a round */
            if (e->round == MSGS) return CORO_STATUS_DONE;
            if (e->client) {
                fill(e->buf, MSG_LEN, e->round);
                e->state = 1;
                xfer_begin(ctx, &e->x, VEX_OP_SEND, e->fd, e->buf, MSG_LEN);
            } else {
                e->state = 2;
                xfer_begin(ctx, &e->x, VEX_OP_RECV, e->fd, e->buf, MSG_LEN);
            }
            return CORO_STATUS_YIELDED;
        case 1: /* sent */
            if (e->client) {
                e->state = 2;
                xfer_begin(ctx, &e->x, VEX_OP_RECV, e->fd, e->buf, MSG_LEN);
                return CORO_STATUS_YIELDED;
            }
            e->round++;
            e->state = 0;
            continue;
        default: /* received */
            if (e->client) {
                if (!same(e->buf, MSG_LEN, e->round)) atomic_fetch_add(&io.bad, 1);
                atomic_fetch_add(&io.echoed_ops, 1);
                e->round++;
                e->state = 0;
                continue;
            }
            e->state = 1;
            xfer_begin(ctx, &e->x, VEX_OP_SEND, e->fd, e->buf, MSG_LEN);
            return CORO_STATUS_YIELDED;
        }
    }
}

/* READ/WRITE through a pipe: MSGS messages, checked in order. */
typedef struct {
    int fd, round;
    bool writer, started;
    Xfer x;
    unsigned char buf[MSG_LEN];
} PipeXfer;

static CoroStatus pipe_xfer(WorkerContext *ctx, void *data)
{
    PipeXfer *p = data;
    if (p->started) {
        if (!xfer_step(ctx, &p->x)) return CORO_STATUS_YIELDED;
        if (!p->writer) {
            if (!same(p->buf, MSG_LEN, 1000 + p->round)) atomic_fetch_add(&io.bad, 1);
            atomic_fetch_add(&io.piped, 1);
        }
        if (++p->round == MSGS) return CORO_STATUS_DONE;
    }
    p->started = true;
    if (p->writer) fill(p->buf, MSG_LEN, 1000 + p->round);
    xfer_begin(ctx, &p->x, p->writer ? VEX_OP_WRITE : VEX_OP_READ, p->fd, p->buf, MSG_LEN);
    return CORO_STATUS_YIELDED;
}

/* A connection the acceptor took: receive a message, send it back, close
 * it with VEX_OP_CLOSE. */
typedef struct {
    int fd, state;
    Xfer x;
    VexIoOp close_op;
    unsigned char buf[MSG_LEN];
} Conn;

static Conn conns[CONNS_WAITING], peers[CONNS_WAITING];

static CoroStatus conn_task(WorkerContext *ctx, void *data)
{
    Conn *c = data;
    bool client = c >= peers && c < peers + CONNS_WAITING;
    switch (c->state) {
    case 0:
        c->state = 1;
        if (client) {
            fill(c->buf, MSG_LEN, 2000 + (int)(c - peers));
            xfer_begin(ctx, &c->x, VEX_OP_SEND, c->fd, c->buf, MSG_LEN);
        } else {
            xfer_begin(ctx, &c->x, VEX_OP_RECV, c->fd, c->buf, MSG_LEN);
        }
        return CORO_STATUS_YIELDED;
    case 1:
        if (!xfer_step(ctx, &c->x)) return CORO_STATUS_YIELDED;
        c->state = 2;
        xfer_begin(ctx, &c->x, client ? VEX_OP_RECV : VEX_OP_SEND, c->fd, c->buf, MSG_LEN);
        return CORO_STATUS_YIELDED;
    case 2:
        if (!xfer_step(ctx, &c->x)) return CORO_STATUS_YIELDED;
        if (client) {
            if (!same(c->buf, MSG_LEN, 2000 + (int)(c - peers))) atomic_fetch_add(&io.bad, 1);
            atomic_fetch_add(&io.served, 1);
        }
        c->state = 3;
        memset(&c->close_op, 0, sizeof c->close_op);
        c->close_op.opcode = VEX_OP_CLOSE;
        c->close_op.handle = (IoHandle)c->fd;
        CHECK_OK(worker_await_op(ctx, &c->close_op));
        return CORO_STATUS_YIELDED;
    default:
        CHECK_INT(c->close_op.result, 0);
        return CORO_STATUS_DONE;
    }
}

typedef struct {
    VexIoOp op;
    int got, retries;
    bool started;
} Acceptor;

static CoroStatus acceptor(WorkerContext *ctx, void *data)
{
    Acceptor *a = data;
    if (a->started) {
        if (a->op.result < 0) {
            cr_assert(a->op.result == VEX_ENOMEM, "accept failed with %s",
                      vex_errname((int)a->op.result));
            cr_assert(++a->retries <= MAX_RETRIES, "accept keeps failing");
        } else {
            Conn *c = &conns[a->got++];
            memset(c, 0, sizeof *c);
            c->fd = (int)a->op.result;
            atomic_fetch_add(&io.accepted, 1);
            int rc;
            RETRY(rc, worker_spawn_local(ctx, conn_task, c));
            CHECK_OK(rc);
            if (a->got == CONNS_WAITING) return CORO_STATUS_DONE;
        }
    }
    a->started = true;
    memset(&a->op, 0, sizeof a->op);
    a->op.opcode = VEX_OP_ACCEPT;
    a->op.handle = (IoHandle)io.listen_fd;
    CHECK_OK(worker_await_op(ctx, &a->op));
    return CORO_STATUS_YIELDED;
}

/* Blocking jobs, then a file write and read back. */
enum { JS_JOBS = 0, JS_WRITE, JS_READ };

typedef struct {
    int state, jobs, retries;
    VexIoOp op;
    unsigned char buf[MSG_LEN];
} Jobs;

static void io_job(void *arg)
{
    (void)arg;
    atomic_fetch_add(&io.jobs, 1);
}

static void file_op(WorkerContext *ctx, Jobs *j, uint8_t code)
{
    memset(&j->op, 0, sizeof j->op);
    j->op.opcode = code;
    j->op.handle = (IoHandle)io.file_fd;
    j->op.buf = j->buf;
    j->op.len = MSG_LEN;
    CHECK_OK(worker_await_op(ctx, &j->op));
}

static CoroStatus jobs_task(WorkerContext *ctx, void *data)
{
    Jobs *j = data;
    if (j->state != JS_JOBS && j->op.result < 0) { /* a file op failed: again */
        cr_assert(j->op.result == VEX_ENOMEM, "file op failed with %s",
                  vex_errname((int)j->op.result));
        cr_assert(++j->retries <= MAX_RETRIES, "file op keeps failing");
        file_op(ctx, j, j->state == JS_WRITE ? VEX_OP_PWRITE : VEX_OP_PREAD);
        return CORO_STATUS_YIELDED;
    }
    switch (j->state) {
    case JS_JOBS:
        if (j->jobs > 0) cr_assert(worker_wake_reason(ctx) == VEX_WAKE_COMPLETED);
        if (j->jobs < IO_JOBS) {
            j->jobs++;
            int rc;
            RETRY(rc, worker_await_blocking(ctx, io_job, NULL));
            CHECK_OK(rc);
            return CORO_STATUS_YIELDED;
        }
        j->state = JS_WRITE;
        fill(j->buf, MSG_LEN, 3000);
        file_op(ctx, j, VEX_OP_PWRITE);
        return CORO_STATUS_YIELDED;
    case JS_WRITE:
        CHECK_INT(j->op.result, MSG_LEN);
        j->state = JS_READ;
        memset(j->buf, 0, sizeof j->buf);
        file_op(ctx, j, VEX_OP_PREAD);
        return CORO_STATUS_YIELDED;
    default:
        CHECK_INT(j->op.result, MSG_LEN);
        if (same(j->buf, MSG_LEN, 3000)) atomic_fetch_add(&io.files, 1);
        return CORO_STATUS_DONE;
    }
}

/* A receive nobody answers, with a 3 ms timeout: cancelled, and the task
 * resumed with VEX_WAKE_TIMER and VEX_ECANCELED. */
typedef struct {
    VexIoOp op;
    unsigned char buf[8];
    bool started;
    int retries;
} Idle;

static CoroStatus idle_task(WorkerContext *ctx, void *data)
{
    Idle *t = data;
    if (t->started) {
        VexWakeReason why = worker_wake_reason(ctx);
        if (why == VEX_WAKE_TIMER && t->op.result == VEX_ECANCELED) {
            atomic_fetch_add(&io.timeouts, 1);
            return CORO_STATUS_DONE;
        }
        /* The op could not even start (no memory for it): again. */
        cr_assert(why == VEX_WAKE_COMPLETED && t->op.result == VEX_ENOMEM &&
                      ++t->retries <= MAX_RETRIES,
                  "idle recv: reason %d result %s", (int)why, vex_errname((int)t->op.result));
    }
    t->started = true;
    memset(&t->op, 0, sizeof t->op);
    t->op.opcode = VEX_OP_RECV;
    t->op.handle = (IoHandle)io.idle_sv[0];
    t->op.buf = t->buf;
    t->op.len = sizeof t->buf;
    int rc;
    RETRY(rc, worker_await_after(ctx, 3));
    CHECK_OK(rc);
    CHECK_OK(worker_await_op(ctx, &t->op));
    return CORO_STATUS_YIELDED;
}

/* A readiness await on a handle the application then forgets from another
 * thread (vex_io_forget): the waiter is woken with VEX_WAKE_ERROR, and on
 * one-shot pollers the poll left out is queued for cancellation on the
 * worker that armed it. The forgetting thread tries until the waiter has
 * woken (a forget before the await is armed finds nobody to wake). */
static _Atomic bool forgot_woken;

static CoroStatus forget_waiter(WorkerContext *ctx, void *data)
{
    (void)data;
    VexWakeReason why = worker_wake_reason(ctx);
    if (why == VEX_WAKE_ERROR) {
        atomic_store(&forgot_woken, true);
        return CORO_STATUS_DONE;
    }
    CHECK_OK(worker_await_io(ctx, io.forget_sv[0], EVENT_TYPE_READABLE));
    return CORO_STATUS_YIELDED;
}

static void *forgetter(void *arg)
{
    Runtime *rt = arg;
    while (!atomic_load(&forgot_woken)) {
        CHECK_OK(vex_io_forget(rt, (IoHandle)io.forget_sv[0]));
        sched_yield();
    }
    return NULL;
}

static void phase_io_order(Run *r, bool ops_first)
{
    Runtime *rt = run_rt(r, 1);
    if (!rt) return;
    memset(&io, 0, sizeof io);
    io_socketpair(io.ready_sv);
    io_socketpair(io.op_sv);
    io_socketpair(io.idle_sv);
    io_socketpair(io.forget_sv);
    io_pipe(io.pipe_fd);
    uint16_t port;
    io.listen_fd = io_listen(&port, 16);
    for (int i = 0; i < CONNS_WAITING; i++) { /* queued in the backlog before run */
        io.clients[i] = io_connect(port);
        io_set_nonblocking(io.clients[i]);
    }
    char path[] = "/tmp/vexrt-sweep-XXXXXX";
    io.file_fd = mkstemp(path);
    cr_assert(io.file_fd >= 0);
    unlink(path);

    static ReadyEcho r_client, r_server;
    static OpEcho o_client, o_server;
    static PipeXfer p_writer, p_reader;
    static Acceptor acc;
    static Jobs jobs;
    static Idle idle;
    r_client = (ReadyEcho){.fd = io.ready_sv[0], .client = true};
    r_server = (ReadyEcho){.fd = io.ready_sv[1], .client = false};
    o_client = (OpEcho){.fd = io.op_sv[0], .client = true};
    o_server = (OpEcho){.fd = io.op_sv[1], .client = false};
    p_writer = (PipeXfer){.fd = io.pipe_fd[1], .writer = true};
    p_reader = (PipeXfer){.fd = io.pipe_fd[0], .writer = false};
    memset(&acc, 0, sizeof acc);
    memset(&jobs, 0, sizeof jobs);
    memset(&idle, 0, sizeof idle);
    memset(peers, 0, sizeof peers);
    struct {
        coro_resume_func fn;
        void *data;
    } tasks[] = {{ready_echo, &r_client}, {ready_echo, &r_server}, {op_echo, &o_client},
                 {op_echo, &o_server},   {pipe_xfer, &p_writer},   {pipe_xfer, &p_reader},
                 {acceptor, &acc},       {jobs_task, &jobs},       {idle_task, &idle},
                 {forget_waiter, NULL}};
    /* One worker runs them in spawn order, so the first task to touch a
     * handle meets the allocations of the handle table: readiness awaits in
     * one variant, operations (a receive that must wait) in the other. */
    size_t nt = sizeof tasks / sizeof tasks[0];
    for (size_t k = 0; k < nt; k++) {
        size_t i = ops_first ? (k + 3) % nt : k; /* o_server first */
        int rc;
        RETRY(rc, runtime_spawn_global(rt, tasks[i].fn, tasks[i].data));
        CHECK_OK(rc);
    }
    for (int i = 0; i < CONNS_WAITING; i++) {
        peers[i].fd = io.clients[i];
        int rc;
        RETRY(rc, runtime_spawn_global(rt, conn_task, &peers[i]));
        CHECK_OK(rc);
    }
    atomic_store(&forgot_woken, false);
    pthread_t th;
    cr_assert(pthread_create(&th, NULL, forgetter, rt) == 0);
    run_watched(r, rt);
    pthread_join(th, NULL);
    CHECK_INT(atomic_load(&io.bad), 0);
    CHECK_INT(atomic_load(&io.echoed_ready), MSGS);
    CHECK_INT(atomic_load(&io.echoed_ops), MSGS);
    CHECK_INT(atomic_load(&io.piped), MSGS);
    CHECK_INT(atomic_load(&io.accepted), CONNS_WAITING);
    CHECK_INT(atomic_load(&io.served), CONNS_WAITING);
    CHECK_INT(atomic_load(&io.jobs), IO_JOBS);
    CHECK_INT(atomic_load(&io.files), 1);
    CHECK_INT(atomic_load(&io.timeouts), 1);
    CHECK_OK(runtime_destroy(rt));
    /* The accepted and client sockets were closed with VEX_OP_CLOSE. */
    int fds[] = {io.ready_sv[0],  io.ready_sv[1],  io.op_sv[0],   io.op_sv[1],
                 io.idle_sv[0],   io.idle_sv[1],   io.forget_sv[0], io.forget_sv[1],
                 io.pipe_fd[0],   io.pipe_fd[1],   io.listen_fd,  io.file_fd};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) close(fds[i]);
}

static void phase_io(Run *r) { phase_io_order(r, false); }
static void phase_io_ops_first(Run *r) { phase_io_order(r, true); }

/* ===================================================================== */
/* --- The sweep --- */

static void one_run(void (*phase)(Run *), const char *backend, long fail_at, int fail_path,
                    Run *r)
{
    sa_init(&r->sa, fail_at, fail_path);
    r->backend = backend;
    r->n = fail_at;
    phase(r);
    /* Whatever failed, nothing leaked and nothing was freed wrongly. */
    cr_assert(atomic_load(&r->sa.ca.live_bytes) == 0 && atomic_load(&r->sa.ca.bad_frees) == 0,
              "allocation %ld (path %d) failed: %lld bytes left, %lld bad frees", fail_at,
              fail_path, (long long)atomic_load(&r->sa.ca.live_bytes),
              (long long)atomic_load(&r->sa.ca.bad_frees));
}

extern char __executable_start; /* the linker's: where the binary is mapped */

static void sweep(const char *name, void (*phase)(Run *), const char *backend)
{
    void *warm[2];
    backtrace(warm, 2); /* loads the unwinder before any run */
    pthread_mutex_lock(&table.mu);
    table.n = 0;
    table.overflow = false;
    memset(table.failed, 0, sizeof table.failed);
    pthread_mutex_unlock(&table.mu);

    static Run r; /* large: off the stack */
    long n, runs = 0, reached = 0;
    for (n = 1;; n++) {
        one_run(phase, backend, n, -1, &r);
        runs++;
        if (!atomic_load(&r.sa.injected)) {
            reached = atomic_load(&r.sa.calls);
            break;
        }
        cr_assert(n < MAX_RUNS, "%s: the sweep does not end", name);
    }
    /* Paths some run reached but none failed: fail them on purpose. Some are
     * reached only in some runs (how many timers or tasks are alive at once
     * depends on how fast the workers go, and so does whether one more page
     * is carved), hence several attempts. */
    for (int k = 0; k < table.n; k++) {
        for (int attempt = 0; attempt < 12 && !table.failed[k]; attempt++) {
            one_run(phase, backend, 0, k, &r);
            runs++;
        }
    }
    int sites = 0, uncovered = 0;
    for (int k = 0; k < table.n; k++) {
        bool first = true;
        for (int j = 0; j < k; j++)
            if (table.paths[j].f[0] == table.paths[k].f[0]) first = false;
        sites += first;
        if (!table.failed[k]) {
            uncovered++;
            /* Offsets in the test binary, for addr2line -e. */
            uintptr_t base = (uintptr_t)&__executable_start;
            cr_log_warn("%s: call path %d (%#lx %#lx) reached but never failed", name, k,
                        (unsigned long)(table.paths[k].f[0] - base),
                        (unsigned long)(table.paths[k].f[1] - base));
        }
    }
    fprintf(stderr, "alloc sweep %s%s%s: %ld allocation calls, %d call sites, %d call paths, "
                    "every one failed once: %s (%ld runs)\n",
            name, backend ? " on " : "", backend ? backend : "", reached, sites, table.n,
            uncovered ? "NO" : "yes", runs);
    /* VEXRT_SWEEP_SITES=file: append the call sites (offsets in the binary,
     * for addr2line) so the sites of all phases can be put together. */
    const char *out = getenv("VEXRT_SWEEP_SITES");
    FILE *f = out ? fopen(out, "a") : NULL;
    for (int k = 0; f && k < table.n; k++)
        fprintf(f, "%#lx %s\n",
                (unsigned long)(table.paths[k].f[0] - (uintptr_t)&__executable_start), name);
    if (f) fclose(f);
    cr_assert(!table.overflow, "more than %d call paths", MAX_PATHS);
    cr_assert(reached > 0, "%s: the workload allocates", name);
    CHECK_INT(uncovered, 0);
}

IO_TEST(alloc_sweep, create, .timeout = 300) { sweep("create", phase_create, b->name); }

Test(alloc_sweep, spawn) { sweep("spawn", phase_spawn, "epoll"); }

Test(alloc_sweep, spawn_two_workers) { sweep("spawn (2 workers)", phase_spawn_2w, "epoll"); }

Test(alloc_sweep, timers) { sweep("timers", phase_timers, "epoll"); }

Test(alloc_sweep, cancel) { sweep("cancel", phase_cancel, "epoll"); }

Test(alloc_sweep, notify) { sweep("notify", phase_notify, "epoll"); }

Test(alloc_sweep, channel) { sweep("channel", phase_channel, "epoll"); }

IO_TEST(alloc_sweep, io, .timeout = 300) { sweep("io", phase_io, b->name); }

IO_TEST(alloc_sweep, io_ops_first, .timeout = 300)
{
    sweep("io (operations first)", phase_io_ops_first, b->name);
}

/* --- Found by the sweep (io_ops_first on epoll) ---
 * An emulated operation whose handle record could not be allocated went to
 * the blocking pool: on a non-blocking socket it completed with VEX_EAGAIN
 * (not VEX_ENOMEM); on a blocking one the pool thread blocked in recv(), so
 * the operation's timeout could not end the wait (the task hung until data
 * came). It now completes at once with VEX_ENOMEM. */

typedef struct {
    VexIoOp op;
    unsigned char buf[8];
    int fd, resumes;
    VexWakeReason why;
} Lonely;

static CoroStatus lonely_recv(WorkerContext *ctx, void *data)
{
    Lonely *l = data;
    if (l->resumes++ > 0) {
        l->why = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    memset(&l->op, 0, sizeof l->op);
    l->op.opcode = VEX_OP_RECV;
    l->op.handle = (IoHandle)l->fd;
    l->op.buf = l->buf;
    l->op.len = sizeof l->buf;
    CHECK_OK(worker_await_op(ctx, &l->op));
    CHECK_OK(worker_await_after(ctx, 20)); /* a timeout, should it wait */
    return CORO_STATUS_YIELDED;
}

Test(alloc_sweep, op_without_memory_for_its_handle_fails_with_enomem)
{
    static Run r;
    sa_init(&r.sa, 0, -1);
    r.backend = "epoll";
    r.watch_s = 10;
    Runtime *rt = run_rt(&r, 1);
    cr_assert_not_null(rt);
    int sv[2]; /* blocking on purpose: a recv there waits for data */
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    static Lonely l;
    memset(&l, 0, sizeof l);
    l.fd = sv[0];
    CHECK_OK(runtime_spawn_global(rt, lonely_recv, &l));
    /* The first block of the handle table (1024 pointers) is allocated when
     * the receive first needs the handle's record. */
    atomic_store(&r.sa.fail_size, 1024 * sizeof(void *));
    run_watched(&r, rt);
    CHECK_INT(atomic_load(&r.sa.injected), 1);
    CHECK_INT(l.why, VEX_WAKE_COMPLETED);
    cr_assert(l.op.result == VEX_ENOMEM, "result %s", vex_errname((int)l.op.result));
    CHECK_OK(runtime_destroy(rt));
    close(sv[0]);
    close(sv[1]);
    CHECK_INT(atomic_load(&r.sa.ca.live_bytes), 0);
}
