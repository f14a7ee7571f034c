/* vexrt/platform.h - the platform vtable: everything libvexrt asks of the OS.
 *
 * The core never calls the OS. Threads, the clock, parking and (with the I/O
 * layer) the poller are reached only through a VexPlatform. Porting libvexrt
 * means filling one in; docs/porting.md gives each entry's contract in
 * detail and tests/platform/ checks an implementation.
 *
 * Rules for every entry:
 *   - ctx (the struct's ctx field) is passed first, unchanged;
 *   - int results are 0 or a negative VEX_E* code (never errno values);
 *   - ports do not allocate: where an object is needed (a thread handle) the
 *     struct states its size and the core passes memory of that size;
 *   - entries marked optional may be NULL; the core then uses the stated
 *     default. runtime_create_with rejects a struct with a required entry
 *     missing, or an abi_version it does not know, with VEX_EINVAL.
 * New entries are appended and abi_version bumped; the core reads an entry
 * only if the port's abi_version says it is there. */
#ifndef VEXRT_PLATFORM_H
#define VEXRT_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include "vexrt/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VEX_PLATFORM_ABI 3 /* 2: the poller, I/O and signal entries; 3: thread_self */

/* A timeout meaning "no timeout" for park and the poller wait. */
#define VEX_WAIT_FOREVER UINT64_MAX

typedef void (*vex_thread_func)(void *arg);

struct VexIoOp; /* vexrt/io.h */

/* Readiness bits, in poller_arm's events and in readiness events' result. */
#define VEX_POLL_IN 1u
#define VEX_POLL_OUT 2u
#define VEX_POLL_HUP 4u /* peer closed or hang-up */
#define VEX_POLL_ERR 8u

/* Poller capabilities (VexPlatform.poller_caps). */
#define VEX_POLLER_PER_WORKER 1u /* a poller instance per worker: each worker waits in its own */
#define VEX_POLLER_EDGE 2u       /* poller_register gives persistent edge-triggered readiness */
#define VEX_POLLER_NATIVE_OPS 4u /* poller_submit runs VexIoOps natively */
#define VEX_POLLER_NS_TIMEOUT 8u /* poller_wait honours nanosecond timeouts (else rounds up) */

/* Positive result of poller_register: the handle is a byte stream. */
#define VEX_REG_STREAM 1

/* One event taken from the poller. */
typedef struct VexPollerEvent {
    uint64_t token;  /* as given to poller_register/arm/submit */
    int64_t result;  /* readiness: VEX_POLL_* bits, or a negative VEX_E* code if an
                      * arm failed after poller_arm returned (io_uring: a bad handle);
                      * completion: the op's result */
    uint32_t kind;   /* VEX_PEV_* */
    uint32_t reserved;
} VexPollerEvent;

/* Tokens: the low two bits of a core token tell its kind. Tokens passed to
 * poller_submit have VEX_TOKEN_OP set (their completions are reported as
 * VEX_PEV_DONE); tokens passed to poller_register and poller_arm have both
 * low bits clear (VEX_PEV_READY). A port whose completions carry only the
 * token (io_uring's user_data) may tell the kind from it. A port may use
 * tokens whose low two bits are VEX_TOKEN_PORT for its own requests
 * (wake-up polls, cancellations) and must not report them. */
#define VEX_TOKEN_OP 1u
#define VEX_TOKEN_PORT 3u
#define VEX_PEV_READY 1u /* readiness of a registered or armed handle */
#define VEX_PEV_DONE 2u  /* a submitted or cancelled operation completed */

