/* core/rt.h - the runtime object and the calls between the core's files.
 *
 * A Runtime is a composition: each part is a struct owned by the file named
 * beside it, and only that file (and its header) reaches into it; the rest
 * of the core goes through its functions. The worker is core/worker.h.
 * Nothing here is visible outside the library. */
#ifndef VX_RT_H
#define VX_RT_H

#include "global_queue.h"
#include "idle.h"
#include "io.h"
#include "plat.h"
#include "pool.h"
#include "slab.h"
#include "worker.h"

/* --- The runtime --- */

enum { VX_PHASE_CREATED = 0, VX_PHASE_RUNNING = 1, VX_PHASE_STOPPING = 2 };

/* Who runs worker 0: nobody yet, runtime_run, or a host loop (embed.c). */
enum { VX_DRIVE_NONE = 0, VX_DRIVE_RUN = 1, VX_DRIVE_HOST = 2 };

/* The object pools (spawn.c, timer.c, global_queue.c): one heap per worker
 * plus one shared heap (index nworkers) used under foreign_lock by threads
 * that are not workers. */
typedef struct VxPools {
    VxSlab tasks;
    VxSlab timers;
    VxSlab batches;
    VxLock foreign_lock;
} VxPools;

#define VX_FOREIGN_HEAP(rt) ((rt)->nworkers)

/* Objects whose lifetime the runtime tracks (notify.c, cancel.c), under
 * lock: notifies, orphaned at destroy, and the links of tasks spawned with
 * a created cancel token, released at destroy. */
typedef struct VxObjects {
    VxLock lock;
    struct VexNotify *notifies;
    struct VxLink *links;
} VxObjects;

/* Counters of threads that are not workers (a worker counts in its own
 * VxStats). */
typedef struct VxForeignStats {
    VX_ALIGNED _Atomic uint64_t spawns;
    _Atomic uint64_t global_pushes;
    _Atomic uint64_t cancels;
    _Atomic uint64_t unparks;
} VxForeignStats;

struct Runtime {
    VxSys sys;                     /* the platform and allocator: immutable */
    uint32_t nworkers;
    uint32_t tick_shift;           /* timer wheel tick, log2 ns */
    VxWorker *workers;
    char *thread_mem;              /* nworkers platform thread handles */

    VxGlobalQueue gq;              /* global_queue.c */
    VxIdle idle;                   /* idle.c */
    /* live.c: live tasks plus the credits workers hold; VX_LIVE_CLOSED once
     * closed (no spawn is accepted after). */
    VX_ALIGNED _Atomic int64_t live;

    /* Lifecycle (runtime.c). */
    VX_ALIGNED _Atomic uint32_t phase;  /* VX_PHASE_*; run() parks on it */
    _Atomic bool stopping;              /* workers leave their loop */
    _Atomic bool auto_shutdown;
    _Atomic bool tracing;
    bool threads_joined;
    uint32_t threads_started;
    _Atomic uint32_t drive;        /* VX_DRIVE_*: who runs worker 0 */
    /* A host loop (embed.c): worker 0's poller state, set up on the host's
     * thread by its first call, and the handle it gives the host. */
    bool host_attached;
    int host_rc;                   /* 0, or why there is no handle (VEX_ENOSYS) */
    IoHandle host_handle;

    VxPools pools;
    VxIo io;                       /* io_*.c */
    VxPool pool;                   /* pool.c */
    VxObjects objects;
    VxForeignStats foreign;
};

/* --- sched.c: the worker loop --- */

/* A worker thread's entry point (arg: its VxWorker): workers 1..n-1. */
void vx_sched_worker_main(void *arg);
/* Runs worker w (worker 0) on the calling thread until the runtime stops;
 * returns 0, or the error that kept its poller state from being set up. */
int vx_sched_run_here(VxWorker *w);
/* Sets worker 0's poller state up on the calling thread for a host loop
 * (*handle: see vx_io_attach_host). */
int vx_sched_attach_host(VxWorker *w, IoHandle *handle);
/* One runtime_step of hosted worker 0: runs what is ready, waits at most
 * timeout_ns if nothing was; 1 while the runtime runs, 0 once it stopped. */
int vx_sched_step(VxWorker *w, uint64_t timeout_ns);
/* The worker of rt running on the calling thread, or NULL (another
 * runtime's worker, a thread that is no worker, or a platform that cannot
 * tell threads apart). Scans the workers: for rare calls only. */
VxWorker *vx_sched_current(Runtime *rt);

/* --- run_queue.c: queueing runnable tasks --- */

typedef enum {
    VX_PUSH_BACK = 0, /* the back of the ring: spawns, yields */
    VX_PUSH_LIFO = 1, /* the LIFO slot: a task woken by the running task (hand-off) */
    VX_PUSH_WAKE = 2  /* the wake ring: woken by a timer or I/O, latency-sensitive */
} VxPushHow;

/* Queues a runnable task t of rt: on w's LIFO slot or rings when w (one of
 * rt's workers) is the calling worker, else (w NULL) on the global queue,
 * waking a parked worker if needed. */
