/* tests/platform/conformance.c - the platform conformance suite (see
 * conformance.h). Every check is a plain function over the VexPlatform
 * under test and fixture.h; threads come from p->thread_spawn (part of what
 * is tested), and checks that use the poller run on such a thread after
 * poller_attach, as a worker does, with poller_detach after it exited.
 *
 * What is checked is what core/ relies on: readiness arms report once with
 * their token (also when the handle is ready already), EDGE pollers keep a
 * registration that reports new edges and re-check on arm, hang-up is
 * reported as VEX_POLL_HUP, a wake-up before or during a wait is never lost,
 * timeouts are never early, completion results and errors are VEX_E* codes,
 * a cancelled operation reports VEX_ECANCELED, bad handles are refused.
 * Timings never decide a check: bounds on lateness are hang catchers (2 s),
 * and lateness is only printed.
 *
 * Divisions: reporting; threads and memory; the poller on a worker;
 * threads; clock; parking; poller lifecycle, timeouts and wake-ups;
 * readiness; completion operations; io_try / io_blocking; signals; the
 * runtime on the platform; the table and the runner. */
#include "conformance.h"

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "runtime.h"
#include "vexrt/config.h"
#include "vexrt/error.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

/* --- Reporting --- */

typedef struct T {
    const VexPlatform *p;
    int failed, skipped;
    char why[320];
    char info[160]; /* printed after PASS: measured lateness and the like */
    /* For checks on a worker: the poller's shared and local state. */
    void *poller;
    void *local;
    int param; /* the check's parameter (a fixture pair kind) */
} T;

static void note(T *t, int skip, int line, const char *fmt, ...)
{
    if (t->failed || t->skipped) return; /* the first reason wins */
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (skip) {
        t->skipped = 1;
        snprintf(t->why, sizeof t->why, "%s", msg);
    } else {
        t->failed = 1;
        snprintf(t->why, sizeof t->why, "%s (conformance.c:%d)", msg, line);
    }
}

#define FAIL(...)                                                                                 \
    do {                                                                                          \
        note(t, 0, __LINE__, __VA_ARGS__);                                                        \
        return;                                                                                   \
    } while (0)
#define SKIP(...)                                                                                 \
    do {                                                                                          \
        note(t, 1, __LINE__, __VA_ARGS__);                                                        \
        return;                                                                                   \
    } while (0)
#define EXPECT(cond, ...)                                                                         \
    do {                                                                                          \
        if (!(cond)) FAIL(__VA_ARGS__);                                                           \
    } while (0)
