/* core/runtime.c - a runtime's life: creating it (checking the config,
 * setting up every part, starting the workers), running, stopping and
 * destroying it; statistics and tracing. Live-task accounting is live.c,
 * spawning spawn.c. No OS calls but through plat.h. */
#include "rt.h"
#include "create.h"
#include "vexrt/task.h"

/* --- Tracing --- */

static char *put_u64(char *p, char *end, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n && p < end) *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, char *end, const char *s)
{
    while (*s && p < end) *p++ = *s++;
    return p;
}

void vx_trace(Runtime *rt, const char *what, uint64_t a, uint64_t b)
{
    if (!atomic_load_explicit(&rt->tracing, memory_order_relaxed)) return;
    char line[128];
    char *p = line, *end = line + sizeof line - 1;
    p = put_str(p, end, "vexrt: ");
    p = put_str(p, end, what);
    p = put_str(p, end, " ");
    p = put_u64(p, end, a);
    p = put_str(p, end, " ");
    p = put_u64(p, end, b);
    *p = 0;
    vx_plat_trace(&rt->sys, line);
}

/* --- Live tasks --- */



/* --- Lifecycle --- */

void vx_sched_stop(Runtime *rt)
{
    if (atomic_exchange_explicit(&rt->stopping, true, memory_order_acq_rel)) return;
    atomic_fetch_or_explicit(&rt->live, VX_LIVE_CLOSED, memory_order_acq_rel);
    atomic_store_explicit(&rt->phase, VX_PHASE_STOPPING, memory_order_release);
    vx_plat_unpark(&rt->sys, &rt->phase, UINT32_MAX); /* run(), and workers not yet started */
    for (uint32_t i = 0; i < rt->nworkers; i++) vx_sched_unpark_worker(rt, &rt->workers[i]);
}

/* Joins the threads of workers 1..n-1 (worker 0 is the thread that calls
 * runtime_run). */
static void join_threads(Runtime *rt)
{
    if (rt->threads_joined) return;
    for (uint32_t i = 0; i < rt->threads_started; i++)
        vx_plat_thread_join(&rt->sys, rt->workers[i + 1].thread);
    rt->threads_joined = true;
}

static void free_runtime(Runtime *rt)
{
    const VxSys sys = rt->sys;
    vx_pool_stop(rt);
    vx_io_fini(rt);
    vx_slab_destroy(&rt->pools.tasks);
    vx_slab_destroy(&rt->pools.timers);
    vx_slab_destroy(&rt->pools.batches);
    size_t tsz = sys.p->thread_size ? sys.p->thread_size : 1;
    vx_mem_free(&sys, rt->thread_mem, tsz * rt->nworkers, 16);
    vx_mem_free(&sys, rt->idle.sleepers, sizeof(uint32_t) * rt->nworkers, _Alignof(uint32_t));
    vx_mem_free(&sys, rt->workers, sizeof(VxWorker) * rt->nworkers, _Alignof(VxWorker));
    vx_gq_fini(&rt->gq, &sys);
    vx_mem_free(&sys, rt, sizeof(Runtime), _Alignof(Runtime));
    if (sys.p->fini) sys.p->fini(sys.p->ctx);
}

static unsigned tick_shift_for(uint64_t tick_ns)
{
    if (tick_ns == 0) return VX_DEFAULT_TICK_SHIFT;
    return 63 - vx_clz64(tick_ns); /* checked against VEX_TIMER_TICK_MAX_NS */
}

static size_t pow2_at_least(size_t v)
{
    size_t p = 2;
    while (p < v && p < ((size_t)1 << 24)) p <<= 1;
    return p;
}

