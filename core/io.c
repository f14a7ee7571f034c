/* core/io.c - the I/O layer: per-handle records, readiness awaits,
 * completion operations (native, emulated on readiness, or on the blocking
 * pool), event dispatch, and who waits in the poller.
 *
 * Divisions: tokens and op fields; handle table; setup; readiness (records,
 * awaits, cancelling polls); operations; blocking pool; events; waiting in
 * the poller; public entry points.
 *
 * Readiness on edge pollers (epoll, kqueue): a handle is registered once,
 * edge-triggered, for read and write. Each event sets ready bits in its
 * record and bumps the record's event counter. An operation that would block
 * clears its ready bit only if no event arrived since it looked, so an edge
 * is never lost; an operation that finds the bit clear waits without a
 * system call. A seed-API await (one-shot: the task then reads what it
 * likes) consumes the bit it is woken with and, when it has to wait, asks
 * the poller to re-check the handle (epoll: a MOD), so data left unread
 * wakes it again. One-shot pollers (io_uring) get one poll per side, and the
 * record remembers which sides have one out, so repeated awaits never pile
 * polls up; a poll left without a waiter (its await timed out) is cancelled,
 * because an io_uring poll holds the file open after close().
 *
 * Wake-ups go through vx_task_wake_src with the record (await) or the op
 * (operation) as the source, so a late event for a wait that ended another
 * way never wakes a later wait. */
#include "rt.h"
#include "vexrt/io.h"
#include "vexrt/task.h"

typedef struct VxFnJob VxFnJob;

/* --- Tokens and op fields --- */

#define TAG_RES 0u /* a VxIoRes: bits 2-3 the sides of a one-shot poll, 4-5 the epoch */
#define TAG_OP 1u  /* a VexIoOp submitted natively */
#define TAG_MASK 3u
#define RES_ALIGN 64u

enum { DIR_R = 1, DIR_W = 2 }; /* bit per side; side index = bit - 1 */

_Static_assert(sizeof(VxIoRes) <= 128, "records are 128-byte pool objects");
_Static_assert(VX_SLAB_HEADER % RES_ALIGN == 0, "pool objects of 128 bytes are 64-byte aligned");

VX_INLINE uint64_t res_token(VxIoRes *r, uint32_t dirs, uint32_t epoch)
{
    return (uint64_t)(uintptr_t)r | TAG_RES | ((uint64_t)dirs << 2) | ((uint64_t)(epoch & 3) << 4);
}

VX_INLINE VxIoRes *token_res(uint64_t tok)
{
    return (VxIoRes *)(uintptr_t)(tok & ~(uint64_t)(RES_ALIGN - 1));
}

VX_INLINE uint64_t op_token(VexIoOp *op) { return (uint64_t)(uintptr_t)op | TAG_OP; }

/* op->internal while in flight (internal[5] belongs to the platform). */
#define OP_TASK(op) ((op)->internal[0])
#define OP_META(op) ((op)->internal[1]) /* see op_meta(): gen, owner, abort reason */
#define OP_STATE(op) ((op)->internal[2])
#define OP_LINK(op) ((op)->internal[3]) /* native ops: the record's in-flight list */
#define OP_NEXT(op) ((op)->internal[4]) /* pool queue, cancel list or closer list link */
#define OP_PLAT(op) ((op)->internal[5])

/* OP_META packs what the runner sets at each (re)park: the low 32 bits of
 * the wait generation (all a waiter check compares, as vx_task_wake_src
 * does), the worker whose poller state holds a native op, and the first
 * wake reason that aborted the op (kept across the parks of
 * vx_io_op_continue; 0 none). Written only by the op's runner. */
VX_INLINE uint64_t op_meta(uint64_t gen, uint32_t owner, unsigned abort_reason)
{
    return (uint64_t)(uint32_t)gen | ((uint64_t)(owner & 0xFFFF) << 32) |
           ((uint64_t)(abort_reason & 0xFF) << 48);
}
VX_INLINE uint32_t op_gen(const VexIoOp *op) { return (uint32_t)OP_META(op); }
VX_INLINE uint32_t op_owner(const VexIoOp *op) { return (uint32_t)(OP_META(op) >> 32) & 0xFFFF; }
VX_INLINE unsigned op_abort_reason(const VexIoOp *op) { return (unsigned)(OP_META(op) >> 48) & 0xFF; }

enum {
    OP_IDLE = 0,
    OP_NATIVE,     /* submitted to the poller */
    OP_READY_WAIT, /* emulated: waiting for readiness to try again */
    OP_POOL,       /* queued on or running in the blocking pool */
    OP_DONE,
    OP_CANCELLING  /* native or pool op asked to finish early; completion pending */
};

VX_INLINE uint64_t op_state(VexIoOp *op)
{
    return atomic_load_explicit((_Atomic uint64_t *)&OP_STATE(op), memory_order_seq_cst);
}

VX_INLINE void op_set_state(VexIoOp *op, uint64_t st)
{
    atomic_store_explicit((_Atomic uint64_t *)&OP_STATE(op), st, memory_order_seq_cst);
}

VX_INLINE bool op_cas_state(VexIoOp *op, uint64_t from, uint64_t to)
{
    return atomic_compare_exchange_strong_explicit((_Atomic uint64_t *)&OP_STATE(op), &from, to,
                                                   memory_order_seq_cst, memory_order_seq_cst);
}

/* t->io_events of a VX_WAIT_OP task whose op is a blocking job. */
#define VX_OPWAIT_JOB 1

VX_INLINE bool valid_opcode(uint8_t c) { return c >= VEX_OP_READ && c <= VEX_OP_FSYNC; }

VX_INLINE bool file_opcode(uint8_t c)
{
    return c == VEX_OP_PREAD || c == VEX_OP_PWRITE || c == VEX_OP_FSYNC;
}

/* Side of a handle an emulated operation waits on when it would block. */
VX_INLINE uint32_t op_dir(const VexIoOp *op)
{
    switch (op->opcode) {
    case VEX_OP_SEND:
    case VEX_OP_WRITE:
    case VEX_OP_CONNECT: return DIR_W;
    default: return DIR_R;
    }
}

