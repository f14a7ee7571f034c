/* vexrt/channel.h - a bounded channel of pointers between tasks and threads
 * (tasks of another runtime included: a woken task runs on its own runtime).
 *
 * A ring of `capacity` slots guarded by a small lock, with two notifications
 * beside it (vexrt/notify.h): one signalled when a value arrives, one when a
 * slot frees up. Sending and receiving never block; a task that finds the
 * channel full (or empty) awaits the matching notification and tries again
 * when resumed. As with a notify, at most one task at a time may await each
 * side (a second waiter is resumed at once with VEX_WAKE_ERROR); any number
 * of tasks and threads may send and receive without waiting. */
#ifndef VEXRT_CHANNEL_H
#define VEXRT_CHANNEL_H

#include <stddef.h>

#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VexChannel VexChannel;

/* Creates an empty, open channel of capacity (>= 1) slots using rt's
 * allocator; NULL on bad arguments or when memory runs out. Any thread. */
VEX_API VexChannel *vex_channel_create(Runtime *rt, size_t capacity);

/* Frees ch; VEX_EBUSY if a task still awaits it. Values still queued are
 * dropped (they are the caller's). May follow runtime_destroy. NULL: no-op. */
VEX_API int vex_channel_destroy(VexChannel *ch);

/* Queues value: 0, VEX_EAGAIN if the channel is full, VEX_EPIPE once it was
 * closed. Wakes a receiver awaiting it. Any thread. */
VEX_API int vex_channel_send(VexChannel *ch, void *value);

/* Takes the oldest value into *value: 0, VEX_EAGAIN if empty, VEX_EPIPE if
 * empty and closed. Wakes a sender awaiting room. Any thread. */
VEX_API int vex_channel_recv(VexChannel *ch, void **value);

/* As vex_channel_send / vex_channel_recv, from inside a task: a task woken
 * by the call runs next on this worker (hand-off). */
VEX_API int worker_channel_send(WorkerContext *ctx, VexChannel *ch, void *value);
VEX_API int worker_channel_recv(WorkerContext *ctx, VexChannel *ch, void **value);

/* Awaits a value (recv) or a free slot (send) in this resume; also resumed
 * when the channel is closed. The task should try again when resumed. */
VEX_API int worker_await_channel_recv(WorkerContext *ctx, VexChannel *ch);
VEX_API int worker_await_channel_send(WorkerContext *ctx, VexChannel *ch);

/* Closes ch: sends fail with VEX_EPIPE, receives drain what is queued, and
 * both waiters are woken. Idempotent. Any thread. */
VEX_API int vex_channel_close(VexChannel *ch);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_CHANNEL_H */