/* A code must be 0: prints its name otherwise. */
#define EXPECT_OK(expr)                                                                           \
    do {                                                                                          \
        int rc_ = (expr);                                                                         \
        if (rc_ != 0) FAIL("%s returned %s (%d)", #expr, vex_errname(rc_), rc_);                  \
    } while (0)
/* A helper that may have failed: stop the check too. */
#define STOP_IF_DONE()                                                                            \
    do {                                                                                          \
        if (t->failed || t->skipped) return;                                                      \
    } while (0)

#define NS_PER_MS 1000000ull
#define HANG_NS (2000ull * NS_PER_MS) /* "not absurdly late": a hang catcher */
#define EVENT_LIMIT_MS 5000u          /* how long an expected event may take */
#define QUIET_MS 40u                  /* window in which an unexpected event would show */

static const char *kind_name(int kind)
{
    return kind == FX_TCP ? "tcp" : kind == FX_SOCKETPAIR ? "socketpair" : "pipe";
}

static uint64_t now(T *t) { return t->p->now_ns(t->p->ctx); }

/* --- Threads and memory --- */

/* 64-byte aligned, zeroed; *raw gets what free() takes (no aligned_alloc:
 * the Windows C runtime lacks it). */
static void *alloc64(size_t size, void **raw)
{
    *raw = calloc(1, size + 64);
    if (!*raw) return NULL;
    return (void *)(((uintptr_t)*raw + 63) & ~(uintptr_t)63);
}

static void *thread_mem(const VexPlatform *p, int n)
{
    return calloc((size_t)n, p->thread_size ? p->thread_size : 1);
}

static void *thread_at(const VexPlatform *p, void *mem, int i)
{
    return (char *)mem + (size_t)i * (p->thread_size ? p->thread_size : 1);
}

/* --- The poller on a worker --- */

typedef struct {
    T *t;
    void (*body)(T *);
    int attached;
} WorkerRun;

static void worker_main(void *arg)
{
    WorkerRun *w = arg;
    T *t = w->t;
    const VexPlatform *p = t->p;
    int rc = p->poller_attach ? p->poller_attach(p->ctx, t->poller, t->local) : 0;
    if (rc != 0) {
        note(t, 0, __LINE__, "poller_attach on the worker's thread: %s", vex_errname(rc));
        return;
    }
    w->attached = 1;
    w->body(t);
}

/* Opens a poller for one worker, runs body on a thread from thread_spawn
 * after poller_attach there, joins it, detaches on this thread (as the core
 * does: after the worker exited) and closes. */
static void on_worker(T *t, void (*body)(T *))
{
    const VexPlatform *p = t->p;
    if (!p->poller_open || !p->poller_wait || !p->poller_wake || !p->poller_arm)
        SKIP("no poller in this platform");
    void *raw_poller = NULL, *raw_local = NULL;
    t->poller = alloc64(p->poller_size ? p->poller_size : 1, &raw_poller);
    t->local = p->poller_local_size ? alloc64(p->poller_local_size, &raw_local) : NULL;
    void *th = thread_mem(p, 1);
    if (!t->poller || (p->poller_local_size && !t->local) || !th) {
        free(raw_poller);
        free(raw_local);
        free(th);
        FAIL("out of memory");
    }
    int rc = p->poller_open(p->ctx, t->poller, 1);
    if (rc == VEX_ENOSYS || rc == VEX_EACCES) {
        free(raw_poller);
        free(raw_local);
        free(th);
        SKIP("poller_open: %s (not available here)", vex_errname(rc));
    }
    if (rc == 0) {
        WorkerRun w = {t, body, 0};
        rc = p->thread_spawn(p->ctx, th, worker_main, &w);
        if (rc == 0) {
            rc = p->thread_join(p->ctx, th);
            if (rc) note(t, 0, __LINE__, "thread_join: %s", vex_errname(rc));
        } else {
            note(t, 0, __LINE__, "thread_spawn: %s", vex_errname(rc));
        }
        if (w.attached && p->poller_detach) p->poller_detach(p->ctx, t->poller, t->local);
        if (p->poller_close) p->poller_close(p->ctx, t->poller);
    } else {
        note(t, 0, __LINE__, "poller_open: %s", vex_errname(rc));
    }
    free(th);
    free(raw_poller);
    free(raw_local);
    t->poller = t->local = NULL;
}

/* Tokens as the core makes them: readiness 00, operations 01 in the low bits. */
#define TOK_READY(i) ((uint64_t)(i) << 8)
#define TOK_OP(i) (((uint64_t)(i) << 8) | 1u)

static int is_edge(T *t) { return (t->p->poller_caps & VEX_POLLER_EDGE) != 0; }
static int is_native(T *t) { return (t->p->poller_caps & VEX_POLLER_NATIVE_OPS) != 0; }

/* Watches h for events as the core does: EDGE pollers register first. The
 * register's positive result (VEX_REG_STREAM) counts as success. */
static int watch(T *t, IoHandle h, uint32_t events, uint64_t token)
{
    const VexPlatform *p = t->p;
    if (is_edge(t)) {
        if (!p->poller_register) return VEX_ENOSYS;
        int rc = p->poller_register(p->ctx, t->poller, t->local, h, token);
        if (rc < 0) return rc;
    }
    return p->poller_arm(p->ctx, t->poller, t->local, h, events, token);
}

static int arm(T *t, IoHandle h, uint32_t events, uint64_t token)
{
    return t->p->poller_arm(t->p->ctx, t->poller, t->local, h, events, token);
}

/* One poller_wait, with the checks every wait gets: the result is 0, no more
 * than max events, known kinds, and none of the port's own tokens. */
static int wait_once(T *t, uint64_t timeout_ns, VexPollerEvent *ev, uint32_t max, uint32_t *n)
{
    const VexPlatform *p = t->p;
    *n = UINT32_MAX;
    int rc = p->poller_wait(p->ctx, t->poller, t->local, timeout_ns, ev, max, n);
    if (rc != 0) {
        note(t, 0, __LINE__, "poller_wait: %s", vex_errname(rc));
        return rc;
    }
    if (*n > max) {
        note(t, 0, __LINE__, "poller_wait reported %u events for max %u", *n, max);
        return VEX_EIO;
    }
    for (uint32_t i = 0; i < *n; i++) {
        if (ev[i].kind != VEX_PEV_READY && ev[i].kind != VEX_PEV_DONE) {
            note(t, 0, __LINE__, "event of unknown kind %u", ev[i].kind);
            return VEX_EIO;
        }
        if ((ev[i].token & 3u) == 3u) {
            note(t, 0, __LINE__, "the port reported one of its own tokens (%llx)",
                 (unsigned long long)ev[i].token);
            return VEX_EIO;
        }
    }
    return 0;
}

#define EVMAX 64u

/* Waits up to limit_ms for an event with token and kind: for readiness one
 * whose bits meet `want` or whose result is negative (a failed arm), for
 * completions any. Returns 1 and the result in *res, or 0 on timeout. */
static int await_ev(T *t, uint64_t token, uint32_t kind, uint32_t want, unsigned limit_ms,
                    int64_t *res)
{
    uint64_t deadline = now(t) + (uint64_t)limit_ms * NS_PER_MS;
    VexPollerEvent ev[EVMAX];
    for (;;) {
        uint64_t n0 = now(t);
        if (n0 >= deadline) return 0;
        uint64_t slice = deadline - n0 < 100 * NS_PER_MS ? deadline - n0 : 100 * NS_PER_MS;
        uint32_t n;
        if (wait_once(t, slice, ev, EVMAX, &n)) return 0;
        for (uint32_t i = 0; i < n; i++) {
            if (ev[i].token != token || ev[i].kind != kind) continue;
            if (kind == VEX_PEV_DONE || ev[i].result < 0 || ((uint64_t)ev[i].result & want)) {
                *res = ev[i].result;
                return 1;
            }
        }
    }
}

/* True if, within ms, no event with token arrived that has any of `bits` or
 * a negative result other than `allowed_error` (0: none allowed). */
static int quiet(T *t, uint64_t token, uint32_t bits, int64_t allowed_error, unsigned ms)
{
    uint64_t deadline = now(t) + (uint64_t)ms * NS_PER_MS;
    VexPollerEvent ev[EVMAX];
    for (uint64_t n0; (n0 = now(t)) < deadline;) {
        uint32_t n;
        if (wait_once(t, deadline - n0, ev, EVMAX, &n)) return 0;
        for (uint32_t i = 0; i < n; i++) {
            if (ev[i].token != token) continue;
            if (ev[i].result < 0 ? ev[i].result != allowed_error : ((uint64_t)ev[i].result & bits))
                return 0;
        }
    }
    return 1;
}

static const char *bits_str(int64_t r, char *buf, size_t len)
{
    if (r < 0) {
        snprintf(buf, len, "%s", vex_errname((int)r));
        return buf;
    }
    snprintf(buf, len, "%s%s%s%s%s", r & VEX_POLL_IN ? "IN " : "", r & VEX_POLL_OUT ? "OUT " : "",
             r & VEX_POLL_HUP ? "HUP " : "", r & VEX_POLL_ERR ? "ERR " : "", r ? "" : "none");
    return buf;
}

/* Reads and discards what h holds now. */
static void drain(IoHandle h)
{
    char buf[4096];
    while (fx_read(h, buf, sizeof buf) > 0) {}
}

/* --- Threads --- */

typedef struct {
    atomic_int ran;
    atomic_int counter;
    int value;
} ThreadArg;

static void thread_set(void *arg)
{
    ThreadArg *a = arg;
    a->value = 42; /* plain store: thread_join must make it visible */
    atomic_store(&a->ran, 1);
}

static void thread_count(void *arg) { atomic_fetch_add(&((ThreadArg *)arg)->counter, 1); }

static void check_thread_spawn_join(T *t)
{
    const VexPlatform *p = t->p;
    EXPECT(p->thread_spawn && p->thread_join, "thread_spawn / thread_join missing");
    void *th = thread_mem(p, 1);
    EXPECT(th, "out of memory");
    ThreadArg a;
    atomic_init(&a.ran, 0);
    atomic_init(&a.counter, 0);
    a.value = 0;
    int rc = p->thread_spawn(p->ctx, th, thread_set, &a);
    if (rc) {
        free(th);
        FAIL("thread_spawn: %s", vex_errname(rc));
    }
    rc = p->thread_join(p->ctx, th);
    free(th);
    EXPECT_OK(rc);
    EXPECT(atomic_load(&a.ran) == 1 && a.value == 42, "the thread did not run before join returned");
}

static void check_thread_many(T *t)
{
    enum { N = 48 };
    const VexPlatform *p = t->p;
    void *th = thread_mem(p, N);
    EXPECT(th, "out of memory");
    ThreadArg a;
    atomic_init(&a.ran, 0);
    atomic_init(&a.counter, 0);
    int started = 0, rc = 0;
    for (; started < N; started++) {
        rc = p->thread_spawn(p->ctx, thread_at(p, th, started), thread_count, &a);
        if (rc) break;
    }
    int join_err = 0;
    for (int i = 0; i < started; i++)
        if (p->thread_join(p->ctx, thread_at(p, th, i)) != 0) join_err++;
    free(th);
    EXPECT(rc == 0, "thread_spawn of thread %d: %s", started, vex_errname(rc));
    EXPECT(join_err == 0, "%d joins failed", join_err);
    EXPECT(atomic_load(&a.counter) == N, "%d of %d threads ran", atomic_load(&a.counter), N);
    if (p->cpu_count) {
        uint32_t c = p->cpu_count(p->ctx);
        EXPECT(c >= 1 && c <= 65536, "cpu_count returned %u", c);
    }
}

/* --- Clock --- */

typedef struct {
    const VexPlatform *p;
    atomic_int backwards;
} ClockArg;

static void clock_reader(void *arg)
{
    ClockArg *c = arg;
    uint64_t last = c->p->now_ns(c->p->ctx);
    for (int i = 0; i < 200000; i++) {
        uint64_t v = c->p->now_ns(c->p->ctx);
        if (v < last) atomic_fetch_add(&c->backwards, 1);
        last = v;
    }
}

static void check_clock_monotonic(T *t)
{
    const VexPlatform *p = t->p;
    EXPECT(p->now_ns, "now_ns missing");
    /* Two threads read at once (a per-CPU clock source would show here). */
    ClockArg c = {p, 0};
    void *th = thread_mem(p, 1);
    EXPECT(th, "out of memory");
    int rc = p->thread_spawn(p->ctx, th, clock_reader, &c);
    if (rc == 0) {
        clock_reader(&c);
        rc = p->thread_join(p->ctx, th);
    }
    free(th);
    EXPECT_OK(rc);
    EXPECT(atomic_load(&c.backwards) == 0, "now_ns went backwards %d times", atomic_load(&c.backwards));
    /* It advances with real time: a sleep of at least 20 ms shows as such. */
    uint64_t a = now(t);
    fx_sleep_ms(20);
    uint64_t b = now(t);
    EXPECT(b - a >= 20 * NS_PER_MS, "a 20 ms sleep advanced now_ns by %llu ns",
           (unsigned long long)(b - a));
}

static void check_clock_resolution(T *t)
{
    /* The smallest step seen between successive distinct readings. */
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 20; i++) {
        uint64_t a = now(t), b;
        uint64_t limit = a + HANG_NS;
        while ((b = now(t)) == a) {}
        EXPECT(b < limit, "now_ns did not change for 2 s");
        if (b - a < best) best = b - a;
    }
    EXPECT(best <= NS_PER_MS, "resolution %llu ns, more than 1 ms", (unsigned long long)best);
    snprintf(t->info, sizeof t->info, "step %llu ns", (unsigned long long)best);
}

/* --- Parking --- */

static void check_park_mismatch(T *t)
{
    const VexPlatform *p = t->p;
    uint32_t word = 1;
    /* Mismatch: at once, whatever the timeout (a hang is caught by the watchdog). */
    EXPECT_OK(p->park(p->ctx, &word, 0, VEX_WAIT_FOREVER));
    EXPECT_OK(p->park(p->ctx, &word, 0, 0));
    int rc = p->park(p->ctx, &word, 1, 0);
    EXPECT(rc == VEX_ETIMEDOUT, "park with timeout 0 on a matching word: %s, want VEX_ETIMEDOUT",
           vex_errname(rc));
    p->unpark(p->ctx, &word, 1); /* nobody parked: a no-op */
    p->unpark(p->ctx, &word, UINT32_MAX);
}

static void check_park_timeout(T *t)
{
    const VexPlatform *p = t->p;
    static const uint64_t tmo[] = {1, 1000, 100000, NS_PER_MS, 15 * NS_PER_MS};
    uint32_t word = 7;
    uint64_t worst = 0;
    for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
        uint64_t start = now(t);
        int rc;
        int spurious = 0;
        /* A return of 0 is a spurious wake-up (allowed); the timeout is
         * measured from the first call, as a caller would. */
        while ((rc = p->park(p->ctx, &word, 7, tmo[i])) == 0 && spurious < 1000) spurious++;
        uint64_t el = now(t) - start;
        EXPECT(rc == VEX_ETIMEDOUT, "park(%llu ns): %s", (unsigned long long)tmo[i], vex_errname(rc));
        EXPECT(el >= tmo[i], "park(%llu ns) timed out early, after %llu ns",
               (unsigned long long)tmo[i], (unsigned long long)el);
        EXPECT(el < tmo[i] + HANG_NS, "park(%llu ns) took %llu ns", (unsigned long long)tmo[i],
               (unsigned long long)el);
        if (el - tmo[i] > worst) worst = el - tmo[i];
    }
    snprintf(t->info, sizeof t->info, "worst lateness %llu us", (unsigned long long)(worst / 1000));
}

