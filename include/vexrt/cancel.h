/* vexrt/cancel.h - cancellation tokens the caller creates, beyond each task's
 * own token (worker_cancel_token).
 *
 * A created token is passed when spawning: cancelling it cancels every task
 * spawned with it (each task's own token becomes cancelled, and a parked task
 * is woken promptly, its timer and other awaits dropped). Tokens form a tree:
 * cancelling a parent cancels every child, including children linked after
 * the parent was cancelled (they start cancelled).
 *
 * Lifetimes: the creator holds one reference and gives it up with
 * cancel_token_destroy; tasks spawned with a token and child tokens hold
 * their own references, so a token lives until the last of them is gone.
 * Cancelling a token whose tasks have all finished is harmless. (A task's
 * own token, by contrast, is valid only until that task returns DONE.)
 * cancel_request and cancel_requested from runtime.h work on both kinds.
 * A created token may outlive its runtime: runtime_destroy drops the
 * references of the tasks it discards, and cancel_token_destroy, called
 * before or after runtime_destroy, frees the token through the runtime's
 * allocator vtable (which must still work) without touching the runtime. */
#ifndef VEXRT_CANCEL_H
#define VEXRT_CANCEL_H

#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Creates a token owned by the caller, linked under parent (a token from
 * this function, or NULL for a root). NULL if rt is NULL, parent is a task's
 * own token, or memory runs out. Any thread. */
VEX_API CancelToken *cancel_token_create(Runtime *rt, CancelToken *parent);

/* Gives up the creator's reference (the token stays valid for the tasks and
 * children still using it). Returns VEX_EINVAL for NULL or a task's own
 * token. Any thread; call once per created token. */
VEX_API int cancel_token_destroy(CancelToken *t);

/* As runtime_spawn_global, with the new task linked to token (which may be
 * NULL: no link). A task spawned with an already cancelled token starts
 * cancelled, as if cancelled while queued: cancel_requested() is true and
 * worker_wake_reason is VEX_WAKE_CANCELLED in its first resume, and an await
 * it registers in that resume does not park it (it is resumed again at
 * once). Any thread. */
VEX_API int runtime_spawn_with_token(Runtime *rt, coro_resume_func fn, void *data,
                                     CancelToken *token);

/* As worker_spawn_local, with the new task linked to token. */
VEX_API int worker_spawn_local_with_token(WorkerContext *ctx, coro_resume_func fn, void *data,
                                          CancelToken *token);

/* Returns the created token the current task was spawned with, or NULL: a
 * task uses it as the parent of tokens for work it starts itself. */
VEX_API CancelToken *worker_spawn_token(WorkerContext *ctx);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_CANCEL_H */
