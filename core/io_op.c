/* core/io_op.c - completion operations (worker_await_op): starting one
 * natively, emulating it on readiness, or sending it to the blocking pool;
 * finishing it; and what a task woken early (a timeout, a cancellation,
 * readiness to retry) does with its op before it may run.
 *
 * An op's life: started by the runner after the resume that submitted it
 * (vx_io_op_start): native (poller_submit), emulated (io_try now, and again
 * each time the handle reports readiness), or on the blocking pool. Whoever
 * finishes it sets OP_DONE and wakes the task with the op as the source. A
 * task woken before that passes through vx_io_op_continue before its
 * resume, which retries, cancels, or parks the task again until the op is
 * done: the task never runs while the op's buffer may still be written.
 * Native ops are linked into their handle's record while in flight, so
 * closing the handle can cancel them (io_cancel.c). */
#include "io_internal.h"

static void close_submit(VxWorker *w, VexIoOp *op);

/* Wakes the task of a finished op (its result is set, state DONE). */
void vx_op_wake(Runtime *rt, VxWorker *w, VxTask *t, VexIoOp *op)
{
    if (vx_task_wake_src(t, op, VX_WAKE_COMPLETED) != VX_SRC_ENQUEUE) return;
    if (w) {
        VX_STAT_INC(w, VX_ST_WAKEUPS);
        vx_sched_push(rt, w, t, VX_PUSH_WAKE);
    } else {
        vx_sched_push(rt, NULL, t, VX_PUSH_BACK);
    }
}

void vx_io_op_finished(Runtime *rt, VexIoOp *op)
{
    VX_ASSERT(op_state(op) == OP_POOL || op_state(op) == OP_CANCELLING);
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op); /* read first: after DONE the op may be gone */
    /* seq_cst: pairs with the runner that publishes a new wait_gen and then
     * re-checks the state before parking (vx_io_op_continue). */
    op_set_state(op, OP_DONE);
    vx_op_wake(rt, NULL, t, op);
}

/* Native ops are linked into their handle's record while in flight, so a
 * close or forget can cancel them (VEX_OP_CLOSE itself is not: it is the
 * record's closer). The state becomes NATIVE under the record's lock, so
 * vx_res_forget sees each linked op in flight. Returns 0, VEX_EBADF if the
 * handle is being closed, or VEX_ENOMEM. */
static int op_track(Runtime *rt, VexIoOp *op)
{
    VX_ASSERT(op_state(op) == OP_IDLE && op->opcode != VEX_OP_CLOSE);
    VxIoRes *r = vx_res_get(rt, op->handle);
    if (!r) return VEX_ENOMEM;
    int rc = 0;
    vx_lock(&r->lock, &rt->sys);
    if (atomic_load_explicit(&r->closer, memory_order_relaxed)) {
        rc = VEX_EBADF;
    } else {
        op_set_state(op, OP_NATIVE);
        OP_LINK(op) = (uint64_t)(uintptr_t)r->ops;
        r->ops = op;
    }
    vx_unlock(&r->lock, &rt->sys);
    return rc;
}

static void op_untrack(Runtime *rt, VexIoOp *op)
{
    VxIoRes *r = vx_res_lookup(rt, op->handle);
    vx_lock(&r->lock, &rt->sys);
    VexIoOp **pp = &r->ops;
    while (*pp && *pp != op) pp = (VexIoOp **)&OP_LINK(*pp);
    if (*pp) *pp = (VexIoOp *)(uintptr_t)OP_LINK(op);
    vx_unlock(&r->lock, &rt->sys);
}

/* Ends a native op on its owner w (its completion arrived, or its
 * submission failed) with result, short of waking its task: unlinks it
 * from its record, then sets DONE; a cancellation queued for it on w is
 * dropped under w's cancel lock, so none outlives the op (the op could be
 * resubmitted with the same token). A close this dropped cancellation
 * was holding back is pushed on *closers. */
