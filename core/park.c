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

/* The start of a sleep in state `to` (SLEEPING on the parker, POLLING in
 * the poller): false if the worker must stay awake, because a wake-up token
 * came first (consumed here) or a sibling has handed it tasks. */
static bool park_begin(VxWorker *w, uint32_t to)
{
    uint32_t e = VX_PARK_NOTIFIED;
    /* acquire: pairs with the release exchange in vx_sched_unpark_worker. */
    if (atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_EMPTY,
                                                memory_order_acquire, memory_order_relaxed))
        return false;
    e = VX_PARK_EMPTY;
    /* seq_cst: against a sibling handing us tasks (inbox_put), and against
     * workers that queue a cancellation for us and then look whether we are
     * POLLING (io_cancel.c, vx_cancel_kick). */
    if (!atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, to,
                                                 memory_order_seq_cst, memory_order_relaxed) ||
        vx_inbox_pending(w)) {
        atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire);
        return false;
    }
    VX_STAT_INC(w, VX_ST_PARKS);
    return true;
}

/* The end of a sleep: true if another thread unparked us (the token is
 * consumed). */
static bool park_end(VxWorker *w)
{
    return atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire) ==
           VX_PARK_NOTIFIED;
}

/* Sleeps on the worker's parker for at most timeout_ns. Returns true if
 * another thread unparked us (the token is consumed). */
static bool parker_park(VxWorker *w, uint64_t timeout_ns)
{
    if (!park_begin(w, VX_PARK_SLEEPING)) return true;
    vx_plat_park(&w->rt->sys, &w->remote.park_state, VX_PARK_SLEEPING, timeout_ns);
    return park_end(w);
}

/* Sleeps in the poller instead (the worker can wait there): like
 * parker_park, with the POLLING state telling unparkers to use the poller's
 * wake-up. *events gets the number of events collected (in w->own.events, not
 * yet dispatched: the caller leaves the idle set first). */
