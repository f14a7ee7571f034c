/* core/io_cancel.c - cancelling polls and native operations on the worker
 * whose poller state holds them, and forgetting a handle.
 *
 * io_uring requests (and IOCP packets) belong to the ring (port) of the
 * worker that made them, and only that worker may cancel them. Another
 * thread queues the cancellation on the owner's VxIoCancels and wakes it;
 * the owner issues it at its next look at the poller. A cancellation names
 * a request (its token), never a descriptor number, which may already be
 * reused by the time it is issued.
 *
 * Closing a handle through the runtime (vx_res_forget, from VEX_OP_CLOSE
 * or vex_io_forget) cancels every poll and native op in flight on it; a
 * request holds the file open until it completes, so the close itself waits
 * for the cancellations queued on other workers: each record counts them
 * (remote_cancels), and whoever issues the last one submits the waiting
 * close on its own poller state (io_op.c, close_start). */
#include "io_internal.h"

/* Wakes o if it sleeps in its poller, after something was queued on it,
 * so that it issues it now rather than at its next look at the poller. */
void vx_cancel_kick(Runtime *rt, VxWorker *o)
{
    /* seq_cst: against o storing VX_PARK_POLLING and then draining. */
    if (atomic_load_explicit(&o->remote.park_state, memory_order_seq_cst) == VX_PARK_POLLING)
        vx_io_wake(o);
    (void)rt;
}

void vx_cancel_poll(Runtime *rt, VxWorker *w, uint32_t owner, uint64_t token)
{
    if (w && w->id == owner) {
        vx_plat_poller_cancel(&rt->sys, rt->io.poller, w->plocal, token);
        return;
    }
    VxWorker *o = &rt->workers[owner];
    VxIoCancels *c = &o->remote.cancels;
    vx_lock(&c->lock, &rt->sys);
    if (c->ntokens == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 16;
        uint64_t *t = (uint64_t *)vx_mem_alloc(&rt->sys, sizeof(uint64_t) * cap, 8);
        if (!t) { /* the poll stays out until its handle reports; nothing else is lost */
            vx_unlock(&c->lock, &rt->sys);
            return;
        }
        for (uint32_t i = 0; i < c->ntokens; i++) t[i] = c->tokens[i];
        if (c->tokens) vx_mem_free(&rt->sys, c->tokens, sizeof(uint64_t) * c->cap, 8);
        c->tokens = t;
        c->cap = cap;
    }
    c->tokens[c->ntokens++] = token;
    /* Counted before the owner can see it, so its decrement never goes
     * below zero. */
    atomic_fetch_add_explicit(&token_res(token)->remote_cancels, 1, memory_order_seq_cst);
    atomic_fetch_add_explicit(&c->pending, 1, memory_order_seq_cst);
    vx_unlock(&c->lock, &rt->sys);
    vx_cancel_kick(rt, o);
}

/* A cancellation queued on another worker for r's handle was issued (or
 * became moot: its op finished first). The last one hands r's waiting
 * VEX_OP_CLOSE, if any, to the caller (pushed on *closers, to submit on the
 * caller's own poller state) and wakes vex_io_forget's waiters. */
void vx_cancel_remote_done(Runtime *rt, VxIoRes *r, VexIoOp **closers)
{
    /* seq_cst: against close_start, which publishes the closer and then
     * reads the count (both sides then exchange: one of them takes it). */
    uint32_t prev = atomic_fetch_sub_explicit(&r->remote_cancels, 1, memory_order_seq_cst);
    VX_ASSERT(prev >= 1); /* counted before it was queued */
    if (prev != 1) return;
    VexIoOp *cl = atomic_exchange_explicit(&r->closer, NULL, memory_order_seq_cst);
    if (cl) {
        OP_NEXT(cl) = (uint64_t)(uintptr_t)*closers;
        *closers = cl;
    }
    /* seq_cst: a waiter sets the flag, then reads the count (Dekker with
     * our decrement), so one of us sees the other. */
    if (atomic_load_explicit(&r->flags, memory_order_seq_cst) & VX_RES_FORGET_WAIT) {
        atomic_fetch_and_explicit(&r->flags, ~VX_RES_FORGET_WAIT, memory_order_relaxed);
        vx_plat_unpark(&rt->sys, &r->remote_cancels, UINT32_MAX);
    }
}

/* Queues the cancellation of native op (state CANCELLING, owned by o, not
 * the caller) on o, unless it finished meanwhile, and wakes o. */
static void queue_op_cancel(Runtime *rt, VxWorker *o, VexIoOp *op)
{
    VxIoCancels *c = &o->remote.cancels;
    bool queued = false;
    vx_lock(&c->lock, &rt->sys);
    /* Still CANCELLING under the owner's cancel lock: its completion has
     * not run yet (it takes this lock to finish a CANCELLING op), so op
     * and its record are ours to use. */
    if (op_state(op) == OP_CANCELLING) {
        atomic_fetch_add_explicit(&vx_res_lookup(rt, op->handle)->remote_cancels, 1,
                                  memory_order_seq_cst);
        OP_NEXT(op) = (uint64_t)(uintptr_t)c->ops;
        c->ops = op;
        atomic_fetch_add_explicit(&c->pending, 1, memory_order_seq_cst);
        queued = true;
    }
    vx_unlock(&c->lock, &rt->sys);
    if (queued) vx_cancel_kick(rt, o);
}

