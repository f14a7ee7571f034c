/* core/rt.h - the runtime and worker objects shared by the core's files.
 *
 * Divisions: per-worker counters; the worker (run queue, LIFO slot, timer
 * wheel, parker); the runtime (global queue, idle set, live-task count,
 * lifecycle, pools); and the internal calls between sched.c, timer.c,
 * idle.c and runtime.c. Nothing here is visible outside the library. */
#ifndef VX_RT_H
#define VX_RT_H

#include "slab.h"
#include "local_queue.h"
#include "lock.h"
#include "mpmc.h"
#include "plat.h"
#include "task.h"
#include "timer.h"
#include "io.h"

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

#define VX_STAT_ADD(w, i, n) \
    VX_STORE_RELAXED(&(w)->stats.v[i], VX_LOAD_RELAXED(&(w)->stats.v[i]) + (n))
#define VX_STAT_INC(w, i) VX_STAT_ADD(w, i, 1)

/* --- Worker --- */

/* WorkerContext is what resume functions receive: one per worker, pointing
 * at the task being resumed and collecting the awaits it registers. */
struct WorkerContext {
    Runtime *rt;
    struct VxWorker *w;
    VxTask *task;          /* current task; NULL between resumes */
    VxTimer *await_timer;  /* timer armed by this resume (not yet in the wheel) */
    void *await_src;       /* notify of this resume's notify await */
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

enum { VX_PARK_EMPTY = 0, VX_PARK_SLEEPING = 1, VX_PARK_NOTIFIED = 2, VX_PARK_POLLING = 3 };

#define VX_EVENTS_MAX 128 /* poller events taken per wait */

typedef struct VxWorker {
    VxLocalQueue q;                /* runnable tasks: spawns, yields, batches */
    VxLocalQueue wq;               /* tasks woken by timers and I/O: run first */
    VxTask *wake_spill, *wake_spill_tail; /* wakes beyond wq's room, in order; owner only */
    VX_ALIGNED _Atomic(VxTask *) lifo; /* last task spawned or woken here; stealable */
    /* Owner-only state. */
    Runtime *rt;
    uint32_t id;
    _Atomic uint32_t tick;         /* scheduler iterations; read by sleepers watching for stalls */
    uint32_t lifo_runs;            /* consecutive resumes taken from the LIFO slot */
    bool searching;                /* counted in the idle word's searching half */
    int64_t credits;               /* live-task credits held locally (see runtime.c) */
    uint64_t rng;
    uint64_t backlog_ns;           /* when this worker was first seen with a backlog (0: none) */
    bool handed_back;              /* just gave its woken tasks to a sibling: sleep, do not steal */
    uint32_t hb_to, hb_tick;       /* last sibling handed tasks to, and its tick then */
    uint32_t poll_own_seq;         /* rt->poll_seq after our last look at the poller */
    bool took_poller;              /* took a shared poller over from an awake worker */
    WorkerContext ctx;
    VxWheel wheel;                 /* under wheel_lock */
    void *thread;                  /* platform thread handle (thread_size bytes) */
    /* Written by other threads. */
    VX_ALIGNED VxLock wheel_lock;                /* the wheel; others only try it */
    _Atomic uint64_t next_timer_ns;              /* published: when the wheel has work next */
    _Atomic(VxTimer *) timer_cancels;            /* remote cancels, Treiber stack */
    VX_ALIGNED _Atomic uint32_t park_state;      /* VX_PARK_* */
    _Atomic bool in_sleepers;                    /* written under rt->idle_lock; read racily by stall watchers */
    VX_ALIGNED VxLock inbox_lock;                /* tasks siblings handed over (sched.c) */
    VxTask *inbox_head, *inbox_tail;             /* under inbox_lock, linked through next */
    _Atomic uint32_t inbox_len;                  /* non-zero: look; written under the lock */
    VX_ALIGNED VxStats stats;
    /* I/O (io.c). */
    void *plocal;                                /* this worker's poller state, or NULL */
    bool poller_attached;                        /* plocal set up (released at destroy) */
    VX_ALIGNED VxIoCancels cancels;              /* polls and ops others ask us to cancel */
    VexPollerEvent events[VX_EVENTS_MAX];        /* owner only */
} VxWorker;

/* --- Global queue entries ---
 * An entry of the global queue (MPMC cell or spill-list node) is a task, or,
 * tagged with VX_ENTRY_BATCH, a batch: an array of tasks moved together by a
 * local-queue overflow, so a thief of the global queue gets them with one
 * CAS and reads their addresses from one array (no pointer chasing). */
#define VX_ENTRY_BATCH ((uintptr_t)2)
#define VX_BATCH_MAX (VX_LQ_MAX / 2 + 1)

typedef struct VxBatch {
    void *next;          /* spill-list link: the next entry (tagged) */
    uint32_t count;
    VxTask *tasks[VX_BATCH_MAX];
} VxBatch;

/* --- Runtime --- */

enum { VX_PHASE_CREATED = 0, VX_PHASE_RUNNING = 1, VX_PHASE_STOPPING = 2 };

/* rt->live: tasks alive plus credits held by workers; bit 62 = closed. */
#define VX_LIVE_CLOSED ((int64_t)1 << 62)
#define VX_CREDIT_BATCH 64
#define VX_CREDIT_MAX 256

struct Runtime {
    VxSys sys;
    uint32_t nworkers;
    uint32_t tick_shift;
    VxWorker *workers;
    char *thread_mem;              /* nworkers platform thread handles */