static void native_done(VxWorker *w, VexIoOp *op, int64_t result, VexIoOp **closers)
{
    Runtime *rt = w->rt;
    VX_ASSERT(op_state(op) == OP_NATIVE || op_state(op) == OP_CANCELLING);
    VX_ASSERT(op->opcode == VEX_OP_CLOSE || op_owner(op) == w->id); /* its ring's worker */
    op->result = result;
    if (op->opcode != VEX_OP_CLOSE) op_untrack(rt, op);
    if (op_cas_state(op, OP_NATIVE, OP_DONE)) return;
    /* CANCELLING */
    VxIoCancels *c = &w->remote.cancels;
    vx_lock(&c->lock, &rt->sys);
    VexIoOp **pp = (VexIoOp **)&c->ops;
    while (*pp && *pp != op) pp = (VexIoOp **)&OP_NEXT(*pp);
    if (*pp) {
        *pp = (VexIoOp *)(uintptr_t)OP_NEXT(op);
        atomic_fetch_sub_explicit(&c->pending, 1, memory_order_relaxed);
        vx_cancel_remote_done(rt, vx_res_lookup(rt, op->handle), closers);
    }
    op_set_state(op, OP_DONE);
    vx_unlock(&c->lock, &rt->sys);
}

/* Submits each close of the list (linked through OP_NEXT) on w. */
void vx_op_submit_closers(VxWorker *w, VexIoOp *cl)
{
    while (cl) {
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(cl);
        close_submit(w, cl);
        cl = next;
    }
}

/* Finishes a native op on its owner w and wakes its task. */
void vx_op_complete_native(VxWorker *w, VexIoOp *op, int64_t result)
{
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op); /* read first: after DONE the op may be gone */
    VexIoOp *closers = NULL;
    native_done(w, op, result, &closers);
    VX_STAT_INC(w, VX_ST_IO_COMPLETED);
    vx_op_wake(w->rt, w, t, op);
    vx_op_submit_closers(w, closers);
}

/* Submits a VEX_OP_CLOSE whose handle has no cancellation pending on w's
 * poller state: it completes there (a close is never cancelled, so its
 * owner does not matter once it is out). */
static void close_submit(VxWorker *w, VexIoOp *op)
{
    VX_ASSERT(op->opcode == VEX_OP_CLOSE && op_state(op) == OP_NATIVE);
    Runtime *rt = w->rt;
    int rc = vx_plat_poller_submit(&rt->sys, rt->io.poller, w->plocal, op, op_token(op));
    if (rc == 0) return;
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op);
    op->result = rc;
    op_set_state(op, OP_DONE);
    vx_op_wake(rt, w, t, op);
}

/* Starts VEX_OP_CLOSE on a native poller: every op and poll in flight on
 * the handle is cancelled first, on whichever worker holds it, and the
 * close is submitted by whoever issues the last of those cancellations,
 * so it runs only once no request holds the file (the peer then sees
 * end-of-file when the close completes), and a cancellation never names
 * a descriptor number that may already be reused. */
static unsigned close_start(VxWorker *w, VexIoOp *op)
{
    Runtime *rt = w->rt;
    op_set_state(op, OP_NATIVE);
    VxIoRes *r = vx_res_lookup(rt, op->handle);
    if (r) {
        VexIoOp *closers = NULL;
        vx_res_forget(rt, w, r, op);
        vx_cancel_remote_done(rt, r, &closers); /* vx_res_forget's extra count */
        if (closers != op) return VX_WAKE_NONE; /* another worker submits it */
    }
    int rc = vx_plat_poller_submit(&rt->sys, rt->io.poller, w->plocal, op, op_token(op));
    if (rc == 0) return VX_WAKE_NONE;
    op->result = rc;
    op_set_state(op, OP_DONE);
    return VX_WAKE_COMPLETED;
}

/* Asks the owner of native op to cancel it (the runner w holds the task). */
static void op_request_cancel(VxWorker *w, VexIoOp *op)
{
    vx_cancel_native(w->rt, w, op);
}

/* Registers op as the waiter of its side of r, unless readiness arrived
 * since `seen`. Returns 1 if registered, 0 to try again, -1 if the op is
 * finished (another task waits on that side, or a poll could not be armed;
 * op->result says which). */