static void init_worker(Runtime *rt, VxWorker *w, uint32_t id, void *thread, uint64_t now)
{
    vx_zero(w, sizeof *w);
    vx_lq_init(&w->remote.q, VX_LQ_MAX);
    vx_lq_init(&w->remote.wq, VX_LQ_MAX);
    atomic_init(&w->remote.lifo, NULL);
    vx_lock_init(&w->remote.inbox_lock);
    atomic_init(&w->remote.inbox_len, 0);
    w->rt = rt;
    w->id = id;
    w->own.hb_to = UINT32_MAX; /* no hand-over yet */
    w->own.solo = rt->nworkers == 1;
    w->own.global_left = VX_GLOBAL_INTERVAL;
    w->own.wake_left = VX_WAKE_FAIRNESS;
    w->own.rng = 0x9E3779B97F4A7C15ULL * (id + 1) ^ (uint64_t)(uintptr_t)w;
    if (!w->own.rng) w->own.rng = 1;
    w->own.ctx.rt = rt;
    w->own.ctx.w = w;
    vx_wheel_init(&w->remote.wheel, rt->tick_shift, now);
    w->thread = thread;
    atomic_init(&w->remote.timer_cancels, NULL);
    vx_lock_init(&w->remote.wheel_lock);
    atomic_init(&w->remote.next_timer_ns, UINT64_MAX);
    atomic_init(&w->remote.park_state, VX_PARK_EMPTY);
    for (int i = 0; i < VX_ST_COUNT; i++) atomic_init(&w->remote.stats.v[i], 0);
}

/* Core of runtime_new: cfg's allocator and platform are already resolved
 * (non-NULL). */
int vx_runtime_new(const RuntimeConfig *cfg, Runtime **out)
{
    *out = NULL;
    const VexPlatform *p = cfg->platform;
    const VexAllocator *a = cfg->allocator;
    if (!vx_plat_valid(p) || !a || !a->alloc || !a->free) return VEX_EINVAL;
    if (cfg->workers < 0 || cfg->workers > VEX_MAX_WORKERS) return VEX_EINVAL;
    if (cfg->timer_tick_ns && (cfg->timer_tick_ns < VEX_TIMER_TICK_MIN_NS ||
                               cfg->timer_tick_ns > VEX_TIMER_TICK_MAX_NS))
        return VEX_EINVAL;
    /* Zero now, so that a later version can give the fields a meaning
     * without an old runtime silently ignoring a caller that sets them. */
    for (size_t i = 0; i < sizeof cfg->reserved / sizeof cfg->reserved[0]; i++)
        if (cfg->reserved[i]) return VEX_EINVAL;
    if (p->init) {
        int rc = p->init(p->ctx);
        if (rc) return rc;
    }
    VxSys sys = {p, *a};
    uint32_t n = cfg->workers ? (uint32_t)cfg->workers : vx_plat_cpu_count(&sys);
    /* No threads: one worker, the caller's, whatever was asked (so that a
     * program written for threads still runs, on one). */
    if (!p->thread_spawn) n = 1;
    if (n > VEX_MAX_WORKERS) n = VEX_MAX_WORKERS;

    Runtime *rt = (Runtime *)vx_mem_alloc(&sys, sizeof(Runtime), _Alignof(Runtime));
    if (!rt) {
        if (p->fini) p->fini(p->ctx);
        return VEX_ENOMEM;
    }
    vx_zero(rt, sizeof *rt);
    rt->sys = sys;
    rt->nworkers = n;
    rt->tick_shift = tick_shift_for(cfg->timer_tick_ns);
    vx_pool_init(rt);
    vx_lock_init(&rt->pools.foreign_lock);
    vx_lock_init(&rt->objects.lock);
    atomic_init(&rt->live, 0);
    atomic_init(&rt->phase, VX_PHASE_CREATED);
    atomic_init(&rt->drive, VX_DRIVE_NONE);
    atomic_init(&rt->stopping, false);
    atomic_init(&rt->auto_shutdown, cfg->auto_shutdown);
    atomic_init(&rt->tracing, cfg->tracing);
    atomic_init(&rt->foreign.spawns, 0);
    atomic_init(&rt->foreign.global_pushes, 0);
    atomic_init(&rt->foreign.cancels, 0);
    atomic_init(&rt->foreign.unparks, 0);

    int rc = VEX_ENOMEM;
    size_t tsz = p->thread_size ? p->thread_size : 1;
    size_t gq_cap = pow2_at_least(cfg->global_queue_capacity ? cfg->global_queue_capacity
                                                             : VX_DEFAULT_GLOBAL_CAPACITY);
    rt->workers = (VxWorker *)vx_mem_alloc(&sys, sizeof(VxWorker) * n, _Alignof(VxWorker));
    uint32_t *sleepers = (uint32_t *)vx_mem_alloc(&sys, sizeof(uint32_t) * n, _Alignof(uint32_t));
    vx_idle_init(&rt->idle, n, sleepers);
    char *threads = rt->thread_mem = (char *)vx_mem_alloc(&sys, tsz * n, 16);
    if (vx_gq_init(&rt->gq, &sys, gq_cap) || !rt->workers || !sleepers || !threads)
        goto fail_nothreads;
    uint64_t now = vx_plat_now_ns(&sys);
    for (uint32_t i = 0; i < n; i++) init_worker(rt, &rt->workers[i], i, threads + tsz * i, now);
    if ((rc = vx_slab_init(&rt->pools.tasks, &rt->sys.a, sizeof(VxTask), VX_TASK_KEEP, n + 1)) ||
        (rc = vx_slab_init(&rt->pools.timers, &rt->sys.a, sizeof(VxTimer), 0, n + 1)) ||
        (rc = vx_slab_init(&rt->pools.batches, &rt->sys.a, sizeof(VxBatch), 0, n + 1)))
        goto fail_nothreads;
    rc = vx_io_init(rt);
    if (rc) goto fail_nothreads;

    /* Worker 0 is the thread that will call runtime_run: threads are
     * started for the others only. */
    for (uint32_t i = 1; i < n; i++) {
        rc = vx_plat_thread_spawn(&sys, rt->workers[i].thread, vx_sched_worker_main,
                                  &rt->workers[i]);
        if (rc) {
            vx_sched_stop(rt);
            join_threads(rt);
            free_runtime(rt);
            return rc < 0 ? rc : VEX_EAGAIN;
        }
        rt->threads_started++;
    }
    /* Each worker sets up its poller state on its own thread (io_uring rings
     * belong to the thread that made them); wait for all of them. Worker 0
     * does so when runtime_run starts it. */
    for (;;) {
        uint32_t got = atomic_load_explicit(&rt->io.attached, memory_order_acquire);
        if (got == n - 1) break;
        vx_plat_park(&sys, &rt->io.attached, got, VEX_WAIT_FOREVER);
    }
    rc = atomic_load_explicit(&rt->io.attach_error, memory_order_acquire);
    if (rc) {
        vx_sched_stop(rt);
        join_threads(rt);
        free_runtime(rt);
        return rc;
    }
    vx_trace(rt, "runtime created, workers", n, 0);
    *out = rt;
    return 0;

fail_nothreads:
    rt->threads_joined = true;
    free_runtime(rt);
    return rc;
}