void vx_sched_push(Runtime *rt, VxWorker *w, VxTask *t, VxPushHow how);
/* Queues t on the global queue and wakes a sleeper if needed. Any thread. */
void vx_sched_global_push(Runtime *rt, VxTask *t);
/* Moves half of w's full ring q to the global queue, then queues t; the
 * slow path of a push. Owner. */
void vx_rq_overflow(VxWorker *w, VxLocalQueue *q, VxTask *t);
/* After a push by w that was not searching and not alone: wakes a sleeping
 * sibling for a backlog (tuning.h). Owner. */
void vx_rq_after_push(VxWorker *w);

/* Appends t to the back of w's ring (overflowing half of it to the global
 * queue when full). Owner. Inline: every yield comes through here. */
VX_INLINE void vx_rq_push_back(VxWorker *w, VxTask *t)
{
    if (VX_UNLIKELY(!vx_lq_push_owner(&w->remote.q, t))) {
        vx_rq_overflow(w, &w->remote.q, t);
        return;
    }
    if (!w->own.searching && !w->own.solo) vx_rq_after_push(w);
}
/* Tasks queued in w's rings (a hint for other threads). */
uint32_t vx_rq_queued(VxWorker *w);
/* The small-backlog rule (tuning.h): wakes a sibling for a backlog that
 * lasts. Owner, every VX_BACKLOG_CHECK ticks. */
void vx_rq_check_backlog(VxWorker *w);

/* --- spawn.c: making and finishing tasks --- */

/* A task ready to run but not yet visible (NULL and *err on failure), and
 * making it visible; vx_sched_spawn does both. w: the calling worker, or
 * NULL for any other thread. */
VxTask *vx_sched_task_new(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data, int *err);
void vx_sched_task_start(Runtime *rt, VxWorker *w, VxTask *t);
int vx_sched_spawn(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data);
/* Retires a task that returned DONE and frees it. Owner. */
void vx_sched_task_done(VxWorker *w, VxTask *t);

/* --- live.c: live tasks and auto-shutdown --- */

#define VX_LIVE_CLOSED ((int64_t)1 << 62)

/* Takes a live-task credit for a spawn; false once the runtime is closed. */
bool vx_live_take(Runtime *rt, VxWorker *w);
/* Gives back the credit of a task that finished on w. Owner. */
void vx_live_give(Runtime *rt, VxWorker *w);
/* Hands every credit w holds back to rt->live (w goes idle); may start an
 * auto-shutdown. Owner. */
void vx_live_return_credits(Runtime *rt, VxWorker *w);
/* Stops rt if auto-shutdown is on, it runs, and no task is alive. */
void vx_live_maybe_shutdown(Runtime *rt);

/* --- park.c: an idle worker --- */

/* Spins a little while work may show up; true if it did. Owner. */
bool vx_park_spin(VxWorker *w);
/* Puts an idle worker to sleep until it is notified, a timer is due, another
 * worker is found stuck, the runtime stops, or max_ns passed
 * (VEX_WAIT_FOREVER: no limit). Owner. */
void vx_park_worker(VxWorker *w, uint64_t max_ns);
/* Hosted worker 0 (vexrt/embed.h) goes back to its host, asleep in the
 * idle set, or comes back from it for a runtime_step. Owner. */
void vx_park_host_enter(VxWorker *w);
void vx_park_host_leave(VxWorker *w);
/* Wakes w if it sleeps (parker or poller), or makes its next park return. */
void vx_sched_unpark_worker(Runtime *rt, VxWorker *w);

/* --- handback.c: hand-overs between workers and stall rescue --- */

/* True if w's inbox holds tasks (seq_cst: the parking side of the Dekker
 * pair with vx_inbox_put). */
bool vx_inbox_pending(VxWorker *w);
/* Moves v's inbox into w's wake queue (w is the calling worker; v is w, or
 * a stuck worker being rescued). Returns how many tasks. */
uint32_t vx_inbox_drain(VxWorker *w, VxWorker *v);
/* After a wait that only w's own poller ended: gives the tasks it woke to a
 * running sibling with a short queue. True if it did. Owner. */
bool vx_handback(VxWorker *w);
/* True if v holds work another worker could take. */
bool vx_stall_holds_work(VxWorker *v);
/* Picks another worker to watch for stalls, preferring one holding work;
 * NULL if every other worker sleeps. *interval gets the watch period. */
VxWorker *vx_stall_pick_watch(VxWorker *w, uint64_t *interval);
/* Takes the stuck v's queued work into w. */
bool vx_stall_rescue(VxWorker *w, VxWorker *v);

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
/* Moves a created runtime to RUNNING (the other workers start); 0, or
 * VEX_ESHUTDOWN if it was stopped before it ran. Once per runtime. */
int vx_runtime_start(Runtime *rt);
/* Joins the threads of workers 1..n-1, once they have left their loop. */
void vx_runtime_join(Runtime *rt);
/* Stops the runtime: workers leave their loop, runtime_run returns. Any thread. */
void vx_sched_stop(Runtime *rt);
void vx_trace(Runtime *rt, const char *what, uint64_t a, uint64_t b);

#endif /* VX_RT_H */
