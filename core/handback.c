/* core/handback.c - moving tasks between workers outside the queues: the
 * hand-back of woken I/O tasks to a running sibling (io_uring), and the
 * rescue of the work of a worker stuck in a long resume.
 *
 * Hand-back. With a poller per worker (io_uring), a task's operations
 * complete on the ring of the worker that submitted them and wake that
 * worker. Once a sibling has stolen some tasks (a backlog woke it), their
 * connections live on its ring from then on, and each completion wakes it:
 * two workers and the peer of the sockets then share two cores three ways
 * even when one worker could carry the load. So a worker woken by its own
 * ring alone, while a sibling runs with almost nothing queued, hands the
 * woken tasks to that sibling and goes back to sleep: their next operations
 * go to the sibling's ring, and I/O gathers on the worker that is awake
 * anyway. A sibling with a real backlog gets nothing handed over.
 *
 * The inbox is a list under a lock (hand-overs come in batches, and a stall
 * rescuer may empty it too). No lost wake-up: the giver adds to inbox_len
 * and then reads the receiver's park_state, the receiver sets park_state and
 * then reads inbox_len, all seq_cst, so one of them sees the other.
 *
 * Stalls. A resume is never preempted, so a worker stuck in a long one keeps
 * the task in its LIFO slot, and the tasks in its ring if nobody was woken
 * for them, to itself (tokio#4941, #4730). So a sleeping worker keeps an eye
 * on another worker that is awake (park.c): every VX_STALL_NS if that worker
 * holds queued work, every VX_WATCH_NS otherwise. If on waking the watched
 * worker's tick has not moved and it holds work, it is stuck in one resume:
 * the sleeper takes its ring and its LIFO task. A LIFO slot is taken only
 * then, so ping-pong pairs are not pulled apart while their worker makes
 * progress (tokio#8065). */
#include "rt.h"

bool vx_inbox_pending(VxWorker *w)
{
    return atomic_load_explicit(&w->remote.inbox_len, memory_order_seq_cst) != 0;
}

/* Appends head..tail (n tasks) to v's inbox and wakes v if it sleeps. */
static void inbox_put(Runtime *rt, VxWorker *v, VxTask *head, VxTask *tail, uint32_t n)
{
    tail->next = NULL;
    vx_lock(&v->remote.inbox_lock, &rt->sys);
    if (v->remote.inbox_tail)
        v->remote.inbox_tail->next = head;
    else
        v->remote.inbox_head = head;
    v->remote.inbox_tail = tail;
    atomic_fetch_add_explicit(&v->remote.inbox_len, n, memory_order_seq_cst);
    vx_unlock(&v->remote.inbox_lock, &rt->sys);
    uint32_t ps = atomic_load_explicit(&v->remote.park_state, memory_order_seq_cst);
    if (ps == VX_PARK_SLEEPING || ps == VX_PARK_POLLING) vx_sched_unpark_worker(rt, v);
}

uint32_t vx_inbox_drain(VxWorker *w, VxWorker *v)
{
    Runtime *rt = w->rt;
    vx_lock(&v->remote.inbox_lock, &rt->sys);
    VxTask *t = v->remote.inbox_head;
    v->remote.inbox_head = v->remote.inbox_tail = NULL;
    atomic_store_explicit(&v->remote.inbox_len, 0, memory_order_relaxed);
    vx_unlock(&v->remote.inbox_lock, &rt->sys);
    uint32_t n = 0;
    while (t) {
        VxTask *next = t->next; /* the push below may reuse the link */
        vx_sched_push(rt, w, t, VX_PUSH_WAKE);
        t = next;
        n++;
    }
    return n;
}

