/* core/live.c - live-task accounting and auto-shutdown.
 *
 * A single counter touched by every spawn and every completion would bounce
 * one cache line between all workers. Instead rt->live counts live tasks
 * plus "credits" that workers hold: a worker takes credits in batches,
 * spends one per spawn and earns one per completion, and hands everything
 * back when it goes to sleep. So
 *     rt->live == live tasks + sum of credits held,
 * every term is >= 0, and rt->live == 0 exactly when no task is alive and no
 * worker holds credits, which happens only once the last worker has gone
 * idle. The thread whose return brings it to 0 closes it (CAS 0 -> CLOSED)
 * and stops the runtime; a spawn that finds it CLOSED fails with
 * VEX_ESHUTDOWN instead of being silently dropped. No OS calls. */
#include "rt.h"

bool vx_live_take(Runtime *rt, VxWorker *w)
{
    if (VX_LIKELY(w && w->own.credits > 0)) {
        w->own.credits--;
        return true;
    }
    /* A worker takes a batch; another thread takes exactly one. */
    int64_t want = w ? VX_CREDIT_BATCH : 1;
    int64_t g = atomic_load_explicit(&rt->live, memory_order_relaxed);
    do {
        if (g & VX_LIVE_CLOSED) return false;
    } while (!atomic_compare_exchange_weak_explicit(&rt->live, &g, g + want, memory_order_acq_rel,
                                                    memory_order_relaxed));
    if (w) w->own.credits += want - 1;
    return true;
}

void vx_live_give(Runtime *rt, VxWorker *w)
{
    /* The finished task's credit stays with this worker; a large surplus
     * goes back to rt->live in one RMW (its count can never reach zero here:
     * we keep a batch). */
    if (++w->own.credits > VX_CREDIT_MAX) {
        int64_t give = w->own.credits - VX_CREDIT_BATCH;
        w->own.credits = VX_CREDIT_BATCH;
        atomic_fetch_sub_explicit(&rt->live, give, memory_order_acq_rel);
    }
}

void vx_live_maybe_shutdown(Runtime *rt)
{
    if (!atomic_load_explicit(&rt->auto_shutdown, memory_order_acquire)) return;
    if (atomic_load_explicit(&rt->phase, memory_order_acquire) != VX_PHASE_RUNNING) return;
    int64_t zero = 0;
    if (atomic_compare_exchange_strong_explicit(&rt->live, &zero, VX_LIVE_CLOSED,
                                                memory_order_acq_rel, memory_order_relaxed)) {
        vx_trace(rt, "auto-shutdown", 0, 0);
        vx_sched_stop(rt);
    }
}

void vx_live_return_credits(Runtime *rt, VxWorker *w)
{
    int64_t c = w->own.credits;
    w->own.credits = 0;
    VX_ASSERT(c >= 0);
    if (c) atomic_fetch_sub_explicit(&rt->live, c, memory_order_acq_rel);
    vx_live_maybe_shutdown(rt);
}
