/* platform/win32/win32.h - the Windows pieces of a platform vtable: threads,
 * the QueryPerformanceCounter clock, WaitOnAddress parking, tracing, error
 * translation, the IOCP poller and signal handles. Each vtable function has
 * the contract of the matching VexPlatform entry in vexrt/platform.h. Only
 * platform/win32/ includes this header (it brings in <windows.h>). */
#ifndef VX_PLATFORM_WIN32_H
#define VX_PLATFORM_WIN32_H

#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00 /* WaitOnAddress (8), CancelIoEx and GetQueuedCompletionStatusEx (Vista) */
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>

#include <stddef.h>
#include <stdint.h>

#include "vexrt/platform.h"

/* What VexPlatform.ctx points to for the Windows backends: read-only facts
 * about the machine, filled once when the backend table is built. */
typedef struct VxWinCtx {
    uint64_t qpc_freq; /* QueryPerformanceFrequency, ticks per second */
} VxWinCtx;

/* Fills *c (called once, before the platform is handed out). */
void vx_win_ctx_init(VxWinCtx *c);

/* Bytes of a thread handle (VexPlatform.thread_size); win32.c checks it. */
#define VX_WIN_THREAD_SIZE (4 * sizeof(void *))

int vx_win_thread_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg);
int vx_win_thread_join(void *ctx, void *thread);
uintptr_t vx_win_thread_self(void *ctx);
uint32_t vx_win_cpu_count(void *ctx);
uint64_t vx_win_now_ns(void *ctx);
int vx_win_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns);
void vx_win_unpark(void *ctx, uint32_t *word, uint32_t count);
void vx_win_trace(void *ctx, const char *line);

/* Translates a Win32 (GetLastError) or Winsock (WSAGetLastError) code to a
 * VEX_E* code; 0 stays 0. */
int vx_win_error(DWORD err);
/* Translates an NTSTATUS (an IO_STATUS_BLOCK's Status, an OVERLAPPED's
 * Internal) to a VEX_E* code; success codes give 0. */
int vx_win_ntstatus(LONG status);
/* Converts a tick count of QueryPerformanceCounter to nanoseconds without
 * overflow for any uptime. */
uint64_t vx_win_ticks_to_ns(uint64_t ticks, uint64_t freq);

/* Fills in the poller and I/O entries of p for the IOCP backend. */
void vx_win_iocp_fill(VexPlatform *p);

/* Signals (signal.c): SIGINT, SIGBREAK and SIGTERM as they reach the C
 * runtime (Ctrl+C, Ctrl+Break, raise()); the handle is a socket that is
 * readable while a delivery is pending. */
int vx_win_signal_open(void *ctx, int signo, IoHandle *out);
int vx_win_signal_consume(void *ctx, IoHandle h);
int vx_win_signal_close(void *ctx, IoHandle h);

#endif /* VX_PLATFORM_WIN32_H */
