/* bench/vexrt_bench.c - libvexrt's compute binary for the peer harness
 * (../shared/peers/WORKLOADS.md):
 *
 *   vexrt-bench <spawn_many|yield_many|chained_spawn|ping_pong|timers> [--key value ...]
 *
 * Every workload runs inside one root task; the clock starts in the root task
 * just before its first spawn and stops when the root task observes the
 * completion signal (a VexNotify the last task signals). Prints exactly one
 * JSON line on stdout. Extra fields: ctx_switches (voluntary, from
 * getrusage) and the runtime's own counters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "runtime.h"
#include "vexrt/config.h"
#include "vexrt/notify.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- Parameters --- */

typedef struct {
    const char *key;
    uint64_t value;
    int used;
} Param;

static Param params[] = {
    {"n", 0, 0},      {"tasks", 200, 0}, {"yields", 10000, 0}, {"pairs", 1000, 0},
    {"rounds", 1000, 0}, {"max-ms", 200, 0}, {"seed", 42, 0},   {"threads", 2, 0},
};

static Param *param(const char *key)
{
    for (size_t i = 0; i < sizeof params / sizeof *params; i++)
        if (!strcmp(params[i].key, key)) return &params[i];
    return NULL;
}

static uint64_t P(const char *key)
{
    Param *p = param(key);
    p->used = 1;
    return p->value;
}

/* --- Shared state of a run --- */

typedef struct {
    Runtime *rt;
    VexNotify *done;
    _Atomic uint64_t counter;
    uint64_t target;
    uint64_t t_start, t_end;
    /* yield_many */
    uint64_t yields;
    /* timers */
    uint64_t *dur_ns;
    int64_t *late_ns;
    _Atomic uint64_t armed;
    _Atomic uint64_t armed_at_ns;
} Bench;

static Bench B;

static void hit(WorkerContext *ctx)
{
    if (atomic_fetch_add_explicit(&B.counter, 1, memory_order_acq_rel) + 1 == B.target)
        worker_notify_signal(ctx, B.done);
}

/* The root task's second resume: the signal arrived. */
static CoroStatus finish(WorkerContext *ctx)
{
    (void)ctx;
    B.t_end = now_ns();
    return CORO_STATUS_DONE;
}

/* --- spawn_many --- */

