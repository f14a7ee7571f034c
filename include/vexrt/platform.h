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

#define VEX_PLATFORM_ABI 1

/* A timeout meaning "no timeout" for park and the poller wait. */
#define VEX_WAIT_FOREVER UINT64_MAX

typedef void (*vex_thread_func)(void *arg);

typedef struct VexPlatform {
    /* --- Identity --- */
    uint32_t abi_version; /* VEX_PLATFORM_ABI the port was written against */
    uint32_t reserved0;
    const char *name;     /* e.g. "linux-epoll", for traces and tests */
    void *ctx;            /* passed first to every entry */

    /* --- Lifecycle (optional) --- */
    /* Called once when a runtime starts using the platform, before any other
     * entry. A failure aborts runtime creation with that code. */
    int (*init)(void *ctx);
    /* Called once when the runtime is destroyed, after every other call. */
    void (*fini)(void *ctx);

    /* --- Threads --- */
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
} VexPlatform;

/* Returns the platform compiled in as the default for this OS (POSIX threads,
 * futex parking on Linux). */
VEX_API const VexPlatform *vex_platform_default(void);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_PLATFORM_H */
