/* core/park.c - what an idle worker does: spin a little, then sleep (on
 * its parker, or in the poller where it can wait for I/O), until it is
 * notified, a timer is due, a watched sibling turns out to be stuck, or the
 * runtime stops; and how another thread wakes it.
 *
 * park_state (worker.h) is the parker's futex word: EMPTY, SLEEPING (on the
 * parker), POLLING (in the poller: wake it with the poller's wake-up) or
 * NOTIFIED (a wake-up arrived before the sleep; the next park consumes it).
 * No OS calls but through plat.h. */
#include "rt.h"

/* Sleeps on the worker's parker for at most timeout_ns. Returns true if
 * another thread unparked us (the token is consumed). */
static bool parker_park(VxWorker *w, uint64_t timeout_ns)
{
    uint32_t e = VX_PARK_NOTIFIED;
    /* acquire: pairs with the release exchange in vx_sched_unpark_worker. */
    if (atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_EMPTY,
                                                memory_order_acquire, memory_order_relaxed))
        return true;
    e = VX_PARK_EMPTY;
    /* seq_cst: against a sibling handing us tasks (inbox_put). */
    if (!atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_SLEEPING,
                                                 memory_order_seq_cst, memory_order_relaxed) ||
        vx_inbox_pending(w)) {
        atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire);
        return true;
    }
    VX_STAT_INC(w, VX_ST_PARKS);
    vx_plat_park(&w->rt->sys, &w->remote.park_state, VX_PARK_SLEEPING, timeout_ns);
    return atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire) ==
           VX_PARK_NOTIFIED;
}

/* Sleeps in the poller instead (the worker can wait there): like
 * parker_park, with the POLLING state telling unparkers to use the poller's
 * wake-up. *events gets the number of events collected (in w->own.events, not
 * yet dispatched: the caller leaves the idle set first). */
static bool poller_park(VxWorker *w, uint64_t timeout_ns, uint32_t *events)
{
    uint32_t e = VX_PARK_NOTIFIED;
    *events = 0;
    if (atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_EMPTY,
                                                memory_order_acquire, memory_order_relaxed))
        return true;
    e = VX_PARK_EMPTY;
    /* seq_cst: against workers that queue a cancellation for us and then
     * look whether we are POLLING (io.c, cancels_kick), or hand us tasks. */
    if (!atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_POLLING,
                                                 memory_order_seq_cst, memory_order_relaxed) ||
        vx_inbox_pending(w)) {
        atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire);
        return true;
    }
    VX_STAT_INC(w, VX_ST_PARKS);
    *events = vx_io_collect(w, timeout_ns);
    return atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire) ==
           VX_PARK_NOTIFIED;
}

void vx_sched_unpark_worker(Runtime *rt, VxWorker *w)
{
    /* release: what the waker published (a queued task) is visible to the
     * worker once it consumes the token. */
    uint32_t old = atomic_exchange_explicit(&w->remote.park_state, VX_PARK_NOTIFIED, memory_order_release);
    if (old == VX_PARK_SLEEPING)
        vx_plat_unpark(&rt->sys, &w->remote.park_state, 1);
    else if (old == VX_PARK_POLLING)
        vx_io_wake(w);
}

static bool work_visible(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (vx_mpmc_len_hint(&rt->gq.mpmc) || atomic_load_explicit(&rt->gq.spill_len, memory_order_relaxed))
        return true;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        if (vx_lq_len(&v->remote.q) > 1 || vx_lq_len(&v->remote.wq) > 1) return true;
    }
    return false;
}

/* Returns true if work showed up (or a timer came due) while spinning. The
 * spin is bounded by a number of rounds, not by the platform clock, which
 * may be a virtual one that does not move while we wait. */
bool vx_park_spin(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint64_t now = vx_plat_now_ns(&rt->sys);
    uint64_t next = vx_timer_next_ns(w);
    int rounds = (next != UINT64_MAX && next > now && next - now <= VX_TIMER_SPIN_NS)
                     ? VX_TIMER_SPIN_ROUNDS
                     : VX_SPIN_ROUNDS;
    /* No pause instruction here: in a VM, pause loops make the hypervisor
     * deschedule the spinning vCPU (pause-loop exiting), which turned a 30 us
     * spin into milliseconds. The loads and the clock read pace the loop. */
    uint64_t watch = rt->nworkers > 1 ? vx_timer_watch_ns(w) : UINT64_MAX;
    if (watch < next) next = watch; /* another worker's timers may need us */
    for (int r = 0; r < rounds; r++) {
        if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) return true;
        if (work_visible(w)) return true;
        if (next != UINT64_MAX && (r & 7) == 0 && next <= vx_plat_now_ns(&rt->sys)) return true;
    }
    return false;
}