    /* Global queue: bounded MPMC plus an unbounded spill list. Producers use
     * the spill list while it is non-empty, so FIFO order holds per producer. */
    VxMpmc gq;
    VxMpmcCell *gq_cells;
    size_t gq_capacity;
    VX_ALIGNED VxLock spill_lock;  /* protects spill_head/tail */
    void *spill_head, *spill_tail; /* entries, linked through their next fields */
    _Atomic size_t spill_len;      /* tasks in the spill list */

    /* Idle set: (unparked << 32) | searching, every access an RMW or seq_cst. */
    VX_ALIGNED _Atomic uint64_t idle;
    VxLock idle_lock;              /* protects sleepers[], nsleepers, in_sleepers */
    uint32_t *sleepers;
    uint32_t nsleepers;

    VX_ALIGNED _Atomic int64_t live;

    /* Lifecycle. */
    VX_ALIGNED _Atomic uint32_t phase;  /* VX_PHASE_*; run() parks on it */
    _Atomic bool stopping;              /* workers leave their loop */
    _Atomic bool auto_shutdown;
    _Atomic bool tracing;
    bool threads_joined;
    uint32_t threads_started;

    /* Pools: tasks and timers, one heap per worker plus one shared heap
     * (index nworkers) used under foreign_lock by threads that are not workers. */
    VxSlab tasks;
    VxSlab timers;
    VxSlab batches;
    VxLock foreign_lock;

    /* I/O (io.c). */
    void *poller;                  /* shared poller state, NULL without a poller */
    char *plocal_mem;              /* nworkers local states */
    uint32_t pcaps;                /* VEX_POLLER_* */
    bool io_inited;                /* vx_io_init ran (vx_io_fini undoes it) */
    VX_ALIGNED _Atomic uint32_t driver;       /* shared pollers: 1 while a worker waits in it */
    _Atomic uint32_t poll_seq;                /* bumped by every look at the poller */
    _Atomic(struct VxIoRes **) *io_top;       /* handle table: top -> mid -> leaf */
    VxLock io_lock;                           /* growing the table, creating records */
    VxSlab iores;                             /* the records */
    _Atomic int attach_error;                 /* first worker attach failure */
    _Atomic uint32_t attached;                /* workers that ran their attach; create parks on it */
    _Atomic bool io_used;                     /* any I/O await or op seen (vx_io_active) */
    /* The blocking pool (io.c): jobs are VexIoOps linked through internal[4]. */
    VX_ALIGNED VxLock pool_lock;              /* queue, counters, stop, fnjobs */
    struct VexIoOp *pool_head, *pool_tail;
    uint32_t pool_threads, pool_idle;
    bool pool_stop;
    _Atomic uint32_t pool_signal;             /* bumped per job; idle pool threads park on it */
    void *pool_thread_mem;                    /* VX_POOL_MAX thread handles */
    struct VxFnJob *fnjobs;                   /* worker_await_blocking jobs not yet released */
    _Atomic uint64_t pool_jobs_run;           /* worker_await_blocking jobs whose fn was called */

