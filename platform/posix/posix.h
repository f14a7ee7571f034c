/* platform/posix/posix.h - the POSIX pieces of a platform vtable (threads,
 * clock, tracing) and the Linux futex parker, shared by every backend that
 * runs on a POSIX system. Each function has the contract of the matching
 * VexPlatform entry in vexrt/platform.h. */
#ifndef VX_PLATFORM_POSIX_H
#define VX_PLATFORM_POSIX_H

#include <stddef.h>
#include <stdint.h>

#include "vexrt/platform.h"

/* Bytes of a thread handle (VexPlatform.thread_size); posix.c checks it. */
#define VX_POSIX_THREAD_SIZE (4 * sizeof(void *))

int vx_posix_thread_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg);
int vx_posix_thread_join(void *ctx, void *thread);
uintptr_t vx_posix_thread_self(void *ctx);
uint32_t vx_posix_cpu_count(void *ctx);
uint64_t vx_posix_now_ns(void *ctx);
void vx_posix_trace(void *ctx, const char *line);

/* Translates an errno value to a VEX_E* code. */
int vx_posix_error(int err);

/* Futex parking (Linux). */
int vx_futex_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void vx_futex_unpark(void *ctx, uint32_t *word, uint32_t count);

#endif /* VX_PLATFORM_POSIX_H */
