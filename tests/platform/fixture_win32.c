/* tests/platform/fixture_win32.c - fixture.h for Windows: handles made and
 * driven with Winsock and the Win32 file calls, behind the back of the
 * platform under test, and a watchdog thread.
 *
 * Windows has no AF_UNIX socketpair in every version and no pollable pipes:
 * FX_SOCKETPAIR is a loopback TCP pair like FX_TCP, and FX_PIPE is not
 * offered (fx_pair returns -1, the checks using it are skipped). Regular
 * files are opened for overlapped I/O (what the IOCP backend's native
 * operations take) and deleted when closed. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <windows.h>
#include <ws2tcpip.h>

#include <stdio.h>
#include <string.h>

#include "fixture.h"

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static int wsa_ok;

static BOOL CALLBACK wsa_start(PINIT_ONCE once, void *param, void **out)
{
    (void)once;
    (void)param;
    (void)out;
    WSADATA wd;
    wsa_ok = WSAStartup(MAKEWORD(2, 2), &wd) == 0; /* kept until the process ends */
    return TRUE;
}

/* Winsock is started once, by the first fixture call that needs it. */
static int wsa(void)
{
    InitOnceExecuteOnce(&wsa_once, wsa_start, NULL, NULL);
    return wsa_ok ? 0 : -1;
}

static int nonblocking(SOCKET s)
{
    u_long one = 1;
    return ioctlsocket(s, FIONBIO, &one) == 0 ? 0 : -1;
}

static void loopback(uint16_t port, struct sockaddr_in *a)
{
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

int fx_listen(IoHandle *h, uint16_t *port)
{
    if (wsa()) return -1;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return -1;
    /* No SO_REUSEADDR: on Windows it lets another socket take the port. */
    struct sockaddr_in a;
    loopback(0, &a);
    int len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0 || nonblocking(s) != 0) {
        closesocket(s);
        return -1;
    }
    *port = ntohs(a.sin_port);
    *h = (IoHandle)s;
    return 0;
}

int fx_socket(IoHandle *h, uint16_t port, void *addr, size_t *addrlen)
{
    if (wsa() || *addrlen < sizeof(struct sockaddr_in)) return -1;
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (s == INVALID_SOCKET) return -1;
    if (nonblocking(s) != 0) {
        closesocket(s);
        return -1;
    }
    struct sockaddr_in a;
    loopback(port, &a);
    memcpy(addr, &a, sizeof a);
    *addrlen = sizeof a;
    *h = (IoHandle)s;
    return 0;
}

static int tcp_pair(IoHandle h[2])
{
    IoHandle l;
    uint16_t port;
    if (fx_listen(&l, &port) != 0) return -1;
    SOCKET c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in a;
    loopback(port, &a);
    /* A blocking connect to a listening loopback socket completes at once. */
    if (c == INVALID_SOCKET || connect(c, (struct sockaddr *)&a, sizeof a) != 0) {
        if (c != INVALID_SOCKET) closesocket(c);
        closesocket((SOCKET)l);
        return -1;
    }
    SOCKET s = INVALID_SOCKET;
    for (int tries = 0; s == INVALID_SOCKET && tries < 2000; tries++) { /* the listener is non-blocking */
        s = accept((SOCKET)l, NULL, NULL);
        if (s == INVALID_SOCKET && WSAGetLastError() != WSAEWOULDBLOCK) break;
        if (s == INVALID_SOCKET) fx_sleep_ms(1);
    }
    closesocket((SOCKET)l);
    int nodelay = 1;
    if (s == INVALID_SOCKET || nonblocking(c) != 0 || nonblocking(s) != 0) {
        closesocket(c);
        if (s != INVALID_SOCKET) closesocket(s);
        return -1;
    }
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, sizeof nodelay);
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, sizeof nodelay);
    h[0] = (IoHandle)c;
    h[1] = (IoHandle)s;
    return 0;
}

int fx_pair(int kind, IoHandle h[2])
{
    switch (kind) {
    case FX_TCP:
    case FX_SOCKETPAIR: return tcp_pair(h);
    default: return -1; /* FX_PIPE: anonymous pipes cannot be polled on Windows */
    }
}

int fx_file(IoHandle *h)
{
    char dir[MAX_PATH], path[MAX_PATH];
    DWORD n = GetTempPathA(sizeof dir, dir);
    if (n == 0 || n >= sizeof dir || !GetTempFileNameA(dir, "vxc", 0, path)) return -1;
    HANDLE f = CreateFileA(path, GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, CREATE_ALWAYS,
                           FILE_ATTRIBUTE_TEMPORARY | FILE_FLAG_OVERLAPPED | FILE_FLAG_DELETE_ON_CLOSE,
                           NULL);
    if (f == INVALID_HANDLE_VALUE) {
        DeleteFileA(path);
        return -1;
    }
    *h = (IoHandle)f;
    return 0;
}

