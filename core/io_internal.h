/* core/io_internal.h - what the I/O layer's files share (io_table.c,
 * io_ready.c, io_op.c, io_cancel.c, io_driver.c, io_api.c, pool.c): the
 * token encoding, an operation's internal words and states, the readiness
 * word of a record, and the calls between those files. Not for the rest
 * of the core (it uses io.h).
 *
 * Readiness on edge pollers (epoll, kqueue): a handle is registered once,
 * edge-triggered, for read and write. Each event sets ready bits in its
 * record and bumps the record's event counter. An operation that would block
 * clears its ready bit only if no event arrived since it looked, so an edge
 * is never lost; an operation that finds the bit clear waits without a
 * system call. One-shot pollers (io_uring, IOCP's AFD polls) get one poll
 * per side, and the record remembers which sides have one out.
 *
 * Wake-ups go through vx_task_wake_src with the record (await) or the op
 * (operation) as the source, so a late event for a wait that ended another
 * way never wakes a later wait. */
#ifndef VX_IO_INTERNAL_H
#define VX_IO_INTERNAL_H

#include "pool.h"
#include "rt.h"
#include "vexrt/task.h"

/* --- Tokens ---
 * A record's token is its address (64-byte aligned) with, in the low six
 * bits: the kind (VEX_TOKEN_OP clear), the sides of a one-shot poll (bits
 * 2-3) and the record's epoch (bits 4-5). An op's token is its address with
 * VEX_TOKEN_OP set (the contract in vexrt/platform.h). */
#define TAG_MASK 3u
#define RES_ALIGN 64u

enum { DIR_R = 1, DIR_W = 2 }; /* bit per side; side index = bit - 1 */

_Static_assert(sizeof(VxIoRes) <= 128, "records are 128-byte pool objects");
_Static_assert(VX_SLAB_HEADER % RES_ALIGN == 0, "pool objects of 128 bytes are 64-byte aligned");

VX_INLINE uint64_t res_token(VxIoRes *r, uint32_t dirs, uint32_t epoch)
{
    return (uint64_t)(uintptr_t)r | ((uint64_t)dirs << 2) | ((uint64_t)(epoch & 3) << 4);
}

VX_INLINE VxIoRes *token_res(uint64_t tok)
{
    return (VxIoRes *)(uintptr_t)(tok & ~(uint64_t)(RES_ALIGN - 1));
}

VX_INLINE uint32_t token_dirs(uint64_t tok) { return (uint32_t)(tok >> 2) & 3; }
VX_INLINE uint32_t token_epoch(uint64_t tok) { return (uint32_t)(tok >> 4) & 3; }

VX_INLINE uint64_t op_token(VexIoOp *op) { return (uint64_t)(uintptr_t)op | VEX_TOKEN_OP; }

/* --- An operation's internal words (internal[5] belongs to the platform) --- */
#define OP_TASK(op) ((op)->internal[0])
#define OP_META(op) ((op)->internal[1]) /* see op_meta(): gen, owner, abort reason */
#define OP_STATE(op) ((op)->internal[2])
#define OP_LINK(op) ((op)->internal[3]) /* native ops: the record's in-flight list */
#define OP_NEXT(op) ((op)->internal[4]) /* pool queue, cancel list or closer list link */
#define OP_PLAT(op) ((op)->internal[5])

/* The states of an op (OP_STATE, an atomic word). Transitions:
 *   IDLE -> NATIVE | READY_WAIT | POOL | DONE      (vx_io_op_start)
 *   NATIVE -> DONE | CANCELLING                    (completion; a cancel request)
 *   READY_WAIT -> READY_WAIT | POOL | DONE         (a retry; an abort)
 *   POOL -> DONE | CANCELLING                      (the job ran; an abort while it runs)
 *   CANCELLING -> DONE                             (completion) */
enum {
    OP_IDLE = 0,
    OP_NATIVE,     /* submitted to the poller */
    OP_READY_WAIT, /* emulated: waiting for readiness to try again */
    OP_POOL,       /* queued on or running in the blocking pool */
    OP_DONE,
    OP_CANCELLING  /* native or pool op asked to finish early; completion pending */
};

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

/* seq_cst: an op's state is read and written by its runner, its owner and
 * its completer, each of which then looks at the task's wait word; these
 * are the Dekker pairs io_op.c describes. */
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

/* True if h can have a record (the table covers 2^32 handles). */
VX_INLINE bool handle_in_range(IoHandle h) { return (uint64_t)h < ((uint64_t)1 << 32); }

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

VX_INLINE bool edge_mode(Runtime *rt) { return (rt->io.caps & VEX_POLLER_EDGE) != 0; }

VX_INLINE bool native_ops(Runtime *rt) { return (rt->io.caps & VEX_POLLER_NATIVE_OPS) != 0; }

VX_INLINE void *local_of(VxWorker *w) { return w ? w->plocal : NULL; }

VX_INLINE void mark_active(Runtime *rt)
{
    if (!atomic_load_explicit(&rt->io.used, memory_order_relaxed))
        atomic_store_explicit(&rt->io.used, true, memory_order_relaxed);
}

