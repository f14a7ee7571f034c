/* vexrt/runtime.h - the seed API of libvexrt, the Vex async I/O runtime.
 *
 * Programs written against the seed compile unchanged against this header
 * (or against "runtime.h", the seed's spelling, which includes it): names,
 * enum values and argument lists are frozen. Calls the seed declared
 * void return int here (0, or a negative VEX_E* code from vexrt/error.h);
 * ignoring the result is always allowed.
 *
 * A task is a resume function plus a data pointer. The runtime calls the
 * function on one of its worker threads; the function returns CORO_STATUS_DONE
 * when the task is finished, or RUNNING/YIELDED to be resumed later: at once
 * (a yield) or, if it registered an await during this resume, when that
 * await fires. Extensions (config, allocator and platform vtables, timers,
 * cancellation sources, notifications, I/O operations) live in include/vexrt/. */
#ifndef VEXRT_VEXRT_RUNTIME_H
#define VEXRT_VEXRT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vexrt/api.h"
#include "vexrt/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Runtime Runtime;
typedef struct WorkerContext WorkerContext;
typedef struct CancelToken CancelToken;

typedef enum {
    CORO_STATUS_RUNNING, /* not finished: resume again (at once, or when an await fires) */
    CORO_STATUS_YIELDED, /* same as RUNNING */
    CORO_STATUS_DONE     /* finished: the runtime never touches data again */
} CoroStatus;

typedef CoroStatus (*coro_resume_func)(WorkerContext *ctx, void *data);

/* Readiness interest. READABLE|WRITABLE may be combined. */
typedef enum {
    EVENT_TYPE_NONE = 0,
    EVENT_TYPE_READABLE = 1,
    EVENT_TYPE_WRITABLE = 2,
    EVENT_TYPE_TIMER = 4
} EventType;

/* Counters summed over all workers at read time. Exact once runtime_run has
 * returned; a consistent-enough snapshot while it runs. The first seven fields
 * are the seed's, in the seed's order. */
typedef struct {
    uint64_t tasks_spawned;    /* spawns accepted */
    uint64_t tasks_done;       /* resumes that returned DONE */
    uint64_t poller_events;    /* readiness/completion events taken from the poller */
    uint64_t io_submitted;     /* interest registrations and operations handed to the poller */
    uint64_t steals;           /* tasks taken from another worker's queue */
    uint64_t parks;            /* times a worker went to sleep */
    uint64_t unparks;          /* times a sleeping worker was woken by another thread */
    uint64_t resumes;          /* calls of resume functions */
    uint64_t yields;           /* resumes that returned without an await (re-queued at once) */
    uint64_t wakeups;          /* parked tasks made runnable by a timer, I/O, cancel or notify */
    uint64_t timers_armed;     /* timer awaits inserted into a wheel */
    uint64_t timers_fired;     /* timers that woke their task */
    uint64_t timers_cancelled; /* timers removed before firing (replaced, woken otherwise, task done) */
    uint64_t global_pushes;    /* tasks placed on the global queue (foreign spawns, overflow) */
    uint64_t overflows;        /* local-queue overflows moved to the global queue */
    uint64_t cancels;          /* cancel requests that changed a token */
    uint64_t io_completed;     /* completion operations finished (on io_uring
                                * also those cancelled in flight, which the
                                * kernel completes; epoll never started them) */
    uint64_t blocking_jobs;    /* jobs run on the blocking pool */
    uint64_t live_tasks;       /* tasks spawned and not yet done, parked ones included */
    uint64_t workers;          /* worker threads of this runtime */
    uint64_t reserved[12];     /* zero; room for future counters without an ABI break */
} RuntimeStats;

/* --- Runtime --- */

/* Creates a runtime with num_workers workers (0 = one per CPU) and starts
 * num_workers - 1 threads for them: worker 0 is the thread that will call
 * runtime_run (so runtime_create(1) starts none). Returns NULL if
 * num_workers is negative or too large, or on failure. Any thread. */
VEX_API Runtime *runtime_create(int num_workers);