typedef struct {
    const VexPlatform *p;
    uint32_t word;
    atomic_int woke;
    int rounds;
} ParkArg;

static void parker_until_set(void *arg)
{
    ParkArg *a = arg;
    while (__atomic_load_n(&a->word, __ATOMIC_SEQ_CST) == 0)
        a->p->park(a->p->ctx, &a->word, 0, VEX_WAIT_FOREVER);
    atomic_fetch_add(&a->woke, 1);
}

static void check_park_unpark_wakes(T *t)
{
    enum { N = 4 };
    const VexPlatform *p = t->p;
    ParkArg a = {p, 0, 0, 0};
    void *th = thread_mem(p, N);
    EXPECT(th, "out of memory");
    int started = 0, rc = 0;
    for (; started < N && rc == 0; started++)
        rc = p->thread_spawn(p->ctx, thread_at(p, th, started), parker_until_set, &a);
    if (rc) started--;
    /* Give them time to park (not needed for correctness: a thread that has
     * not parked yet sees the new value). */
    fx_sleep_ms(30);
    __atomic_store_n(&a.word, 1, __ATOMIC_SEQ_CST);
    p->unpark(p->ctx, &a.word, UINT32_MAX);
    for (int i = 0; i < started; i++) p->thread_join(p->ctx, thread_at(p, th, i));
    free(th);
    EXPECT(rc == 0, "thread_spawn: %s", vex_errname(rc));
    EXPECT(atomic_load(&a.woke) == N, "%d of %d parked threads woke", atomic_load(&a.woke), N);
}

/* Ping-pong on one word: each side parks while the word holds the value it
 * last saw. A lost wake-up (an unpark between another thread's check and
 * its sleep) hangs, and the watchdog reports it. */
static void pong(void *arg)
{
    ParkArg *a = arg;
    for (uint32_t i = 1; i <= (uint32_t)a->rounds; i++) {
        uint32_t v;
        while ((v = __atomic_load_n(&a->word, __ATOMIC_SEQ_CST)) != 2 * i - 1)
            a->p->park(a->p->ctx, &a->word, v, VEX_WAIT_FOREVER);
        __atomic_store_n(&a->word, 2 * i, __ATOMIC_SEQ_CST);
        a->p->unpark(a->p->ctx, &a->word, 1);
    }
}

static void check_park_ping_pong(T *t)
{
    const VexPlatform *p = t->p;
    ParkArg a = {p, 0, 0, 20000};
    void *th = thread_mem(p, 1);
    EXPECT(th, "out of memory");
    int rc = p->thread_spawn(p->ctx, th, pong, &a);
    if (rc) {
        free(th);
        FAIL("thread_spawn: %s", vex_errname(rc));
    }
    for (uint32_t i = 1; i <= (uint32_t)a.rounds; i++) {
        /* The unpark comes before the other side parks about as often as
         * after: both orders are exercised. */
        __atomic_store_n(&a.word, 2 * i - 1, __ATOMIC_SEQ_CST);
        p->unpark(p->ctx, &a.word, 1);
        uint32_t v;
        while ((v = __atomic_load_n(&a.word, __ATOMIC_SEQ_CST)) != 2 * i)
            p->park(p->ctx, &a.word, v, VEX_WAIT_FOREVER);
    }
    rc = p->thread_join(p->ctx, th);
    free(th);
    EXPECT_OK(rc);
    snprintf(t->info, sizeof t->info, "%d round trips", a.rounds);
}

/* --- Poller lifecycle, timeouts and wake-ups --- */

typedef struct {
    T *t;
    void *local;
    atomic_int rc;
} AttachArg;

static void attach_only(void *arg)
{
    AttachArg *a = arg;
    const VexPlatform *p = a->t->p;
    atomic_store(&a->rc, p->poller_attach ? p->poller_attach(p->ctx, a->t->poller, a->local) : 0);
}

static void check_poller_open_n(T *t)
{
    enum { N = 4 };
    const VexPlatform *p = t->p;
    if (!p->poller_open) SKIP("no poller in this platform");
    size_t stride = (p->poller_local_size + 63) & ~(size_t)63;
    void *raw_poller, *raw_locals = NULL;
    t->poller = alloc64(p->poller_size ? p->poller_size : 1, &raw_poller);
    char *locals = stride ? alloc64(stride * N, &raw_locals) : NULL;
    void *th = thread_mem(p, N);
    if (!t->poller || (stride && !locals) || !th) {
        free(raw_poller);
        free(raw_locals);
        free(th);
        FAIL("out of memory");
    }
    int rc = p->poller_open(p->ctx, t->poller, N);
    if (rc == VEX_ENOSYS || rc == VEX_EACCES) {
        free(raw_poller);
        free(raw_locals);
        free(th);
        SKIP("poller_open: %s", vex_errname(rc));
    }
    AttachArg a[N];
    int spawned = 0;
    if (rc == 0) {
        for (; spawned < N; spawned++) {
            a[spawned].t = t;
            a[spawned].local = locals ? locals + stride * (size_t)spawned : NULL;
            atomic_init(&a[spawned].rc, 1);
            if (p->thread_spawn(p->ctx, thread_at(p, th, spawned), attach_only, &a[spawned])) break;
        }
        for (int i = 0; i < spawned; i++) p->thread_join(p->ctx, thread_at(p, th, i));
        /* Detached after their threads exited, on this thread, as the core does. */
        for (int i = 0; i < spawned; i++)
            if (atomic_load(&a[i].rc) == 0 && p->poller_detach)
                p->poller_detach(p->ctx, t->poller, a[i].local);
        if (p->poller_close) p->poller_close(p->ctx, t->poller);
    }
    free(th);
    free(raw_poller);
    free(raw_locals);
    t->poller = NULL;
    EXPECT(rc == 0, "poller_open(%d workers): %s", N, vex_errname(rc));
    EXPECT(spawned == N, "thread_spawn failed");
    for (int i = 0; i < N; i++)
        EXPECT(atomic_load(&a[i].rc) == 0, "poller_attach of worker %d: %s", i,
               vex_errname(atomic_load(&a[i].rc)));
}

static void body_wait_timeouts(T *t)
{
    static const uint64_t tmo[] = {0, 1000, 100000, NS_PER_MS, 10 * NS_PER_MS, 25 * NS_PER_MS};
    VexPollerEvent ev[EVMAX];
    int ns = (t->p->poller_caps & VEX_POLLER_NS_TIMEOUT) != 0;
    size_t off = 0;
    for (size_t i = 0; i < sizeof tmo / sizeof tmo[0]; i++) {
        uint32_t n;
        uint64_t start = now(t);
        if (wait_once(t, tmo[i], ev, EVMAX, &n)) return;
        uint64_t el = now(t) - start;
        EXPECT(n == 0, "poller_wait(%llu ns) with nothing armed reported %u events",
               (unsigned long long)tmo[i], n);
        EXPECT(el >= tmo[i], "poller_wait(%llu ns) returned early, after %llu ns",
               (unsigned long long)tmo[i], (unsigned long long)el);
        EXPECT(el < tmo[i] + HANG_NS, "poller_wait(%llu ns) took %llu ns",
               (unsigned long long)tmo[i], (unsigned long long)el);
        if (tmo[i] && off < sizeof t->info)
            off += (size_t)snprintf(t->info + off, sizeof t->info - off, "%s%lluus:+%lluus",
                                    off ? " " : (ns ? "ns timeouts, late by " : "rounded up, late by "),
                                    (unsigned long long)(tmo[i] / 1000),
                                    (unsigned long long)((el - tmo[i]) / 1000));
    }
}

static void check_poller_wait_timeout(T *t) { on_worker(t, body_wait_timeouts); }

static void waker(void *arg)
{
    T *t = arg;
    t->p->poller_wake(t->p->ctx, t->poller, t->local);
}

static void sleepy_waker(void *arg)
{
    fx_sleep_ms(30);
    waker(arg);
}

static void body_wake(T *t)
{
    const VexPlatform *p = t->p;
    VexPollerEvent ev[EVMAX];
    uint32_t n;
    /* From this thread, before the wait: not lost (the watchdog catches a hang). */
    p->poller_wake(p->ctx, t->poller, t->local);
    p->poller_wake(p->ctx, t->poller, t->local); /* repeated: cheap, harmless */
    if (wait_once(t, VEX_WAIT_FOREVER, ev, EVMAX, &n)) return;
    EXPECT(n == 0, "a wake-up was reported as %u events", n);
    void *th = thread_mem(p, 1);
    EXPECT(th, "out of memory");
    /* From another thread, before the wait. */
    int rc = p->thread_spawn(p->ctx, th, waker, t);
    if (rc == 0) rc = p->thread_join(p->ctx, th);
    if (rc == 0 && wait_once(t, VEX_WAIT_FOREVER, ev, EVMAX, &n) == 0) {
        /* From another thread, during the wait. */
        rc = p->thread_spawn(p->ctx, th, sleepy_waker, t);
        if (rc == 0) {
            wait_once(t, VEX_WAIT_FOREVER, ev, EVMAX, &n);
            rc = p->thread_join(p->ctx, th);
        }
    }
    free(th);
    EXPECT_OK(rc);
}