VX_INLINE bool edge_mode(Runtime *rt) { return (rt->pcaps & VEX_POLLER_EDGE) != 0; }
VX_INLINE bool native_ops(Runtime *rt) { return (rt->pcaps & VEX_POLLER_NATIVE_OPS) != 0; }
VX_INLINE void *local_of(VxWorker *w) { return w ? w->plocal : NULL; }

VX_INLINE void mark_active(Runtime *rt)
{
    if (!atomic_load_explicit(&rt->io_used, memory_order_relaxed))
        atomic_store_explicit(&rt->io_used, true, memory_order_relaxed);
}

bool vx_io_active(Runtime *rt) { return atomic_load_explicit(&rt->io_used, memory_order_relaxed); }

/* --- Handle table ---
 * A three-level radix table from handle numbers to records, grown under
 * io_lock and read without locks: blocks and records live until the runtime
 * is destroyed. */

#define LEAF_BITS 12
#define MID_BITS 10
#define TOP_BITS 10
#define LEAF_N ((size_t)1 << LEAF_BITS)
#define MID_N ((size_t)1 << MID_BITS)
#define TOP_N ((size_t)1 << TOP_BITS)

typedef _Atomic(VxIoRes *) Slot;
typedef _Atomic(Slot *) MidSlot;

VX_INLINE bool handle_in_range(IoHandle h)
{
    return (uint64_t)h < ((uint64_t)1 << (LEAF_BITS + MID_BITS + TOP_BITS));
}

VX_INLINE MidSlot *top_slot(Runtime *rt, uint64_t v)
{
    return &((MidSlot *)rt->io_top)[v >> (LEAF_BITS + MID_BITS)];
}

/* Returns the record of h, or NULL if the runtime never saw h. Any thread. */
static VxIoRes *res_lookup(Runtime *rt, IoHandle h)
{
    if (!handle_in_range(h)) return NULL;
    uint64_t v = (uint64_t)h;
    Slot **mid = (Slot **)atomic_load_explicit(top_slot(rt, v), memory_order_acquire);
    if (!mid) return NULL;
    Slot *leaf = atomic_load_explicit((MidSlot *)&mid[(v >> LEAF_BITS) & (MID_N - 1)],
                                      memory_order_acquire);
    if (!leaf) return NULL;
    return atomic_load_explicit(&leaf[v & (LEAF_N - 1)], memory_order_acquire);
}

static VxIoRes *res_create_locked(Runtime *rt, IoHandle h)
{
    uint64_t v = (uint64_t)h;
    Slot **mid = (Slot **)atomic_load_explicit(top_slot(rt, v), memory_order_relaxed);
    if (!mid) {
        mid = (Slot **)vx_mem_alloc(&rt->sys, sizeof(MidSlot) * MID_N, _Alignof(MidSlot));
        if (!mid) return NULL;
        for (size_t i = 0; i < MID_N; i++) atomic_init((MidSlot *)&mid[i], NULL);
        /* release: the initialised block is visible before its address. */
        atomic_store_explicit(top_slot(rt, v), (Slot *)mid, memory_order_release);
    }
    MidSlot *ms = (MidSlot *)&mid[(v >> LEAF_BITS) & (MID_N - 1)];
    Slot *leaf = atomic_load_explicit(ms, memory_order_relaxed);
    if (!leaf) {
        leaf = (Slot *)vx_mem_alloc(&rt->sys, sizeof(Slot) * LEAF_N, _Alignof(Slot));
        if (!leaf) return NULL;
        for (size_t i = 0; i < LEAF_N; i++) atomic_init(&leaf[i], NULL);
        atomic_store_explicit(ms, leaf, memory_order_release);
    }
    VxIoRes *r = atomic_load_explicit(&leaf[v & (LEAF_N - 1)], memory_order_relaxed);
    if (r) return r;
    r = (VxIoRes *)vx_slab_alloc(&rt->iores, VX_FOREIGN_HEAP(rt)); /* the shared heap: under io_lock */
    if (!r) return NULL;
    vx_zero(r, sizeof *r);
    vx_lock_init(&r->lock);
    atomic_init(&r->flags, 0);
    atomic_init(&r->rstate, 0);
    atomic_init(&r->remote_cancels, 0);
    atomic_init(&r->closer, NULL);
    r->handle = h;
    atomic_store_explicit(&leaf[v & (LEAF_N - 1)], r, memory_order_release);
    return r;
}

/* Returns the record of h, creating it; NULL if h is out of range or
 * memory ran out. */
static VxIoRes *res_get(Runtime *rt, IoHandle h)
{
    VxIoRes *r = res_lookup(rt, h);
    if (r || !handle_in_range(h)) return r;
    vx_lock(&rt->io_lock, &rt->sys);
    r = res_create_locked(rt, h);
    vx_unlock(&rt->io_lock, &rt->sys);
    return r;
}

static void table_free(Runtime *rt)
{
    if (!rt->io_top) return;
    for (size_t i = 0; i < TOP_N; i++) {
        Slot **mid = (Slot **)atomic_load_explicit(&((MidSlot *)rt->io_top)[i], memory_order_relaxed);
        if (!mid) continue;
        for (size_t j = 0; j < MID_N; j++) {
            Slot *leaf = atomic_load_explicit((MidSlot *)&mid[j], memory_order_relaxed);
            if (leaf) vx_mem_free(&rt->sys, leaf, sizeof(Slot) * LEAF_N, _Alignof(Slot));
        }
        vx_mem_free(&rt->sys, mid, sizeof(MidSlot) * MID_N, _Alignof(MidSlot));
    }
    vx_mem_free(&rt->sys, (void *)rt->io_top, sizeof(MidSlot) * TOP_N, _Alignof(MidSlot));
    rt->io_top = NULL;
}

/* --- Setup --- */

VX_INLINE size_t poller_bytes(const VexPlatform *p) { return p->poller_size ? p->poller_size : 1; }
VX_INLINE size_t local_stride(const VexPlatform *p) { return (p->poller_local_size + 63) & ~(size_t)63; }

static void poller_free(Runtime *rt)
{
    const VexPlatform *p = rt->sys.p;
    if (rt->plocal_mem)
        vx_mem_free(&rt->sys, rt->plocal_mem, local_stride(p) * rt->nworkers, 64);
    if (rt->poller) vx_mem_free(&rt->sys, rt->poller, poller_bytes(p), 64);
    rt->plocal_mem = NULL;
    rt->poller = NULL;
    for (uint32_t i = 0; i < rt->nworkers; i++) rt->workers[i].plocal = NULL;
}