long fx_write(IoHandle h, const void *buf, size_t len)
{
    int n = len > 0x7FFFFFFF ? 0x7FFFFFFF : (int)len;
    int r = send((SOCKET)h, (const char *)buf, n, 0);
    if (r >= 0) return r;
    int err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) return -1;
    if (err == WSAENOTSOCK) {
        DWORD done = 0;
        return WriteFile((HANDLE)h, buf, (DWORD)n, &done, NULL) ? (long)done : -2;
    }
    return -2;
}

long fx_read(IoHandle h, void *buf, size_t len)
{
    int n = len > 0x7FFFFFFF ? 0x7FFFFFFF : (int)len;
    int r = recv((SOCKET)h, (char *)buf, n, 0);
    if (r >= 0) return r;
    int err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) return -1;
    if (err == WSAENOTSOCK) {
        DWORD done = 0;
        if (ReadFile((HANDLE)h, buf, (DWORD)n, &done, NULL)) return (long)done;
        return GetLastError() == ERROR_BROKEN_PIPE || GetLastError() == ERROR_HANDLE_EOF ? 0 : -2;
    }
    return -2;
}

void fx_close(IoHandle h)
{
    if (closesocket((SOCKET)h) != 0 && WSAGetLastError() == WSAENOTSOCK) CloseHandle((HANDLE)h);
}

void fx_reset(IoHandle h)
{
    struct linger lg = {1, 0};
    setsockopt((SOCKET)h, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg);
    closesocket((SOCKET)h);
}

/* Kernel handle values are multiples of 4 below 2^26 (16 M handles per
 * process at most); this one is far above, below 2^32 (the core's handle
 * table range), and not one of the pseudo-handles (-1, -2, ...). */
IoHandle fx_invalid_handle(void) { return (IoHandle)0x7FFFFFF0u; }

void fx_sleep_ms(unsigned ms)
{
    /* Sleep may end on the clock tick just before the span: sleep on until
     * the performance counter agrees. */
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    long long end = t.QuadPart + (long long)ms * f.QuadPart / 1000;
    while (QueryPerformanceCounter(&t), t.QuadPart < end) {
        long long left_ms = (end - t.QuadPart) * 1000 / f.QuadPart;
        Sleep(left_ms > 0 ? (DWORD)left_ms : 1);
    }
}

/* --- Watchdog: one thread and a deadline on GetTickCount64. --- */

static SRWLOCK wd_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE wd_cond = CONDITION_VARIABLE_INIT;
static int wd_started, wd_armed;
static ULONGLONG wd_deadline;
static unsigned wd_seconds;
static char wd_what[160];

static DWORD WINAPI wd_main(void *arg)
{
    (void)arg;
    AcquireSRWLockExclusive(&wd_lock);
    for (;;) {
        if (!wd_armed) {
            SleepConditionVariableSRW(&wd_cond, &wd_lock, INFINITE, 0);
            continue;
        }
        ULONGLONG now = GetTickCount64();
        if (now >= wd_deadline) {
            fprintf(stderr, "[FAIL] %s : hung, still running after %u s (watchdog)\n", wd_what,
                    wd_seconds);
            fflush(stdout);
            fflush(stderr);
            TerminateProcess(GetCurrentProcess(), 2);
        }
        SleepConditionVariableSRW(&wd_cond, &wd_lock, (DWORD)(wd_deadline - now), 0);
    }
    return 0;
}

void fx_watchdog(unsigned seconds, const char *what)
{
    AcquireSRWLockExclusive(&wd_lock);
    if (!wd_started && seconds) {
        HANDLE th = CreateThread(NULL, 0, wd_main, NULL, 0, NULL);
        if (th) {
            CloseHandle(th);
            wd_started = 1;
        }
    }
    wd_armed = seconds != 0;
    wd_seconds = seconds;
    snprintf(wd_what, sizeof wd_what, "%s", what ? what : "");
    wd_deadline = GetTickCount64() + (ULONGLONG)seconds * 1000u;
    ReleaseSRWLockExclusive(&wd_lock);
    WakeConditionVariable(&wd_cond);
}

int fx_platforms(const char **names, int max)
{
    int n = 0;
    if (max > 0 && vex_platform_with_backend("iocp")) names[n++] = "iocp";
    return n;
}