static int op_wait_ready(Runtime *rt, VxWorker *w, VxIoRes *r, VexIoOp *op, uint64_t seen)
{
    uint32_t d = op_dir(op), side = d - 1;
    vx_lock(&r->lock, &rt->sys);
    uint64_t s = atomic_load_explicit(&r->rstate, memory_order_acquire);
    if (rstate_events(s) != rstate_events(seen) && (dirs_for((uint32_t)(s & READY_MASK)) & d)) {
        vx_unlock(&r->lock, &rt->sys);
        return 0; /* an edge came while we tried */
    }
    if (vx_ready_waiter_live(&r->w[side])) {
        vx_unlock(&r->lock, &rt->sys);
        op->result = VEX_EBUSY;
        return -1;
    }
    r->w[side] = (VxIoWaiter){(VxTask *)(uintptr_t)OP_TASK(op), op_gen(op), op};
    op_set_state(op, OP_READY_WAIT);
    uint32_t need = 0;
    if (!edge_mode(rt) && !(r->armed & d)) {
        need = d;
        r->armed |= (uint8_t)d;
        r->arm_owner[side] = (uint16_t)w->id;
    }
    uint32_t epoch = r->epoch;
    vx_unlock(&r->lock, &rt->sys);
    if (!need) return 1;
    int rc = vx_ready_arm_polls(rt, w, r, need, epoch);
    if (rc == 0) return 1;
    vx_lock(&r->lock, &rt->sys);
    if (r->w[side].src == op) r->w[side].task = NULL;
    r->armed &= (uint8_t)~need;
    vx_unlock(&r->lock, &rt->sys);
    op->result = rc;
    return -1;
}

/* The record an emulated op uses for readiness, or NULL if the handle cannot
 * be polled (files, bad handles: the op is tried or pooled directly). If the
 * handle could be polled but no record or registration could be made (out of
 * memory here or in the kernel), *fail is set to the error and the op fails
 * with it, rather than going to the pool, where a blocking socket would hold
 * a pool thread and the op's timeout could not end the wait. */
static VxIoRes *op_record(Runtime *rt, VxWorker *w, VexIoOp *op, int *fail)
{
    *fail = 0;
    if (file_opcode(op->opcode) || op->opcode == VEX_OP_CLOSE) return NULL;
    VxIoRes *r = vx_res_get(rt, op->handle); /* the handle's range was checked at submission */
    if (!r) {
        *fail = VEX_ENOMEM;
        return NULL;
    }
    int rc = edge_mode(rt) ? vx_ready_register(rt, w, r) : 0;
    if (rc == VEX_ENOTSUP || rc == VEX_EBADF) return NULL; /* not pollable, or not open: try it */
    if (rc) *fail = rc;
    return rc ? NULL : r;
}

/* One attempt of an emulated operation. Returns true if the op finished
 * (op->result set), false if it now waits for readiness or runs on the
 * blocking pool. */
static bool op_attempt(Runtime *rt, VxWorker *w, VexIoOp *op)
{
    if (op->opcode == VEX_OP_CLOSE) {
        VxIoRes *old = vx_res_lookup(rt, op->handle);
        if (old) vx_res_forget(rt, w, old, NULL);
    }
    int fail;
    VxIoRes *r = op_record(rt, w, op, &fail);
    if (fail) {
        op->result = fail;
        return true;
    }
    uint32_t d = op_dir(op);
    for (;;) {
        uint64_t seen = r ? atomic_load_explicit(&r->rstate, memory_order_acquire) : 0;
        /* Known not ready (an event was seen, and since then a try would
         * have blocked): wait without a system call. Connect always tries:
         * its first step is the connect call itself. */
        bool skip = r && rstate_events(seen) != 0 && !(dirs_for((uint32_t)(seen & READY_MASK)) & d) &&
                    op->opcode != VEX_OP_CONNECT;
        int rc = skip ? VEX_EAGAIN : vx_plat_io_try(&rt->sys, op);
        if (rc == 0) {
            /* A short transfer on a byte stream drained it (or filled it):
             * with edge triggering, more data or room is a new edge. */
            if (r && op->result >= 0 && (size_t)op->result < op->len && op->opcode != VEX_OP_ACCEPT &&
                op->opcode != VEX_OP_CONNECT &&
                (atomic_load_explicit(&r->flags, memory_order_relaxed) & VX_RES_STREAM))
                vx_ready_clear_if_quiet(r, seen, poll_bits_for(d));
            return true;
        }
        if (rc == VEX_EAGAIN && r) {
            vx_ready_clear_if_quiet(r, seen, poll_bits_for(d));
            int k = op_wait_ready(rt, w, r, op, seen);
            if (k > 0) return false;
            if (k < 0) return true;
            continue;
        }
        if (rc != VEX_ENOTSUP && rc != VEX_EAGAIN) {
            op->result = rc;
            return true;
        }
        /* Not pollable (a regular file) or no record: the blocking pool. */
        if (!vx_plat_has_io_blocking(&rt->sys)) {
            op->result = VEX_ENOSYS;
            return true;
        }
        op_set_state(op, OP_POOL);
        vx_pool_submit(rt, op);
        return false;
    }
}