    /* Objects whose lifetime the runtime tracks (under objects_lock):
     * notifies, orphaned at destroy, and the links of tasks spawned with a
     * created cancel token, released at destroy. */
    VxLock objects_lock;
    struct VexNotify *notifies;
    struct VxLink *links;

    /* Counters of threads that are not workers. */
    VX_ALIGNED _Atomic uint64_t foreign_spawns;
    _Atomic uint64_t foreign_global_pushes;
    _Atomic uint64_t foreign_cancels;
    _Atomic uint64_t foreign_unparks;
};

#define VX_FOREIGN_HEAP(rt) ((rt)->nworkers)

/* --- sched.c --- */
void vx_sched_worker_main(void *arg);
/* Queues a runnable task: on w's LIFO slot or ring when w is the calling
 * worker, else on the global queue (waking a parked worker if needed). */
enum {
    VX_PUSH_BACK = 0, /* the back of the ring: spawns, yields */
    VX_PUSH_LIFO = 1, /* the LIFO slot: a task woken by the running task (hand-off) */
    VX_PUSH_WAKE = 2  /* the wake ring: woken by a timer or I/O, latency-sensitive */
};
void vx_sched_push(Runtime *rt, VxWorker *w, VxTask *t, int how);
void vx_sched_global_push(Runtime *rt, VxTask *t);
int vx_sched_spawn(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data);
/* The two halves of vx_sched_spawn: a task ready to run but not yet visible
 * (NULL and *err on failure), and making it visible. */
VxTask *vx_sched_task_new(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data, int *err);
void vx_sched_task_start(Runtime *rt, VxWorker *w, VxTask *t);
void vx_sched_stop(Runtime *rt);
/* The worker of rt running on the calling thread, or NULL (another
 * runtime's worker, or a thread that is no worker). */
VxWorker *vx_sched_current(Runtime *rt);
void vx_sched_unpark_worker(Runtime *rt, VxWorker *w);

/* --- idle.c --- */
bool vx_idle_try_search(Runtime *rt, VxWorker *w);
bool vx_idle_stop_search(Runtime *rt, VxWorker *w);
void vx_idle_notify(Runtime *rt);
/* Moves w into the idle set; *awake_left gets how many workers are still
 * awake after it (decided by the RMW, so exactly one of the workers going
 * to sleep sees 0). Returns true if w was the last searcher. */
bool vx_idle_park(Runtime *rt, VxWorker *w, uint32_t *awake_left);
bool vx_idle_leave(Runtime *rt, VxWorker *w);
bool vx_idle_work_pending(Runtime *rt);

/* --- timer.c --- */
int vx_timer_prepare(WorkerContext *ctx, uint64_t deadline_ns);
void vx_timer_release(VxWorker *w, VxTask *t);
void vx_timer_discard_pending(VxWorker *w);
bool vx_timer_arm_pending(VxWorker *w, VxTask *t, uint64_t gen);
bool vx_timer_run(VxWorker *w, uint64_t now_ns);
uint64_t vx_timer_next_ns(VxWorker *w);
/* Earliest time at which another awake worker's timers would be overdue
 * enough to fire them for it (UINT64_MAX if none). */
uint64_t vx_timer_watch_ns(VxWorker *w);
/* Fires the overdue timers of workers that fell behind, onto w. */
bool vx_timer_rescue(VxWorker *w, uint64_t now_ns);
/* Replaces the task's timer (fired or stale) by a new one with the same
 * deadline for wait generation gen. Returns false if that deadline has
 * passed (or no entry could be had): the caller treats it as fired. True
 * also when the task had no timer. */
bool vx_timer_rearm(VxWorker *w, VxTask *t, uint64_t gen);

/* --- notify.c --- */
unsigned vx_notify_arm(VxWorker *w, VxTask *t, uint64_t gen);
void vx_notify_orphan_all(Runtime *rt);
bool vx_notify_has_waiter(struct VexNotify *n);
void vx_notify_release(VxTask *t, bool claimed);

/* --- cancel.c --- */
void vx_cancel_release_links(Runtime *rt);

/* --- runtime.c --- */
void vx_live_return_credits(Runtime *rt, VxWorker *w);
void vx_trace(Runtime *rt, const char *what, uint64_t a, uint64_t b);

#endif /* VX_RT_H */