bool vx_handback(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (rt->nworkers < 2 || !vx_io_per_worker(rt) || vx_lq_len(&w->remote.q) ||
        atomic_load_explicit(&w->remote.lifo, memory_order_relaxed))
        return false;
    VxWorker *to = NULL;
    for (uint32_t i = 1; i < rt->nworkers && !to; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        /* Running, not busy, and not stuck: a sibling whose tick has not
         * moved since our last hand-over is still in one long resume (the
         * tasks we gave it were rescued from its inbox). */
        if (atomic_load_explicit(&v->remote.park_state, memory_order_relaxed) == VX_PARK_EMPTY &&
            !atomic_load_explicit(&v->remote.in_sleepers, memory_order_relaxed) &&
            vx_rq_queued(v) + atomic_load_explicit(&v->remote.inbox_len, memory_order_relaxed) <
                VX_HANDBACK_QUEUED_MAX &&
            !(w->own.hb_to == v->id && VX_LOAD_RELAXED(&v->remote.tick) == w->own.hb_tick))
            to = v;
    }
    if (!to) return false;
    /* The wake ring in order, then the spill list behind it (already linked,
     * and newer). */
    VxTask *head = NULL, *tail = NULL, *t;
    uint32_t n = 0;
    while ((t = (VxTask *)vx_lq_pop_owner(&w->remote.wq))) {
        if (tail)
            tail->next = t;
        else
            head = t;
        tail = t;
        n++;
    }
    if (w->own.wake_spill) {
        if (tail)
            tail->next = w->own.wake_spill;
        else
            head = w->own.wake_spill;
        tail = w->own.wake_spill_tail;
        for (t = w->own.wake_spill; t; t = t->next) n++;
        w->own.wake_spill = w->own.wake_spill_tail = NULL;
    }
    if (!n) return false;
    w->own.hb_to = to->id;
    w->own.hb_tick = VX_LOAD_RELAXED(&to->remote.tick);
    inbox_put(rt, to, head, tail, n);
    return true;
}

/* --- Stalls --- */

bool vx_stall_holds_work(VxWorker *v)
{
    return atomic_load_explicit(&v->remote.lifo, memory_order_relaxed) || vx_lq_len(&v->remote.q) ||
           vx_lq_len(&v->remote.wq) || atomic_load_explicit(&v->remote.inbox_len, memory_order_relaxed);
}

/* Picks another worker to watch, preferring one holding work; NULL if every
 * other worker sleeps. *interval gets the watch period. */
VxWorker *vx_stall_pick_watch(VxWorker *w, uint64_t *interval)
{
    Runtime *rt = w->rt;
    VxWorker *awake = NULL;
    for (uint32_t i = 1; i < rt->nworkers; i++) {
        VxWorker *v = &rt->workers[(w->id + i) % rt->nworkers];
        if (vx_stall_holds_work(v)) {
            *interval = VX_STALL_NS;
            return v;
        }
        if (!awake && !atomic_load_explicit(&v->remote.in_sleepers, memory_order_relaxed)) awake = v;
    }
    *interval = VX_WATCH_NS;
    return awake;
}

/* Takes the stuck victim's ring (half) and LIFO task into w's empty ring. */
bool vx_stall_rescue(VxWorker *w, VxWorker *v)
{
    /* w was asleep: its rings are empty, and a steal fills at most half of
     * one, so every push below has room. */
    VX_ASSERT(vx_lq_len(&w->remote.wq) == 0 && vx_lq_len(&w->remote.q) == 0);
    uint32_t got = 0, n = 0;
    bool ok = true;
    VxTask *t = (VxTask *)vx_lq_steal_into(&v->remote.wq, &w->remote.wq, &n);
    if (t) ok &= vx_lq_push_owner(&w->remote.wq, t);
    got += n;
    t = (VxTask *)vx_lq_steal_into(&v->remote.q, &w->remote.q, &n);
    if (t) ok &= vx_lq_push_owner(&w->remote.q, t);
    got += n;
    VxTask *l = atomic_exchange_explicit(&v->remote.lifo, NULL, memory_order_acquire);
    if (l) {
        ok &= vx_lq_push_owner(&w->remote.q, l);
        got++;
    }
    VX_ASSERT(ok);
    (void)ok;
    if (atomic_load_explicit(&v->remote.inbox_len, memory_order_relaxed)) got += vx_inbox_drain(w, v);
    VX_STAT_ADD(w, VX_ST_STEALS, got);
    return got != 0;
}
