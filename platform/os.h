/* platform/os.h - what an OS build of platform/ offers to platform/defaults.c:
 * its I/O backends, by index, in order of preference. defaults.c turns a
 * RuntimeConfig into a runtime with them; each OS folder (linux/, win32/,
 * bsd/) implements these four functions once, over its own table. */
#ifndef VX_PLATFORM_OS_H
#define VX_PLATFORM_OS_H

#include "vexrt/platform.h"

/* Index of the backend called name in this build ("epoll", "io_uring",
 * "kqueue", "iocp", or an alias), -1 if it is not built in. */
int vx_os_backend_index(const char *name);

/* The platform of backend i, or NULL if that backend cannot work in this
 * process (disabled by the kernel, sysctl or seccomp). Thread-safe. */
const VexPlatform *vx_os_backend(int i);

/* Index of the backend used when none is asked for: the first usable one in
 * the OS's order of preference. */
int vx_os_backend_default(void);

/* When creating a runtime on backend i failed with rc and no backend had been
 * asked for by name: the index of the backend to try instead, or -1. */
int vx_os_backend_fallback(int i, int rc);

#endif /* VX_PLATFORM_OS_H */