static void check_poller_wake(T *t) { on_worker(t, body_wake); }

typedef struct {
    T *t;
    atomic_uint want; /* the round the worker waits in */
    atomic_uint stop;
} WakeRounds;

static void round_waker(void *arg)
{
    WakeRounds *w = arg;
    unsigned done = 0;
    while (!atomic_load(&w->stop)) {
        unsigned r = atomic_load(&w->want);
        if (r == done) continue; /* spin: the worker is about to wait or waiting */
        waker(w->t);
        done = r;
    }
}

/* Every round the worker waits without a timeout until the waker has woken
 * it for that round: a wake-up that lands before, during or just after
 * the wait's start must end it. A lost one hangs (watchdog). */
static void body_wake_rounds(T *t)
{
    enum { ROUNDS = 2000 };
    const VexPlatform *p = t->p;
    WakeRounds w;
    w.t = t;
    atomic_init(&w.want, 0);
    atomic_init(&w.stop, 0);
    void *th = thread_mem(p, 1);
    EXPECT(th, "out of memory");
    int rc = p->thread_spawn(p->ctx, th, round_waker, &w);
    if (rc) {
        free(th);
        FAIL("thread_spawn: %s", vex_errname(rc));
    }
    VexPollerEvent ev[EVMAX];
    for (unsigned i = 1; i <= ROUNDS && !t->failed; i++) {
        atomic_store(&w.want, i);
        uint32_t n;
        wait_once(t, VEX_WAIT_FOREVER, ev, EVMAX, &n);
    }
    atomic_store(&w.stop, 1);
    rc = p->thread_join(p->ctx, th);
    free(th);
    EXPECT_OK(rc);
}

static void check_poller_wake_rounds(T *t) { on_worker(t, body_wake_rounds); }

/* --- Readiness --- */

static int pair_or_skip(T *t, int kind, IoHandle h[2])
{
    if (fx_pair(kind, h) == 0) return 0;
    note(t, 1, __LINE__, "no %s pair here", kind_name(kind));
    return -1;
}

static void close_pair(IoHandle h[2])
{
    fx_close(h[0]);
    fx_close(h[1]);
}

/* Arm IN; no IN before data; IN once data is there; then one-shot pollers
 * report no more, while EDGE registrations report the next edge. */
static void body_ready_in(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, t->param, h)) return;
    uint64_t tok = TOK_READY(1);
    char b[48];
    int64_t r = 0;
    int rc = watch(t, h[0], VEX_POLL_IN, tok);
    if (rc < 0) {
        close_pair(h);
        FAIL("arm IN: %s", vex_errname(rc));
    }
    if (!quiet(t, tok, VEX_POLL_IN, 0, QUIET_MS)) {
        close_pair(h);
        FAIL("IN reported before any data was written");
    }
    if (fx_write(h[1], "ping", 4) != 4) {
        close_pair(h);
        FAIL("fx_write");
    }
    if (!await_ev(t, tok, VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r) || r < 0) {
        close_pair(h);
        FAIL("no IN within %u ms of the write (got %s)", EVENT_LIMIT_MS, bits_str(r, b, sizeof b));
    }
    if (!is_edge(t)) {
        fx_write(h[1], "more", 4);
        int q = quiet(t, tok, VEX_POLL_IN, 0, QUIET_MS);
        close_pair(h);
        EXPECT(q, "a one-shot arm reported IN a second time without a new arm");
        return;
    }
    /* EDGE: drained, then new data is a new edge, reported without an arm. */
    drain(h[0]);
    fx_write(h[1], "more", 4);
    int got = await_ev(t, tok, VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r);
    close_pair(h);
    EXPECT(got && r > 0, "an EDGE registration did not report the next edge (new data)");
}

static void check_ready_in(T *t) { on_worker(t, body_ready_in); }

/* Data first, then the arm: it reports at once; arming again without
 * reading reports again (EDGE: the arm re-checks the registration). */
static void body_ready_already(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, t->param, h)) return;
    uint64_t tok = TOK_READY(2);
    int64_t r = 0;
    int rc = fx_write(h[1], "data", 4) == 4 ? 0 : VEX_EIO;
    if (rc == 0) rc = watch(t, h[0], VEX_POLL_IN, tok);
    if (rc < 0) {
        close_pair(h);
        FAIL("write + arm IN: %s", vex_errname(rc));
    }
    if (!await_ev(t, tok, VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r) || r < 0) {
        close_pair(h);
        FAIL("an arm on a handle that was readable already did not report IN");
    }
    uint64_t tok2 = TOK_READY(3);
    rc = arm(t, h[0], VEX_POLL_IN, tok2);
    int got = rc == 0 && await_ev(t, tok2, VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r);
    close_pair(h);
    EXPECT(rc == 0, "second arm: %s", vex_errname(rc));
    EXPECT(got && r > 0, "a second arm with the data still unread did not report IN");
}

static void check_ready_already(T *t) { on_worker(t, body_ready_already); }

static void body_ready_out(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, t->param, h)) return;
    IoHandle w = t->param == FX_PIPE ? h[1] : h[0];
    uint64_t tok = TOK_READY(4);
    int64_t r = 0;
    int rc = watch(t, w, VEX_POLL_OUT, tok);
    int got = rc >= 0 && await_ev(t, tok, VEX_PEV_READY, VEX_POLL_OUT, EVENT_LIMIT_MS, &r);
    close_pair(h);
    EXPECT(rc >= 0, "arm OUT: %s", vex_errname(rc));
    EXPECT(got && r > 0, "no OUT on an empty %s", kind_name(t->param));
}

static void check_ready_out(T *t) { on_worker(t, body_ready_out); }

static void body_ready_hup(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, t->param, h)) return;
    uint64_t tok = TOK_READY(5);
    int64_t r = 0;
    char b[48];
    int rc = watch(t, h[0], VEX_POLL_IN, tok);
    if (rc < 0) {
        close_pair(h);
        FAIL("arm IN: %s", vex_errname(rc));
    }
    fx_close(h[1]);
    int got = await_ev(t, tok, VEX_PEV_READY, VEX_POLL_HUP, EVENT_LIMIT_MS, &r);
    fx_close(h[0]);
    EXPECT(got && r > 0, "no HUP after the peer closed (last: %s)", bits_str(r, b, sizeof b));
}

static void check_ready_hup(T *t) { on_worker(t, body_ready_hup); }

static void body_ready_reset(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, FX_TCP, h)) return;
    uint64_t tok = TOK_READY(6);
    int64_t r = 0;
    int rc = watch(t, h[0], VEX_POLL_IN, tok);
    if (rc < 0) {
        close_pair(h);
        FAIL("arm IN: %s", vex_errname(rc));
    }
    fx_reset(h[1]);
    int got = await_ev(t, tok, VEX_PEV_READY, VEX_POLL_HUP | VEX_POLL_ERR, EVENT_LIMIT_MS, &r);
    fx_close(h[0]);
    EXPECT(got && r > 0, "no HUP/ERR after the peer reset the connection");
}

static void check_ready_reset(T *t) { on_worker(t, body_ready_reset); }

/* EDGE pollers: poller_register's results by kind of handle, and a
 * deregistered handle reports nothing. */
static void body_edge_register(T *t)
{
    const VexPlatform *p = t->p;
    if (!is_edge(t)) SKIP("one-shot poller: no registrations");
    EXPECT(p->poller_register && p->poller_deregister, "EDGE poller without register/deregister");
    static const int kinds[] = {FX_PIPE, FX_SOCKETPAIR, FX_TCP};
    for (size_t i = 0; i < 3; i++) {
        IoHandle h[2];
        if (fx_pair(kinds[i], h)) continue;
        int rc = p->poller_register(p->ctx, t->poller, t->local, h[0], TOK_READY(10 + i));
        close_pair(h);
        EXPECT(rc == VEX_REG_STREAM, "register of a %s: %d (%s), want VEX_REG_STREAM",
               kind_name(kinds[i]), rc, rc < 0 ? vex_errname(rc) : "not a stream");
    }
    IoHandle f;
    if (fx_file(&f) == 0) {
        int rc = p->poller_register(p->ctx, t->poller, t->local, f, TOK_READY(20));
        fx_close(f);
        EXPECT(rc == VEX_ENOTSUP, "register of a regular file: %s, want VEX_ENOTSUP",
               rc < 0 ? vex_errname(rc) : "accepted");
    }
    int rc = p->poller_register(p->ctx, t->poller, t->local, fx_invalid_handle(), TOK_READY(21));
    EXPECT(rc == VEX_EBADF, "register of an invalid handle: %s, want VEX_EBADF",
           rc < 0 ? vex_errname(rc) : "accepted");
    IoHandle h[2];
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    uint64_t tok = TOK_READY(22);
    rc = p->poller_register(p->ctx, t->poller, t->local, h[0], tok);
    if (rc >= 0) rc = p->poller_deregister(p->ctx, t->poller, h[0]);
    if (rc < 0) {
        close_pair(h);
        FAIL("register + deregister: %s", vex_errname(rc));
    }
    fx_write(h[1], "x", 1);
    int q = quiet(t, tok, VEX_POLL_IN, 0, QUIET_MS);
    close_pair(h);
    EXPECT(q, "a deregistered handle reported IN");
}