static CoroStatus spawn_leaf(WorkerContext *ctx, void *data)
{
    (void)data;
    hit(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus spawn_root(WorkerContext *ctx, void *data)
{
    if (data) return finish(ctx);
    B.t_start = now_ns();
    for (uint64_t i = 0; i < B.target; i++)
        if (worker_spawn_local(ctx, spawn_leaf, NULL)) abort();
    worker_await_notify(ctx, B.done);
    return CORO_STATUS_YIELDED;
}

/* --- yield_many --- */

typedef struct {
    uint64_t left;
} YieldTask;

static YieldTask *ytasks;

static CoroStatus yield_task(WorkerContext *ctx, void *data)
{
    YieldTask *y = data;
    if (y->left-- > 0) return CORO_STATUS_YIELDED;
    hit(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus yield_root(WorkerContext *ctx, void *data)
{
    if (data) return finish(ctx);
    B.t_start = now_ns();
    for (uint64_t i = 0; i < B.target; i++)
        if (worker_spawn_local(ctx, yield_task, &ytasks[i])) abort();
    worker_await_notify(ctx, B.done);
    return CORO_STATUS_YIELDED;
}

/* --- chained_spawn --- */

static CoroStatus chain_task(WorkerContext *ctx, void *data)
{
    uint64_t k = (uint64_t)(uintptr_t)data;
    if (k == B.target)
        worker_notify_signal(ctx, B.done);
    else if (worker_spawn_local(ctx, chain_task, (void *)(uintptr_t)(k + 1)))
        abort();
    return CORO_STATUS_DONE;
}

static CoroStatus chain_root(WorkerContext *ctx, void *data)
{
    if (data) return finish(ctx);
    B.t_start = now_ns();
    if (worker_spawn_local(ctx, chain_task, (void *)(uintptr_t)1)) abort();
    worker_await_notify(ctx, B.done);
    return CORO_STATUS_YIELDED;
}

/* --- ping_pong: one-slot channels made of a value and a notification --- */

typedef struct {
    VexNotify *ready; /* signalled when value holds a message */
    uint64_t value;
} Slot;

typedef struct {
    Slot ab, ba;      /* A -> B and B -> A */
    uint64_t rounds;
    uint64_t a_i, b_i;
    int a_waiting, b_waiting;
} __attribute__((aligned(64))) Pair; /* one line each, as separate allocations would be */

static Pair *pairs;

static CoroStatus pong(WorkerContext *ctx, void *data) /* B */
{
    Pair *p = data;
    if (p->b_waiting) { /* a message arrived: send it back */
        p->ba.value = p->ab.value;
        worker_notify_signal(ctx, p->ba.ready);
        if (++p->b_i == p->rounds) return CORO_STATUS_DONE;
    }
    p->b_waiting = 1;
    worker_await_notify(ctx, p->ab.ready);
    return CORO_STATUS_YIELDED;
}

static CoroStatus ping(WorkerContext *ctx, void *data) /* A */
{
    Pair *p = data;
    if (p->a_waiting) { /* the reply arrived */
        if (p->ba.value != p->a_i) abort();
        if (++p->a_i == p->rounds) {
            hit(ctx);
            return CORO_STATUS_DONE;
        }
    }
    p->ab.value = p->a_i;
    worker_notify_signal(ctx, p->ab.ready);
    p->a_waiting = 1;
    worker_await_notify(ctx, p->ba.ready);
    return CORO_STATUS_YIELDED;
}

static CoroStatus pp_root(WorkerContext *ctx, void *data)
{
    if (data) return finish(ctx);
    B.t_start = now_ns();
    for (uint64_t i = 0; i < B.target; i++) {
        Pair *p = &pairs[i];
        if (!(p->ab.ready = vex_notify_create(B.rt)) || !(p->ba.ready = vex_notify_create(B.rt)))
            abort();
        if (worker_spawn_local(ctx, pong, p) || worker_spawn_local(ctx, ping, p)) abort();
    }
    worker_await_notify(ctx, B.done);
    return CORO_STATUS_YIELDED;
}

/* --- timers --- */

static uint64_t splitmix_state;

static uint64_t splitmix64(void)
{
    uint64_t z = (splitmix_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t t0;
    uint32_t i;
    uint32_t started;
} TimerTask;

static TimerTask *ttasks;

static CoroStatus timer_task(WorkerContext *ctx, void *data)
{
    TimerTask *t = data;
    if (!t->started) {
        t->started = 1;
        t->t0 = now_ns();
        if (atomic_fetch_add(&B.armed, 1) + 1 == B.target) atomic_store(&B.armed_at_ns, t->t0);
        /* worker_now_ns is the same CLOCK_MONOTONIC as now_ns here. */
        worker_await_deadline(ctx, t->t0 + B.dur_ns[t->i]);
        return CORO_STATUS_YIELDED;
    }
    B.late_ns[t->i] = (int64_t)(now_ns() - t->t0) - (int64_t)B.dur_ns[t->i];
    hit(ctx);
    return CORO_STATUS_DONE;
}

static CoroStatus timers_root(WorkerContext *ctx, void *data)
{
    if (data) return finish(ctx);
    B.t_start = now_ns();
    for (uint64_t i = 0; i < B.target; i++)
        if (worker_spawn_local(ctx, timer_task, &ttasks[i])) abort();
    worker_await_notify(ctx, B.done);
    return CORO_STATUS_YIELDED;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* --- main --- */

/* The root task is spawned with data NULL; when the done signal wakes it,
 * the wrapper passes a non-NULL data so each root knows it is the second
 * resume. */
static coro_resume_func root_fn;
static int root_resumes;

static CoroStatus root(WorkerContext *ctx, void *data)
{
    (void)data;
    return root_fn(ctx, root_resumes++ ? (void *)1 : NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <workload> [--key value ...]\n", argv[0]);
        return 2;
    }
    const char *w = argv[1];
    /* n's default depends on the workload (WORKLOADS.md). */
    param("n")->value = !strcmp(w, "spawn_many") ? 1000000 : 100000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) || !param(argv[i] + 2)) {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
        param(argv[i] + 2)->value = strtoull(argv[i + 1], NULL, 10);
    }
    const char *unit;
    double units;
    if (!strcmp(w, "spawn_many")) {
        root_fn = spawn_root;
        B.target = P("n");
        units = (double)B.target;
        unit = "tasks/s";
    } else if (!strcmp(w, "yield_many")) {
        root_fn = yield_root;
        B.target = P("tasks");
        B.yields = P("yields");
        ytasks = calloc(B.target, sizeof *ytasks);
        for (uint64_t i = 0; i < B.target; i++) ytasks[i].left = B.yields;
        units = (double)B.target * (double)B.yields;
        unit = "yields/s";
    } else if (!strcmp(w, "chained_spawn")) {
        root_fn = chain_root;
        B.target = P("n");
        units = (double)B.target;
        unit = "tasks/s";
    } else if (!strcmp(w, "ping_pong")) {
        root_fn = pp_root;
        B.target = P("pairs");
        uint64_t rounds = P("rounds");
        pairs = aligned_alloc(64, B.target * sizeof *pairs);
        if (!pairs) abort();
        memset(pairs, 0, B.target * sizeof *pairs);
        for (uint64_t i = 0; i < B.target; i++) pairs[i].rounds = rounds;
        units = (double)B.target * (double)rounds;
        unit = "rt/s";
    } else if (!strcmp(w, "timers")) {
        root_fn = timers_root;
        B.target = P("n");
        uint64_t max_ms = P("max-ms");
        splitmix_state = P("seed");
        B.dur_ns = malloc(B.target * sizeof *B.dur_ns);
        B.late_ns = malloc(B.target * sizeof *B.late_ns);
        ttasks = calloc(B.target, sizeof *ttasks);
        for (uint64_t i = 0; i < B.target; i++) {
            B.dur_ns[i] = (1 + splitmix64() % max_ms) * 1000000u;
            B.late_ns[i] = 0; /* touched now: no page faults inside the timed region */
            ttasks[i].i = (uint32_t)i;
        }
        units = (double)B.target;
        unit = "timers/s";
    } else {
        printf("{\"impl\":\"vexrt\",\"workload\":\"%s\",\"error\":\"unsupported\"}\n", w);
        return 3;
    }
    uint64_t threads = P("threads");

    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = (int)threads;
    cfg.auto_shutdown = true;
    if (getenv("VEXRT_TICK_NS")) cfg.timer_tick_ns = strtoull(getenv("VEXRT_TICK_NS"), NULL, 10);
    B.rt = runtime_create_with(&cfg);
    if (!B.rt || !(B.done = vex_notify_create(B.rt))) {
        fprintf(stderr, "runtime_create failed\n");
        return 1;
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    if (runtime_spawn_global(B.rt, root, NULL) || runtime_run(B.rt)) {
        fprintf(stderr, "run failed\n");
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru1);
    RuntimeStats st;
    runtime_get_stats(B.rt, &st);
    double secs = (double)(B.t_end - B.t_start) / 1e9;

    printf("{\"impl\":\"vexrt\",\"workload\":\"%s\",\"params\":{", w);
    int first = 1;
    for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
        if (!params[i].used) continue;
        printf("%s\"%s\":%" PRIu64, first ? "" : ",", params[i].key, params[i].value);
        first = 0;
    }
    printf("},\"seconds\":%.6f,\"rate\":%.1f,\"unit\":\"%s\"", secs, units / secs, unit);
    if (root_fn == timers_root && getenv("VEXRT_BENCH_DUMP")) {
        FILE *f = fopen(getenv("VEXRT_BENCH_DUMP"), "w");
        if (!f) {
            perror("VEXRT_BENCH_DUMP");
            return 1;
        }
        for (uint64_t i = 0; i < B.target; i++)
            fprintf(f, "%llu %lld %llu\n", (unsigned long long)B.dur_ns[i], (long long)B.late_ns[i],
                    (unsigned long long)(ttasks[i].t0 - B.t_start));
        fclose(f);
    }
    if (root_fn == timers_root) {
        qsort(B.late_ns, B.target, sizeof *B.late_ns, cmp_i64);
        size_t n = B.target;
        size_t r50 = (size_t)((0.50 * (double)n) + 0.999999999), r99 = (size_t)((0.99 * (double)n) + 0.999999999);
        if (r50 < 1) r50 = 1;
        if (r99 < 1) r99 = 1;
        printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,\"min_us\":%.1f,\"armed_ms\":%.3f",
               (double)B.late_ns[r50 - 1] / 1e3, (double)B.late_ns[r99 - 1] / 1e3,
               (double)B.late_ns[n - 1] / 1e3, (double)B.late_ns[0] / 1e3,
               (double)(atomic_load(&B.armed_at_ns) - B.t_start) / 1e6);
    }
    printf(",\"ctx_switches\":%ld,\"steals\":%" PRIu64 ",\"parks\":%" PRIu64 ",\"overflows\":%" PRIu64
           ",\"version\":\"%s\"}\n",
           ru1.ru_nvcsw - ru0.ru_nvcsw, st.steals, st.parks, st.overflows, VEXRT_VERSION_STRING);
    runtime_destroy(B.rt);
    return 0;
}
