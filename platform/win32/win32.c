/* platform/win32/win32.c - threads, the monotonic clock, parking, CPU count,
 * trace output and error translation for Windows. No I/O here (iocp.c). */
#include "win32.h"

#include <process.h>
#include <stdio.h>

#include "vexrt/error.h"

/* --- Threads --- */

/* The handle the core reserves per thread: the OS handle and the start
 * routine, which the trampoline reads (_beginthreadex passes one pointer). */
typedef struct {
    HANDLE h;
    vex_thread_func fn;
    void *arg;
} WinThread;

_Static_assert(sizeof(WinThread) <= VX_WIN_THREAD_SIZE, "thread handle too small");

static unsigned __stdcall trampoline(void *p)
{
    WinThread *t = (WinThread *)p;
    t->fn(t->arg);
    return 0;
}

int vx_win_thread_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg)
{
    (void)ctx;
    WinThread *t = (WinThread *)thread;
    t->fn = fn;
    t->arg = arg;
    /* _beginthreadex rather than CreateThread: the C runtime's per-thread
     * state (errno, stdio locks) is set up for the thread. */
    uintptr_t h = _beginthreadex(NULL, 0, trampoline, t, 0, NULL);
    if (!h) return GetLastError() == ERROR_NOT_ENOUGH_MEMORY ? VEX_ENOMEM : VEX_EAGAIN;
    t->h = (HANDLE)h;
    return 0;
}

uintptr_t vx_win_thread_self(void *ctx)
{
    (void)ctx;
    return (uintptr_t)GetCurrentThreadId(); /* never 0 */
}

int vx_win_thread_join(void *ctx, void *thread)
{
    (void)ctx;
    WinThread *t = (WinThread *)thread;
    DWORD r = WaitForSingleObject(t->h, INFINITE);
    int rc = r == WAIT_OBJECT_0 ? 0 : vx_win_error(GetLastError());
    CloseHandle(t->h);
    t->h = NULL;
    return rc;
}

uint32_t vx_win_cpu_count(void *ctx)
{
    (void)ctx;
    /* The CPUs this process may run on (its affinity mask, like Linux's
     * sched_getaffinity), else every active one. */
    DWORD_PTR proc = 0, sys = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys) && proc) {
        uint32_t n = 0;
        for (; proc; proc &= proc - 1) n++;
        return n;
    }
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return n ? (uint32_t)n : 1;
}

/* --- Time --- */

void vx_win_ctx_init(VxWinCtx *c)
{
    LARGE_INTEGER f;
    /* Never fails since Windows XP; the fallback only keeps the division safe. */
    c->qpc_freq = QueryPerformanceFrequency(&f) && f.QuadPart > 0 ? (uint64_t)f.QuadPart : 1000000000u;
}

uint64_t vx_win_ticks_to_ns(uint64_t ticks, uint64_t freq)
{
    /* ticks * 1e9 / freq overflows after ~30 minutes at 10 MHz: split into
     * whole seconds and the remainder (remainder * 1e9 < freq * 1e9, which
     * fits for any frequency below 18 GHz). */
    return ticks / freq * 1000000000u + ticks % freq * 1000000000u / freq;
}

uint64_t vx_win_now_ns(void *ctx)
{
    const VxWinCtx *c = (const VxWinCtx *)ctx;
    uint64_t freq = c ? c->qpc_freq : 0;
    if (!freq) {
        VxWinCtx tmp;
        vx_win_ctx_init(&tmp);
        freq = tmp.qpc_freq;
    }
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return vx_win_ticks_to_ns((uint64_t)t.QuadPart, freq);
}

/* --- Parking --- */

/* Milliseconds for a wait of ns, rounded up so a wait never ends early on
 * its own account; INFINITE is never produced by accident. */
static DWORD ms_ceil(uint64_t ns)
{
    uint64_t ms = ns / 1000000u + (ns % 1000000u != 0);
    return ms >= (uint64_t)INFINITE ? INFINITE - 1 : (DWORD)ms;
}

int vx_win_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    if (timeout_ns == 0) return *(volatile uint32_t *)word == expected ? VEX_ETIMEDOUT : 0;
    if (timeout_ns == VEX_WAIT_FOREVER) {
        /* Returns when woken, when *word differs, or spuriously: all are 0. */
        WaitOnAddress(word, &expected, sizeof expected, INFINITE);
        return 0;
    }
    uint64_t deadline = vx_win_now_ns(ctx) + timeout_ns;
    if (deadline < timeout_ns) deadline = UINT64_MAX;
    for (;;) {
        uint64_t now = vx_win_now_ns(ctx);
        if (now >= deadline) return VEX_ETIMEDOUT;
        if (WaitOnAddress(word, &expected, sizeof expected, ms_ceil(deadline - now))) return 0;
        if (GetLastError() != ERROR_TIMEOUT) return 0;
        /* Windows timeouts end on a clock tick and can come a little before
         * the requested span by QueryPerformanceCounter: the deadline is
         * checked again, and the wait resumed for what is left. */
    }
}

void vx_win_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    if (count == 1)
        WakeByAddressSingle(word);
    else if (count)
        WakeByAddressAll(word); /* "up to count" allows waking more */
}

/* --- Diagnostics --- */

