/* vexrt/embed.h - running the runtime inside another program's event loop
 * (a GUI, a game loop, a libuv or GLib application) instead of giving it a
 * thread: libuv's uv_backend_fd / uv_backend_timeout / uv_run(NOWAIT) model.
 *
 * The host adds the runtime's backend handle to its own poll set, waits on
 * it with at most runtime_backend_timeout_ns, and calls runtime_step when it
 * is readable or the timeout has passed:
 *
 *     IoHandle h;
 *     runtime_backend_handle(rt, &h);
 *     while (runtime_step(rt, 0) > 0) {
 *         ... poll h (readable) and the host's own descriptors, with a
 *             timeout of runtime_backend_timeout_ns(rt) ...
 *     }
 *
 * The thread that calls runtime_step is the runtime's worker 0 (tasks run on
 * it, inside runtime_step); with more workers, the others run on threads of
 * their own as usual. docs/embedding.md has complete examples. */
#ifndef VEXRT_EMBED_H
#define VEXRT_EMBED_H

#include <stdint.h>

#include "vexrt/platform.h" /* VEX_WAIT_FOREVER */
#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Runs what is ready now (tasks, due timers, completed or ready I/O) on the
 * calling thread, which must be the same on every call; then, if nothing
 * was ready, waits at most timeout_ns for something to do (0: never waits;
 * VEX_WAIT_FOREVER: until there is). Returns 1 while the runtime has tasks
 * (call it again), 0 once it has stopped (runtime_shutdown, or auto-shutdown
 * with nothing left: destroy it then), VEX_EBUSY if runtime_run drives it,
 * or the error that kept this thread's poller state from being set up. The
 * first call starts the runtime, as runtime_run would. */
VEX_API int runtime_step(Runtime *rt, uint64_t timeout_ns);

/* Writes a handle that becomes readable whenever runtime_step has work:
 * the epoll or kqueue descriptor, or worker 0's io_uring ring. Poll it for
 * readability only, never read it. Returns VEX_ENOSYS where the backend has
 * no such handle (IOCP, a platform without a poller): the host then calls
 * runtime_step at least every runtime_backend_timeout_ns, or with a wait of
 * its own. From the thread that calls runtime_step (it sets that thread's
 * poller state up on the first call). */
VEX_API int runtime_backend_handle(Runtime *rt, IoHandle *out);

/* Nanoseconds until runtime_step has something to do without an event on
 * the backend handle: 0 if work is ready now (or the runtime stopped), the
 * time to worker 0's next timer, or VEX_WAIT_FOREVER. Any thread. */
VEX_API uint64_t runtime_backend_timeout_ns(Runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_EMBED_H */