static void check_edge_register(T *t) { on_worker(t, body_edge_register); }

/* An arm on a handle that is not open: refused with VEX_EBADF at once, or
 * (io_uring) accepted and reported with a VEX_EBADF result. */
static void body_arm_invalid(T *t)
{
    uint64_t tok = TOK_READY(30);
    int64_t r = 0;
    int rc = watch(t, fx_invalid_handle(), VEX_POLL_IN, tok);
    if (rc == VEX_EBADF) return;
    EXPECT(rc == 0, "arm of an invalid handle: %s, want VEX_EBADF", vex_errname(rc));
    EXPECT(await_ev(t, tok, VEX_PEV_READY, 0, EVENT_LIMIT_MS, &r), "an accepted arm of an invalid handle never reported");
    EXPECT(r == VEX_EBADF, "an invalid handle's arm reported %lld, want VEX_EBADF", (long long)r);
}

static void check_arm_invalid(T *t) { on_worker(t, body_arm_invalid); }

/* Many handles, collected 7 events at a time: every token arrives, and
 * events not taken by one wait are there for the next. */
static void body_many(T *t)
{
    enum { N = 64 };
    IoHandle h[N][2];
    int made = 0, rc = 0;
    for (; made < N; made++) {
        if (fx_pair(FX_SOCKETPAIR, h[made])) break;
        rc = watch(t, h[made][0], VEX_POLL_IN, TOK_READY(100 + made));
        if (rc < 0) {
            made++;
            break;
        }
    }
    int seen[N] = {0}, nseen = 0;
    if (made == N && rc >= 0) {
        for (int i = 0; i < N; i++) fx_write(h[i][1], "z", 1);
        uint64_t deadline = now(t) + (uint64_t)EVENT_LIMIT_MS * NS_PER_MS;
        VexPollerEvent ev[7];
        while (nseen < N && now(t) < deadline && !t->failed) {
            uint32_t n;
            if (wait_once(t, 100 * NS_PER_MS, ev, 7, &n)) break;
            for (uint32_t i = 0; i < n; i++) {
                uint64_t k = (ev[i].token >> 8) - 100;
                if (ev[i].kind != VEX_PEV_READY || k >= N || ev[i].token != TOK_READY(100 + k)) continue;
                if (ev[i].result > 0 && (ev[i].result & VEX_POLL_IN) && !seen[k]) {
                    seen[k] = 1;
                    nseen++;
                }
            }
        }
    }
    for (int i = 0; i < made; i++) close_pair(h[i]);
    STOP_IF_DONE();
    EXPECT(made == N, "could not make %d socketpairs", N);
    EXPECT(rc >= 0, "arm: %s", vex_errname(rc));
    EXPECT(nseen == N, "%d of %d handles reported IN", nseen, N);
}

static void check_ready_many(T *t) { on_worker(t, body_many); }

/* --- Completion operations (NATIVE_OPS) --- */

static void op_init(VexIoOp *op, uint8_t code, IoHandle h, void *buf, size_t len)
{
    memset(op, 0, sizeof *op);
    op->opcode = code;
    op->handle = h;
    op->buf = buf;
    op->len = len;
}

/* Submits op and waits for its completion; returns its result (also in
 * op->result as the core would store it), or INT64_MIN if it never came. */
static int64_t run_op(T *t, VexIoOp *op, uint64_t token)
{
    const VexPlatform *p = t->p;
    int rc = p->poller_submit(p->ctx, t->poller, t->local, op, token);
    if (rc) return rc; /* refused at submission: the core reports that as the result */
    int64_t r;
    if (!await_ev(t, token, VEX_PEV_DONE, 0, EVENT_LIMIT_MS, &r)) return INT64_MIN;
    op->result = r;
    return r;
}

static int need_native(T *t)
{
    if (is_native(t) && t->p->poller_submit) return 1;
    note(t, 1, __LINE__, "readiness poller: operations go through io_try / io_blocking");
    return 0;
}

static void body_ops_stream(T *t)
{
    if (!need_native(t)) return;
    IoHandle h[2];
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    const VexPlatform *p = t->p;
    char in[64] = {0};
    VexIoOp rd, wr;
    op_init(&rd, VEX_OP_RECV, h[0], in, sizeof in);
    int rc = p->poller_submit(p->ctx, t->poller, t->local, &rd, TOK_OP(1));
    int64_t r = INT64_MIN;
    if (rc == 0) {
        fx_write(h[1], "hello", 5);
        if (!await_ev(t, TOK_OP(1), VEX_PEV_DONE, 0, EVENT_LIMIT_MS, &r)) r = INT64_MIN;
    }
    int64_t s = INT64_MIN;
    char back[16] = {0};
    long got = -3;
    if (r == 5) {
        op_init(&wr, VEX_OP_SEND, h[0], "world!", 6);
        s = run_op(t, &wr, TOK_OP(2));
        got = fx_read(h[1], back, sizeof back);
    }
    close_pair(h);
    EXPECT(rc == 0, "submit RECV: %s", vex_errname(rc));
    EXPECT(r == 5 && memcmp(in, "hello", 5) == 0, "RECV completed with %lld, want 5 bytes \"hello\"",
           (long long)r);
    EXPECT(s == 6, "SEND completed with %lld, want 6", (long long)s);
    EXPECT(got == 6 && memcmp(back, "world!", 6) == 0, "the peer read %ld bytes", got);

    /* READ / WRITE on a pipe. */
    if (pair_or_skip(t, FX_PIPE, h)) return;
    VexIoOp op;
    op_init(&op, VEX_OP_WRITE, h[1], "abc", 3);
    int64_t w = run_op(t, &op, TOK_OP(3));
    memset(in, 0, sizeof in);
    op_init(&op, VEX_OP_READ, h[0], in, sizeof in);
    int64_t rr = w == 3 ? run_op(t, &op, TOK_OP(4)) : INT64_MIN;
    close_pair(h);
    EXPECT(w == 3, "pipe WRITE completed with %lld", (long long)w);
    EXPECT(rr == 3 && memcmp(in, "abc", 3) == 0, "pipe READ completed with %lld", (long long)rr);
}

static void check_ops_stream(T *t) { on_worker(t, body_ops_stream); }

static void body_ops_accept_connect(T *t)
{
    if (!need_native(t)) return;
    const VexPlatform *p = t->p;
    IoHandle l, c;
    uint16_t port;
    if (fx_listen(&l, &port)) SKIP("no TCP listener here");
    unsigned char peer[128], addr[128];
    size_t alen = sizeof addr;
    if (fx_socket(&c, port, addr, &alen)) {
        fx_close(l);
        FAIL("fx_socket");
    }
    VexIoOp acc, con;
    op_init(&acc, VEX_OP_ACCEPT, l, peer, sizeof peer);
    op_init(&con, VEX_OP_CONNECT, c, addr, alen);
    int rc = p->poller_submit(p->ctx, t->poller, t->local, &acc, TOK_OP(5));
    if (rc == 0) rc = p->poller_submit(p->ctx, t->poller, t->local, &con, TOK_OP(6));
    int64_t ra = INT64_MIN, rcn = INT64_MIN;
    uint64_t deadline = now(t) + (uint64_t)EVENT_LIMIT_MS * NS_PER_MS;
    VexPollerEvent ev[EVMAX];
    while (rc == 0 && (ra == INT64_MIN || rcn == INT64_MIN) && now(t) < deadline) {
        uint32_t n;
        if (wait_once(t, 100 * NS_PER_MS, ev, EVMAX, &n)) break;
        for (uint32_t i = 0; i < n; i++) {
            if (ev[i].kind != VEX_PEV_DONE) continue;
            if (ev[i].token == TOK_OP(5)) ra = ev[i].result;
            if (ev[i].token == TOK_OP(6)) rcn = ev[i].result;
        }
    }
    if (ra >= 0 && ra != INT64_MIN) fx_close((IoHandle)ra);
    fx_close(c);
    fx_close(l);
    STOP_IF_DONE();
    EXPECT(rc == 0, "submit: %s", vex_errname(rc));
    EXPECT(ra >= 0 && ra != INT64_MIN, "ACCEPT completed with %lld", (long long)ra);
    EXPECT(acc.len == alen, "ACCEPT wrote a peer address of %zu bytes, want %zu", acc.len, alen);
    EXPECT(rcn == 0, "CONNECT completed with %lld (%s)", (long long)rcn,
           rcn < 0 && rcn != INT64_MIN ? vex_errname((int)rcn) : "-");
}

static void check_ops_accept_connect(T *t) { on_worker(t, body_ops_accept_connect); }

