/* core/io.h - the core's I/O layer as the rest of the core sees it: the
 * state a runtime keeps (VxIo), the per-handle record, the per-worker cancel
 * queue, and the calls the scheduler makes. Platform-agnostic: every system
 * call is a poller or io_* entry of the platform vtable (core/plat.h).
 *
 * Files: io_table.c (handle -> record), io_ready.c (readiness awaits and
 * reports), io_op.c (completion operations), io_cancel.c (cancelling on the
 * worker that holds a request, forgetting a handle), io_driver.c (setup and
 * who waits in the poller), io_api.c (the public entry points); the
 * blocking pool is pool.c. io_internal.h is what those files share. */
#ifndef VX_IO_H
#define VX_IO_H

#include "lock.h"
#include "slab.h"
#include "task.h"
#include "vexrt/io.h"

struct VxWorker;
struct Runtime;

/* A task waiting on one side of a handle: for a readiness await (src is the
 * record) or for an emulated operation (src is the VexIoOp). */
typedef struct VxIoWaiter {
    VxTask *task;   /* NULL: no waiter on this side */
    uint64_t gen;   /* the task's wait generation (the low 32 bits are compared) */
    void *src;
} VxIoWaiter;

/* One record per handle the runtime has seen, type-stable (records are freed
 * only with the runtime), so a late poller event always points at valid
 * memory. 64-byte aligned by the pool: tokens carry a tag, the directions of
 * a one-shot poll and the record's epoch in their low six bits. */
typedef struct VxIoRes {
    VxLock lock;             /* everything below but rstate, remote_cancels, closer */
    _Atomic uint32_t flags;  /* VX_RES_* */
    /* Ready bits (VEX_POLL_*) in the low byte, an event counter above: an
     * operation that saw "would block" clears a ready bit only if no event
     * arrived since it looked (Tokio's readiness tick). io_internal.h. */
    _Atomic uint64_t rstate;
    uint8_t armed;           /* one-shot pollers: sides with a poll out, this epoch */
    uint8_t epoch;           /* bumped when the handle is forgotten; stale events are dropped */
    uint16_t arm_owner[2];   /* worker whose poller state holds each side's poll */
    /* Cancellations of this handle's polls and native ops queued on other
     * workers and not issued yet; the closing path waits for 0
     * (io_cancel.c). Atomic; futex word for vex_io_forget's wait. */
    _Atomic uint32_t remote_cancels;
    IoHandle handle;
    VxIoWaiter w[2];         /* [0] the read side, [1] the write side */
    struct VexIoOp *ops;     /* native ops in flight on the handle, linked through their
                              * OP_LINK word (VEX_OP_CLOSE excluded) */
    struct VexIoOp *_Atomic closer; /* a VEX_OP_CLOSE waiting for remote_cancels to reach 0 */
} VxIoRes;

#define VX_RES_REGISTERED 1u  /* edge pollers: registered with the poller */
#define VX_RES_STREAM 2u      /* a byte stream: a short transfer means drained or full */
#define VX_RES_FORGET_WAIT 4u /* vex_io_forget parks on remote_cancels */

/* Per-worker queue of polls and native ops to cancel on that worker's
 * poller state (io_uring requests must be cancelled by the ring that holds
 * them). Filled by other threads, drained by its worker (io_cancel.c). */
typedef struct VxIoCancels {
    VxLock lock;               /* ops, tokens, ntokens, cap */
    _Atomic uint32_t pending;  /* entries queued; read without the lock */
    struct VexIoOp *ops;       /* native ops, linked through their OP_NEXT word */
    uint64_t *tokens;          /* poll tokens */
    uint32_t ntokens, cap;
} VxIoCancels;

/* A runtime's I/O state. */
typedef struct VxIo {
    void *poller;                  /* shared poller state, NULL without a poller */
    char *plocal_mem;              /* nworkers local states */
    uint32_t caps;                 /* VEX_POLLER_* */
    bool inited;                   /* vx_io_init ran (vx_io_fini undoes it) */
    _Atomic bool used;             /* any I/O await or op seen (vx_io_active) */
    /* Workers set up their poller state on their own threads at start;
     * creation parks on `attached` until all did. */
    _Atomic int attach_error;      /* first worker attach failure */
    _Atomic uint32_t attached;     /* workers that ran their attach */
    VX_ALIGNED _Atomic uint32_t driver; /* shared pollers: 1 while a worker waits in it */
    _Atomic uint32_t poll_seq;     /* bumped by every look at the poller */
    /* The handle table (io_table.c): top -> mid -> leaf -> record. */
    _Atomic(VxIoRes **) *table;
    VxLock table_lock;             /* growing the table, creating records */
    VxSlab records;
} VxIo;