static unsigned job_start(VxWorker *w, VxTask *t, uint64_t gen, VexIoOp *op);

unsigned vx_io_op_start(VxWorker *w, VxTask *t, uint64_t gen)
{
    Runtime *rt = w->rt;
    VexIoOp *op = (VexIoOp *)w->own.ctx.await_src;
    if (w->own.ctx.await_kind == VX_WAIT_JOB) return job_start(w, t, gen, op);
    int bad = vx_op_invalid(op);
    OP_TASK(op) = (uint64_t)(uintptr_t)t;
    OP_META(op) = op_meta(gen, w->id, 0);
    OP_LINK(op) = 0;
    OP_NEXT(op) = 0;
    OP_PLAT(op) = 0;
    op->result = 0;
    op_set_state(op, OP_IDLE);
    atomic_store_explicit(&t->wait_src, op, memory_order_relaxed);
    /* seq_cst: published before anyone can complete the op (vx_io_op_finished). */
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
    t->wait_kind = VX_WAIT_OP;
    VX_STAT_INC(w, VX_ST_IO_SUBMITTED);
    mark_active(rt);
    if (bad || !rt->io.poller) {
        op->result = bad ? bad : VEX_ENOSYS;
        op_set_state(op, OP_DONE);
        return VX_WAKE_COMPLETED;
    }
    if (native_ops(rt)) {
        if (op->opcode == VEX_OP_CLOSE) return close_start(w, op);
        int rc = op_track(rt, op);
        if (rc == 0) {
            rc = vx_plat_poller_submit(&rt->sys, rt->io.poller, w->plocal, op, op_token(op));
            if (rc == 0) return VX_WAKE_NONE;
            VexIoOp *closers = NULL;
            native_done(w, op, rc, &closers);
            vx_op_submit_closers(w, closers);
            return VX_WAKE_COMPLETED;
        }
        op->result = rc;
        op_set_state(op, OP_DONE);
        return VX_WAKE_COMPLETED;
    }
    if (op_attempt(rt, w, op)) {
        op_set_state(op, OP_DONE);
        VX_STAT_INC(w, VX_ST_IO_COMPLETED);
        return VX_WAKE_COMPLETED;
    }
    return VX_WAKE_NONE;
}

/* Takes op's readiness registration back; true if it was still there. */
static bool op_unwait(Runtime *rt, VexIoOp *op)
{
    VxIoRes *r = vx_res_lookup(rt, op->handle);
    if (!r) return false;
    bool had = false;
    vx_lock(&r->lock, &rt->sys);
    for (int d = 0; d < 2; d++) {
        if (r->w[d].task && r->w[d].src == op) {
            r->w[d].task = NULL;
            had = true;
        }
    }
    vx_unlock(&r->lock, &rt->sys);
    return had;
}

/* Ends the current wait generation of a running task: any wake still aimed
 * at it (a completion racing with our look at the op) becomes stale, and a
 * NOTIFIED it left is dropped, so it cannot end the task's next wait early. */
static void task_skip_gen(VxTask *t)
{
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&t->tok.state, &s,
                                                  (s & ~VX_TS_NOTIFIED) + VX_TS_GEN_ONE,
                                                  memory_order_acq_rel, memory_order_relaxed)) {
    }
}

VX_INLINE bool is_abort(unsigned reason)
{
    return reason == VX_WAKE_TIMER || reason == VX_WAKE_CANCELLED || reason == VX_WAKE_ERROR;
}