static void body_ops_errors(T *t)
{
    if (!need_native(t)) return;
    char buf[16];
    VexIoOp op;
    IoHandle bad = fx_invalid_handle();
    static const uint8_t codes[] = {VEX_OP_READ, VEX_OP_WRITE, VEX_OP_RECV, VEX_OP_SEND, VEX_OP_CLOSE,
                                    VEX_OP_FSYNC};
    for (size_t i = 0; i < sizeof codes; i++) {
        op_init(&op, codes[i], bad, buf, codes[i] == VEX_OP_CLOSE || codes[i] == VEX_OP_FSYNC ? 0 : sizeof buf);
        int64_t r = run_op(t, &op, TOK_OP(10 + i));
        EXPECT(r == VEX_EBADF, "opcode %u on an invalid handle: %lld (%s), want VEX_EBADF",
               codes[i], (long long)r, r < 0 && r != INT64_MIN ? vex_errname((int)r) : "-");
    }
    IoHandle h[2];
    if (pair_or_skip(t, FX_PIPE, h)) return;
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    int64_t r = run_op(t, &op, TOK_OP(20));
    close_pair(h);
    EXPECT(r == VEX_ENOTSOCK, "RECV on a pipe: %lld, want VEX_ENOTSOCK", (long long)r);
    /* EOF and reset. */
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    fx_close(h[1]);
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    r = run_op(t, &op, TOK_OP(21));
    fx_close(h[0]);
    EXPECT(r == 0, "RECV after the peer closed: %lld, want 0 (EOF)", (long long)r);
    if (pair_or_skip(t, FX_TCP, h)) return;
    fx_reset(h[1]);
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    r = run_op(t, &op, TOK_OP(22));
    op_init(&op, VEX_OP_SEND, h[0], "x", 1);
    int64_t s = run_op(t, &op, TOK_OP(23));
    fx_close(h[0]);
    EXPECT(r == VEX_ECONNRESET, "RECV after a reset: %lld, want VEX_ECONNRESET", (long long)r);
    EXPECT(s == VEX_EPIPE || s == VEX_ECONNRESET, "SEND after a reset: %lld, want VEX_EPIPE",
           (long long)s);
}

static void check_ops_errors(T *t) { on_worker(t, body_ops_errors); }

static void body_ops_files(T *t)
{
    if (!need_native(t)) return;
    IoHandle f;
    if (fx_file(&f)) SKIP("no temporary file here");
    char buf[32];
    VexIoOp op;
    op_init(&op, VEX_OP_PWRITE, f, "hello", 5);
    op.offset = 10;
    int64_t w = run_op(t, &op, TOK_OP(30));
    memset(buf, 'x', sizeof buf);
    op_init(&op, VEX_OP_PREAD, f, buf, 15);
    int64_t r = run_op(t, &op, TOK_OP(31));
    op_init(&op, VEX_OP_PREAD, f, buf + 20, 5);
    op.offset = 1000;
    int64_t eof = run_op(t, &op, TOK_OP(32));
    op_init(&op, VEX_OP_FSYNC, f, NULL, 0);
    int64_t s = run_op(t, &op, TOK_OP(33));
    /* CLOSE: the handle is gone afterwards (not closed again here). */
    op_init(&op, VEX_OP_CLOSE, f, NULL, 0);
    int64_t c = run_op(t, &op, TOK_OP(34));
    if (c != 0) fx_close(f);
    EXPECT(w == 5, "PWRITE at 10: %lld", (long long)w);
    static const char want[15] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    EXPECT(r == 15 && memcmp(buf, want, 15) == 0, "PREAD of 15 bytes at 0: %lld", (long long)r);
    EXPECT(eof == 0, "PREAD past the end: %lld, want 0", (long long)eof);
    EXPECT(s == 0, "FSYNC: %lld", (long long)s);
    EXPECT(c == 0, "CLOSE: %lld", (long long)c);
}

static void check_ops_files(T *t) { on_worker(t, body_ops_files); }

/* poller_cancel of an operation that cannot complete: VEX_ECANCELED, and
 * data sent afterwards is still there (the op took nothing); of an arm: at
 * most a VEX_ECANCELED report, never readiness. */
static void body_ops_cancel(T *t)
{
    if (!need_native(t)) return;
    const VexPlatform *p = t->p;
    EXPECT(p->poller_cancel, "NATIVE_OPS poller without poller_cancel");
    IoHandle h[2];
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    char buf[16];
    VexIoOp op;
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    int rc = p->poller_submit(p->ctx, t->poller, t->local, &op, TOK_OP(40));
    int64_t r = INT64_MIN;
    if (rc == 0) rc = p->poller_cancel(p->ctx, t->poller, t->local, TOK_OP(40));
    if (rc == 0 && !await_ev(t, TOK_OP(40), VEX_PEV_DONE, 0, EVENT_LIMIT_MS, &r)) r = INT64_MIN;
    long left = -3;
    if (rc == 0) {
        fx_write(h[1], "keep", 4); /* a socketpair: readable at once */
        left = fx_read(h[0], buf, sizeof buf);
    }
    uint64_t tok = TOK_READY(41);
    int arm_rc = rc == 0 ? arm(t, h[0], VEX_POLL_IN, tok) : 0;
    int cancel_rc = arm_rc == 0 && rc == 0 ? p->poller_cancel(p->ctx, t->poller, t->local, tok) : 0;
    int q = 1;
    if (rc == 0 && arm_rc == 0 && cancel_rc == 0) {
        /* The cancellation takes effect first (a wait hands it to the
         * kernel); data that comes after it must not be reported. Data
         * there before it may be: the arm finished first. */
        q = quiet(t, tok, VEX_POLL_IN, VEX_ECANCELED, QUIET_MS);
        fx_write(h[1], "more", 4);
        q = q && quiet(t, tok, VEX_POLL_IN, VEX_ECANCELED, QUIET_MS);
    }
    close_pair(h);
    EXPECT(rc == 0, "submit / cancel: %s", vex_errname(rc));
    EXPECT(r == VEX_ECANCELED, "a cancelled RECV completed with %lld, want VEX_ECANCELED",
           (long long)r);
    EXPECT(left == 4, "data sent after the cancellation: %ld bytes left, want 4", left);
    EXPECT(arm_rc == 0 && cancel_rc == 0, "arm / cancel of the arm: %s / %s", vex_errname(arm_rc),
           vex_errname(cancel_rc));
    EXPECT(q, "a cancelled arm reported readiness");
}

static void check_ops_cancel(T *t) { on_worker(t, body_ops_cancel); }

/* --- io_try / io_blocking --- */

static int need_try(T *t)
{
    if (t->p->io_try && t->p->io_blocking) return 1;
    note(t, 1, __LINE__, "no io_try / io_blocking in this platform");
    return 0;
}

static void check_try_stream(T *t)
{
    if (!need_try(t)) return;
    const VexPlatform *p = t->p;
    IoHandle h[2];
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    char buf[16] = {0}, back[16] = {0};
    VexIoOp op;
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    int rc1 = p->io_try(p->ctx, &op);
    fx_write(h[1], "hello", 5);
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    int rc2 = p->io_try(p->ctx, &op);
    int64_t r2 = op.result;
    op_init(&op, VEX_OP_SEND, h[0], "world", 5);
    int rc3 = p->io_try(p->ctx, &op);
    int64_t r3 = op.result;
    long got = fx_read(h[1], back, sizeof back);
    op_init(&op, VEX_OP_WRITE, h[0], "abc", 3);
    int rc4 = p->io_try(p->ctx, &op);
    int64_t r4 = op.result;
    close_pair(h);
    EXPECT(rc1 == VEX_EAGAIN, "RECV with nothing to read: %s, want VEX_EAGAIN", vex_errname(rc1));
    EXPECT(rc2 == 0 && r2 == 5 && memcmp(buf, "hello", 5) == 0, "RECV: %s, result %lld",
           vex_errname(rc2), (long long)r2);
    EXPECT(rc3 == 0 && r3 == 5 && got == 5 && memcmp(back, "world", 5) == 0,
           "SEND: %s, result %lld, peer read %ld", vex_errname(rc3), (long long)r3, got);
    EXPECT(rc4 == 0 && r4 == 3, "WRITE on a socket: %s, result %lld", vex_errname(rc4), (long long)r4);
    /* Pipes through io_blocking. */
    if (pair_or_skip(t, FX_PIPE, h)) return;
    op_init(&op, VEX_OP_WRITE, h[1], "pipe", 4);
    p->io_blocking(p->ctx, &op);
    int64_t w = op.result;
    memset(buf, 0, sizeof buf);
    op_init(&op, VEX_OP_READ, h[0], buf, sizeof buf);
    p->io_blocking(p->ctx, &op);
    int64_t r = op.result;
    op_init(&op, VEX_OP_CLOSE, h[1], NULL, 0);
    p->io_blocking(p->ctx, &op);
    int64_t c = op.result;
    op_init(&op, VEX_OP_READ, h[0], buf, sizeof buf);
    p->io_blocking(p->ctx, &op);
    int64_t eof = op.result;
    fx_close(h[0]);
    if (c != 0) fx_close(h[1]);
    EXPECT(w == 4 && r == 4 && memcmp(buf, "pipe", 4) == 0, "io_blocking WRITE %lld, READ %lld",
           (long long)w, (long long)r);
    EXPECT(c == 0, "io_blocking CLOSE: %lld", (long long)c);
    EXPECT(eof == 0, "io_blocking READ after the writer closed: %lld, want 0", (long long)eof);
}