int vx_runtime_start(Runtime *rt)
{
    uint32_t ph = VX_PHASE_CREATED;
    /* release: tasks spawned before run are visible to the workers, which
     * acquire the phase. */
    if (!atomic_compare_exchange_strong_explicit(&rt->phase, &ph, VX_PHASE_RUNNING,
                                                 memory_order_acq_rel, memory_order_acquire))
        return VEX_ESHUTDOWN; /* only the driver starts it: it was stopped first */
    vx_trace(rt, "run", rt->nworkers, 0);
    vx_plat_unpark(&rt->sys, &rt->phase, UINT32_MAX);
    /* Nothing spawned and auto-shutdown on: there is nothing to wait for. */
    vx_live_maybe_shutdown(rt);
    return 0;
}

void vx_runtime_join(Runtime *rt) { join_threads(rt); }

int runtime_run(Runtime *rt)
{
    if (!rt) return VEX_EINVAL;
    uint32_t none = VX_DRIVE_NONE;
    if (!atomic_compare_exchange_strong_explicit(&rt->drive, &none, VX_DRIVE_RUN,
                                                 memory_order_acq_rel, memory_order_acquire)) {
        /* Another runtime_run, or a host loop, drives it; or it already ran. */
        return rt->threads_joined && none == VX_DRIVE_RUN ? VEX_ESHUTDOWN : VEX_EBUSY;
    }
    if (vx_runtime_start(rt)) { /* shut down before it ran: finish promptly */
        join_threads(rt);
        return 0;
    }
    /* The calling thread is worker 0 until the runtime stops. */
    int rc = vx_sched_run_here(&rt->workers[0]);
    if (rc) vx_sched_stop(rt); /* its poller could not be set up here */
    join_threads(rt);
    vx_trace(rt, "run returned", 0, 0);
    return rc;
}

