/* core/task.h - the task object and its state word.
 *
 * One 64-bit atomic word per task carries everything wake sources race on:
 *
 *   bit 0  WAITING    parked on one or more awaits; the first matching wake
 *                     makes it runnable (and is the only one that enqueues it)
 *   bit 1  NOTIFIED   a wake arrived while the task was queued or running;
 *                     the next park attempt consumes it and re-queues instead
 *   bit 2  CANCELLED  cancellation requested (sticky)
 *   bit 3  SOURCE     the word belongs to a cancel source, not a task
 *   4..7   reason     why the last wake happened (VX_WAKE_*)
 *   8..63  gen        wait generation
 *
 * Protocol (Tokio's RUNNING/NOTIFIED model adapted to resume functions, with
 * Go's sequence numbers for stale wake-ups):
 *   - the runner arms this resume's awaits with the current gen, then tries
 *     to park: CAS to WAITING, unless NOTIFIED is set, in which case it clears
 *     it, bumps gen and re-queues the task at once;
 *   - a wake names the gen it was armed with; a different gen is stale and
 *     ignored. On a WAITING task it clears WAITING, bumps gen (so the other
 *     armed source becomes stale) and the caller enqueues the task; on a
 *     queued or running task it only sets NOTIFIED;
 *   - a yield touches nothing: the task stays "scheduled" and is re-queued by
 *     its runner, so the yield path has no atomic read-modify-write;
 *   - a task that finishes bumps gen, so late wakes aimed at it (its slot is
 *     type-stable slab memory, possibly already reused) are ignored.
 * Every transition is a read-modify-write, so all of them are totally ordered:
 * exactly one party enqueues a task per wait, and no wake is lost. */
#ifndef VX_TASK_H
#define VX_TASK_H

#include "vx.h"

#define VX_TS_WAITING ((uint64_t)1)
#define VX_TS_NOTIFIED ((uint64_t)2)
#define VX_TS_CANCELLED ((uint64_t)4)
#define VX_TS_SOURCE ((uint64_t)8)
#define VX_TS_REASON_SHIFT 4
#define VX_TS_REASON_MASK ((uint64_t)0xF << VX_TS_REASON_SHIFT)
#define VX_TS_GEN_SHIFT 8
#define VX_TS_GEN_ONE ((uint64_t)1 << VX_TS_GEN_SHIFT)

/* Wake reasons (values of vexrt/task.h's VexWakeReason). */
enum {
    VX_WAKE_NONE = 0,      /* first resume, or a yield */
    VX_WAKE_READABLE = 1,
    VX_WAKE_WRITABLE = 2,  /* READABLE|WRITABLE = 3 */
    VX_WAKE_TIMER = 4,
    VX_WAKE_CANCELLED = 5,
    VX_WAKE_NOTIFIED = 6,
    VX_WAKE_ERROR = 7,     /* the I/O await could not be armed (bad handle, no poller) */
    VX_WAKE_HANGUP = 8,    /* peer closed / error condition on the handle */
    VX_WAKE_COMPLETED = 9  /* a completion operation finished */
};

/* A cancellation token is a state word: a task's own token is the task's
 * state word; a cancel source (vexrt/cancel.h) starts with one too. */
struct CancelToken {
    _Atomic uint64_t state;
};

struct VxTimer;

typedef struct VxTask {
    /* Read by wakers that may be late (the task finished, its slot reused):
     * the slab pool never writes these bytes (VX_TASK_KEEP), so such a read
     * sees a consistent word, which the generation check then rejects. */
    CancelToken tok;            /* the state word; must stay first */
    void *_Atomic wait_src;     /* notify or I/O record of the current wait, or NULL */
    _Atomic uint32_t wait_gen;  /* low 32 bits of the gen wait_src was armed for */
    uint8_t wait_kind;          /* VX_WAIT_*; runner only */
    uint8_t io_events;          /* VX_WAIT_IO: the sides (DIR_R|DIR_W) armed; runner only */
    uint16_t spare_;
    /* Free for the pool's use while the task is not allocated. */
    coro_resume_func fn;
    void *data;
    struct VxTask *next;        /* spill-list link */
    struct VxTimer *timer;      /* timer of the current or previous wait; runner only */
} VxTask;

#define VX_TASK_KEEP offsetof(VxTask, fn)

/* What wait_src points at (and WorkerContext.await_src, during a resume). */
enum {
    VX_WAIT_NONE = 0,
    VX_WAIT_NOTIFY = 1, /* a VexNotify */
    VX_WAIT_IO = 2,     /* a handle's record (io.h, VxIoRes): a readiness await */
    VX_WAIT_OP = 3,     /* a VexIoOp of the task's */
    VX_WAIT_JOB = 4     /* a blocking job of the runtime's (pool.h) */
};

/* 56 bytes: with the slab's page header, one live task costs about 56.05
 * bytes of runtime memory (the limit is 64). */
_Static_assert(sizeof(VxTask) <= 56, "a task must stay within 56 bytes");

VX_INLINE uint64_t vx_ts_gen(uint64_t s) { return s >> VX_TS_GEN_SHIFT; }
VX_INLINE unsigned vx_ts_reason(uint64_t s)
{
    return (unsigned)((s & VX_TS_REASON_MASK) >> VX_TS_REASON_SHIFT);
}

/* Applies a wake for generation gen with reason. Returns true if the task
 * was WAITING and is now runnable: the caller must enqueue it (exactly one
 * caller per wait gets true). Any thread. */
