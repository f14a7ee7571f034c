/* core/embed.c - running the runtime from another program's event loop
 * (vexrt/embed.h): the host's thread is worker 0, its poller state set up
 * on that thread by the first call, and each runtime_step is one turn of
 * the worker loop (sched.c, vx_sched_step); between turns worker 0 sleeps in
 * the idle set and a wake-up makes the backend handle readable (park.c).
 * No OS calls but through plat.h. */
#include "rt.h"
#include "vexrt/embed.h"

/* Takes the runtime for the host loop on its first call; later calls must
 * come from the same thread. */
static int host_claim(Runtime *rt)
{
    uint32_t drive = VX_DRIVE_NONE;
    if (!atomic_compare_exchange_strong_explicit(&rt->drive, &drive, VX_DRIVE_HOST,
                                                 memory_order_acq_rel, memory_order_acquire) &&
        drive != VX_DRIVE_HOST)
        return VEX_EBUSY; /* runtime_run drives it */
    VxWorker *w = &rt->workers[0];
    if (!rt->host_attached) {
        rt->host_attached = true;
        rt->host_rc = vx_sched_attach_host(w, &rt->host_handle);
        return 0;
    }
    /* The same thread as the first call (when the platform can tell). */
    uintptr_t me = vx_plat_thread_self(&rt->sys);
    if (me && atomic_load_explicit(&w->self, memory_order_relaxed) != me) return VEX_EINVAL;
    return 0;
}

/* A poller state that could not be set up at all: nothing can run here.
 * (VEX_ENOSYS only means there is no handle to give the host.) */
VX_INLINE bool host_broken(const Runtime *rt) { return rt->host_rc && rt->host_rc != VEX_ENOSYS; }

int runtime_step(Runtime *rt, uint64_t timeout_ns)
{
    if (!rt) return VEX_EINVAL;
    int rc = host_claim(rt);
    if (rc) return rc;
    if (host_broken(rt)) return rt->host_rc;
    if (atomic_load_explicit(&rt->phase, memory_order_acquire) == VX_PHASE_CREATED &&
        vx_runtime_start(rt) != 0) {
        vx_runtime_join(rt); /* shut down before it ran */
        return 0;
    }
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire) ||
        vx_sched_step(&rt->workers[0], timeout_ns) == 0) {
        vx_runtime_join(rt);
        return 0;
    }
    return 1;
}

int runtime_backend_handle(Runtime *rt, IoHandle *out)
{
    if (!rt || !out) return VEX_EINVAL;
    int rc = host_claim(rt);
    if (rc) return rc;
    if (rt->host_rc) return rt->host_rc;
    *out = rt->host_handle;
    return 0;
}

uint64_t runtime_backend_timeout_ns(Runtime *rt)
{
    if (!rt || atomic_load_explicit(&rt->stopping, memory_order_acquire)) return 0;
    VxWorker *w = &rt->workers[0];
    /* Hints read from another thread's point of view: a wrong 0 costs the
     * host one idle turn, and work that arrives later wakes the handle. */
    if (vx_rq_queued(w) || atomic_load_explicit(&w->remote.lifo, memory_order_relaxed) ||
        atomic_load_explicit(&w->remote.inbox_len, memory_order_relaxed) ||
        atomic_load_explicit(&w->remote.park_state, memory_order_relaxed) == VX_PARK_NOTIFIED ||
        vx_gq_len_hint(rt))
        return 0;
    uint64_t next = atomic_load_explicit(&w->remote.next_timer_ns, memory_order_relaxed);
    if (next == UINT64_MAX) return VEX_WAIT_FOREVER;
    uint64_t now = vx_plat_now_ns(&rt->sys);
    return next > now ? next - now : 0;
}