/* Connect and accept through io_try, waiting for readiness in between as
 * the core does (OUT for connect, IN for accept). */
static void body_try_connect(T *t)
{
    if (!need_try(t)) return;
    const VexPlatform *p = t->p;
    IoHandle l, c;
    uint16_t port;
    if (fx_listen(&l, &port)) SKIP("no TCP listener here");
    unsigned char peer[128], addr[128];
    size_t alen = sizeof addr;
    if (fx_socket(&c, port, addr, &alen)) {
        fx_close(l);
        FAIL("fx_socket");
    }
    VexIoOp acc, con;
    op_init(&acc, VEX_OP_ACCEPT, l, peer, sizeof peer);
    int ra0 = p->io_try(p->ctx, &acc);
    op_init(&con, VEX_OP_CONNECT, c, addr, alen);
    int rc = p->io_try(p->ctx, &con);
    int64_t r = INT64_MIN;
    if (rc == VEX_EAGAIN) {
        /* In progress: writable when done, then the second try reads the outcome. */
        rc = watch(t, c, VEX_POLL_OUT, TOK_READY(50));
        if (rc >= 0 && await_ev(t, TOK_READY(50), VEX_PEV_READY, VEX_POLL_OUT, EVENT_LIMIT_MS, &r))
            rc = p->io_try(p->ctx, &con);
        else if (rc >= 0)
            rc = VEX_ETIMEDOUT;
    }
    int64_t rcon = con.result;
    int rac = VEX_EAGAIN;
    if (rc == 0) {
        op_init(&acc, VEX_OP_ACCEPT, l, peer, sizeof peer);
        rac = p->io_try(p->ctx, &acc);
        if (rac == VEX_EAGAIN && watch(t, l, VEX_POLL_IN, TOK_READY(51)) >= 0 &&
            await_ev(t, TOK_READY(51), VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r))
            rac = p->io_try(p->ctx, &acc);
    }
    if (rac == 0 && acc.result >= 0) fx_close((IoHandle)acc.result);
    fx_close(c);
    fx_close(l);
    STOP_IF_DONE();
    EXPECT(ra0 == VEX_EAGAIN, "ACCEPT with no connection pending: %s, want VEX_EAGAIN",
           vex_errname(ra0));
    EXPECT(rc == 0 && rcon == 0, "CONNECT: %s, result %lld", vex_errname(rc), (long long)rcon);
    EXPECT(rac == 0 && acc.result >= 0, "ACCEPT: %s, result %lld", vex_errname(rac),
           (long long)acc.result);
    EXPECT(acc.len == alen, "ACCEPT wrote a peer address of %zu bytes, want %zu", acc.len, alen);
}

static void check_try_connect(T *t) { on_worker(t, body_try_connect); }

static void check_try_errors(T *t)
{
    if (!need_try(t)) return;
    const VexPlatform *p = t->p;
    char buf[16];
    VexIoOp op;
    IoHandle bad = fx_invalid_handle();
    static const uint8_t codes[] = {VEX_OP_READ, VEX_OP_WRITE, VEX_OP_RECV, VEX_OP_SEND, VEX_OP_CLOSE};
    for (size_t i = 0; i < sizeof codes; i++) {
        op_init(&op, codes[i], bad, buf, codes[i] == VEX_OP_CLOSE ? 0 : sizeof buf);
        int rc = p->io_try(p->ctx, &op);
        EXPECT(rc == 0 && op.result == VEX_EBADF,
               "io_try of opcode %u on an invalid handle: %s, result %lld, want 0 and VEX_EBADF",
               codes[i], vex_errname(rc), (long long)op.result);
    }
    IoHandle h[2];
    if (pair_or_skip(t, FX_SOCKETPAIR, h)) return;
    fx_close(h[1]);
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    int rc = p->io_try(p->ctx, &op);
    fx_close(h[0]);
    EXPECT(rc == 0 && op.result == 0, "RECV after the peer closed: %s, result %lld, want 0 (EOF)",
           vex_errname(rc), (long long)op.result);
    if (pair_or_skip(t, FX_TCP, h)) return;
    fx_reset(h[1]);
    op_init(&op, VEX_OP_RECV, h[0], buf, sizeof buf);
    rc = p->io_try(p->ctx, &op);
    int64_t r = op.result;
    op_init(&op, VEX_OP_SEND, h[0], "x", 1);
    int rc2 = p->io_try(p->ctx, &op);
    fx_close(h[0]);
    EXPECT(rc == 0 && r == VEX_ECONNRESET, "RECV after a reset: %s, result %lld", vex_errname(rc),
           (long long)r);
    EXPECT(rc2 == 0 && (op.result == VEX_EPIPE || op.result == VEX_ECONNRESET),
           "SEND after a reset: %s, result %lld (a SIGPIPE would have ended the process)",
           vex_errname(rc2), (long long)op.result);
}

static void check_try_files(T *t)
{
    if (!need_try(t)) return;
    const VexPlatform *p = t->p;
    IoHandle f;
    if (fx_file(&f)) SKIP("no temporary file here");
    char buf[16] = {0};
    VexIoOp op;
    op_init(&op, VEX_OP_READ, f, buf, sizeof buf);
    int r1 = p->io_try(p->ctx, &op);
    op_init(&op, VEX_OP_PREAD, f, buf, sizeof buf);
    int r2 = p->io_try(p->ctx, &op);
    op_init(&op, VEX_OP_PWRITE, f, "abcdef", 6);
    op.offset = 3;
    p->io_blocking(p->ctx, &op);
    int64_t w = op.result;
    op_init(&op, VEX_OP_PREAD, f, buf, sizeof buf);
    op.offset = 4;
    p->io_blocking(p->ctx, &op);
    int64_t r = op.result;
    op_init(&op, VEX_OP_FSYNC, f, NULL, 0);
    p->io_blocking(p->ctx, &op);
    int64_t s = op.result;
    fx_close(f);
    EXPECT(r1 == VEX_ENOTSUP && r2 == VEX_ENOTSUP,
           "io_try READ / PREAD on a regular file: %s / %s, want VEX_ENOTSUP (the pool's work)",
           vex_errname(r1), vex_errname(r2));
    EXPECT(w == 6, "io_blocking PWRITE: %lld", (long long)w);
    EXPECT(r == 5 && memcmp(buf, "bcdef", 5) == 0, "io_blocking PREAD at 4: %lld", (long long)r);
    EXPECT(s == 0, "io_blocking FSYNC: %lld", (long long)s);
}

/* --- Signals --- */

static void body_signal(T *t)
{
#if defined(_WIN32)
    SKIP("raise() cannot stand for a signal delivery on Windows");
#else
    const VexPlatform *p = t->p;
    if (!p->signal_open || !p->signal_consume || !p->signal_close) SKIP("no signal entries");
    IoHandle h;
    /* SIGTERM: the worker thread blocks it (thread_spawn blocks every
     * signal in new threads) and signal_open blocks it again, so raise()
     * leaves it pending rather than ending the process. */
    int rc = p->signal_open(p->ctx, SIGTERM, &h);
    if (rc == VEX_ENOSYS || rc == VEX_ENOTSUP) SKIP("signal_open: %s", vex_errname(rc));
    EXPECT_OK(rc);
    int64_t r = 0;
    rc = watch(t, h, VEX_POLL_IN, TOK_READY(60));
    int q = rc >= 0 ? quiet(t, TOK_READY(60), VEX_POLL_IN, 0, QUIET_MS) : 0;
    int c0 = p->signal_consume(p->ctx, h);
    int got = 0, c1 = -100, c2 = -100;
    if (rc >= 0 && q && c0 == 0 && raise(SIGTERM) == 0) {
        got = await_ev(t, TOK_READY(60), VEX_PEV_READY, VEX_POLL_IN, EVENT_LIMIT_MS, &r);
        c1 = p->signal_consume(p->ctx, h);
        c2 = p->signal_consume(p->ctx, h);
    }
    int cl = p->signal_close(p->ctx, h);
    EXPECT(rc >= 0, "arm IN on the signal handle: %s", vex_errname(rc));
    EXPECT(q, "the signal handle was readable before any signal");
    EXPECT(c0 == 0, "consume with nothing pending: %d, want 0", c0);
    EXPECT(got && r > 0, "no IN after raise(SIGTERM)");
    EXPECT(c1 == 1 && c2 == 0, "consume after one delivery: %d then %d, want 1 then 0", c1, c2);
    EXPECT(cl == 0, "signal_close: %s", vex_errname(cl));
#endif
}

static void check_signal(T *t) { on_worker(t, body_signal); }

/* --- The runtime on the platform ---
 * The core driving the platform: echo over completion operations, and
 * readiness awaits with timer awaits as timeouts, on two workers. */

enum { ECHO_ROUNDS = 200, ECHO_SIZE = 48 };