VX_INLINE bool vx_task_wake(VxTask *t, uint64_t gen, unsigned reason)
{
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_relaxed);
    for (;;) {
        if (vx_ts_gen(s) != gen) return false; /* stale: that wait is over */
        uint64_t n;
        if (s & VX_TS_WAITING)
            n = ((s & ~(VX_TS_WAITING | VX_TS_REASON_MASK)) |
                 ((uint64_t)reason << VX_TS_REASON_SHIFT)) + VX_TS_GEN_ONE;
        else if (s & VX_TS_NOTIFIED)
            return false; /* already going to be re-queued */
        else
            n = (s & ~VX_TS_REASON_MASK) | VX_TS_NOTIFIED |
                ((uint64_t)reason << VX_TS_REASON_SHIFT);
        /* acq_rel: release publishes what the waker wrote before waking (a
         * channel value, an I/O result) to the task's next resume; acquire
         * orders us after the runner's park. */
        if (atomic_compare_exchange_weak_explicit(&t->tok.state, &s, n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return (s & VX_TS_WAITING) != 0;
    }
}

/* Results of vx_task_wake_src. */
enum { VX_SRC_NOT_DELIVERED = 0, VX_SRC_ENQUEUE = 1, VX_SRC_DELIVERED = 2 };

/* Wakes t for a wait on src (a notify or I/O record) that a signaller has
 * just claimed. The wake is delivered only if t's current wait is still the
 * one armed on src (wait_src == src and wait_gen == the current gen), so a
 * claim of a registration left over from an earlier wait never wakes a later
 * one. Returns VX_SRC_ENQUEUE (caller queues t), VX_SRC_DELIVERED (t was
 * queued or running and will not park), or VX_SRC_NOT_DELIVERED (the wait
 * is over: the caller keeps the signal, e.g. as a permit). Any thread. */
VX_INLINE int vx_task_wake_src(VxTask *t, const void *src, unsigned reason)
{
    /* acquire: pairs with the runner's release CAS that parked the task (and
     * the registration CAS before it), so wait_gen/wait_src of this gen are
     * visible. */
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_acquire);
    for (;;) {
        /* seq_cst: pairs with a runner that publishes a new wait_gen and then
         * re-checks the source before parking again (core/io_op.c). */
        if (atomic_load_explicit(&t->wait_gen, memory_order_seq_cst) != (uint32_t)vx_ts_gen(s) ||
            atomic_load_explicit(&t->wait_src, memory_order_relaxed) != src)
            return VX_SRC_NOT_DELIVERED;
        uint64_t n;
        if (s & VX_TS_WAITING)
            n = ((s & ~(VX_TS_WAITING | VX_TS_REASON_MASK)) |
                 ((uint64_t)reason << VX_TS_REASON_SHIFT)) + VX_TS_GEN_ONE;
        else if (s & VX_TS_NOTIFIED)
            return VX_SRC_NOT_DELIVERED; /* this wait already ended another way */
        else
            n = (s & ~VX_TS_REASON_MASK) | VX_TS_NOTIFIED |
                ((uint64_t)reason << VX_TS_REASON_SHIFT);
        if (atomic_compare_exchange_weak_explicit(&t->tok.state, &s, n, memory_order_acq_rel,
                                                  memory_order_acquire))
            return (s & VX_TS_WAITING) ? VX_SRC_ENQUEUE : VX_SRC_DELIVERED;
    }
}

/* Runner side, after a resume that armed awaits with the current gen:
 * returns true if the task is now parked, false if a wake already arrived
 * (NOTIFIED consumed, gen bumped): the caller re-queues it. */
VX_INLINE bool vx_task_park(VxTask *t)
{
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_relaxed);
    for (;;) {
        VX_ASSERT(!(s & (VX_TS_WAITING | VX_TS_SOURCE))); /* only its runner parks a task */
        uint64_t n;
        if (s & VX_TS_NOTIFIED)
            n = (s & ~VX_TS_NOTIFIED) + VX_TS_GEN_ONE;
        else
            n = (s & ~VX_TS_REASON_MASK) | VX_TS_WAITING;
        /* acq_rel: release makes the resume's writes visible to the waker
         * that takes the task; acquire sees a NOTIFIED waker's writes. */
        if (atomic_compare_exchange_weak_explicit(&t->tok.state, &s, n, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return (s & VX_TS_NOTIFIED) == 0;
    }
}

/* Marks a task finished: bumps gen and clears every flag, so wakes still in
 * flight for it are ignored. Runner only. */
VX_INLINE void vx_task_retire(VxTask *t)
{
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_relaxed);
    VX_ASSERT(!(s & VX_TS_WAITING)); /* a running task is never parked */
    /* release: orders the resume's writes before the slot can be reused. A
     * waker's CAS that lands before this store is simply overwritten. */
    atomic_store_explicit(&t->tok.state, ((vx_ts_gen(s) + 1) << VX_TS_GEN_SHIFT),
                          memory_order_release);
}

/* Prepares a slot from the pool for a new task: keeps the generation (so a
 * stale wake for the slot's previous task stays stale), clears the flags. */
VX_INLINE void vx_task_reset_state(VxTask *t)
{
    uint64_t s = atomic_load_explicit(&t->tok.state, memory_order_relaxed);
    atomic_store_explicit(&t->tok.state, vx_ts_gen(s) << VX_TS_GEN_SHIFT, memory_order_relaxed);
}

#endif /* VX_TASK_H */