static bool poller_park(VxWorker *w, uint64_t timeout_ns, uint32_t *events)
{
    *events = 0;
    if (!park_begin(w, VX_PARK_POLLING)) return true;
    *events = vx_io_collect(w, timeout_ns);
    return park_end(w);
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

/* --- Going to sleep, step by step ---
 * vx_park_worker: give back what others need (freed objects, live-task
 * credits); enter the idle set (with the lost-wake-up guard); decide whether
 * to wait in the poller; then sleep until something ends the sleep: a
 * wake-up or I/O events (leave, dispatch, maybe hand the woken tasks back),
 * a due timer, or a watched sibling found stuck (rescue its work). */

/* What one sleep of vx_park_worker keeps between its rounds. */
typedef struct {
    bool poll_here;      /* this worker waits in the poller (else on its parker) */
    uint32_t seq;        /* the poller's look counter when last checked */
    VxWorker *watch;     /* an awake sibling watched for stalls, or NULL */
    uint32_t watch_tick; /* its tick when the watch began */
    uint64_t watch_ns;   /* how long to sleep before looking at it */
} Sleep;

/* Sends home the objects of other workers freed here and returns this
 * worker's live-task credits (which may start an auto-shutdown). False if
 * the runtime is stopping. */
static bool give_back_before_sleep(VxWorker *w)
{
    Runtime *rt = w->rt;
    vx_slab_flush(&rt->pools.tasks, w->id);
    vx_slab_flush(&rt->pools.timers, w->id);
    vx_slab_flush(&rt->pools.batches, w->id);
    vx_live_return_credits(rt, w);
    return !atomic_load_explicit(&rt->stopping, memory_order_acquire);
}

/* Moves w into the idle set; returns how many workers are still awake. */
static uint32_t enter_idle_set(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint32_t awake_left;
    bool last_searcher = vx_idle_park(rt, w, &awake_left);
    /* The lost-wake-up guard: the last searcher to sleep rescans every queue
     * after its RMW on the idle word (see idle.c). So does the last worker
     * to sleep, searching or not (a lone worker never searches, and one that
     * just handed its tasks back skips the search): a producer whose RMW
     * came before ours saw it awake and woke nobody. */
    if ((last_searcher || awake_left == 0) && vx_idle_work_pending(rt)) vx_idle_notify(rt);
    return awake_left;
}

/* Who waits in a shared poller (epoll): the last worker to go idle. While
 * another worker is awake, that one looks at the poller (every
 * VX_GLOBAL_INTERVAL ticks, and when it goes idle it is the last), so its
 * events come in batches, as in a single-threaded loop, instead of each
 * waking a second thread that then competes for a core (on the tcp_echo
 * workload that halved the context switches). A worker that stays awake
 * without looking (a long resume) is covered: a sleeper that sees the
 * poller unvisited for VX_IO_WATCH_NS takes it over (take_unvisited_poller),
 * and keeps it for as long as nobody else looks at it (else each of its
 * events would wait VX_IO_WATCH_NS while that worker stays stuck). */
static bool poll_here_after(VxWorker *w, uint32_t awake_left)
{
    Runtime *rt = w->rt;
    if (w->own.took_poller && vx_io_poll_seq(rt) != w->own.poll_own_seq) w->own.took_poller = false;
    return awake_left == 0 || vx_io_per_worker(rt) || w->own.took_poller;
}

/* How long to sleep: until the watched sibling is due a look, this worker's
 * next timer, an awake sibling's overdue timers, or (io_watch) the poller's
 * takeover check, whichever comes first. */
static uint64_t sleep_timeout(VxWorker *w, Sleep *s, bool io_watch)
{
    Runtime *rt = w->rt;
    if (!s->watch && rt->nworkers > 1 && (s->watch = vx_stall_pick_watch(w, &s->watch_ns)))
        s->watch_tick = VX_LOAD_RELAXED(&s->watch->remote.tick);
    uint64_t timeout = s->watch ? s->watch_ns : VEX_WAIT_FOREVER;
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
    if (io_watch && timeout > VX_IO_WATCH_NS) timeout = VX_IO_WATCH_NS;
    return timeout;
}

/* Sleeps once, in the poller or on the parker. Returns true if another
 * thread woke us; *events gets the poller events collected. */
static bool sleep_once(VxWorker *w, const Sleep *s, uint64_t timeout, uint32_t *events)
{
    bool drv = false;
    *events = 0;
    if (s->poll_here && vx_io_can_wait(w, &drv)) {
        bool notified = poller_park(w, timeout, events);
        if (drv) vx_io_release_driver(w);
        return notified;
    }
    return timeout ? parker_park(w, timeout) : false;
}

/* Woken, or events came: out of the idle set before queueing the woken
 * tasks, so their wake-ups go to another sleeper, not to us. */
static void wake_up(VxWorker *w, bool notified, uint32_t events)
{
    Runtime *rt = w->rt;
    bool asked = vx_idle_leave(rt, w);
    if (asked) VX_STAT_INC(w, VX_ST_UNPARKS);
    if (events) {
        vx_io_dispatch(w, events);
        if (!notified && !asked) w->own.handed_back = vx_handback(w);
    }
}

/* True if this worker's timers, or an awake sibling's overdue ones, are due. */
static bool timers_due(VxWorker *w)
{
    Runtime *rt = w->rt;
    uint64_t now = vx_plat_now_ns(&rt->sys);
    return vx_timer_next_ns(w) <= now || (rt->nworkers > 1 && vx_timer_watch_ns(w) <= now);
}

/* The shared poller went unvisited for a whole VX_IO_WATCH_NS: we wait in it
 * from now on. */
static void take_unvisited_poller(VxWorker *w, Sleep *s)
{
    uint32_t s2 = vx_io_poll_seq(w->rt);
    if (s2 == s->seq) s->poll_here = w->own.took_poller = true; /* nobody looked at it: we will */
    s->seq = s2;
}

/* True if the watched sibling is stuck in one resume holding work, which
 * this worker has then taken; else the watch starts over. */
static bool rescue_if_stuck(VxWorker *w, Sleep *s)
{
    if (VX_LOAD_RELAXED(&s->watch->remote.tick) == s->watch_tick &&
        vx_stall_holds_work(s->watch)) {
        vx_idle_leave(w->rt, w);
        vx_stall_rescue(w, s->watch);
        return true;
    }
    s->watch = NULL; /* it made progress, or has nothing to take: look again */
    return false;
}

void vx_park_worker(VxWorker *w, uint64_t max_ns)
{
    Runtime *rt = w->rt;
    if (!give_back_before_sleep(w)) return;
    uint32_t awake_left = enter_idle_set(w);
    Sleep s = {.poll_here = poll_here_after(w, awake_left), .seq = vx_io_poll_seq(rt)};
    uint64_t until = UINT64_MAX; /* max_ns from now, for a bounded sleep */
    if (max_ns != VEX_WAIT_FOREVER) {
        uint64_t now = vx_plat_now_ns(&rt->sys);
        until = max_ns > UINT64_MAX - now ? UINT64_MAX : now + max_ns;
    }
    for (;;) {
        bool io_watch = !s.poll_here && vx_io_active(rt);
        uint64_t timeout = sleep_timeout(w, &s, io_watch);
        if (until != UINT64_MAX) {
            uint64_t now = vx_plat_now_ns(&rt->sys);
            uint64_t left = until > now ? until - now : 0;
            if (left < timeout) timeout = left;
        }
        uint32_t events;
        bool notified = sleep_once(w, &s, timeout, &events);
        if (atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;
        if (notified || events) {
            wake_up(w, notified, events);
            return;
        }
        if (timers_due(w) || (until != UINT64_MAX && vx_plat_now_ns(&rt->sys) >= until)) {
            vx_idle_leave(rt, w);
            return;
        }
        if (io_watch) take_unvisited_poller(w, &s);
        if (s.watch && rescue_if_stuck(w, &s)) return;
        /* A spurious wake-up, or a watch with nothing to rescue: sleep again. */
    }
}

/* --- A hosted worker (vexrt/embed.h) ---
 * Between two runtime_step calls, worker 0 of a hosted runtime is asleep in
 * its host's event loop. It is in the idle set like any sleeper, with
 * park_state POLLING, so a wake-up goes through the poller's wake, which
 * makes the backend handle the host polls readable. */

void vx_park_host_enter(VxWorker *w)
{
    /* Tasks of its own still queued (the step's budget ran out, or its last
     * look at the poller woke some): the host's timeout is 0 and it calls
     * again at once. Going idle would only make the guard below wake us
     * through the poller: a system call to write the wake-up, another to
     * drain it. */
    if (vx_rq_queued(w) || atomic_load_explicit(&w->remote.lifo, memory_order_relaxed) ||
        w->own.wake_spill)
        return;
    if (!give_back_before_sleep(w)) return;
    uint32_t e = VX_PARK_EMPTY;
    /* seq_cst: as in poller_park, against wakers and hand-overs. A token
     * that came first means work: stay awake (the host's timeout is 0). */
    if (!atomic_compare_exchange_strong_explicit(&w->remote.park_state, &e, VX_PARK_POLLING,
                                                 memory_order_seq_cst, memory_order_relaxed))
        return;
    w->own.host_parked = true;
    (void)enter_idle_set(w); /* with the lost-wake-up guard: it may wake us at once */
}

void vx_park_host_leave(VxWorker *w)
{
    if (!w->own.host_parked) return;
    w->own.host_parked = false;
    /* acquire: what a waker published before its token is visible. */
    atomic_exchange_explicit(&w->remote.park_state, VX_PARK_EMPTY, memory_order_acquire);
    if (vx_idle_leave(w->rt, w)) VX_STAT_INC(w, VX_ST_UNPARKS);
}