/* Asks native op (state NATIVE) to finish early: on the calling worker's
 * own poller state at once, else through its owner's cancel queue. */
void vx_cancel_native(Runtime *rt, VxWorker *w, VexIoOp *op)
{
    if (!op_cas_state(op, OP_NATIVE, OP_CANCELLING)) return; /* done, or asked already */
    uint32_t owner = op_owner(op);
    if (w && owner == w->id) {
        vx_plat_poller_cancel(&rt->sys, rt->io.poller, w->plocal, op_token(op));
        return;
    }
    queue_op_cancel(rt, &rt->workers[owner], op);
}

/* Drops what the runtime knows of r's handle: registration, cached
 * readiness, polls still out; waiters are woken with VX_WAKE_ERROR, native
 * operations in flight are cancelled (an io_uring request holds the file
 * open until it completes: close() alone neither ends it nor lets the peer
 * see end-of-file). w is the calling worker, or NULL. With closer (a
 * VEX_OP_CLOSE), it is registered as r's closer before anything is
 * cancelled, so ops submitted from then on fail with VEX_EBADF, and r's
 * remote_cancels holds one extra count for the caller to drop with
 * vx_cancel_remote_done once everything is queued. */
void vx_res_forget(Runtime *rt, VxWorker *w, VxIoRes *r, VexIoOp *closer)
{
    VxIoWaiter woke[2];
    uint64_t tok[2];
    uint32_t own[2], n = 0, nw = 0;
    vx_lock(&r->lock, &rt->sys);
    if (closer) {
        atomic_fetch_add_explicit(&r->remote_cancels, 1, memory_order_seq_cst);
        atomic_store_explicit(&r->closer, closer, memory_order_seq_cst);
    }
    if (atomic_load_explicit(&r->flags, memory_order_relaxed) & VX_RES_REGISTERED) {
        vx_plat_poller_deregister(&rt->sys, rt->io.poller, r->handle);
        atomic_fetch_and_explicit(&r->flags, ~(VX_RES_REGISTERED | VX_RES_STREAM),
                                  memory_order_release);
    }
    uint64_t s = atomic_load_explicit(&r->rstate, memory_order_relaxed);
    atomic_store_explicit(&r->rstate, (s & ~READY_MASK) + TICK_ONE, memory_order_release);
    for (int d = 0; d < 2; d++) {
        if (!r->w[d].task) continue;
        if (d == 1 && nw && woke[0].task == r->w[1].task && woke[0].gen == r->w[1].gen) {
            r->w[1].task = NULL; /* one task waiting on both sides */
            continue;
        }
        woke[nw++] = r->w[d];
        r->w[d].task = NULL;
    }
    n = vx_ready_orphan_polls_locked(r, DIR_R | DIR_W, tok, own);
    /* New polls get a new epoch: events of the old ones are dropped. */
    r->armed = 0;
    r->epoch++;
    /* Under r's lock: a completing op unlinks itself under it first, so
     * every op seen here is still in flight (or CANCELLING). */
    for (VexIoOp *op = r->ops; op; op = (VexIoOp *)(uintptr_t)OP_LINK(op))
        vx_cancel_native(rt, w, op);
    vx_unlock(&r->lock, &rt->sys);
    for (uint32_t i = 0; i < n; i++) vx_cancel_poll(rt, w, own[i], tok[i]);
    for (uint32_t i = 0; i < nw; i++) {
        if (vx_task_wake_src(woke[i].task, woke[i].src, VX_WAKE_ERROR) == VX_SRC_ENQUEUE)
            vx_sched_push(rt, w, woke[i].task, w ? VX_PUSH_WAKE : VX_PUSH_BACK);
    }
}

void vx_res_wait_cancels(Runtime *rt, VxWorker *w, VxIoRes *r)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&r->remote_cancels, memory_order_acquire);
        if (v == 0 || atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;
        if (w) vx_io_drain_cancels(w);
        atomic_fetch_or_explicit(&r->flags, VX_RES_FORGET_WAIT, memory_order_seq_cst);
        if (atomic_load_explicit(&r->remote_cancels, memory_order_seq_cst) != v) continue;
        vx_plat_park(&rt->sys, &r->remote_cancels, v, w ? 100000u : 2000000u);
    }
}

/* Issues the cancellations other workers queued for w. */
void vx_io_drain_cancels(VxWorker *w)
{
    VxIoCancels *c = &w->remote.cancels;
    if (!atomic_load_explicit(&c->pending, memory_order_seq_cst)) return;
    Runtime *rt = w->rt;
    VexIoOp *closers = NULL;
    vx_lock(&c->lock, &rt->sys);
    for (VexIoOp *op = c->ops; op;) {
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(op);
        vx_plat_poller_cancel(&rt->sys, rt->io.poller, w->plocal, op_token(op));
        /* op is still ours: its completion takes this lock to finish it. */
        vx_cancel_remote_done(rt, vx_res_lookup(rt, op->handle), &closers);
        op = next;
    }
    c->ops = NULL;
    for (uint32_t i = 0; i < c->ntokens; i++) {
        vx_plat_poller_cancel(&rt->sys, rt->io.poller, w->plocal, c->tokens[i]);
        vx_cancel_remote_done(rt, token_res(c->tokens[i]), &closers);
    }
    c->ntokens = 0;
    atomic_store_explicit(&c->pending, 0, memory_order_relaxed);
    vx_unlock(&c->lock, &rt->sys);
    vx_op_submit_closers(w, closers);
}