typedef struct {
    IoHandle h;
    int client, round, state, err;
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
                if (e->buf[i] != (unsigned char)(e->round + i)) e->err = 2;
        /* client: sent -> receive, received -> next round;
         * server: received -> send back, sent -> next round. */
        int sent = e->state == 1;
        if (sent == e->client) {
            op_init(&e->op, sent ? VEX_OP_RECV : VEX_OP_SEND, e->h, e->buf, ECHO_SIZE);
            e->state = sent ? 2 : 1;
            worker_await_op(ctx, &e->op);
            return CORO_STATUS_YIELDED;
        }
        if (++e->round == ECHO_ROUNDS || e->err) return CORO_STATUS_DONE;
    }
    if (e->client) {
        for (int i = 0; i < ECHO_SIZE; i++) e->buf[i] = (unsigned char)(e->round + i);
        op_init(&e->op, VEX_OP_SEND, e->h, e->buf, ECHO_SIZE);
        e->state = 1;
    } else {
        op_init(&e->op, VEX_OP_RECV, e->h, e->buf, ECHO_SIZE);
        e->state = 2;
    }
    worker_await_op(ctx, &e->op);
    return CORO_STATUS_YIELDED;
}

static int runtime_on(T *t, Runtime **rt)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 2;
    cfg.platform = t->p;
    int rc = runtime_new(&cfg, rt);
    if (rc == 0) rc = runtime_enable_auto_shutdown(*rt, true);
    return rc;
}

static void check_runtime_echo(T *t)
{
    IoHandle h[2];
    if (pair_or_skip(t, FX_TCP, h)) return;
    Runtime *rt = NULL;
    int rc = runtime_on(t, &rt);
    if (rc) {
        close_pair(h);
        FAIL("runtime_new on this platform: %s", vex_errname(rc));
    }
    Echo c, s;
    memset(&c, 0, sizeof c);
    memset(&s, 0, sizeof s);
    c.h = h[0];
    c.client = 1;
    s.h = h[1];
    rc = runtime_spawn_global(rt, echo_task, &c);
    if (rc == 0) rc = runtime_spawn_global(rt, echo_task, &s);
    if (rc == 0) rc = runtime_run(rt);
    runtime_destroy(rt);
    close_pair(h);
    EXPECT_OK(rc);
    EXPECT(c.err == 0 && s.err == 0, "echo errors: client %d, server %d", c.err, s.err);
    EXPECT(c.round == ECHO_ROUNDS && s.round == ECHO_ROUNDS, "rounds: client %d, server %d of %d",
           c.round, s.round, ECHO_ROUNDS);
}

typedef struct {
    IoHandle h;
    int step;
    unsigned reason;
    uint64_t after_ms;
} Waiter;

static CoroStatus await_task(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    if (w->step++ == 0) {
        worker_await_ioh(ctx, w->h, EVENT_TYPE_READABLE);
        worker_await_after(ctx, w->after_ms); /* a timeout */
        return CORO_STATUS_YIELDED;
    }
    w->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus write_later(WorkerContext *ctx, void *data)
{
    Waiter *w = data;
    if (w->step++ == 0) {
        worker_await_after(ctx, 20);
        return CORO_STATUS_YIELDED;
    }
    fx_write(w->h, "!", 1);
    return CORO_STATUS_DONE;
}

static void check_runtime_await_io(T *t)
{
    IoHandle a[2], b[2];
    if (pair_or_skip(t, FX_PIPE, a)) return;
    if (fx_pair(FX_PIPE, b)) {
        close_pair(a);
        SKIP("no second pipe");
    }
    Runtime *rt = NULL;
    int rc = runtime_on(t, &rt);
    if (rc) {
        close_pair(a);
        close_pair(b);
        FAIL("runtime_new on this platform: %s", vex_errname(rc));
    }
    Waiter readable = {a[0], 0, 0, 10000}, writer = {a[1], 0, 0, 0}, idle = {b[0], 0, 0, 30};
    rc = runtime_spawn_global(rt, await_task, &readable);
    if (rc == 0) rc = runtime_spawn_global(rt, write_later, &writer);
    if (rc == 0) rc = runtime_spawn_global(rt, await_task, &idle);
    if (rc == 0) rc = runtime_run(rt);
    runtime_destroy(rt);
    close_pair(a);
    close_pair(b);
    EXPECT_OK(rc);
    EXPECT(readable.reason == VEX_WAKE_READABLE, "the await on the written pipe woke with %u, want READABLE",
           readable.reason);
    EXPECT(idle.reason == VEX_WAKE_TIMER, "the await on the silent pipe woke with %u, want TIMER",
           idle.reason);
}

/* --- The table and the runner --- */

typedef struct {
    const char *name;
    void (*fn)(T *);
    int param;
    unsigned watchdog_s;
} Check;

static const Check checks[] = {
    {"threads/spawn_join", check_thread_spawn_join, 0, 10},
    {"threads/many", check_thread_many, 0, 20},
    {"clock/monotonic", check_clock_monotonic, 0, 10},
    {"clock/resolution", check_clock_resolution, 0, 10},
    {"park/mismatch_returns_at_once", check_park_mismatch, 0, 10},
    {"park/timeout_never_early", check_park_timeout, 0, 10},
    {"park/unpark_wakes_all", check_park_unpark_wakes, 0, 10},
    {"park/ping_pong_no_lost_wakeup", check_park_ping_pong, 0, 30},
    {"poller/open_attach_n_workers", check_poller_open_n, 0, 10},
    {"poller/wait_timeout_never_early", check_poller_wait_timeout, 0, 15},
    {"poller/wake_before_and_during_wait", check_poller_wake, 0, 10},
    {"poller/wake_rounds_no_lost_wakeup", check_poller_wake_rounds, 0, 30},
    {"ready/in_when_data/pipe", check_ready_in, FX_PIPE, 15},
    {"ready/in_when_data/socketpair", check_ready_in, FX_SOCKETPAIR, 15},
    {"ready/in_when_data/tcp", check_ready_in, FX_TCP, 15},
    {"ready/arm_when_ready/pipe", check_ready_already, FX_PIPE, 15},
    {"ready/arm_when_ready/socketpair", check_ready_already, FX_SOCKETPAIR, 15},
    {"ready/arm_when_ready/tcp", check_ready_already, FX_TCP, 15},
    {"ready/out_when_writable/pipe", check_ready_out, FX_PIPE, 15},
    {"ready/out_when_writable/socketpair", check_ready_out, FX_SOCKETPAIR, 15},
    {"ready/out_when_writable/tcp", check_ready_out, FX_TCP, 15},
    {"ready/hup_on_peer_close/pipe", check_ready_hup, FX_PIPE, 15},
    {"ready/hup_on_peer_close/socketpair", check_ready_hup, FX_SOCKETPAIR, 15},
    {"ready/hup_on_peer_close/tcp", check_ready_hup, FX_TCP, 15},
    {"ready/hup_on_reset/tcp", check_ready_reset, FX_TCP, 15},
    {"ready/edge_register_kinds", check_edge_register, 0, 15},
    {"ready/arm_invalid_handle", check_arm_invalid, 0, 15},
    {"ready/many_handles_small_batches", check_ready_many, 0, 15},
    {"ops/stream_recv_send_read_write", check_ops_stream, 0, 15},
    {"ops/accept_connect", check_ops_accept_connect, 0, 15},
    {"ops/errors_bad_handle_eof_reset", check_ops_errors, 0, 15},
    {"ops/files_pread_pwrite_fsync_close", check_ops_files, 0, 15},
    {"ops/cancel_in_flight", check_ops_cancel, 0, 15},
    {"io_try/stream_and_blocking", check_try_stream, 0, 15},
    {"io_try/connect_accept", check_try_connect, 0, 15},
    {"io_try/errors_bad_handle_eof_reset", check_try_errors, 0, 15},
    {"io_try/files_go_to_the_pool", check_try_files, 0, 15},
    {"signals/raise_reports_readable", check_signal, 0, 15},
    {"runtime/echo_over_ops", check_runtime_echo, 0, 30},
    {"runtime/await_io_with_timeout", check_runtime_await_io, 0, 30},
};

int vx_conformance_run(const VexPlatform *p, const char *filter, int *passed, int *failed)
{
    const char *pname = p && p->name ? p->name : "unnamed";
    int bad = 0;
    char full[160];
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        snprintf(full, sizeof full, "%s/%s", pname, checks[i].name);
        if (filter && *filter && !strstr(full, filter)) continue;
        T t;
        memset(&t, 0, sizeof t);
        t.p = p;
        t.param = checks[i].param;
        fx_watchdog(checks[i].watchdog_s, full);
        if (!p || p->abi_version < 2 || !p->now_ns || !p->park || !p->unpark)
            note(&t, 0, __LINE__, "not an ABI 2 platform with a clock and parking");
        else
            checks[i].fn(&t);
        fx_watchdog(0, NULL);
        if (t.failed) {
            printf("[FAIL] %s : %s\n", full, t.why);
            ++*failed;
            bad = 1;
        } else if (t.skipped) {
            printf("[SKIP] %s: %s\n", full, t.why);
            ++*passed;
        } else {
            printf("[PASS] %s%s%s%s\n", full, t.info[0] ? " (" : "", t.info, t.info[0] ? ")" : "");
            ++*passed;
        }
        fflush(stdout);
    }
    return bad;
}