/* --- Calls the scheduler and the runtime make --- */

/* Sets up the runtime's I/O state (poller, handle table); called by
 * vx_runtime_new once the workers array exists, before threads start. */
int vx_io_init(struct Runtime *rt);
/* Releases it, after every worker thread and pool thread has exited. */
void vx_io_fini(struct Runtime *rt);
/* Sets up a worker's poller state, on the worker's own thread. */
int vx_io_attach(struct VxWorker *w);
/* As vx_io_attach, for a worker whose waits a host loop makes
 * (vexrt/embed.h): *handle becomes readable when the worker has I/O to
 * handle. VEX_ENOSYS: attached (if 0 is not returned for another reason),
 * but the backend gives no such handle; without a poller, not attached. */
int vx_io_attach_host(struct VxWorker *w, IoHandle *handle);
/* Releases it, from vx_io_fini: after every thread that could wake the
 * worker's poller (workers, pool threads) has been joined. */
void vx_io_detach(struct VxWorker *w);

/* Arms the I/O await of the current resume (ctx->await_io/events) for task
 * t's wait gen; returns a wake reason if it is already satisfied or cannot
 * be armed (the caller wakes the task at once), else VX_WAKE_NONE. */
unsigned vx_io_arm(struct VxWorker *w, VxTask *t, uint64_t gen);
/* Releases what the previous I/O await left registered. */
void vx_io_release(struct VxWorker *w, VxTask *t);
/* Starts the operation or blocking job of the current resume
 * (ctx->await_src); same return as vx_io_arm. */
unsigned vx_io_op_start(struct VxWorker *w, VxTask *t, uint64_t gen);
/* Called by the runner before resuming a task whose wait was an operation
 * or a job: finishes it if the wake was a timeout, a cancellation or
 * readiness to retry. Returns true if the task was parked again (not to be
 * resumed now); else *reason is the wake reason the resume reports. */
bool vx_io_op_continue(struct VxWorker *w, VxTask *t, unsigned *reason);
/* Releases the previous operation or job wait (frees a finished job). */
void vx_io_op_release(struct VxWorker *w, VxTask *t);
/* Forgets the non-timer await registered so far in this resume (frees a
 * blocking job not yet started); called when another await replaces it or
 * the task finishes. */
void vx_io_drop_pending(WorkerContext *ctx);
/* Called by the pool once a job ran: wakes its task. Any thread. */
void vx_io_op_finished(struct Runtime *rt, struct VexIoOp *op);

/* True once the runtime has seen any I/O: idle workers then sleep in the
 * poller at once instead of spinning. */
bool vx_io_active(struct Runtime *rt);
/* Collects poller events without blocking and wakes their tasks onto w;
 * returns how many tasks were woken. */
unsigned vx_io_poll(struct VxWorker *w);
/* True if w can sleep in a poller: its own, or the shared one whose driver
 * role it just took (*took_driver: give it back with vx_io_release_driver). */
bool vx_io_can_wait(struct VxWorker *w, bool *took_driver);
void vx_io_release_driver(struct VxWorker *w);
/* True if each worker has its own poller state to wait in (io_uring). */
bool vx_io_per_worker(struct Runtime *rt);
/* A counter of looks at the poller, to tell whether anyone polled lately. */
uint32_t vx_io_poll_seq(struct Runtime *rt);
/* Waits in the poller for at most timeout_ns (0: just look) and leaves the
 * events in w->own.events; returns their count. A worker that sleeps here
 * has marked itself VX_PARK_POLLING. */
uint32_t vx_io_collect(struct VxWorker *w, uint64_t timeout_ns);
/* Wakes the tasks of the n events in w->own.events onto w; returns how many. */
unsigned vx_io_dispatch(struct VxWorker *w, uint32_t n);
/* Makes w's poller wait return (w marked itself VX_PARK_POLLING). */
void vx_io_wake(struct VxWorker *w);

#endif /* VX_IO_H */
