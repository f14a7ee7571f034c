/* platform/bsd/bsd.h - the BSD and macOS build's kqueue backend. Each
 * function has the contract of the matching VexPlatform entry in
 * vexrt/platform.h. */
#ifndef VX_PLATFORM_BSD_H
#define VX_PLATFORM_BSD_H

#include "vexrt/platform.h"

/* Fills in the poller, I/O and signal entries of p for the kqueue backend. */
void vx_bsd_kqueue_fill(VexPlatform *p);

/* Signals as handles: a kqueue of its own watching EVFILT_SIGNAL, which the
 * runtime's poller watches for readability. */
int vx_bsd_signal_open(void *ctx, int signo, IoHandle *out);
int vx_bsd_signal_consume(void *ctx, IoHandle h);
int vx_bsd_signal_close(void *ctx, IoHandle h);

#endif /* VX_PLATFORM_BSD_H */
