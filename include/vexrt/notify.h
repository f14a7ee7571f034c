/* vexrt/notify.h - notifications between tasks and threads (tasks of
 * another runtime included: the woken task always runs on its own runtime).
 *
 * A VexNotify is an event with one stored permit (a binary semaphore with a
 * single waiter): a signal wakes the task waiting on it, or, if none waits,
 * leaves one permit that the next await consumes at once. Permits do not
 * accumulate. It shares the wake path of timers and cancellation: a notify
 * await may be combined with a timer await in the same resume (whichever
 * fires first wins; see worker_wake_reason in vexrt/task.h). */
#ifndef VEXRT_NOTIFY_H
#define VEXRT_NOTIFY_H

#include <stdbool.h>

#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VexNotify VexNotify;

/* Creates a notification with no permit, using rt's allocator; NULL if rt is
 * NULL or memory runs out. Any thread. */
VEX_API VexNotify *vex_notify_create(Runtime *rt);

/* Frees n; VEX_EBUSY (and n is kept) if a task is still waiting on it.
 * After runtime_destroy, every notify of that runtime may be destroyed (its
 * waiters are gone); signalling one gives VEX_ESHUTDOWN. NULL is a no-op. */
VEX_API int vex_notify_destroy(VexNotify *n);

/* Wakes the task waiting on n, or stores the permit if none waits. Any
 * thread; a task should prefer worker_notify_signal. */
VEX_API int vex_notify_signal(VexNotify *n);

/* As vex_notify_signal, from inside a task: the woken task is queued on the
 * caller's worker and runs next there (message-passing hand-off). */
VEX_API int worker_notify_signal(WorkerContext *ctx, VexNotify *n);

/* Awaits n in this resume: a stored permit is consumed and the task is
 * resumed promptly; otherwise it parks until n is signalled. Only one task
 * may wait on n at a time (a second waiter is resumed at once with
 * VEX_WAKE_ERROR). Replaces an I/O or notify await of the same resume. */
VEX_API int worker_await_notify(WorkerContext *ctx, VexNotify *n);

/* Consumes the permit if one is stored; never waits. Any thread. */
VEX_API bool vex_notify_try_take(VexNotify *n);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_NOTIFY_H */