typedef struct VexPlatform {
    /* --- Identity --- */
    uint32_t abi_version; /* VEX_PLATFORM_ABI the port was written against */
    uint32_t reserved0;
    const char *name;     /* the backend's name ("epoll", "io_uring", "kqueue", "iocp"),
                           * as runtime_io_backend reports it */
    void *ctx;            /* passed first to every entry */

    /* --- Lifecycle (optional) --- */
    /* Called once when a runtime starts using the platform, before any other
     * entry. A failure aborts runtime creation with that code. */
    int (*init)(void *ctx);
    /* Called once when the runtime is destroyed, after every other call. */
    void (*fini)(void *ctx);

    /* --- Threads (optional as a pair: with thread_spawn and thread_join
     * NULL the runtime has one worker, the thread that calls runtime_run,
     * and blocking jobs run on it) --- */
    size_t thread_size; /* bytes the core reserves for one thread handle */
    /* Starts a thread running fn(arg); thread points to thread_size bytes the
     * port fills in. Returns VEX_EAGAIN/VEX_ENOMEM on failure (nothing started). */
    int (*thread_spawn)(void *ctx, void *thread, vex_thread_func fn, void *arg);
    /* Waits for a thread started by thread_spawn to return and releases what
     * the port holds for it. Called exactly once per successful spawn. */
    int (*thread_join)(void *ctx, void *thread);
    /* Optional: number of CPUs usable by this process (default 1). */
    uint32_t (*cpu_count)(void *ctx);

    /* --- Time --- */
    /* Monotonic clock in nanoseconds; never goes backwards. Any thread. */
    uint64_t (*now_ns)(void *ctx);

    /* --- Parking (futex semantics) --- */
    /* Blocks the calling thread while *word == expected, at most timeout_ns
     * (0: do not block; VEX_WAIT_FOREVER: no limit). word is a 32-bit atomic:
     * the check and the sleep are atomic with respect to unpark. Returns 0 when
     * woken, when *word != expected, or spuriously; VEX_ETIMEDOUT when the
     * timeout passed. Never returns early with VEX_ETIMEDOUT. Any thread. */
    int (*park)(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns);
    /* Wakes up to count threads parked on word (UINT32_MAX: all). Any thread,
     * never blocks for long. */
    void (*unpark)(void *ctx, uint32_t *word, uint32_t count);

    /* --- Diagnostics (optional) --- */
    /* Writes one trace line (no trailing newline) somewhere a human can read
     * it; called only while tracing is enabled. Any thread. */
    void (*trace)(void *ctx, const char *line);

    /* --- Poller (ABI 2; optional as a whole: poller_open NULL means no I/O:
     * readiness awaits return VEX_ENOSYS and resume the task at once with
     * VEX_WAKE_ERROR, operations complete with VEX_ENOSYS) ---
     * The core provides zeroed memory for the shared state (poller_size) and
     * for each worker's state (poller_local_size, may be 0). "local" is the
     * calling worker's state, or NULL when the caller is not a worker. */
    size_t poller_size;
    size_t poller_local_size;
    uint32_t poller_caps; /* VEX_POLLER_* */
    uint32_t reserved1;
    /* Sets up the shared state for nworkers workers. VEX_ENOSYS or VEX_EACCES
     * when the mechanism is unavailable here. */
    int (*poller_open)(void *ctx, void *poller, uint32_t nworkers);
    /* Releases the shared state, after every local state was detached. */
    void (*poller_close)(void *ctx, void *poller);
    /* Sets up a worker's local state; called on that worker's own thread
     * before it uses the poller (io_uring rings belong to their thread). */
    int (*poller_attach)(void *ctx, void *poller, void *local);
    /* Releases a worker's local state. Called after that worker's thread has
     * exited, on the thread destroying the runtime (so no poller_wake can
     * race with it): it must not assume it runs on the attaching thread. */
    void (*poller_detach)(void *ctx, void *poller, void *local);
    /* EDGE pollers: registers h once, for read and write readiness, edge-
     * triggered, reporting with token until poller_deregister. Returns 0, or
     * VEX_REG_STREAM if h is a byte stream (stream socket, pipe, terminal),
     * where a short read or write means nothing more can be read or written
     * right now (so the core waits for the next edge without trying again).
     * Errors: VEX_EBADF (not open), VEX_ENOTSUP (not pollable: regular files). */
    int (*poller_register)(void *ctx, void *poller, void *local, IoHandle h, uint64_t token);
    /* EDGE pollers: forgets h's registration (before it is closed). */
    int (*poller_deregister)(void *ctx, void *poller, IoHandle h);
    /* Reports once, with token, when h is ready for any of events
     * (VEX_POLL_IN/OUT), also if it is ready now. On EDGE pollers this
     * re-checks the registration (no new registration). Earlier arms for h may
     * still report too: the core tolerates duplicates. */
    int (*poller_arm)(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                      uint64_t token);
    /* NATIVE_OPS pollers: starts op; its completion is reported with token. */
    int (*poller_submit)(void *ctx, void *poller, void *local, struct VexIoOp *op,
                         uint64_t token);
    /* One-shot and NATIVE_OPS pollers: asks the arm or operation made with
     * token on this local state to finish early; it still reports (an op with
     * its result or VEX_ECANCELED; an arm may report nothing). Must be called
     * by the worker that made it. Takes effect before it returns where the
     * mechanism allows (io_uring submits the cancellation at once): the core
     * relies on it to close a handle only once no request holds its file
     * (io_uring requests hold a reference to the file). */
    int (*poller_cancel)(void *ctx, void *poller, void *local, uint64_t token);
    /* Waits at most timeout_ns (0: only collect what is there;
     * VEX_WAIT_FOREVER: no limit) for events, writes up to max of them to ev
     * and their count to *n. Returns 0 when woken by poller_wake, by events,
     * or by the timeout. Called by one thread at a time per state: the worker
     * owning local, or (shared pollers) the worker holding the driver. */
    int (*poller_wait)(void *ctx, void *poller, void *local, uint64_t timeout_ns,
                       VexPollerEvent *ev, uint32_t max, uint32_t *n);
    /* Makes the current or next poller_wait on local (shared pollers: on the
     * shared state) return promptly. Any thread; cheap when repeated. */
    void (*poller_wake)(void *ctx, void *poller, void *local);
    /* Performs op without blocking: 0 with op->result set (an error result
     * included), VEX_EAGAIN if it would block (wait for readiness: IN for
     * reads, recv and accept, OUT for writes, send and connect), VEX_ENOTSUP
     * if it cannot be done without blocking (files: use io_blocking). */
    int (*io_try)(void *ctx, struct VexIoOp *op);
    /* Performs op, blocking if it must; called on blocking-pool threads. */
    void (*io_blocking)(void *ctx, struct VexIoOp *op);
    /* Signals: a handle readable while signo is pending (signalfd), the
     * signal blocked in the calling thread; consume one delivery (1, or 0 if
     * none); close the handle. */
    int (*signal_open)(void *ctx, int signo, IoHandle *out);
    int (*signal_consume)(void *ctx, IoHandle h);
    int (*signal_close)(void *ctx, IoHandle h);

    /* --- Thread identity (ABI 3; optional) --- */
    /* Returns a value identifying the calling thread: never 0, the same on
     * every call from one thread, different between threads alive at the
     * same time. Lets the core tell its own workers from other threads in
     * calls that take only a Runtime (vex_io_forget). NULL: every caller is
     * taken for a thread that is not a worker (docs/porting.md says what
     * that costs). Any thread. */
    uintptr_t (*thread_self)(void *ctx);

    /* --- Hosting (ABI 3; optional) --- */
    /* As poller_attach, for a worker whose waits a host program's event
     * loop makes (vexrt/embed.h): sets local up so that *handle becomes
     * readable whenever poller_wait on it would return events or a wake-up,
     * while nobody waits in poller_wait. Called on the worker's thread,
     * instead of poller_attach. Before the host waits on the handle, the
     * core flushes a per-worker poller with a poller_wait of timeout 0 (it
     * may hold requests back until a wait, as io_uring does; returning
     * without a system call when nothing is held is expected); a shared
     * poller must apply register, arm and cancel before they return, and is
     * not called. NULL: the runtime cannot be hosted by handle
     * (runtime_backend_handle fails with VEX_ENOSYS, runtime_step still
     * works) and poller_attach is used. */
    int (*poller_attach_host)(void *ctx, void *poller, void *local, IoHandle *handle);
} VexPlatform;

/* Returns the platform compiled in as the default for this OS (POSIX threads,
 * futex parking, and on Linux io_uring where the kernel allows it, epoll
 * otherwise; VEXRT_BACKEND=epoll|io_uring in the environment overrides). */
VEX_API const VexPlatform *vex_platform_default(void);

/* Returns the platform of this OS with a given I/O backend ("epoll",
 * "io_uring"), or NULL if that backend is not built in or not usable here
 * (io_uring disabled by sysctl or seccomp, say). */
VEX_API const VexPlatform *vex_platform_with_backend(const char *backend);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_PLATFORM_H */