/* Puts an idle worker to sleep until it is notified, a timer is due, another
 * worker is found stuck, or the runtime stops. Returns with the worker
 * unparked again (possibly searching). */
void vx_park_worker(VxWorker *w)
{
    Runtime *rt = w->rt;
    /* Objects of other workers freed here go home before we sleep. */
    vx_slab_flush(&rt->pools.tasks, w->id);
    vx_slab_flush(&rt->pools.timers, w->id);
    vx_slab_flush(&rt->pools.batches, w->id);
    vx_live_return_credits(rt, w); /* may start an auto-shutdown */
    if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;

    uint32_t awake_left;
    bool last_searcher = vx_idle_park(rt, w, &awake_left);
    /* The lost-wake-up guard: the last searcher to sleep rescans every queue
     * after its RMW on the idle word (see idle.c). So does the last worker
     * to sleep, searching or not (a lone worker never searches, and one that
     * just handed its tasks back skips the search): a producer whose RMW
     * came before ours saw it awake and woke nobody. */
    if ((last_searcher || awake_left == 0) && vx_idle_work_pending(rt)) vx_idle_notify(rt);

    /* Who waits in a shared poller (epoll): the last worker to go idle.
     * While another worker is awake, that one looks at the poller (every
     * VX_GLOBAL_INTERVAL ticks, and when it goes idle it is the last), so its
     * events come in batches, as in a single-threaded loop, instead of each
     * waking a second thread that then competes for a core (on the
     * tcp_echo workload that halved the context switches). A worker that
     * stays awake without looking (a long resume) is covered: a sleeper
     * that sees the poller unvisited for VX_IO_WATCH_NS takes it over, and
     * keeps it for as long as nobody else looks at it (else each of its
     * events would wait VX_IO_WATCH_NS while that worker stays stuck). */
    if (w->own.took_poller && vx_io_poll_seq(rt) != w->own.poll_own_seq) w->own.took_poller = false;
    bool poll_here = awake_left == 0 || vx_io_per_worker(rt) || w->own.took_poller;
    uint32_t seq = vx_io_poll_seq(rt);
    VxWorker *watch = NULL;
    uint32_t watch_tick = 0;
    uint64_t watch_ns = 0;
    for (;;) {
        if (!watch && rt->nworkers > 1 && (watch = vx_stall_pick_watch(w, &watch_ns)))
            watch_tick = VX_LOAD_RELAXED(&watch->remote.tick);
        uint64_t timeout = watch ? watch_ns : VEX_WAIT_FOREVER;
        uint64_t next = vx_timer_next_ns(w);
        if (rt->nworkers > 1) { /* wake up for an awake worker's overdue timers too */
            uint64_t other = vx_timer_watch_ns(w);
            if (other < next) next = other;
        }
        if (next != UINT64_MAX) {
            uint64_t now = vx_plat_now_ns(&rt->sys);
            uint64_t t = next > now ? next - now : 0;
            if (t < timeout) timeout = t;
        }
        bool io_watch = !poll_here && vx_io_active(rt);
        if (io_watch && timeout > VX_IO_WATCH_NS) timeout = VX_IO_WATCH_NS;
        bool notified, drv = false;
        uint32_t events = 0;
        if (poll_here && vx_io_can_wait(w, &drv)) {
            notified = poller_park(w, timeout, &events);
            if (drv) vx_io_release_driver(w);
        } else {
            notified = timeout ? parker_park(w, timeout) : false;
        }
        if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;
        if (notified || events) {
            /* Out of the idle set before queueing the woken tasks, so their
             * wake-ups go to another sleeper, not to us. */
            bool asked = vx_idle_leave(rt, w);
            if (asked) VX_STAT_INC(w, VX_ST_UNPARKS);
            if (events) {
                vx_io_dispatch(w, events);
                if (!notified && !asked) w->own.handed_back = vx_handback(w);
            }
            return;
        }
        uint64_t now = vx_plat_now_ns(&rt->sys);
        if (vx_timer_next_ns(w) <= now || (rt->nworkers > 1 && vx_timer_watch_ns(w) <= now)) {
            vx_idle_leave(rt, w);
            return;
        }
        if (io_watch) {
            uint32_t s2 = vx_io_poll_seq(rt);
            if (s2 == seq) poll_here = w->own.took_poller = true; /* nobody looked at it: we will */
            seq = s2;
        }
        if (watch) {
            if (VX_LOAD_RELAXED(&watch->remote.tick) == watch_tick && vx_stall_holds_work(watch)) {
                vx_idle_leave(rt, w);
                vx_stall_rescue(w, watch);
                return;
            }
            watch = NULL; /* it made progress, or has nothing to take: look again */
        }
        /* Spurious wake-up, or nothing to vx_stall_rescue: sleep again. */
    }
}