/* --- A record's readiness word (rstate) --- */
#define READY_MASK ((uint64_t)0xFF)
#define RSTATE_TICK_SHIFT 8
#define TICK_ONE ((uint64_t)1 << RSTATE_TICK_SHIFT)

/* The event counter part of rstate: two reads are of the same state of the
 * handle's readiness if they have the same count. */
VX_INLINE uint64_t rstate_events(uint64_t s) { return s >> RSTATE_TICK_SHIFT; }

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

/* Why op cannot be started (0 if it can): VEX_EINVAL or VEX_EBADF. */
VX_INLINE int vx_op_invalid(const VexIoOp *op)
{
    if (!valid_opcode(op->opcode)) return VEX_EINVAL;
    if (!handle_in_range(op->handle)) return VEX_EBADF;
    if (!op->buf && op->len && op->opcode != VEX_OP_ACCEPT) return VEX_EINVAL;
    return 0;
}

/* --- The handle table (io_table.c) --- */

/* Sets up / frees rt's table. */
int vx_res_table_init(Runtime *rt);
void vx_res_table_free(Runtime *rt);
/* Returns the record of h, or NULL if the runtime never saw h. Any thread. */
VxIoRes *vx_res_lookup(Runtime *rt, IoHandle h);
/* Returns the record of h, creating it; NULL if h is out of range or memory
 * ran out. Any thread. */
VxIoRes *vx_res_get(Runtime *rt, IoHandle h);

/* --- Readiness (io_ready.c) --- */

/* Clears ready bits of r if no event arrived since `seen` was read. */
void vx_ready_clear_if_quiet(VxIoRes *r, uint64_t seen, uint32_t bits);
/* Edge pollers: makes sure r is registered. Returns 0 or a VEX_E* code. */
int vx_ready_register(Runtime *rt, struct VxWorker *w, VxIoRes *r);
/* True if a waiter slot still holds a task parked on it (not stale). */
bool vx_ready_waiter_live(const VxIoWaiter *wt);
/* One-shot pollers: the polls of r's sides in dirs that are out with no
 * waiter left; their tokens in tok[] and owners in own[] (to cancel after
 * unlocking). Caller holds r's lock. */
uint32_t vx_ready_orphan_polls_locked(VxIoRes *r, uint32_t dirs, uint64_t tok[2], uint32_t own[2]);
/* Arms one-shot polls for sides `need` of r (marked armed by the caller),
 * as worker w. Returns 0 or the first error. */
int vx_ready_arm_polls(Runtime *rt, struct VxWorker *w, VxIoRes *r, uint32_t need, uint32_t epoch);
/* Delivers a readiness report (bits, or a failed arm: res < 0) for r to its
 * waiters, as worker w; returns how many tasks it woke. */
unsigned vx_ready_report(struct VxWorker *w, VxIoRes *r, int64_t res, uint32_t tok_dirs,
                         uint32_t epoch);

/* --- Cancelling and forgetting (io_cancel.c) --- */

/* Wakes o if it sleeps in its poller, so it issues what was queued on it. */
void vx_cancel_kick(Runtime *rt, struct VxWorker *o);
/* Cancels the poll made with token on worker owner's poller state: at once
 * if w is that worker, else through owner's cancel queue. */
void vx_cancel_poll(Runtime *rt, struct VxWorker *w, uint32_t owner, uint64_t token);
/* Asks native op (state NATIVE) to finish early, like vx_cancel_poll. */
void vx_cancel_native(Runtime *rt, struct VxWorker *w, VexIoOp *op);
/* A cancellation queued on another worker for r was issued or became moot;
 * a close it was holding back is pushed on *closers (io_cancel.c). */
void vx_cancel_remote_done(Runtime *rt, VxIoRes *r, VexIoOp **closers);
/* Issues the cancellations other workers queued for w. Owner. */
void vx_io_drain_cancels(struct VxWorker *w);
/* Drops what the runtime knows of r's handle and ends what is in flight on
 * it; with closer, registers that VEX_OP_CLOSE (io_cancel.c). */
void vx_res_forget(Runtime *rt, struct VxWorker *w, VxIoRes *r, VexIoOp *closer);
/* Waits until the cancellations vx_res_forget queued on other workers for
 * r have been issued. */
void vx_res_wait_cancels(Runtime *rt, struct VxWorker *w, VxIoRes *r);

/* --- Operations (io_op.c) --- */

/* Wakes the task of a finished op (its result is set, state DONE). */
void vx_op_wake(Runtime *rt, struct VxWorker *w, VxTask *t, VexIoOp *op);
/* Finishes a native op on its owner w and wakes its task. */
void vx_op_complete_native(struct VxWorker *w, VexIoOp *op, int64_t result);
/* Submits each close of the list (linked through OP_NEXT) on w. */
void vx_op_submit_closers(struct VxWorker *w, VexIoOp *closers);

#endif /* VX_IO_INTERNAL_H */