bool vx_io_op_continue(VxWorker *w, VxTask *t, unsigned *reason)
{
    Runtime *rt = w->rt;
    VexIoOp *op = (VexIoOp *)atomic_load_explicit(&t->wait_src, memory_order_relaxed);
    VX_ASSERT(op && op_state(op) != OP_IDLE); /* started by vx_io_op_start */
    bool published = false;
    for (;;) {
        uint64_t st = op_state(op);
        uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_acquire);
        unsigned why = vx_ts_reason(s);
        uint64_t gen = vx_ts_gen(s);
        /* A close is never abandoned half-way (the handle would stay open):
         * a timeout or cancellation just waits for it. */
        if (op->opcode == VEX_OP_CLOSE && is_abort(why)) why = VX_WAKE_NONE;
        if (is_abort(why) && !op_abort_reason(op))
            OP_META(op) = op_meta(op_gen(op), op_owner(op), why);
        unsigned first = op_abort_reason(op);
        if (st == OP_READY_WAIT && is_abort(why)) {
            /* The op only waited for readiness: abandon it on the spot. Our
             * wait_gen is stale, so a racing readiness wake is dropped. */
            op_unwait(rt, op);
            op->result = why == VX_WAKE_ERROR ? VEX_EBADF : VEX_ECANCELED;
            op_set_state(op, OP_DONE);
        } else if (st == OP_POOL && is_abort(why) && vx_pool_withdraw(rt, op)) {
            op->result = VEX_ECANCELED;
            op_set_state(op, OP_DONE);
        }
        if (op_state(op) == OP_DONE) {
            if (published) task_skip_gen(t);
            *reason = (op->result == VEX_ECANCELED || op->result == VEX_EBADF) && is_abort(first)
                          ? first
                          : VX_WAKE_COMPLETED;
            return false;
        }
        /* Park again on the op; publish the gen first, then act and look at
         * the state once more (seq_cst, against vx_io_op_finished's store). */
        atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
        OP_META(op) = op_meta(gen, op_owner(op), op_abort_reason(op));
        published = true;
        if (st == OP_READY_WAIT) {
            /* Readiness came: try again. */
            if (op_attempt(rt, w, op)) {
                op_set_state(op, OP_DONE);
                VX_STAT_INC(w, VX_ST_IO_COMPLETED);
                continue;
            }
            /* Still would block (another reader drained it): keep the timeout. */
            if (!vx_timer_rearm(w, t, gen)) vx_task_wake(t, gen, VX_WAKE_TIMER);
        } else if (st == OP_NATIVE && is_abort(why)) {
            op_request_cancel(w, op);
        } else if (st == OP_POOL && is_abort(why)) {
            /* It runs: wait for it. */
            op_cas_state(op, OP_POOL, OP_CANCELLING);
        }
        if (op_state(op) == OP_DONE) continue;
        if (vx_task_park(t)) return true;
        /* A wake came in between (NOTIFIED consumed, gen bumped): look again. */
    }
}

void vx_io_op_release(VxWorker *w, VxTask *t)
{
    /* The task's own op may be gone by now (the resume may have freed it):
     * only a blocking job, which is ours, is looked at. */
    VexIoOp *op = (VexIoOp *)atomic_load_explicit(&t->wait_src, memory_order_relaxed);
    if (t->wait_kind == VX_WAIT_JOB) vx_pool_fn_job_free(w->rt, op);
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
}

void vx_io_drop_pending(WorkerContext *ctx)
{
    if (ctx->await_kind == VX_WAIT_JOB) vx_pool_fn_job_free(ctx->rt, (VexIoOp *)ctx->await_src);
    ctx->await_kind = VX_WAIT_NONE;
    ctx->await_src = NULL;
}

/* Starts the blocking job of the current resume on the pool. */
static unsigned job_start(VxWorker *w, VxTask *t, uint64_t gen, VexIoOp *op)
{
    VX_ASSERT(op->opcode == VX_OP_FN_JOB);
    Runtime *rt = w->rt;
    OP_TASK(op) = (uint64_t)(uintptr_t)t;
    OP_META(op) = op_meta(gen, w->id, 0);
    atomic_store_explicit(&t->wait_src, op, memory_order_relaxed);
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
    t->wait_kind = VX_WAIT_JOB;
    op_set_state(op, OP_POOL);
    vx_pool_submit(rt, op);
    return VX_WAKE_NONE;
}
