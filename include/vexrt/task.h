/* vexrt/task.h - task-side extensions to the seed API: why a resume
 * happened, and finer-grained timer awaits. */
#ifndef VEXRT_TASK_H
#define VEXRT_TASK_H

#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why the current resume happened. READABLE and WRITABLE may be combined
 * (value 3) when both directions were armed and ready. */
typedef enum {
    VEX_WAKE_NONE = 0,      /* first resume, or after a yield (a task spawned with a
                             * cancelled token starts with VEX_WAKE_CANCELLED) */
    VEX_WAKE_READABLE = 1,  /* the I/O await fired: readable */
    VEX_WAKE_WRITABLE = 2,  /* the I/O await fired: writable */
    VEX_WAKE_TIMER = 4,     /* the timer await fired (or its deadline had passed) */
    VEX_WAKE_CANCELLED = 5, /* cancel_request on the task's token */
    VEX_WAKE_NOTIFIED = 6,  /* the notify await was signalled (or had a permit) */
    VEX_WAKE_ERROR = 7,     /* an await could not be armed (bad handle, busy notify, ...) */
    VEX_WAKE_HANGUP = 8,    /* the handle reported hang-up or an error condition */
    VEX_WAKE_COMPLETED = 9  /* the operation (worker_await_op, worker_await_blocking) completed */
} VexWakeReason;

/* Returns why the current resume happened (VEX_WAKE_NONE for a NULL ctx). */
VEX_API VexWakeReason worker_wake_reason(WorkerContext *ctx);

/* Arms a timer for this resume: resumed no earlier than nanos from now. */
VEX_API int worker_await_after_ns(WorkerContext *ctx, uint64_t nanos);

/* Returns the runtime's monotonic clock in nanoseconds, the clock of
 * worker_now_ns and worker_await_deadline, from any thread (so deadlines can
 * be computed before spawning); 0 for a NULL runtime. */
VEX_API uint64_t runtime_now_ns(Runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_TASK_H */