/* Frees the runtime; call before runtime_run or after it returned. NULL is a
 * no-op. Tasks never run or never finished are dropped without being resumed
 * (their data is the caller's). Returns VEX_EBUSY if runtime_run is in progress. */
VEX_API int runtime_destroy(Runtime *rt);

/* Queues a new task on the global queue. Any thread, before or during run, and
 * from tasks. Returns VEX_EINVAL for a NULL runtime or function (nothing is
 * counted), VEX_ESHUTDOWN once shutdown started, VEX_ENOMEM if memory ran out. */
VEX_API int runtime_spawn_global(Runtime *rt, coro_resume_func fn, void *data);

/* Runs the runtime until shutdown (explicit or automatic), the calling
 * thread being worker 0: tasks run on it too. Returns 0, VEX_EBUSY if
 * already running (or driven by runtime_step, vexrt/embed.h), VEX_ESHUTDOWN
 * if it already ran, or the error that kept this thread's poller state from
 * being set up. One thread. */
VEX_API int runtime_run(Runtime *rt);

/* Requests shutdown: runtime_run returns once every worker finished the resume
 * it is in; tasks left (queued or parked) are not resumed again, and their
 * data is the caller's to free (runtime_destroy releases only the runtime's
 * memory). Any thread or task; idempotent. */
VEX_API int runtime_shutdown(Runtime *rt);

/* When enabled, runtime_run returns once every spawned task returned DONE
 * (parked tasks count as live). Off by default. Any thread. */
VEX_API int runtime_enable_auto_shutdown(Runtime *rt, bool enabled);

/* Writes the summed counters to *out. Any thread. */
VEX_API int runtime_get_stats(Runtime *rt, RuntimeStats *out);

/* Turns trace events on or off (written through the platform's trace hook,
 * stderr by default). Off by default. Any thread. */
VEX_API int runtime_set_tracing(Runtime *rt, bool enabled);

/* --- From inside a task (ctx is the argument of the resume function) --- */

/* Queues a new task on the current worker (other workers may steal it).
 * Same errors as runtime_spawn_global. Only from inside a task. */
VEX_API int worker_spawn_local(WorkerContext *ctx, coro_resume_func fn, void *data);

/* Arms a timer for this resume: the task is resumed no earlier than millis
 * from now. Replaces a timer armed earlier in the same resume. */
VEX_API int worker_await_after(WorkerContext *ctx, uint64_t millis);

/* Arms a timer for this resume at an absolute worker_now_ns() deadline; a
 * deadline already past resumes the task promptly. */
VEX_API int worker_await_deadline(WorkerContext *ctx, uint64_t deadline_ns);

/* Returns the runtime's monotonic clock in nanoseconds (0 for a NULL ctx). */
VEX_API uint64_t worker_now_ns(WorkerContext *ctx);

/* Arms one-shot readiness interest on fd for this resume; replaces an I/O
 * await armed earlier in the same resume. With a timer in the same resume,
 * whichever fires first wins. An await that cannot be armed (a negative or
 * closed fd, no I/O backend, no direction in type) returns its error and
 * also resumes the task at once with VEX_WAKE_ERROR, whatever else the
 * resume armed, so a program that ignores the result never hangs. */
VEX_API int worker_await_io(WorkerContext *ctx, int fd, EventType type);

/* worker_await_io for a generic OS handle (fd, SOCKET or HANDLE). */
VEX_API int worker_await_ioh(WorkerContext *ctx, IoHandle h, EventType type);

/* Returns the current task's cancellation token, valid until the task returns
 * DONE; NULL for a NULL ctx or outside a resume. */
VEX_API CancelToken *worker_cancel_token(WorkerContext *ctx);

/* Returns true once cancellation was requested on t (false for NULL). Any thread. */
VEX_API bool cancel_requested(const CancelToken *t);

/* Requests cancellation: sets the flag and, if the token's task is parked,
 * wakes it promptly (its pending awaits are dropped). Any thread; NULL gives
 * VEX_EINVAL; repeated requests are harmless. */
VEX_API int cancel_request(CancelToken *t);

#ifdef __cplusplus
}
#endif

#endif /* VEXRT_VEXRT_RUNTIME_H */
