/* core/io_ready.c - readiness: the seed API's one-shot awaits
 * (worker_await_io), the readiness a record caches, and delivering the
 * poller's readiness reports to the tasks waiting on a handle (awaits, and
 * emulated operations waiting to try again).
 *
 * A seed-API await (the task then reads what it likes) consumes the ready
 * bit it is woken with and, when it has to wait, asks the poller to
 * re-check the handle (epoll: a MOD), so data left unread wakes it again.
 * On one-shot pollers repeated awaits never pile polls up (the record says
 * which sides have one out); a poll left without a waiter (its await timed
 * out) is cancelled, because an io_uring poll holds the file open after
 * close(). */
#include "io_internal.h"

void vx_ready_clear_if_quiet(VxIoRes *r, uint64_t seen, uint32_t bits)
{
    uint64_t s = seen;
    while (rstate_events(s) == rstate_events(seen) && (s & bits)) {
        if (atomic_compare_exchange_weak_explicit(&r->rstate, &s, s & ~(uint64_t)bits,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

int vx_ready_register(Runtime *rt, VxWorker *w, VxIoRes *r)
{
    if (atomic_load_explicit(&r->flags, memory_order_acquire) & VX_RES_REGISTERED) return 0;
    vx_lock(&r->lock, &rt->sys);
    int rc = 0;
    if (!(atomic_load_explicit(&r->flags, memory_order_relaxed) & VX_RES_REGISTERED)) {
        rc = vx_plat_poller_register(&rt->sys, rt->io.poller, local_of(w), r->handle,
                                     res_token(r, 0, r->epoch));
        if (rc >= 0) {
            /* A fresh registration reports what is ready now as an edge;
             * until it arrives, nothing is known (counter unchanged). */
            uint64_t s = atomic_load_explicit(&r->rstate, memory_order_relaxed);
            atomic_store_explicit(&r->rstate, s & ~READY_MASK, memory_order_relaxed);
            uint32_t f = VX_RES_REGISTERED | (rc == VEX_REG_STREAM ? VX_RES_STREAM : 0);
            atomic_fetch_or_explicit(&r->flags, f, memory_order_release);
            rc = 0;
        }
    }
    vx_unlock(&r->lock, &rt->sys);
    return rc;
}

bool vx_ready_waiter_live(const VxIoWaiter *wt)
{
    if (!wt->task) return false;
    uint64_t s = atomic_load_explicit(&wt->task->tok.state, memory_order_acquire);
    return (uint32_t)vx_ts_gen(s) == (uint32_t)wt->gen &&
           atomic_load_explicit(&wt->task->wait_src, memory_order_relaxed) == wt->src;
}

/* One-shot pollers: cancels the polls of r's sides in `dirs` that are out
 * with no waiter left. Caller holds r's lock; returns the tokens to cancel
 * in tok[] / owners in own[] (done after unlocking). */
uint32_t vx_ready_orphan_polls_locked(VxIoRes *r, uint32_t dirs, uint64_t tok[2], uint32_t own[2])
{
    uint32_t n = 0;
    for (int d = 0; d < 2; d++) {
        uint32_t bit = 1u << d;
        if (!(dirs & bit) || !(r->armed & bit) || r->w[d].task) continue;
        tok[n] = res_token(r, bit, r->epoch);
        own[n++] = r->arm_owner[d];
    }
    return n;
}

/* Arms one-shot polls for sides `need` of r (marked armed by the caller),
 * as worker w. Returns 0 or the first error. */
int vx_ready_arm_polls(Runtime *rt, VxWorker *w, VxIoRes *r, uint32_t need, uint32_t epoch)
{
    for (int d = 0; d < 2; d++) {
        uint32_t bit = 1u << d;
        if (!(need & bit)) continue;
        int rc = vx_plat_poller_arm(&rt->sys, rt->io.poller, local_of(w), r->handle,
                                    poll_bits_for(bit), res_token(r, bit, epoch));
        if (rc) return rc;
    }
    return 0;
}

unsigned vx_io_arm(VxWorker *w, VxTask *t, uint64_t gen)
{
    Runtime *rt = w->rt;
    WorkerContext *ctx = &w->own.ctx;
    uint32_t dirs = (ctx->await_events & EVENT_TYPE_READABLE ? DIR_R : 0) |
                    (ctx->await_events & EVENT_TYPE_WRITABLE ? DIR_W : 0);
    mark_active(rt);
    VxIoRes *r = vx_res_get(rt, ctx->await_io);
    if (!r) return VX_WAKE_ERROR;
    if (edge_mode(rt) && vx_ready_register(rt, w, r) != 0) return VX_WAKE_ERROR;

    vx_lock(&r->lock, &rt->sys);
    uint64_t s = atomic_load_explicit(&r->rstate, memory_order_acquire);
    uint32_t ready = (uint32_t)(s & READY_MASK);
    uint32_t hit = dirs_for(ready) & dirs;
    if (hit) {
        /* Readiness seen since the last wait on this side: deliver it and
         * consume it (hang-up stays: it is permanent). */
        atomic_fetch_and_explicit(&r->rstate, ~(uint64_t)poll_bits_for(hit), memory_order_acq_rel);
        vx_unlock(&r->lock, &rt->sys);
        return reason_for(ready, hit);
    }
    for (int d = 0; d < 2; d++) {
        if ((dirs & (1u << d)) && vx_ready_waiter_live(&r->w[d])) {
            vx_unlock(&r->lock, &rt->sys);
            return VX_WAKE_ERROR; /* another task waits on this side: one waiter per side */
        }
    }
    atomic_store_explicit(&t->wait_src, r, memory_order_relaxed);
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
    t->wait_kind = VX_WAIT_IO;
    t->io_events = (uint8_t)dirs;
    for (int d = 0; d < 2; d++)
        if (dirs & (1u << d)) r->w[d] = (VxIoWaiter){t, gen, r};
    uint32_t need = dirs;
    if (!edge_mode(rt)) {
        need = dirs & ~(uint32_t)r->armed;
        r->armed |= (uint8_t)need;
        for (int d = 0; d < 2; d++)
            if (need & (1u << d)) r->arm_owner[d] = (uint16_t)w->id;
    }
    uint32_t epoch = r->epoch;
    vx_unlock(&r->lock, &rt->sys);
    if (!need) return VX_WAKE_NONE; /* a poll for these sides is already out */
    VX_STAT_INC(w, VX_ST_IO_SUBMITTED);
    int rc = edge_mode(rt) ? vx_plat_poller_arm(&rt->sys, rt->io.poller, local_of(w), r->handle,
                                                poll_bits_for(dirs), res_token(r, 0, epoch))
                           : vx_ready_arm_polls(rt, w, r, need, epoch);
    if (rc == 0) return VX_WAKE_NONE;
    /* Could not arm (bad handle, not pollable): take the waiters back and
     * resume the task at once. */
    vx_lock(&r->lock, &rt->sys);
    for (int d = 0; d < 2; d++)
        if (r->w[d].task == t && r->w[d].gen == gen) r->w[d].task = NULL;
    if (!edge_mode(rt)) r->armed &= (uint8_t)~need;
    vx_unlock(&r->lock, &rt->sys);
    return VX_WAKE_ERROR;
}

void vx_io_release(VxWorker *w, VxTask *t)
{
    Runtime *rt = w->rt;
    VxIoRes *r = (VxIoRes *)atomic_load_explicit(&t->wait_src, memory_order_relaxed);
    uint32_t g = atomic_load_explicit(&t->wait_gen, memory_order_relaxed);
    uint64_t tok[2];
    uint32_t own[2], n = 0, left = 0;
    vx_lock(&r->lock, &rt->sys);
    for (int d = 0; d < 2; d++) {
        if (r->w[d].task == t && (uint32_t)r->w[d].gen == g) {
            r->w[d].task = NULL;
            left |= 1u << d;
        }
    }
    /* The wait ended another way (a timeout): a one-shot poll left behind
     * would keep the handle's file open after close(). */
    if (left && !edge_mode(rt)) n = vx_ready_orphan_polls_locked(r, left, tok, own);
    vx_unlock(&r->lock, &rt->sys);
    for (uint32_t i = 0; i < n; i++) vx_cancel_poll(rt, w, own[i], tok[i]);
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
    t->io_events = 0;
}

/* Delivers a readiness report (bits, or a failed arm: res < 0) for r to its
 * waiters. tok_dirs: the sides of the one-shot poll that reported. */
unsigned vx_ready_report(VxWorker *w, VxIoRes *r, int64_t res, uint32_t tok_dirs, uint32_t epoch)
{
    Runtime *rt = w->rt;
    VxIoWaiter woke[2];
    unsigned woke_why[2] = {0, 0};
    unsigned nw = 0;
    uint32_t bits = 0;
    unsigned why = 0;
    vx_lock(&r->lock, &rt->sys);
    if ((r->epoch & 3) != epoch) { /* an event of a forgotten handle */
        vx_unlock(&r->lock, &rt->sys);
        return 0;
    }
    r->armed &= (uint8_t)~tok_dirs;
    if (res >= 0) {
        bits = (uint32_t)res;
        /* Count the event and cache what is ready (under the lock, so a
         * waiter registering now either sees the bits or is in w[]). */
        uint64_t s = atomic_load_explicit(&r->rstate, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &r->rstate, &s, ((s & ~READY_MASK) + TICK_ONE) | (s & READY_MASK) | bits,
            memory_order_acq_rel, memory_order_relaxed)) {
        }
    } else if (res != VEX_ECANCELED) {
        bits = VEX_POLL_ERR; /* the arm failed: wake the waiters of its sides */
        why = VX_WAKE_ERROR;
    }
    uint32_t fire = dirs_for(bits);
    /* A failed arm wakes the waiters of its sides. A cancelled poll (left
     * over from a wait that ended another way) wakes nobody: a waiter that
     * came since is still waiting for readiness and gets a new poll below. */
    if (res < 0 && res != VEX_ECANCELED) fire = tok_dirs;
    for (int d = 0; d < 2; d++) {
        if (!(fire & (1u << d)) || !r->w[d].task) continue;
        woke[nw++] = r->w[d];
        /* One task may wait on both sides (READABLE|WRITABLE): take both. Its
         * reason names only the sides it waited on that fired (a reader is
         * not told "writable" because the event also said so). */
        uint32_t mine = 1u << d;
        for (int e = 0; e < 2; e++)
            if (e != d && r->w[e].task == r->w[d].task && r->w[e].gen == r->w[d].gen) {
                r->w[e].task = NULL;
                mine |= 1u << e;
            }
        woke_why[nw - 1] = why ? why : reason_for(bits, fire & mine);
        r->w[d].task = NULL;
        if (woke[nw - 1].src == (void *)r && res >= 0) /* an await consumes what woke it */
            atomic_fetch_and_explicit(&r->rstate, ~(uint64_t)poll_bits_for(1u << d),
                                      memory_order_relaxed);
    }
    /* One-shot pollers: a side still waited on whose poll just ended (a
     * cancelled leftover, or it reported only the other side) needs one. */
    uint32_t rearm = 0;
    if (!edge_mode(rt)) {
        for (int d = 0; d < 2; d++)
            if (r->w[d].task && !(r->armed & (1u << d))) rearm |= 1u << d;
        r->armed |= (uint8_t)rearm;
        for (int d = 0; d < 2; d++)
            if (rearm & (1u << d)) r->arm_owner[d] = (uint16_t)w->id;
    }
    uint32_t ep = r->epoch;
    vx_unlock(&r->lock, &rt->sys);
    if (rearm && vx_ready_arm_polls(rt, w, r, rearm, ep) != 0) {
        /* The handle went bad under its waiters: treat it as an error report. */
        vx_lock(&r->lock, &rt->sys);
        r->armed &= (uint8_t)~rearm;
        for (int d = 0; d < 2; d++) {
            if (!(rearm & (1u << d)) || !r->w[d].task || nw == 2) continue;
            woke[nw++] = r->w[d];
            r->w[d].task = NULL;
        }
        vx_unlock(&r->lock, &rt->sys);
        woke_why[0] = woke_why[1] = VX_WAKE_ERROR;
    }
    unsigned count = 0;
    for (unsigned i = 0; i < nw; i++) {
        VxTask *t = woke[i].task;
        if (vx_task_wake_src(t, woke[i].src, woke_why[i]) == VX_SRC_ENQUEUE) {
            VX_STAT_INC(w, VX_ST_WAKEUPS);
            vx_sched_push(rt, w, t, VX_PUSH_WAKE);
            count++;
        }
    }
    return count;
}