int vx_io_init(Runtime *rt)
{
    rt->io_inited = true;
    atomic_init(&rt->driver, 0);
    atomic_init(&rt->poll_seq, 0);
    atomic_init(&rt->attach_error, 0);
    atomic_init(&rt->attached, 0);
    atomic_init(&rt->io_used, false);
    atomic_init(&rt->pool_signal, 0);
    atomic_init(&rt->pool_jobs_run, 0);
    vx_lock_init(&rt->io_lock);
    vx_lock_init(&rt->pool_lock);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        VxIoCancels *c = &rt->workers[i].cancels;
        vx_lock_init(&c->lock);
        atomic_init(&c->pending, 0);
    }
    rt->io_top = (_Atomic(VxIoRes **) *)vx_mem_alloc(&rt->sys, sizeof(MidSlot) * TOP_N,
                                                     _Alignof(MidSlot));
    if (!rt->io_top) return VEX_ENOMEM;
    for (size_t i = 0; i < TOP_N; i++) atomic_init(&((MidSlot *)rt->io_top)[i], NULL);
    int rc = vx_slab_init(&rt->iores, &rt->sys.a, 128, 0, rt->nworkers + 1);
    if (rc) return rc;
    if (!vx_plat_has_poller(&rt->sys)) return 0;
    const VexPlatform *p = rt->sys.p;
    rt->pcaps = p->poller_caps;
    rt->poller = vx_mem_alloc(&rt->sys, poller_bytes(p), 64);
    if (!rt->poller) return VEX_ENOMEM;
    vx_zero(rt->poller, poller_bytes(p));
    if (p->poller_local_size) {
        rt->plocal_mem = (char *)vx_mem_alloc(&rt->sys, local_stride(p) * rt->nworkers, 64);
        if (!rt->plocal_mem) {
            poller_free(rt);
            return VEX_ENOMEM;
        }
        vx_zero(rt->plocal_mem, local_stride(p) * rt->nworkers);
        for (uint32_t i = 0; i < rt->nworkers; i++)
            rt->workers[i].plocal = rt->plocal_mem + local_stride(p) * i;
    }
    rc = vx_plat_poller_open(&rt->sys, rt->poller, rt->nworkers);
    if (rc) poller_free(rt);
    return rc;
}

void vx_io_fini(Runtime *rt)
{
    if (!rt->io_inited) return; /* creation failed before the I/O layer was set up */
    for (uint32_t i = 0; i < rt->nworkers; i++)
        if (rt->workers[i].poller_attached) vx_io_detach(&rt->workers[i]);
    if (rt->poller) vx_plat_poller_close(&rt->sys, rt->poller);
    poller_free(rt);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        VxIoCancels *c = &rt->workers[i].cancels;
        if (c->tokens) vx_mem_free(&rt->sys, c->tokens, sizeof(uint64_t) * c->cap, 8);
        c->tokens = NULL;
    }
    table_free(rt);
    vx_slab_destroy(&rt->iores);
}

int vx_io_attach(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (!rt->poller) return 0;
    return vx_plat_poller_attach(&rt->sys, rt->poller, w->plocal);
}

void vx_io_detach(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (rt->poller) vx_plat_poller_detach(&rt->sys, rt->poller, w->plocal);
}

/* --- Readiness --- */

#define READY_MASK ((uint64_t)0xFF)
#define TICK_ONE ((uint64_t)1 << 8)

VX_INLINE uint32_t poll_bits_for(uint32_t dirs)
{
    return (dirs & DIR_R ? VEX_POLL_IN : 0) | (dirs & DIR_W ? VEX_POLL_OUT : 0);
}

/* Which sides a readiness report wakes: hang-up and error wake both. */
VX_INLINE uint32_t dirs_for(uint32_t bits)
{
    if (bits & (VEX_POLL_HUP | VEX_POLL_ERR)) return DIR_R | DIR_W;
    return (bits & VEX_POLL_IN ? DIR_R : 0) | (bits & VEX_POLL_OUT ? DIR_W : 0);
}

VX_INLINE unsigned reason_for(uint32_t bits, uint32_t dirs)
{
    if (bits & (VEX_POLL_HUP | VEX_POLL_ERR)) return VX_WAKE_HANGUP;
    return (dirs & DIR_R ? VX_WAKE_READABLE : 0) | (dirs & DIR_W ? VX_WAKE_WRITABLE : 0);
}

/* Clears ready bits of r if no event arrived since `seen` was read. */
static void clear_ready_if_quiet(VxIoRes *r, uint64_t seen, uint32_t bits)
{
    uint64_t s = seen;
    while ((s >> 8) == (seen >> 8) && (s & bits)) {
        if (atomic_compare_exchange_weak_explicit(&r->rstate, &s, s & ~(uint64_t)bits,
                                                  memory_order_acq_rel, memory_order_relaxed))
            return;
    }
}

