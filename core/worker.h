/* core/worker.h - a worker: its identity, the part other threads touch
 * (VxWorkerRemote) and the part only its own thread touches (VxWorkerOwn),
 * the per-worker counters, and the WorkerContext that resume functions get.
 *
 * The split is Tokio's Core/Remote: a field in `own` is read and written by
 * the worker's thread alone (no atomics, no locks); a field in `remote` is
 * shared, and says how (atomic, or under which lock). */
#ifndef VX_WORKER_H
#define VX_WORKER_H

#include "io.h"
#include "local_queue.h"
#include "lock.h"
#include "task.h"
#include "timer.h"
#include "tuning.h"

/* --- Counters --- */

/* Per-worker counters: written by their worker only (a relaxed load and
 * store, no read-modify-write), summed by runtime_get_stats. */
enum {
    VX_ST_SPAWNED, VX_ST_DONE, VX_ST_POLLER_EVENTS, VX_ST_IO_SUBMITTED, VX_ST_STEALS,
    VX_ST_PARKS, VX_ST_UNPARKS, VX_ST_RESUMES, VX_ST_YIELDS, VX_ST_WAKEUPS,
    VX_ST_TIMERS_ARMED, VX_ST_TIMERS_FIRED, VX_ST_TIMERS_CANCELLED, VX_ST_GLOBAL_PUSHES,
    VX_ST_OVERFLOWS, VX_ST_CANCELS, VX_ST_IO_COMPLETED,
    VX_ST_COUNT
};

typedef struct VxStats {
    _Atomic uint64_t v[VX_ST_COUNT];
} VxStats;

#define VX_STAT_ADD(w, i, n)                                                   \
    VX_STORE_RELAXED(&(w)->remote.stats.v[i],                                  \
                     VX_LOAD_RELAXED(&(w)->remote.stats.v[i]) + (n))
#define VX_STAT_INC(w, i) VX_STAT_ADD(w, i, 1)

/* --- The context of a resume --- */

/* WorkerContext is what resume functions receive: one per worker, pointing
 * at the task being resumed and collecting the awaits it registers. Owner
 * only (it lives in VxWorkerOwn). */
struct WorkerContext {
    Runtime *rt;
    struct VxWorker *w;
    VxTask *task;          /* current task; NULL between resumes */
    VxTimer *await_timer;  /* timer armed by this resume (not yet in the wheel) */
    void *await_src;       /* notify, op or job of this resume's await */
    IoHandle await_io;     /* handle of this resume's I/O await */
    uint8_t await_kind;    /* VX_WAIT_*: the one non-timer await of this resume */
    uint8_t await_events;  /* EventType bits of an I/O await */
    uint8_t reason;        /* why this resume happened (VX_WAKE_*) */
    uint8_t await_failed;  /* VX_AWAIT_FAIL_* bits: an await of this resume could not be
                            * armed, so the wait ends at once with VX_WAKE_ERROR */
};

/* The two slots of a resume's wait: its timer, and its one other source. A
 * later await of the same slot replaces a failed one, as it replaces an
 * armed one. */
enum { VX_AWAIT_FAIL_TIMER = 1, VX_AWAIT_FAIL_SOURCE = 2 };

/* Records that an await of the current resume could not be armed and
 * returns err: whatever else the resume armed, the task is resumed at once
 * with VEX_WAKE_ERROR (a seed program ignores the error code, and must not
 * sleep on its timer instead). */
VX_INLINE int vx_ctx_await_failed(WorkerContext *ctx, uint8_t slot, int err)
{
    ctx->await_failed |= slot;
    return err;
}

/* Records that an await of the current resume filled slot. */
VX_INLINE void vx_ctx_await_armed(WorkerContext *ctx, uint8_t slot)
{
    ctx->await_failed &= (uint8_t)~slot;
}

/* A context is usable only by its worker, during a resume. */
VX_INLINE bool vx_ctx_live(const WorkerContext *ctx) { return ctx && ctx->task; }

/* --- The worker --- */