void vx_win_trace(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* --- Errors --- */

int vx_win_error(DWORD err)
{
    switch (err) {
    case 0: return 0;
    case ERROR_INVALID_PARAMETER:
    case WSAEINVAL:
    case WSAEFAULT:
    case ERROR_INVALID_ADDRESS:
    case ERROR_NOACCESS: return VEX_EINVAL;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT: return VEX_ENOMEM;
    case WSAEWOULDBLOCK:
    case ERROR_IO_PENDING: return VEX_EAGAIN;
    case ERROR_INVALID_HANDLE: return VEX_EBADF;
    case ERROR_OPERATION_ABORTED:
    case ERROR_REQUEST_ABORTED:
    case WSAECANCELLED: return VEX_ECANCELED;
    case ERROR_TIMEOUT:
    case WAIT_TIMEOUT:
    case ERROR_SEM_TIMEOUT:
    case WSAETIMEDOUT: return VEX_ETIMEDOUT;
    case ERROR_CALL_NOT_IMPLEMENTED:
    case WSANOTINITIALISED:
    case WSASYSNOTREADY: return VEX_ENOSYS;
    case ERROR_BUSY:
    case ERROR_LOCK_VIOLATION:
    case ERROR_PIPE_BUSY: return VEX_EBUSY;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
    case WSAEOPNOTSUPP:
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
    case WSAEPROTOTYPE: return VEX_ENOTSUP;
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
    case WSAECONNRESET:
    case WSAECONNABORTED:
    case WSAENETRESET:
    case WSAEDISCON: return VEX_ECONNRESET;
    case ERROR_BROKEN_PIPE:
    case ERROR_NO_DATA:
    case ERROR_PIPE_NOT_CONNECTED:
    case WSAESHUTDOWN: return VEX_EPIPE;
    case ERROR_CONNECTION_REFUSED:
    case WSAECONNREFUSED: return VEX_ECONNREFUSED;
    case WSAENOTCONN:
    case ERROR_GRACEFUL_DISCONNECT: return VEX_ENOTCONN;
    case ERROR_ADDRESS_ALREADY_ASSOCIATED:
    case WSAEADDRINUSE: return VEX_EADDRINUSE;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_DRIVE:
    case ERROR_MOD_NOT_FOUND: return VEX_ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_WRITE_PROTECT:
    case WSAEACCES: return VEX_EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS: return VEX_EEXIST;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL: return VEX_ENOSPC;
    case WSAEINTR: return VEX_EINTR;
    case ERROR_TOO_MANY_OPEN_FILES:
    case WSAEMFILE: return VEX_EMFILE;
    case WSAENOBUFS:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_NONPAGED_SYSTEM_RESOURCES:
    case ERROR_INSUFFICIENT_BUFFER: return VEX_ENOBUFS;
    case WSAEADDRNOTAVAIL: return VEX_EADDRNOTAVAIL;
    case ERROR_NETWORK_UNREACHABLE:
    case WSAENETUNREACH:
    case WSAENETDOWN: return VEX_ENETUNREACH;
    case ERROR_HOST_UNREACHABLE:
    case WSAEHOSTUNREACH:
    case WSAEHOSTDOWN: return VEX_EHOSTUNREACH;
    case WSAEISCONN: return VEX_EISCONN;
    case WSAEINPROGRESS:
    case WSAEALREADY: return VEX_EINPROGRESS;
    case ERROR_FILE_TOO_LARGE: return VEX_EFBIG;
    case 336: return VEX_EISDIR; /* ERROR_DIRECTORY_NOT_SUPPORTED, missing from mingw's headers */
    case WSAENOTSOCK: return VEX_ENOTSOCK;
    case ERROR_ARITHMETIC_OVERFLOW: return VEX_EOVERFLOW;
    case ERROR_NEGATIVE_SEEK: return VEX_ERANGE;
    default: return VEX_EIO;
    }
}

/* NTSTATUS values the poller meets most; the rest go through ntdll's own
 * table to a Win32 code. */
#define VX_STATUS_CANCELLED ((LONG)0xC0000120)
#define VX_STATUS_INVALID_HANDLE ((LONG)0xC0000008)
#define VX_STATUS_CONNECTION_RESET ((LONG)0xC000020D)
#define VX_STATUS_CONNECTION_REFUSED ((LONG)0xC0000236)
#define VX_STATUS_CONNECTION_ABORTED ((LONG)0xC0000241)
#define VX_STATUS_LOCAL_DISCONNECT ((LONG)0xC000013B)
#define VX_STATUS_REMOTE_DISCONNECT ((LONG)0xC000013C)
#define VX_STATUS_PIPE_BROKEN ((LONG)0xC000014B)

ULONG NTAPI RtlNtStatusToDosError(LONG status);

int vx_win_ntstatus(LONG status)
{
    /* Severity in the top two bits: only 3 (error) failed; warnings such
     * as STATUS_BUFFER_OVERFLOW (a truncated datagram) still moved data. */
    if (((ULONG)status >> 30) != 3) return 0;
    switch (status) {
    case VX_STATUS_CANCELLED: return VEX_ECANCELED;
    case VX_STATUS_INVALID_HANDLE: return VEX_EBADF;
    case VX_STATUS_CONNECTION_RESET:
    case VX_STATUS_CONNECTION_ABORTED:
    case VX_STATUS_LOCAL_DISCONNECT:
    case VX_STATUS_REMOTE_DISCONNECT: return VEX_ECONNRESET;
    case VX_STATUS_CONNECTION_REFUSED: return VEX_ECONNREFUSED;
    case VX_STATUS_PIPE_BROKEN: return VEX_EPIPE;
    default: return vx_win_error(RtlNtStatusToDosError(status));
    }
}
