/* platform/linux/linux.h - the Linux I/O backends (epoll, io_uring) and the
 * pieces they share. Each function has the contract of the matching
 * VexPlatform entry in vexrt/platform.h. */
#ifndef VX_PLATFORM_LINUX_H
#define VX_PLATFORM_LINUX_H

#include <pthread.h>
#include <stdint.h>

#include "../posix/io_ops.h"
#include "vexrt/platform.h"

#define VX_INLINE_PLAT static inline

/* io_try / io_blocking: vx_posix_io_try / vx_posix_io_blocking. */
int vx_linux_signal_open(void *ctx, int signo, IoHandle *out);
int vx_linux_signal_consume(void *ctx, IoHandle h);
int vx_linux_signal_close(void *ctx, IoHandle h);

/* Fills in the poller entries of p for the backend. */
void vx_linux_epoll_fill(VexPlatform *p);
void vx_linux_uring_fill(VexPlatform *p);
/* True if io_uring can be set up in this process (not disabled by sysctl
 * or seccomp, kernel new enough for what the backend uses). */
int vx_linux_uring_usable(void);
/* True if the process runs under valgrind (backends.c says why it matters). */
int vx_linux_under_valgrind(void);

#endif /* VX_PLATFORM_LINUX_H */