/* Edge pollers: makes sure r is registered. Returns 0 or a VEX_E* code. */
static int ensure_registered(Runtime *rt, VxWorker *w, VxIoRes *r)
{
    if (atomic_load_explicit(&r->flags, memory_order_acquire) & VX_RES_REGISTERED) return 0;
    vx_lock(&r->lock, &rt->sys);
    int rc = 0;
    if (!(atomic_load_explicit(&r->flags, memory_order_relaxed) & VX_RES_REGISTERED)) {
        rc = vx_plat_poller_register(&rt->sys, rt->poller, local_of(w), r->handle,
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

/* True if a waiter slot still holds a task parked on it (not stale). */
static bool waiter_live(const VxIoWaiter *wt)
{
    if (!wt->task) return false;
    uint64_t s = atomic_load_explicit(&wt->task->tok.state, memory_order_acquire);
    return (uint32_t)vx_ts_gen(s) == (uint32_t)wt->gen &&
           atomic_load_explicit(&wt->task->wait_src, memory_order_relaxed) == wt->src;
}

/* Queues a poll or op cancellation for worker o's poller state and wakes o
 * if it sleeps in its poller. */
static void cancels_kick(Runtime *rt, VxWorker *o)
{
    /* seq_cst: against o storing VX_PARK_POLLING and then draining. */
    if (atomic_load_explicit(&o->park_state, memory_order_seq_cst) == VX_PARK_POLLING)
        vx_io_wake(o);
    (void)rt;
}

static void cancel_poll(Runtime *rt, VxWorker *w, uint32_t owner, uint64_t token)
{
    if (w && w->id == owner) {
        vx_plat_poller_cancel(&rt->sys, rt->poller, w->plocal, token);
        return;
    }
    VxWorker *o = &rt->workers[owner];
    VxIoCancels *c = &o->cancels;
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
    cancels_kick(rt, o);
}

/* One-shot pollers: cancels the polls of r's sides in `dirs` that are out
 * with no waiter left. Caller holds r's lock; returns the tokens to cancel
 * in tok[] / owners in own[] (done after unlocking). */
static uint32_t orphan_polls_locked(VxIoRes *r, uint32_t dirs, uint64_t tok[2], uint32_t own[2])
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
static int arm_polls(Runtime *rt, VxWorker *w, VxIoRes *r, uint32_t need, uint32_t epoch)
{
    for (int d = 0; d < 2; d++) {
        uint32_t bit = 1u << d;
        if (!(need & bit)) continue;
        int rc = vx_plat_poller_arm(&rt->sys, rt->poller, local_of(w), r->handle,
                                    poll_bits_for(bit), res_token(r, bit, epoch));
        if (rc) return rc;
    }
    return 0;
}

unsigned vx_io_arm(VxWorker *w, VxTask *t, uint64_t gen)
{
    Runtime *rt = w->rt;
    WorkerContext *ctx = &w->ctx;
    uint32_t dirs = (ctx->await_events & EVENT_TYPE_READABLE ? DIR_R : 0) |
                    (ctx->await_events & EVENT_TYPE_WRITABLE ? DIR_W : 0);
    mark_active(rt);
    VxIoRes *r = res_get(rt, ctx->await_io);
    if (!r) return VX_WAKE_ERROR;
    if (edge_mode(rt) && ensure_registered(rt, w, r) != 0) return VX_WAKE_ERROR;

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
        if ((dirs & (1u << d)) && waiter_live(&r->w[d])) {
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
    int rc = edge_mode(rt) ? vx_plat_poller_arm(&rt->sys, rt->poller, local_of(w), r->handle,
                                                poll_bits_for(dirs), res_token(r, 0, epoch))
                           : arm_polls(rt, w, r, need, epoch);
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
    if (left && !edge_mode(rt)) n = orphan_polls_locked(r, left, tok, own);
    vx_unlock(&r->lock, &rt->sys);
    for (uint32_t i = 0; i < n; i++) cancel_poll(rt, w, own[i], tok[i]);
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
    t->io_events = 0;
}

/* A cancellation queued on another worker for r's handle was issued (or
 * became moot: its op finished first). The last one hands r's waiting
 * VEX_OP_CLOSE, if any, to the caller (pushed on *closers, to submit on the
 * caller's own poller state) and wakes vex_io_forget's waiters. */
static void remote_cancel_done(Runtime *rt, VxIoRes *r, VexIoOp **closers)
{
    /* seq_cst: against close_start, which publishes the closer and then
     * reads the count (both sides then exchange: one of them takes it). */
    if (atomic_fetch_sub_explicit(&r->remote_cancels, 1, memory_order_seq_cst) != 1) return;
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
    VxIoCancels *c = &o->cancels;
    bool queued = false;
    vx_lock(&c->lock, &rt->sys);
    /* Still CANCELLING under the owner's cancel lock: its completion has
     * not run yet (it takes this lock to finish a CANCELLING op), so op
     * and its record are ours to use. */
    if (op_state(op) == OP_CANCELLING) {
        atomic_fetch_add_explicit(&res_lookup(rt, op->handle)->remote_cancels, 1,
                                  memory_order_seq_cst);
        OP_NEXT(op) = (uint64_t)(uintptr_t)c->ops;
        c->ops = op;
        atomic_fetch_add_explicit(&c->pending, 1, memory_order_seq_cst);
        queued = true;
    }
    vx_unlock(&c->lock, &rt->sys);
    if (queued) cancels_kick(rt, o);
}

/* Asks native op (state NATIVE) to finish early: on the calling worker's
 * own poller state at once, else through its owner's cancel queue. */
static void cancel_native(Runtime *rt, VxWorker *w, VexIoOp *op)
{
    if (!op_cas_state(op, OP_NATIVE, OP_CANCELLING)) return; /* done, or asked already */
    uint32_t owner = op_owner(op);
    if (w && owner == w->id) {
        vx_plat_poller_cancel(&rt->sys, rt->poller, w->plocal, op_token(op));
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
 * remote_cancel_done once everything is queued. */
static void res_forget(Runtime *rt, VxWorker *w, VxIoRes *r, VexIoOp *closer)
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
        vx_plat_poller_deregister(&rt->sys, rt->poller, r->handle);
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
    n = orphan_polls_locked(r, DIR_R | DIR_W, tok, own);
    /* New polls get a new epoch: events of the old ones are dropped. */
    r->armed = 0;
    r->epoch++;
    /* Under r's lock: a completing op unlinks itself under it first, so
     * every op seen here is still in flight (or CANCELLING). */
    for (VexIoOp *op = r->ops; op; op = (VexIoOp *)(uintptr_t)OP_LINK(op))
        cancel_native(rt, w, op);
    vx_unlock(&r->lock, &rt->sys);
    for (uint32_t i = 0; i < n; i++) cancel_poll(rt, w, own[i], tok[i]);
    for (uint32_t i = 0; i < nw; i++) {
        if (vx_task_wake_src(woke[i].task, woke[i].src, VX_WAKE_ERROR) == VX_SRC_ENQUEUE)
            vx_sched_push(rt, w, woke[i].task, w ? VX_PUSH_WAKE : VX_PUSH_BACK);
    }
}

/* Waits until every cancellation res_forget queued on other workers for r
 * has been issued, so the handle's file is no longer held by a request
 * when the caller closes it. A waiting worker issues what others queued
 * on it meanwhile (two workers may wait on each other). Not once the
 * runtime stops: its workers no longer issue anything. */
static void drain_cancels(VxWorker *w);

static void wait_remote_cancels(Runtime *rt, VxWorker *w, VxIoRes *r)
{
    for (;;) {
        uint32_t v = atomic_load_explicit(&r->remote_cancels, memory_order_acquire);
        if (v == 0 || atomic_load_explicit(&rt->stopping, memory_order_acquire)) return;
        if (w) drain_cancels(w);
        atomic_fetch_or_explicit(&r->flags, VX_RES_FORGET_WAIT, memory_order_seq_cst);
        if (atomic_load_explicit(&r->remote_cancels, memory_order_seq_cst) != v) continue;
        vx_plat_park(&rt->sys, &r->remote_cancels, v, w ? 100000u : 2000000u);
    }
}

/* --- Operations ---
 *
 * An op's life: started by the runner after the resume that submitted it
 * (vx_io_op_start): native (poller_submit), emulated (io_try now, and again
 * each time the handle reports readiness), or on the blocking pool. Whoever
 * finishes it sets OP_DONE and wakes the task with the op as the source. A
 * task woken before that (timeout, cancellation, readiness to retry) passes
 * through vx_io_op_continue before its resume, which retries, cancels, or
 * parks the task again until the op is done: the task never runs while the
 * op's buffer may still be written. */

static void pool_submit(Runtime *rt, VexIoOp *op);
static bool pool_unqueue(Runtime *rt, VexIoOp *op);

/* Wakes the task of a finished op (its result is set, state DONE). */
static void op_wake(Runtime *rt, VxWorker *w, VxTask *t, VexIoOp *op)
{
    if (vx_task_wake_src(t, op, VX_WAKE_COMPLETED) != VX_SRC_ENQUEUE) return;
    if (w) {
        VX_STAT_INC(w, VX_ST_WAKEUPS);
        vx_sched_push(rt, w, t, VX_PUSH_WAKE);
    } else {
        vx_sched_push(rt, NULL, t, VX_PUSH_BACK);
    }
}

/* Finishes a pool op (any thread). */
static void op_complete(Runtime *rt, VxWorker *w, VexIoOp *op)
{
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op); /* read first: after DONE the op may be gone */
    /* seq_cst: pairs with the runner that publishes a new wait_gen and then
     * re-checks the state before parking (vx_io_op_continue). */
    op_set_state(op, OP_DONE);
    op_wake(rt, w, t, op);
}

/* Native ops are linked into their handle's record while in flight, so a
 * close or forget can cancel them (VEX_OP_CLOSE itself is not: it is the
 * record's closer). The state becomes NATIVE under the record's lock, so
 * res_forget sees each linked op in flight. Returns 0, VEX_EBADF if the
 * handle is being closed, or VEX_ENOMEM. */
static int op_track(Runtime *rt, VexIoOp *op)
{
    VxIoRes *r = res_get(rt, op->handle);
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
    VxIoRes *r = res_lookup(rt, op->handle);
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
    op->result = result;
    if (op->opcode != VEX_OP_CLOSE) op_untrack(rt, op);
    if (op_cas_state(op, OP_NATIVE, OP_DONE)) return;
    /* CANCELLING */
    VxIoCancels *c = &w->cancels;
    vx_lock(&c->lock, &rt->sys);
    VexIoOp **pp = (VexIoOp **)&c->ops;
    while (*pp && *pp != op) pp = (VexIoOp **)&OP_NEXT(*pp);
    if (*pp) {
        *pp = (VexIoOp *)(uintptr_t)OP_NEXT(op);
        atomic_fetch_sub_explicit(&c->pending, 1, memory_order_relaxed);
        remote_cancel_done(rt, res_lookup(rt, op->handle), closers);
    }
    op_set_state(op, OP_DONE);
    vx_unlock(&c->lock, &rt->sys);
}

static void close_submit(VxWorker *w, VexIoOp *op);

/* Submits each close of the list (linked through OP_NEXT) on w. */
static void submit_closers(VxWorker *w, VexIoOp *cl)
{
    while (cl) {
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(cl);
        close_submit(w, cl);
        cl = next;
    }
}

/* Finishes a native op on its owner w and wakes its task. */
static void op_complete_native(VxWorker *w, VexIoOp *op, int64_t result)
{
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op); /* read first: after DONE the op may be gone */
    VexIoOp *closers = NULL;
    native_done(w, op, result, &closers);
    VX_STAT_INC(w, VX_ST_IO_COMPLETED);
    op_wake(w->rt, w, t, op);
    submit_closers(w, closers);
}

/* Submits a VEX_OP_CLOSE whose handle has no cancellation pending on w's
 * poller state: it completes there (a close is never cancelled, so its
 * owner does not matter once it is out). */
static void close_submit(VxWorker *w, VexIoOp *op)
{
    Runtime *rt = w->rt;
    int rc = vx_plat_poller_submit(&rt->sys, rt->poller, w->plocal, op, op_token(op));
    if (rc == 0) return;
    VxTask *t = (VxTask *)(uintptr_t)OP_TASK(op);
    op->result = rc;
    op_set_state(op, OP_DONE);
    op_wake(rt, w, t, op);
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
    VxIoRes *r = res_lookup(rt, op->handle);
    if (r) {
        VexIoOp *closers = NULL;
        res_forget(rt, w, r, op);
        remote_cancel_done(rt, r, &closers); /* res_forget's extra count */
        if (closers != op) return VX_WAKE_NONE; /* another worker submits it */
    }
    int rc = vx_plat_poller_submit(&rt->sys, rt->poller, w->plocal, op, op_token(op));
    if (rc == 0) return VX_WAKE_NONE;
    op->result = rc;
    op_set_state(op, OP_DONE);
    return VX_WAKE_COMPLETED;
}

/* Asks the owner of native op to cancel it (the runner w holds the task). */
static void op_request_cancel(VxWorker *w, VexIoOp *op)
{
    cancel_native(w->rt, w, op);
}

/* Issues the cancellations other workers queued for w. */
static void drain_cancels(VxWorker *w)
{
    VxIoCancels *c = &w->cancels;
    if (!atomic_load_explicit(&c->pending, memory_order_seq_cst)) return;
    Runtime *rt = w->rt;
    VexIoOp *closers = NULL;
    vx_lock(&c->lock, &rt->sys);
    for (VexIoOp *op = c->ops; op;) {
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(op);
        vx_plat_poller_cancel(&rt->sys, rt->poller, w->plocal, op_token(op));
        /* op is still ours: its completion takes this lock to finish it. */
        remote_cancel_done(rt, res_lookup(rt, op->handle), &closers);
        op = next;
    }
    c->ops = NULL;
    for (uint32_t i = 0; i < c->ntokens; i++) {
        vx_plat_poller_cancel(&rt->sys, rt->poller, w->plocal, c->tokens[i]);
        remote_cancel_done(rt, token_res(c->tokens[i]), &closers);
    }
    c->ntokens = 0;
    atomic_store_explicit(&c->pending, 0, memory_order_relaxed);
    vx_unlock(&c->lock, &rt->sys);
    submit_closers(w, closers);
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
    if ((s >> 8) != (seen >> 8) && (dirs_for((uint32_t)(s & READY_MASK)) & d)) {
        vx_unlock(&r->lock, &rt->sys);
        return 0; /* an edge came while we tried */
    }
    if (waiter_live(&r->w[side])) {
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
    int rc = arm_polls(rt, w, r, need, epoch);
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
    VxIoRes *r = res_get(rt, op->handle); /* the handle's range was checked at submission */
    if (!r) {
        *fail = VEX_ENOMEM;
        return NULL;
    }
    int rc = edge_mode(rt) ? ensure_registered(rt, w, r) : 0;
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
        VxIoRes *old = res_lookup(rt, op->handle);
        if (old) res_forget(rt, w, old, NULL);
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
        bool skip = r && (seen >> 8) != 0 && !(dirs_for((uint32_t)(seen & READY_MASK)) & d) &&
                    op->opcode != VEX_OP_CONNECT;
        int rc = skip ? VEX_EAGAIN : vx_plat_io_try(&rt->sys, op);
        if (rc == 0) {
            /* A short transfer on a byte stream drained it (or filled it):
             * with edge triggering, more data or room is a new edge. */
            if (r && op->result >= 0 && (size_t)op->result < op->len && op->opcode != VEX_OP_ACCEPT &&
                op->opcode != VEX_OP_CONNECT &&
                (atomic_load_explicit(&r->flags, memory_order_relaxed) & VX_RES_STREAM))
                clear_ready_if_quiet(r, seen, poll_bits_for(d));
            return true;
        }
        if (rc == VEX_EAGAIN && r) {
            clear_ready_if_quiet(r, seen, poll_bits_for(d));
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
        pool_submit(rt, op);
        return false;
    }
}

/* Why op cannot be started (0 if it can). */
static int op_invalid(const VexIoOp *op)
{
    if (!valid_opcode(op->opcode)) return VEX_EINVAL;
    if (!handle_in_range(op->handle)) return VEX_EBADF;
    if (!op->buf && op->len && op->opcode != VEX_OP_ACCEPT) return VEX_EINVAL;
    return 0;
}

static unsigned fn_start(VxWorker *w, VxTask *t, uint64_t gen, VexIoOp *op);

unsigned vx_io_op_start(VxWorker *w, VxTask *t, uint64_t gen)
{
    Runtime *rt = w->rt;
    VexIoOp *op = (VexIoOp *)w->ctx.await_src;
    if (op->opcode == 0) return fn_start(w, t, gen, op);
    int bad = op_invalid(op);
    OP_TASK(op) = (uint64_t)(uintptr_t)t;
    OP_META(op) = op_meta(gen, w->id, 0);
    OP_LINK(op) = 0;
    OP_NEXT(op) = 0;
    OP_PLAT(op) = 0;
    op->result = 0;
    op_set_state(op, OP_IDLE);
    atomic_store_explicit(&t->wait_src, op, memory_order_relaxed);
    /* seq_cst: published before anyone can complete the op (op_complete). */
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
    t->wait_kind = VX_WAIT_OP;
    t->io_events = 0;
    VX_STAT_INC(w, VX_ST_IO_SUBMITTED);
    mark_active(rt);
    if (bad || !rt->poller) {
        op->result = bad ? bad : VEX_ENOSYS;
        op_set_state(op, OP_DONE);
        return VX_WAKE_COMPLETED;
    }
    if (native_ops(rt)) {
        if (op->opcode == VEX_OP_CLOSE) return close_start(w, op);
        int rc = op_track(rt, op);
        if (rc == 0) {
            rc = vx_plat_poller_submit(&rt->sys, rt->poller, w->plocal, op, op_token(op));
            if (rc == 0) return VX_WAKE_NONE;
            VexIoOp *closers = NULL;
            native_done(w, op, rc, &closers);
            submit_closers(w, closers);
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
    VxIoRes *r = res_lookup(rt, op->handle);
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
        } else if (st == OP_POOL && is_abort(why) && pool_unqueue(rt, op)) {
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
         * the state once more (seq_cst, against op_complete's store). */
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

static void fnjob_free(Runtime *rt, VxFnJob *j);

void vx_io_op_release(VxWorker *w, VxTask *t)
{
    /* The task's own op may be gone by now (the resume may have freed it):
     * only a blocking job, which is ours, is looked at (io_events marks it). */
    VexIoOp *op = (VexIoOp *)atomic_load_explicit(&t->wait_src, memory_order_relaxed);
    if (t->io_events == VX_OPWAIT_JOB) fnjob_free(w->rt, (VxFnJob *)(void *)op);
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
    t->io_events = 0;
}

void vx_io_drop_pending(WorkerContext *ctx)
{
    if (ctx->await_kind == VX_WAIT_OP && ctx->await_src &&
        ((VexIoOp *)ctx->await_src)->opcode == 0)
        fnjob_free(ctx->rt, (VxFnJob *)ctx->await_src);
    ctx->await_kind = VX_WAIT_NONE;
    ctx->await_src = NULL;
}

/* --- Blocking pool ---
 *
 * Up to VX_POOL_MAX threads from the platform, started when a job finds no
 * idle one and kept until the runtime is destroyed. Jobs are VexIoOps run
 * with io_blocking, or VxFnJobs (opcode 0) from worker_await_blocking. */
#define VX_POOL_MAX 4

struct VxFnJob {
    VexIoOp op; /* first: the job is queued and completed as an op */
    void (*fn)(void *);
    void *arg;
    struct VxFnJob *prev, *next; /* rt->fnjobs, so destroy frees jobs never released */
};

/* Unlinks and frees a job that never started or has finished. */
static void fnjob_free(Runtime *rt, VxFnJob *j)
{
    vx_lock(&rt->pool_lock, &rt->sys);
    if (j->prev)
        j->prev->next = j->next;
    else
        rt->fnjobs = j->next;
    if (j->next) j->next->prev = j->prev;
    vx_unlock(&rt->pool_lock, &rt->sys);
    vx_mem_free(&rt->sys, j, sizeof *j, _Alignof(VxFnJob));
}

/* Runs a job taken off the pool's queue (a function job, or an op the
 * platform performs blocking) and completes it. Counted as it starts: a
 * job dropped from the queue by a timeout or a cancel never ran. */
static void run_job(Runtime *rt, VexIoOp *op)
{
    if (op->opcode == 0) {
        VxFnJob *j = (VxFnJob *)(void *)op;
        atomic_fetch_add_explicit(&rt->pool_jobs_run, 1, memory_order_relaxed);
        j->fn(j->arg);
        op->result = 0;
    } else {
        vx_plat_io_blocking(&rt->sys, op);
    }
    op_complete(rt, NULL, op);
}

static void pool_thread(void *arg)
{
    Runtime *rt = (Runtime *)arg;
    vx_lock(&rt->pool_lock, &rt->sys);
    for (;;) {
        while (!rt->pool_head && !rt->pool_stop) {
            uint32_t sig = atomic_load_explicit(&rt->pool_signal, memory_order_acquire);
            rt->pool_idle++;
            vx_unlock(&rt->pool_lock, &rt->sys);
            vx_plat_park(&rt->sys, &rt->pool_signal, sig, VEX_WAIT_FOREVER);
            vx_lock(&rt->pool_lock, &rt->sys);
            rt->pool_idle--;
        }
        if (rt->pool_stop) break;
        VexIoOp *op = rt->pool_head;
        rt->pool_head = (VexIoOp *)(uintptr_t)OP_NEXT(op);
        if (!rt->pool_head) rt->pool_tail = NULL;
        vx_unlock(&rt->pool_lock, &rt->sys);
        run_job(rt, op);
        vx_lock(&rt->pool_lock, &rt->sys);
    }
    vx_unlock(&rt->pool_lock, &rt->sys);
}

VX_INLINE size_t thread_bytes(Runtime *rt) { return rt->sys.p->thread_size ? rt->sys.p->thread_size : 1; }

static void pool_submit(Runtime *rt, VexIoOp *op)
{
    op_set_state(op, OP_POOL);
    OP_NEXT(op) = 0;
    vx_lock(&rt->pool_lock, &rt->sys);
    if (rt->pool_tail)
        OP_NEXT(rt->pool_tail) = (uint64_t)(uintptr_t)op;
    else
        rt->pool_head = op;
    rt->pool_tail = op;
    if (rt->pool_idle == 0 && rt->pool_threads < VX_POOL_MAX && !rt->pool_stop) {
        if (!rt->pool_thread_mem)
            rt->pool_thread_mem = vx_mem_alloc(&rt->sys, thread_bytes(rt) * VX_POOL_MAX, 16);
        if (rt->pool_thread_mem &&
            vx_plat_thread_spawn(&rt->sys,
                                 (char *)rt->pool_thread_mem + thread_bytes(rt) * rt->pool_threads,
                                 pool_thread, rt) == 0)
            rt->pool_threads++;
    }
    bool no_thread = rt->pool_threads == 0 && !rt->pool_stop;
    vx_unlock(&rt->pool_lock, &rt->sys);
    if (no_thread && pool_unqueue(rt, op)) {
        /* No thread could be started: run it here rather than never. */
        run_job(rt, op);
        return;
    }
    atomic_fetch_add_explicit(&rt->pool_signal, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &rt->pool_signal, 1);
}

/* Removes op from the pool's queue if no thread took it yet. */
static bool pool_unqueue(Runtime *rt, VexIoOp *op)
{
    bool found = false;
    vx_lock(&rt->pool_lock, &rt->sys);
    VexIoOp *prev = NULL;
    for (VexIoOp *q = rt->pool_head; q; prev = q, q = (VexIoOp *)(uintptr_t)OP_NEXT(q)) {
        if (q != op) continue;
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(q);
        if (prev)
            OP_NEXT(prev) = (uint64_t)(uintptr_t)next;
        else
            rt->pool_head = next;
        if (rt->pool_tail == q) rt->pool_tail = prev;
        found = true;
        break;
    }
    vx_unlock(&rt->pool_lock, &rt->sys);
    return found;
}

void vx_io_pool_stop(Runtime *rt)
{
    vx_lock(&rt->pool_lock, &rt->sys);
    rt->pool_stop = true;
    uint32_t n = rt->pool_threads;
    vx_unlock(&rt->pool_lock, &rt->sys);
    atomic_fetch_add_explicit(&rt->pool_signal, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &rt->pool_signal, UINT32_MAX);
    for (uint32_t i = 0; i < n; i++)
        vx_plat_thread_join(&rt->sys, (char *)rt->pool_thread_mem + thread_bytes(rt) * i);
    if (rt->pool_thread_mem)
        vx_mem_free(&rt->sys, rt->pool_thread_mem, thread_bytes(rt) * VX_POOL_MAX, 16);
    rt->pool_thread_mem = NULL;
    rt->pool_threads = 0;
    rt->pool_head = rt->pool_tail = NULL;
    /* Jobs whose tasks will never resume (the runtime stopped first). */
    while (rt->fnjobs) {
        VxFnJob *j = rt->fnjobs;
        rt->fnjobs = j->next;
        vx_mem_free(&rt->sys, j, sizeof *j, _Alignof(VxFnJob));
    }
}

static unsigned fn_start(VxWorker *w, VxTask *t, uint64_t gen, VexIoOp *op)
{
    Runtime *rt = w->rt;
    OP_TASK(op) = (uint64_t)(uintptr_t)t;
    OP_META(op) = op_meta(gen, w->id, 0);
    atomic_store_explicit(&t->wait_src, op, memory_order_relaxed);
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_seq_cst);
    t->wait_kind = VX_WAIT_OP;
    t->io_events = VX_OPWAIT_JOB;
    pool_submit(rt, op);
    return VX_WAKE_NONE;
}

/* --- Events --- */

/* Delivers a readiness report (bits, or a failed arm: res < 0) for r to its
 * waiters. tok_dirs: the sides of the one-shot poll that reported. */
static unsigned on_ready(VxWorker *w, VxIoRes *r, int64_t res, uint32_t tok_dirs, uint32_t epoch)
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
    if (rearm && arm_polls(rt, w, r, rearm, ep) != 0) {
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

unsigned vx_io_dispatch(VxWorker *w, uint32_t n)
{
    unsigned woke = 0;
    VX_STAT_ADD(w, VX_ST_POLLER_EVENTS, n);
    for (uint32_t i = 0; i < n; i++) {
        VexPollerEvent *ev = &w->events[i];
        uint64_t tag = ev->token & TAG_MASK;
        if (tag == TAG_RES && ev->kind == VEX_PEV_READY) {
            woke += on_ready(w, token_res(ev->token), ev->result, (uint32_t)(ev->token >> 2) & 3,
                             (uint32_t)(ev->token >> 4) & 3);
        } else if (tag == TAG_OP && ev->kind == VEX_PEV_DONE) {
            op_complete_native(w, (VexIoOp *)(uintptr_t)(ev->token & ~(uint64_t)TAG_MASK),
                               ev->result);
            woke++;
        }
    }
    return woke;
}

/* --- Waiting in the poller --- */

bool vx_io_per_worker(Runtime *rt) { return rt->poller && (rt->pcaps & VEX_POLLER_PER_WORKER); }

uint32_t vx_io_poll_seq(Runtime *rt) { return atomic_load_explicit(&rt->poll_seq, memory_order_relaxed); }

bool vx_io_can_wait(VxWorker *w, bool *took_driver)
{
    Runtime *rt = w->rt;
    *took_driver = false;
    if (!rt->poller) return false;
    if (rt->pcaps & VEX_POLLER_PER_WORKER) return true;
    uint32_t z = 0;
    /* acquire: the previous driver's dispatch happened before. */
    if (atomic_compare_exchange_strong_explicit(&rt->driver, &z, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        *took_driver = true;
        return true;
    }
    return false;
}

void vx_io_release_driver(VxWorker *w)
{
    atomic_store_explicit(&w->rt->driver, 0, memory_order_release);
}

uint32_t vx_io_collect(VxWorker *w, uint64_t timeout_ns)
{
    Runtime *rt = w->rt;
    drain_cancels(w);
    w->poll_own_seq = atomic_fetch_add_explicit(&rt->poll_seq, 1, memory_order_relaxed) + 1;
    uint32_t n = 0;
    vx_plat_poller_wait(&rt->sys, rt->poller, w->plocal, timeout_ns, w->events, VX_EVENTS_MAX, &n);
    return n;
}

unsigned vx_io_poll(VxWorker *w)
{
    bool drv;
    if (!vx_io_active(w->rt) || !vx_io_can_wait(w, &drv)) return 0;
    uint32_t n = vx_io_collect(w, 0);
    if (drv) vx_io_release_driver(w); /* another worker may poll while we dispatch */
    return n ? vx_io_dispatch(w, n) : 0;
}

void vx_io_wake(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (!rt->poller) return;
    vx_plat_poller_wake(&rt->sys, rt->poller, w->plocal);
}

/* --- Public entry points --- */

int worker_await_ioh(WorkerContext *ctx, IoHandle h, EventType type)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!(type & (EVENT_TYPE_READABLE | EVENT_TYPE_WRITABLE))) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    if (!ctx->rt->poller) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_ENOSYS);
    if (!handle_in_range(h)) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EBADF);
    vx_io_drop_pending(ctx);
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_IO;
    ctx->await_io = h;
    ctx->await_events = (uint8_t)(type & (EVENT_TYPE_READABLE | EVENT_TYPE_WRITABLE));
    return 0;
}

int worker_await_io(WorkerContext *ctx, int fd, EventType type)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (fd < 0) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EBADF);
    return worker_await_ioh(ctx, (IoHandle)fd, type);
}

int worker_await_op(WorkerContext *ctx, VexIoOp *op)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!op) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    /* A bad op is taken anyway, and completes at once with its error in
     * op->result (vx_io_op_start), so that the wait never hangs. */
    vx_io_drop_pending(ctx);
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_OP;
    ctx->await_src = op;
    return op_invalid(op);
}

int worker_await_blocking(WorkerContext *ctx, void (*fn)(void *arg), void *arg)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!fn) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    Runtime *rt = ctx->rt;
    VxFnJob *j = (VxFnJob *)vx_mem_alloc(&rt->sys, sizeof *j, _Alignof(VxFnJob));
    if (!j) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_ENOMEM);
    vx_zero(j, sizeof *j);
    j->fn = fn;
    j->arg = arg;
    vx_lock(&rt->pool_lock, &rt->sys);
    j->next = rt->fnjobs;
    if (j->next) j->next->prev = j;
    rt->fnjobs = j;
    vx_unlock(&rt->pool_lock, &rt->sys);
    vx_io_drop_pending(ctx); /* a second await in one resume replaces the first */
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_OP;
    ctx->await_src = &j->op; /* opcode 0: a function job */
    return 0;
}

int vex_io_forget(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    VxIoRes *r = res_lookup(rt, h);
    if (!r) return 0;
    VxWorker *w = vx_sched_current(rt);
    res_forget(rt, w, r, NULL);
    wait_remote_cancels(rt, w, r);
    return 0;
}

int vex_signal_open(Runtime *rt, int signo, IoHandle *out)
{
    if (!rt || !out) return VEX_EINVAL;
    return vx_plat_signal_open(&rt->sys, signo, out);
}

int vex_signal_consume(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    return vx_plat_signal_consume(&rt->sys, h);
}

int vex_signal_close(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    vex_io_forget(rt, h);
    return vx_plat_signal_close(&rt->sys, h);
}

const char *runtime_io_backend(Runtime *rt)
{
    if (!rt || !rt->poller) return "none";
    const char *n = rt->sys.p->name;
    return n ? n : "unknown";
}