int runtime_shutdown(Runtime *rt)
{
    if (!rt) return VEX_EINVAL;
    vx_trace(rt, "shutdown requested", 0, 0);
    vx_sched_stop(rt);
    return 0;
}

int runtime_destroy(Runtime *rt)
{
    if (!rt) return 0;
    if (atomic_load_explicit(&rt->phase, memory_order_acquire) == VX_PHASE_RUNNING &&
        !rt->threads_joined)
        return VEX_EBUSY;
    vx_sched_stop(rt);
    join_threads(rt);
    vx_notify_orphan_all(rt);
    vx_cancel_release_links(rt);
    free_runtime(rt);
    return 0;
}

int runtime_enable_auto_shutdown(Runtime *rt, bool enabled)
{
    if (!rt) return VEX_EINVAL;
    atomic_store_explicit(&rt->auto_shutdown, enabled, memory_order_release);
    /* Enabled while every worker is already idle with nothing alive: nobody
     * else would notice, so check here. */
    if (enabled) vx_live_maybe_shutdown(rt);
    return 0;
}

int runtime_set_tracing(Runtime *rt, bool enabled)
{
    if (!rt) return VEX_EINVAL;
    atomic_store_explicit(&rt->tracing, enabled, memory_order_relaxed);
    return 0;
}

int runtime_get_stats(Runtime *rt, RuntimeStats *out)
{
    if (!rt || !out) return VEX_EINVAL;
    uint64_t v[VX_ST_COUNT] = {0};
    for (uint32_t i = 0; i < rt->nworkers; i++)
        for (int k = 0; k < VX_ST_COUNT; k++)
            v[k] += atomic_load_explicit(&rt->workers[i].remote.stats.v[k], memory_order_relaxed);
    vx_zero(out, sizeof *out);
    out->tasks_spawned = v[VX_ST_SPAWNED] +
                         atomic_load_explicit(&rt->foreign.spawns, memory_order_relaxed);
    out->tasks_done = v[VX_ST_DONE];
    out->poller_events = v[VX_ST_POLLER_EVENTS];
    out->io_submitted = v[VX_ST_IO_SUBMITTED];
    out->steals = v[VX_ST_STEALS];
    out->parks = v[VX_ST_PARKS];
    out->unparks = v[VX_ST_UNPARKS];
    out->resumes = v[VX_ST_RESUMES];
    out->yields = v[VX_ST_YIELDS];
    out->wakeups = v[VX_ST_WAKEUPS];
    out->timers_armed = v[VX_ST_TIMERS_ARMED];
    out->timers_fired = v[VX_ST_TIMERS_FIRED];
    out->timers_cancelled = v[VX_ST_TIMERS_CANCELLED];
    out->global_pushes = v[VX_ST_GLOBAL_PUSHES] +
                         atomic_load_explicit(&rt->foreign.global_pushes, memory_order_relaxed);
    out->overflows = v[VX_ST_OVERFLOWS];
    out->cancels = v[VX_ST_CANCELS] + atomic_load_explicit(&rt->foreign.cancels,
                                                            memory_order_relaxed);
    out->io_completed = v[VX_ST_IO_COMPLETED];
    out->blocking_jobs = atomic_load_explicit(&rt->pool.jobs_run, memory_order_relaxed);
    out->live_tasks = out->tasks_spawned >= out->tasks_done ? out->tasks_spawned - out->tasks_done : 0;
    out->workers = rt->nworkers;
    return 0;
}

/* --- Spawning --- */



/* --- Awaits --- */







