/* core/idle.c - which workers sleep, which search, and whom to wake.
 *
 * rt->idle.word packs (unparked << 32) | searching. The invariant every wake path
 * relies on (Go's "spinning M" rule, Tokio's idle.rs):
 *   - a producer publishes work, then does a seq_cst RMW on idle and wakes a
 *     sleeper only if nobody is searching and somebody sleeps;
 *   - a searcher that stops searching does a seq_cst RMW on idle and, if it
 *     was the last searcher, rescans every queue before sleeping; so does
 *     the last worker to sleep, searching or not (a lone worker never
 *     searches; a producer that saw it awake woke nobody).
 * Both sides' RMWs hit the same word, so they are totally ordered: either the
 * producer sees no searcher and wakes one, or the rescan after the sleeper's
 * RMW sees the work. The decisive reads are RMWs, not loads (Tokio PR #1788).
 * No OS calls except through plat.h. */
#include "rt.h"

#define UNPARKED_ONE ((uint64_t)1 << 32)


void vx_idle_init(VxIdle *idle, uint32_t n, uint32_t *sleepers)
{
    /* every worker starts unparked, none searching */
    atomic_init(&idle->word, (uint64_t)n << 32);
    vx_lock_init(&idle->lock);
    idle->sleepers = sleepers;
    idle->nsleepers = 0;
}

bool vx_idle_try_search(Runtime *rt, VxWorker *w)
{
    if (w->own.searching) return true;
    /* Sloppy cap (Tokio): at most half the workers search, so one spawn does
     * not turn every sleeper into a thief. */
    uint64_t s = atomic_load_explicit(&rt->idle.word, memory_order_seq_cst);
    if (2 * vx_idle_searching(s) >= rt->nworkers) return false;
    atomic_fetch_add_explicit(&rt->idle.word, 1, memory_order_seq_cst);
    w->own.searching = true;
    return true;
}

bool vx_idle_stop_search(Runtime *rt, VxWorker *w)
{
    if (!w->own.searching) return false;
    w->own.searching = false;
    uint64_t prev = atomic_fetch_sub_explicit(&rt->idle.word, 1, memory_order_seq_cst);
    VX_ASSERT(vx_idle_searching(prev) >= 1);
    return vx_idle_searching(prev) == 1;
}

VX_INLINE bool should_wake(uint64_t s, uint32_t n)
{
    return vx_idle_searching(s) == 0 && vx_idle_unparked(s) < n;
}

void vx_idle_notify(Runtime *rt)
{
    /* The decisive read: an RMW, ordered against the last searcher's RMW. */
    uint64_t s = atomic_fetch_add_explicit(&rt->idle.word, 0, memory_order_seq_cst);
    if (!should_wake(s, rt->nworkers)) return;
    VxWorker *target = NULL;
    vx_lock(&rt->idle.lock, &rt->sys);
    s = atomic_load_explicit(&rt->idle.word, memory_order_seq_cst);
    if (should_wake(s, rt->nworkers) && rt->idle.nsleepers > 0) {
        uint32_t id = rt->idle.sleepers[--rt->idle.nsleepers];
        target = &rt->workers[id];
        atomic_store_explicit(&target->remote.in_sleepers, false, memory_order_relaxed);
        /* The woken worker counts as unparked and searching from now on, so
         * a second notify does not wake a second worker for the same work. */
        atomic_fetch_add_explicit(&rt->idle.word, UNPARKED_ONE | 1, memory_order_seq_cst);
    }
    vx_unlock(&rt->idle.lock, &rt->sys);
    if (target) vx_sched_unpark_worker(rt, target);
}

bool vx_idle_park(Runtime *rt, VxWorker *w, uint32_t *awake_left)
{
    bool was_searching = w->own.searching;
    w->own.searching = false;
    vx_lock(&rt->idle.lock, &rt->sys);
    uint64_t dec = UNPARKED_ONE | (was_searching ? 1 : 0);
    uint64_t prev = atomic_fetch_sub_explicit(&rt->idle.word, dec, memory_order_seq_cst);
    VX_ASSERT(vx_idle_unparked(prev) >= 1 && (!was_searching || vx_idle_searching(prev) >= 1));
    VX_ASSERT(rt->idle.nsleepers < rt->nworkers);
    rt->idle.sleepers[rt->idle.nsleepers++] = w->id;
    atomic_store_explicit(&w->remote.in_sleepers, true, memory_order_relaxed);
    vx_unlock(&rt->idle.lock, &rt->sys);
    *awake_left = vx_idle_unparked(prev) - 1;
    return was_searching && vx_idle_searching(prev) == 1;
}

bool vx_idle_leave(Runtime *rt, VxWorker *w)
{
    bool notified;
    vx_lock(&rt->idle.lock, &rt->sys);
    if (atomic_load_explicit(&w->remote.in_sleepers, memory_order_relaxed)) {
        for (uint32_t i = 0; i < rt->idle.nsleepers; i++) {
            if (rt->idle.sleepers[i] == w->id) {
                rt->idle.sleepers[i] = rt->idle.sleepers[--rt->idle.nsleepers];
                break;
            }
        }
        atomic_store_explicit(&w->remote.in_sleepers, false, memory_order_relaxed);
        atomic_fetch_add_explicit(&rt->idle.word, UNPARKED_ONE, memory_order_seq_cst);
        notified = false;
    } else {
        notified = true; /* a notifier took us out and counted us as searching */
    }
    vx_unlock(&rt->idle.lock, &rt->sys);
    if (notified) w->own.searching = true;
    return notified;
}

bool vx_idle_work_pending(Runtime *rt)
{
    if (vx_mpmc_len_hint(&rt->gq.mpmc) || atomic_load_explicit(&rt->gq.spill_len, memory_order_seq_cst))
        return true;
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        VxWorker *v = &rt->workers[i];
        /* LIFO slots are not counted: their owner runs them next, and a thief
         * woken for one would find nothing to steal (see sched.c on stalls). */
        if (vx_lq_len(&v->remote.q) || vx_lq_len(&v->remote.wq)) return true;
    }
    return false;
}
