/* platform/win32/signal.c - signal handles on Windows.
 *
 * Windows has no signalfd. The C runtime delivers SIGINT (Ctrl+C), SIGBREAK
 * (Ctrl+Break) and SIGTERM (raise) to handlers installed with signal(); the
 * console's close, log-off and shut-down events are delivered as SIGTERM
 * here (SetConsoleCtrlHandler). A handle from vx_win_signal_open is the
 * reading end of a loopback TCP connection, and the handler writes one byte
 * to the other end per delivery. So the handle is readable while a delivery is pending (it is a
 * socket: worker_await_ioh polls it like any other), and consuming reads
 * one byte. Other signals do not exist for Windows programs: VEX_ENOTSUP.
 *
 * The registrations are process-wide, as signal dispositions are; a lock
 * guards the table (the handler runs on the raising thread, or on the
 * console's control thread for Ctrl+C). */
#include "win32.h"

#include <signal.h>
#include <ws2tcpip.h>

#include "vexrt/error.h"

#define MAX_HANDLES 16
#define MAX_SIGNO 32

typedef struct {
    int signo; /* 0: free */
    SOCKET rd, wr;
} SigReg;

static SRWLOCK sig_lock = SRWLOCK_INIT; /* regs, users, prev */
static SigReg regs[MAX_HANDLES];
static int users[MAX_SIGNO];                  /* registrations per signal */
static void (*prev[MAX_SIGNO])(int);          /* the disposition before the first */

static void on_signal(int signo)
{
    /* The C runtime resets the disposition before calling a handler. */
    signal(signo, on_signal);
    AcquireSRWLockShared(&sig_lock);
    for (int i = 0; i < MAX_HANDLES; i++)
        if (regs[i].signo == signo) send(regs[i].wr, "s", 1, 0); /* full: already readable */
    ReleaseSRWLockShared(&sig_lock);
}

/* Console close, log-off and shut-down: SIGTERM. Windows ends the process
 * when this handler returns (or a few seconds later at most), so after the
 * delivery it waits for the program to finish on its own, as Go does. */
static BOOL WINAPI on_console(DWORD type)
{
    if (type != CTRL_CLOSE_EVENT && type != CTRL_LOGOFF_EVENT && type != CTRL_SHUTDOWN_EVENT)
        return FALSE; /* Ctrl+C and Ctrl+Break: the C runtime's handler */
    on_signal(SIGTERM);
    Sleep(INFINITE);
    return TRUE;
}

static int supported(int signo) { return signo == SIGINT || signo == SIGTERM || signo == SIGBREAK; }

/* A connected loopback TCP pair, both ends non-blocking. */
static int loopback_pair(SOCKET *rd, SOCKET *wr)
{
    SOCKET l = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    SOCKET c = INVALID_SOCKET, a = INVALID_SOCKET;
    int rc = VEX_EIO;
    if (l == INVALID_SOCKET) return vx_win_error((DWORD)WSAGetLastError());
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int len = sizeof sa;
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, 1) != 0 ||
        getsockname(l, (struct sockaddr *)&sa, &len) != 0)
        goto fail;
    c = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    if (c == INVALID_SOCKET || connect(c, (struct sockaddr *)&sa, sizeof sa) != 0) goto fail;
    a = accept(l, NULL, NULL);
    if (a == INVALID_SOCKET) goto fail;
    u_long one = 1;
    int nodelay = 1;
    if (ioctlsocket(a, FIONBIO, &one) != 0 || ioctlsocket(c, FIONBIO, &one) != 0) goto fail;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, (const char *)&nodelay, sizeof nodelay);
    closesocket(l);
    *rd = a;
    *wr = c;
    return 0;
fail:
    rc = vx_win_error((DWORD)WSAGetLastError());
    if (a != INVALID_SOCKET) closesocket(a);
    if (c != INVALID_SOCKET) closesocket(c);
    closesocket(l);
    return rc ? rc : VEX_EIO;
}

int vx_win_signal_open(void *ctx, int signo, IoHandle *out)
{
    (void)ctx;
    if (!out || signo <= 0 || signo >= MAX_SIGNO) return VEX_EINVAL;
    if (!supported(signo)) return VEX_ENOTSUP;
    WSADATA wd;
    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) return VEX_ENOSYS;
    SOCKET rd = INVALID_SOCKET, wr = INVALID_SOCKET;
    int rc = loopback_pair(&rd, &wr);
    if (rc) {
        WSACleanup();
        return rc;
    }
    AcquireSRWLockExclusive(&sig_lock);
    int slot = -1;
    for (int i = 0; i < MAX_HANDLES && slot < 0; i++)
        if (!regs[i].signo) slot = i;
    if (slot >= 0) {
        regs[slot].signo = signo;
        regs[slot].rd = rd;
        regs[slot].wr = wr;
        if (users[signo]++ == 0) {
            void (*old)(int) = signal(signo, on_signal);
            prev[signo] = old == SIG_ERR ? SIG_DFL : old;
            if (signo == SIGTERM) SetConsoleCtrlHandler(on_console, TRUE);
        }
    }
    ReleaseSRWLockExclusive(&sig_lock);
    if (slot < 0) {
        closesocket(rd);
        closesocket(wr);
        WSACleanup();
        return VEX_EMFILE;
    }
    *out = (IoHandle)rd;
    return 0;
}

int vx_win_signal_consume(void *ctx, IoHandle h)
{
    (void)ctx;
    char b;
    int r = recv((SOCKET)h, &b, 1, 0);
    if (r == 1) return 1;
    if (r == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) return 0;
    return r == 0 ? VEX_EIO : vx_win_error((DWORD)WSAGetLastError());
}

int vx_win_signal_close(void *ctx, IoHandle h)
{
    (void)ctx;
    SOCKET wr = INVALID_SOCKET;
    AcquireSRWLockExclusive(&sig_lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (regs[i].signo && regs[i].rd == (SOCKET)h) {
            int signo = regs[i].signo;
            wr = regs[i].wr;
            regs[i].signo = 0;
            if (--users[signo] == 0) {
                signal(signo, prev[signo]);
                if (signo == SIGTERM) SetConsoleCtrlHandler(on_console, FALSE);
            }
            break;
        }
    }
    ReleaseSRWLockExclusive(&sig_lock);
    if (wr == INVALID_SOCKET) return VEX_EBADF;
    closesocket(wr);
    closesocket((SOCKET)h);
    WSACleanup();
    return 0;
}