/* Values of remote.park_state (park.c). */
enum { VX_PARK_EMPTY = 0, VX_PARK_SLEEPING = 1, VX_PARK_NOTIFIED = 2, VX_PARK_POLLING = 3 };

/* What other threads touch. */
typedef struct VxWorkerRemote {
    VxLocalQueue q;                /* runnable tasks: spawns, yields, batches; thieves steal */
    VxLocalQueue wq;               /* tasks woken by timers and I/O: run first; thieves steal */
    VX_ALIGNED _Atomic(VxTask *) lifo; /* last task woken here by a hand-off; a stall
                                        * rescuer may take it */
    _Atomic uint32_t tick;         /* scheduler iterations (only the owner writes); read by
                                    * sleepers watching for stalls */
    /* Timers (timer.c): the wheel under wheel_lock, which the owner takes
     * on every wheel operation and another worker only tries (to fire the
     * timers of an owner that fell behind). */
    VX_ALIGNED VxLock wheel_lock;
    VxWheel wheel;
    _Atomic uint64_t next_timer_ns;   /* published: when the wheel has work next */
    _Atomic(VxTimer *) timer_cancels; /* entries other workers cancelled, Treiber stack */
    /* Parking (park.c, idle.c). */
    VX_ALIGNED _Atomic uint32_t park_state; /* VX_PARK_* */
    _Atomic bool in_sleepers;         /* written under rt->idle.lock; read racily by watchers */
    /* Tasks siblings hand over (handback.c), under inbox_lock, linked through next. */
    VX_ALIGNED VxLock inbox_lock;
    VxTask *inbox_head, *inbox_tail;
    _Atomic uint32_t inbox_len;       /* non-zero: look; written under the lock */
    VX_ALIGNED VxStats stats;         /* written by the owner, read by runtime_get_stats */
    VX_ALIGNED VxIoCancels cancels;   /* polls and ops others ask this worker to cancel */
} VxWorkerRemote;

/* What only the worker's own thread touches. */
typedef struct VxWorkerOwn {
    VX_ALIGNED WorkerContext ctx;
    VxTask *wake_spill, *wake_spill_tail; /* wakes beyond wq's room, in order */
    uint32_t lifo_runs;            /* consecutive resumes taken from the LIFO slot */
    uint32_t global_left;          /* ticks until the global queue goes first (VX_GLOBAL_INTERVAL) */
    uint32_t wake_left;            /* ticks until the ring goes before the wake ring
                                    * (VX_WAKE_FAIRNESS); countdowns, not a division per tick */
    bool solo;                     /* the runtime's only worker: no thief, no sibling to
                                    * wake, so its queues skip the CAS and the checks */
    bool searching;                /* counted in the idle word's searching half */
    bool handed_back;              /* just gave its woken tasks to a sibling: sleep, do not steal */
    bool took_poller;              /* took a shared poller over from an awake worker */
    bool poller_attached;          /* plocal set up (read at destroy, after the join) */
    bool host_parked;              /* hosted worker 0 between two runtime_step calls: in the
                                    * idle set, woken through its poller (park.c) */
    int64_t credits;               /* live-task credits held (live.c) */
    uint64_t rng;
    uint64_t backlog_ns;           /* when this worker was first seen with a backlog (0: none) */
    uint32_t hb_to, hb_tick;       /* last sibling handed tasks to, and its tick then */
    uint32_t poll_own_seq;         /* rt->io.poll_seq after our last look at the poller */
    VexPollerEvent events[VX_EVENTS_MAX];
} VxWorkerOwn;

typedef struct VxWorker {
    /* Identity, set at creation and read by anyone. */
    Runtime *rt;
    uint32_t id;
    void *thread;                  /* platform thread handle (thread_size bytes) */
    void *plocal;                  /* this worker's poller state, or NULL */
    _Atomic uintptr_t self;        /* its thread's vx_plat_thread_self(), set by the worker
                                    * at start (0: not known) */
    VxWorkerRemote remote;
    VxWorkerOwn own;
} VxWorker;

#endif /* VX_WORKER_H */
