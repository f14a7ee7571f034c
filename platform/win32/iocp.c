/* platform/win32/iocp.c - the IOCP poller: a completion port per worker,
 * completion operations native (overlapped WSARecv/WSASend/AcceptEx/
 * ConnectEx, ReadFile/WriteFile), readiness emulated with AFD polls (the
 * wepoll/mio technique), wake-ups with PostQueuedCompletionStatus.
 *
 * Divisions: NT and AFD declarations; state (slots, locals, shared);
 * helpers; completions of our own (posted results, the thread pool); the
 * vtable entries; io_try / io_blocking.
 *
 * Why a port per worker (VEX_POLLER_PER_WORKER): the core expects a native
 * op's completion to be dispatched by the worker that submitted it (its
 * cancellation queue lives there, core/io.c op_complete_native), and it
 * routes poller_cancel to that worker and wakes it through poller_wake. With
 * one shared port any waiter could take any packet, and a wake-up meant for
 * one worker could be eaten by another. So each worker waits in its own
 * port. Windows binds a handle to one port for its life, the first one a
 * worker associates it with: a packet that lands on a port whose worker did
 * not submit the op is forwarded to the submitter's port (the slot says
 * who), with its OVERLAPPED, whose Internal field still holds the status.
 * Readiness polls go through an AFD helper handle per worker, associated
 * with that worker's port, so their packets always arrive at the arming
 * worker. Only the owning worker touches its slots, so they need no lock.
 *
 * Memory: ports do not allocate. Each worker's local state carries a fixed
 * pool of IOCP_SLOTS slots (an OVERLAPPED and what the completion needs) and
 * IOCP_ACCEPTS AcceptEx address buffers; when they run out, poller_arm and
 * poller_submit fail with VEX_ENOBUFS. */
#include "win32.h"

#include <limits.h>
#include <mswsock.h>
#include <stdatomic.h>
#include <string.h>
#include <winternl.h>
#include <ws2tcpip.h>

#include "vexrt/error.h"
#include "vexrt/io.h"

/* --- NT and AFD declarations ---
 * mingw-w64's headers lack the AFD poll structures, the IOCTL and
 * NtCancelIoFileEx; these are the layouts wepoll and mio use (ntdll ABI). */

#define IOCTL_AFD_POLL 0x00012024u
#define AFD_POLL_RECEIVE 0x0001u
#define AFD_POLL_SEND 0x0004u
#define AFD_POLL_DISCONNECT 0x0008u
#define AFD_POLL_ABORT 0x0010u
#define AFD_POLL_LOCAL_CLOSE 0x0020u
#define AFD_POLL_ACCEPT 0x0080u
#define AFD_POLL_CONNECT_FAIL 0x0100u

typedef struct {
    HANDLE Handle;
    ULONG Events;
    LONG Status;
} AfdPollHandleInfo;

typedef struct {
    LARGE_INTEGER Timeout;
    ULONG NumberOfHandles;
    ULONG Exclusive;
    AfdPollHandleInfo Handles[1];
} AfdPollInfo;

NTSTATUS NTAPI NtCancelIoFileEx(HANDLE file, PIO_STATUS_BLOCK request, PIO_STATUS_BLOCK status);

#define ST_PENDING ((LONG)0x00000103)
#define ST_CANCELLED ((LONG)0xC0000120)
#define ST_END_OF_FILE ((LONG)0xC0000011)
#define ST_PIPE_BROKEN ((LONG)0xC000014B)
#define FILE_MODE_INFORMATION_CLASS 16 /* FileModeInformation */
#define FILE_MODE_SYNCHRONOUS 0x30u    /* FILE_SYNCHRONOUS_IO_ALERT | _NONALERT */

/* Completion keys. Handles and the AFD helpers are associated with KEY_IO;
 * our own packets use the others. */
#define KEY_IO 1u
#define KEY_WAKE 2u   /* poller_wake: no OVERLAPPED */
#define KEY_POSTED 3u /* a result we computed ourselves, in the slot */

/* --- State --- */

#define IOCP_SLOTS 1024u
#define IOCP_ACCEPTS 64u
#define ACCEPT_ADDR_LEN (sizeof(SOCKADDR_STORAGE) + 16) /* what AcceptEx asks per address */
#define BATCH 128u                                       /* entries per GetQueuedCompletionStatusEx */

enum { SLOT_FREE = 0, SLOT_POLL, SLOT_OP };
enum { MODE_IO = 0, MODE_POSTED }; /* SLOT_OP: in the kernel, or finished by us */

struct IocpLocal;

/* One arm or operation in flight. */
typedef struct IocpSlot {
    OVERLAPPED ov;            /* first: packets carry its address; an AFD poll's IO_STATUS_BLOCK */
    struct IocpLocal *owner;  /* the worker whose poller state holds it */
    uint64_t token;           /* the core's token, reported with the result */
    HANDLE handle;            /* the op's handle (CancelIoEx, accept's listener) */
    VexIoOp *op;              /* SLOT_OP */
    int64_t result;           /* MODE_POSTED: the result to report */
    uint8_t kind;             /* SLOT_* */
    uint8_t mode;             /* MODE_* */
    uint16_t abuf;            /* accept buffer index + 1, or 0 */
    uint32_t next;            /* free list: next free index + 1, or 0 */
    DWORD flags;              /* WSARecv's in/out flags */
    AfdPollInfo poll;         /* SLOT_POLL: the IOCTL's in/out buffer */
    SRWLOCK job_lock;         /* job_tid */
    DWORD job_tid;            /* the thread-pool thread inside this slot's blocking call, or 0 */
} IocpSlot;

typedef struct {
    SOCKET sock;                      /* the socket AcceptEx accepts into */
    uint32_t next;                    /* free list link, index + 1 */
    char addrs[2 * ACCEPT_ADDR_LEN];  /* local and remote address, AcceptEx's format */
} AcceptBuf;

typedef struct IocpShared IocpShared;

/* A worker's poller state. Everything but wake_pending (any thread) and the
 * slots' OVERLAPPEDs (the kernel) is touched by the owning worker only, and
 * at close by the destroying thread once every worker has exited. */
typedef struct IocpLocal {
    HANDLE port;
    HANDLE afd;                /* \Device\Afd helper for readiness polls, or NULL */
    IocpShared *shared;
    struct IocpLocal *next;    /* the shared list of attached states */
    _Atomic int wake_pending;  /* a KEY_WAKE packet is queued or being taken */
    uint32_t free_head;        /* slot index + 1 */
    uint32_t in_use;
    uint32_t abuf_free;        /* accept buffer index + 1 */
    int attached;
    IocpSlot slots[IOCP_SLOTS];
    AcceptBuf abufs[IOCP_ACCEPTS];
} IocpLocal;

/* The runtime-wide part: the list of worker states (for finding the slot a
 * packet points to and for the final drain), the Winsock extensions. */
struct IocpShared {
    _Atomic(IocpLocal *) locals; /* pushed at attach; stable while workers run */
    LPFN_ACCEPTEX accept_ex;
    LPFN_CONNECTEX connect_ex;
    LPFN_GETACCEPTEXSOCKADDRS accept_addrs;
    uint64_t qpc_freq; /* for deadlines (the entries ignore ctx: wrappers replace it) */
    int wsa;    /* WSAStartup succeeded: WSACleanup at close */
    int period; /* timeBeginPeriod(1) succeeded: timeEndPeriod at close */
};

/* timeBeginPeriod lives in winmm; declared here so only this file needs it. */
UINT WINAPI timeBeginPeriod(UINT ms);
UINT WINAPI timeEndPeriod(UINT ms);

/* --- Helpers --- */

static uint64_t qpc_ns(const IocpShared *sh)
{
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    return vx_win_ticks_to_ns((uint64_t)t.QuadPart, sh->qpc_freq);
}

static DWORD ms_ceil(uint64_t ns)
{
    if (ns == VEX_WAIT_FOREVER) return INFINITE;
    uint64_t ms = ns / 1000000u + (ns % 1000000u != 0);
    return ms >= (uint64_t)INFINITE ? INFINITE - 1 : (DWORD)ms;
}

/* The error of a failed Winsock call on h: WSAENOTSOCK on a handle that is
 * not open at all is VEX_EBADF, as on POSIX. */
static int sock_error(IoHandle h, int err)
{
    if (err == WSAENOTSOCK) {
        DWORD f;
        if (!GetHandleInformation((HANDLE)h, &f)) return VEX_EBADF;
    }
    return vx_win_error((DWORD)err);
}

static IocpSlot *slot_alloc(IocpLocal *l)
{
    if (!l->free_head) return NULL;
    IocpSlot *s = &l->slots[l->free_head - 1];
    l->free_head = s->next;
    l->in_use++;
    memset(s, 0, sizeof *s);
    s->owner = l;
    return s;
}

static void slot_free(IocpLocal *l, IocpSlot *s)
{
    if (s->abuf) {
        AcceptBuf *b = &l->abufs[s->abuf - 1];
        b->next = l->abuf_free;
        l->abuf_free = s->abuf;
    }
    uint32_t idx = (uint32_t)(s - l->slots);
    s->kind = SLOT_FREE;
    s->abuf = 0;
    s->next = l->free_head;
    l->free_head = idx + 1;
    l->in_use--;
}

/* The slot an OVERLAPPED from a packet belongs to, or NULL if it is none of
 * ours (someone else's overlapped I/O on a handle associated with a port of
 * ours: dropped). */
static IocpSlot *slot_of(IocpShared *sh, OVERLAPPED *ov)
{
    /* acquire: pairs with the release push in attach; the state is set up. */
    for (IocpLocal *l = atomic_load_explicit(&sh->locals, memory_order_acquire); l; l = l->next) {
        uintptr_t off = (uintptr_t)ov - (uintptr_t)l->slots;
        if (off < sizeof l->slots && off % sizeof(IocpSlot) == 0) return &l->slots[off / sizeof(IocpSlot)];
    }
    return NULL;
}

/* Binds h to l's port. A handle already bound (to the port of the worker
 * that used it first) answers ERROR_INVALID_PARAMETER: its packets are
 * forwarded from there. */
static int associate(IocpLocal *l, HANDLE h)
{
    if (CreateIoCompletionPort(h, l->port, KEY_IO, 0)) return 0;
    DWORD err = GetLastError();
    return err == ERROR_INVALID_PARAMETER ? 0 : vx_win_error(err);
}

static int is_socket(IoHandle h)
{
    int type = 0, len = sizeof type;
    return getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) == 0;
}

/* True if h was opened for synchronous I/O (no FILE_FLAG_OVERLAPPED): its
 * reads and writes complete in the call and queue no packet. */
static int is_synchronous(HANDLE h)
{
    IO_STATUS_BLOCK io;
    ULONG mode = 0;
    NTSTATUS st = NtQueryInformationFile(h, &io, &mode, sizeof mode,
                                         (FILE_INFORMATION_CLASS)FILE_MODE_INFORMATION_CLASS);
    return st >= 0 && (mode & FILE_MODE_SYNCHRONOUS) != 0;
}

/* The result of a stream read that returned 0 bytes: end of file, or a
 * reset. Wine's server takes a TCP reset's error off the socket before the
 * program's receive sees it, so under Wine a reset reads as end of file
 * (Windows itself reports WSAECONNRESET, and then never gets here with a
 * reset). A zero-byte send tells the two apart: it does nothing on a
 * connection the peer closed in order and fails on a reset one. Stream
 * sockets only: on a datagram socket it would send an empty datagram. */
static int64_t eof_or_reset(IoHandle h)
{
    int type = 0, len = sizeof type;
    if (getsockopt((SOCKET)h, SOL_SOCKET, SO_TYPE, (char *)&type, &len) != 0 || type != SOCK_STREAM)
        return 0;
    if (send((SOCKET)h, "", 0, 0) == 0) return 0;
    int err = WSAGetLastError();
    return err == WSAECONNRESET || err == WSAECONNABORTED ? VEX_ECONNRESET : 0;
}

static DWORD len32(size_t len) { return len > 0xFFFFFFFFu ? 0xFFFFFFFFu : (DWORD)len; }

static int is_read(uint8_t opcode)
{
    return opcode == VEX_OP_READ || opcode == VEX_OP_PREAD || opcode == VEX_OP_RECV;
}

/* --- Completions of our own ---
 * Closes, fsyncs and I/O on synchronous handles have no overlapped form: they
 * run here or on the Windows thread pool, and their result reaches the
 * submitting worker as a KEY_POSTED packet on its port, like any other. */

static int post_result(IocpSlot *s, int64_t result)
{
    s->mode = MODE_POSTED;
    s->result = result;
    if (PostQueuedCompletionStatus(s->owner->port, 0, KEY_POSTED, &s->ov)) return 0;
    return vx_win_error(GetLastError());
}

/* Performs a read, write or fsync, blocking (the thread pool's work, and
 * io_blocking's). */
static int64_t run_blocking(VexIoOp *op)
{
    HANDLE h = (HANDLE)op->handle;
    DWORD done = 0, err = 0;
    BOOL ok;
    if (op->opcode == VEX_OP_FSYNC) {
        ok = FlushFileBuffers(h);
        return ok ? 0 : vx_win_error(GetLastError());
    }
    int rd = is_read(op->opcode);
    int positioned = op->opcode == VEX_OP_PREAD || op->opcode == VEX_OP_PWRITE;
    if (!positioned && is_synchronous(h)) {
        ok = rd ? ReadFile(h, op->buf, len32(op->len), &done, NULL)
                : WriteFile(h, op->buf, len32(op->len), &done, NULL);
        err = ok ? 0 : GetLastError();
    } else {
        /* Positioned, or a handle opened for overlapped I/O (which keeps no
         * file position: offset 0 for READ and WRITE). The event's low bit
         * set keeps the completion off any port the handle is bound to. */
        OVERLAPPED ov;
        memset(&ov, 0, sizeof ov);
        if (positioned) {
            ov.Offset = (DWORD)op->offset;
            ov.OffsetHigh = (DWORD)(op->offset >> 32);
        }
        HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
        if (!ev) return vx_win_error(GetLastError());
        ov.hEvent = (HANDLE)((uintptr_t)ev | 1);
        ok = rd ? ReadFile(h, op->buf, len32(op->len), NULL, &ov)
                : WriteFile(h, op->buf, len32(op->len), NULL, &ov);
        if (!ok && GetLastError() == ERROR_IO_PENDING) {
            WaitForSingleObject(ev, INFINITE);
            ok = TRUE;
        }
        if (ok) ok = GetOverlappedResult(h, &ov, &done, FALSE);
        err = ok ? 0 : GetLastError();
        CloseHandle(ev);
    }
    if (ok) return (int64_t)done;
    if (rd && (err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE)) return 0; /* end of file */
    return vx_win_error(err);
}

static void CALLBACK pool_job(PTP_CALLBACK_INSTANCE inst, void *arg)
{
    (void)inst;
    IocpSlot *s = (IocpSlot *)arg;
    /* While the call runs, a cancellation can reach it (slot_cancel). */
    AcquireSRWLockExclusive(&s->job_lock);
    s->job_tid = GetCurrentThreadId();
    ReleaseSRWLockExclusive(&s->job_lock);
    int64_t r = run_blocking(s->op);
    AcquireSRWLockExclusive(&s->job_lock);
    s->job_tid = 0;
    ReleaseSRWLockExclusive(&s->job_lock);
    /* The slot is the owner's until its packet is taken; a failed post
     * would lose the completion, and it fails only when the port is gone. */
    (void)post_result(s, r);
}

/* Runs op off the worker (the thread pool), or here if the pool refuses. */
static int run_offloaded(IocpSlot *s)
{
    s->mode = MODE_POSTED;
    if (TrySubmitThreadpoolCallback(pool_job, s, NULL)) return 0;
    return post_result(s, run_blocking(s->op));
}

/* --- Setup --- */

static int get_extension(SOCKET s, GUID id, void *fn, size_t size)
{
    DWORD got = 0;
    return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, fn, (DWORD)size, &got,
                    NULL, NULL) == 0
               ? 0
               : -1;
}

static int ip_open(void *ctx, void *poller, uint32_t nworkers)
{
    (void)ctx;
    (void)nworkers;
    IocpShared *sh = (IocpShared *)poller;
    WSADATA wd;
    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) return VEX_ENOSYS;
    sh->wsa = 1;
    /* The extension functions belong to the provider; every TCP/IP socket of
     * the process shares it, so one look-up serves them all. */
    SOCKET s = WSASocketW(AF_INET, SOCK_STREAM, IPPROTO_TCP, NULL, 0, WSA_FLAG_OVERLAPPED);
    if (s != INVALID_SOCKET) {
        GUID ga = WSAID_ACCEPTEX, gc = WSAID_CONNECTEX, gs = WSAID_GETACCEPTEXSOCKADDRS;
        if (get_extension(s, ga, &sh->accept_ex, sizeof sh->accept_ex) ||
            get_extension(s, gc, &sh->connect_ex, sizeof sh->connect_ex) ||
            get_extension(s, gs, &sh->accept_addrs, sizeof sh->accept_addrs)) {
            sh->accept_ex = NULL;
            sh->connect_ex = NULL;
            sh->accept_addrs = NULL;
        }
        closesocket(s);
    }
    /* Timeouts are whole milliseconds; at the default 15.6 ms clock tick a
     * 1 ms wait would take 15.6 ms. */
    sh->period = timeBeginPeriod(1) == 0;
    LARGE_INTEGER f;
    sh->qpc_freq = QueryPerformanceFrequency(&f) && f.QuadPart > 0 ? (uint64_t)f.QuadPart : 1;
    atomic_init(&sh->locals, NULL);
    return 0;
}

static HANDLE afd_open(void)
{
    static const WCHAR path[] = L"\\Device\\Afd\\Vexrt";
    UNICODE_STRING name;
    name.Buffer = (PWSTR)path;
    name.Length = (USHORT)(sizeof path - sizeof(WCHAR));
    name.MaximumLength = (USHORT)sizeof path;
    OBJECT_ATTRIBUTES oa;
    memset(&oa, 0, sizeof oa);
    oa.Length = sizeof oa;
    oa.ObjectName = &name;
    IO_STATUS_BLOCK io;
    HANDLE h = NULL;
    NTSTATUS st = NtCreateFile(&h, SYNCHRONIZE, &oa, &io, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE,
                               FILE_OPEN, 0, NULL, 0);
    return st >= 0 ? h : NULL;
}

static int ip_attach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    IocpShared *sh = (IocpShared *)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l) return VEX_EINVAL;
    l->shared = sh;
    l->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!l->port) return vx_win_error(GetLastError());
    /* Without an AFD helper (a Windows without AFD, a sandbox refusing it)
     * the runtime still works; readiness awaits fail with VEX_ENOTSUP. */
    l->afd = afd_open();
    if (l->afd && !CreateIoCompletionPort(l->afd, l->port, KEY_IO, 0)) {
        CloseHandle(l->afd);
        l->afd = NULL;
    }
    l->free_head = 1;
    for (uint32_t i = 0; i < IOCP_SLOTS; i++) l->slots[i].next = i + 1 < IOCP_SLOTS ? i + 2 : 0;
    l->abuf_free = 1;
    for (uint32_t i = 0; i < IOCP_ACCEPTS; i++) {
        l->abufs[i].next = i + 1 < IOCP_ACCEPTS ? i + 2 : 0;
        l->abufs[i].sock = INVALID_SOCKET;
    }
    atomic_init(&l->wake_pending, 0);
    l->attached = 1;
    IocpLocal *head = atomic_load_explicit(&sh->locals, memory_order_relaxed);
    do {
        l->next = head;
        /* release: the state above is visible to whoever finds l in the list. */
    } while (!atomic_compare_exchange_weak_explicit(&sh->locals, &head, l, memory_order_release,
                                                    memory_order_relaxed));
    return 0;
}

/* Asks the kernel to finish slot s early. Any thread may do this. */
static void slot_cancel(IocpLocal *l, IocpSlot *s)
{
    if (s->kind == SLOT_POLL) {
        IO_STATUS_BLOCK io;
        NtCancelIoFileEx(l->afd, (PIO_STATUS_BLOCK)(void *)&s->ov, &io);
    } else if (s->kind == SLOT_OP && s->mode == MODE_IO) {
        CancelIoEx(s->handle, &s->ov); /* ERROR_NOT_FOUND: completed already */
    } else if (s->kind == SLOT_OP) {
        /* A job on the thread pool: a read from a synchronous pipe or
         * console can block for ever, so its call is cancelled on its
         * thread (under the lock, the thread is still in the call or has
         * not started it; in the latter case the cancel finds nothing and
         * close tries again). A close or fsync just finishes. */
        AcquireSRWLockExclusive(&s->job_lock);
        if (s->job_tid) {
            HANDLE th = OpenThread(THREAD_TERMINATE, FALSE, s->job_tid);
            if (th) {
                CancelSynchronousIo(th);
                CloseHandle(th);
            }
        }
        ReleaseSRWLockExclusive(&s->job_lock);
    }
}

static void ip_detach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l || !l->attached) return;
    /* The worker is gone: whatever it left in flight is cancelled now, and
     * its packets are collected by close, which waits for all of them (the
     * kernel must be done with every OVERLAPPED before the memory goes). */
    for (uint32_t i = 0; i < IOCP_SLOTS; i++)
        if (l->slots[i].kind != SLOT_FREE) slot_cancel(l, &l->slots[i]);
    l->attached = 0;
}

/* Releases what a slot drained at close still holds. */
static void drain_one(IocpSlot *s)
{
    if (s->kind == SLOT_OP && s->abuf) {
        AcceptBuf *b = &s->owner->abufs[s->abuf - 1];
        /* A successful accept nobody will see, or one cut short. */
        if (b->sock != INVALID_SOCKET) closesocket(b->sock);
    }
    slot_free(s->owner, s);
}

static void ip_close(void *ctx, void *poller)
{
    (void)ctx;
    IocpShared *sh = (IocpShared *)poller;
    IocpLocal *all = atomic_load_explicit(&sh->locals, memory_order_acquire);
    /* Every worker has exited: this thread takes every remaining packet,
     * from any port, until no slot is in flight. Cancelled I/O completes
     * promptly; a thread-pool job finishes its call first. */
    uint64_t waited_ms = 0;
    for (;;) {
        uint32_t busy = 0;
        for (IocpLocal *l = all; l; l = l->next) busy += l->in_use;
        if (!busy || waited_ms > 30000) break; /* a kernel that never answers: give up */
        if (waited_ms % 100 == 99) /* a thread-pool call that started after its cancel */
            for (IocpLocal *l = all; l; l = l->next)
                for (uint32_t i = 0; i < IOCP_SLOTS; i++)
                    if (l->slots[i].kind == SLOT_OP && l->slots[i].mode == MODE_POSTED)
                        slot_cancel(l, &l->slots[i]);
        for (IocpLocal *l = all; l; l = l->next) {
            OVERLAPPED_ENTRY e[BATCH];
            ULONG got = 0;
            if (!GetQueuedCompletionStatusEx(l->port, e, BATCH, &got, 1, FALSE)) got = 0;
            for (ULONG i = 0; i < got; i++) {
                if (e[i].lpCompletionKey == KEY_WAKE || !e[i].lpOverlapped) continue;
                IocpSlot *s = slot_of(sh, e[i].lpOverlapped);
                if (s && s->kind != SLOT_FREE) drain_one(s);
            }
        }
        waited_ms++;
    }
    for (IocpLocal *l = all; l; l = l->next) {
        if (l->afd) CloseHandle(l->afd);
        if (l->port) CloseHandle(l->port);
        l->afd = l->port = NULL;
    }
    atomic_store_explicit(&sh->locals, NULL, memory_order_relaxed);
    if (sh->period) timeEndPeriod(1);
    if (sh->wsa) WSACleanup();
    sh->period = sh->wsa = 0;
}

/* --- Readiness: AFD polls ---
 * One IOCTL_AFD_POLL per arm, on the arming worker's AFD helper: one-shot by
 * nature (it completes once, reporting what is ready, at once if something
 * is ready now), which is the core's one-shot poller model. Chosen over a
 * zero-byte overlapped receive because it also reports writability, accept
 * and hang-up, and can be cancelled without touching the socket's own
 * operations. */

static ULONG afd_events(uint32_t events)
{
    ULONG m = AFD_POLL_ABORT | AFD_POLL_LOCAL_CLOSE | AFD_POLL_CONNECT_FAIL;
    if (events & VEX_POLL_IN) m |= AFD_POLL_RECEIVE | AFD_POLL_ACCEPT | AFD_POLL_DISCONNECT;
    if (events & VEX_POLL_OUT) m |= AFD_POLL_SEND;
    return m;
}

/* The readiness result of a finished poll: VEX_POLL_* bits or a VEX_E* code. */
static int64_t afd_result(const IocpSlot *s)
{
    LONG st = (LONG)s->ov.Internal;
    if (st == ST_CANCELLED) return VEX_ECANCELED; /* the core re-arms if someone still waits */
    int rc = vx_win_ntstatus(st);
    if (rc) return rc;
    if (s->poll.NumberOfHandles == 0) return 0;
    ULONG e = s->poll.Handles[0].Events;
    if (e & AFD_POLL_LOCAL_CLOSE) return VEX_EBADF; /* closed under the poll */
    uint32_t bits = 0;
    if (e & (AFD_POLL_RECEIVE | AFD_POLL_ACCEPT)) bits |= VEX_POLL_IN;
    if (e & AFD_POLL_SEND) bits |= VEX_POLL_OUT;
    /* A FIN is readable (read returns 0), like EPOLLIN|EPOLLRDHUP. */
    if (e & AFD_POLL_DISCONNECT) bits |= VEX_POLL_IN | VEX_POLL_HUP;
    if (e & AFD_POLL_ABORT) bits |= VEX_POLL_IN | VEX_POLL_OUT | VEX_POLL_HUP | VEX_POLL_ERR;
    if (e & AFD_POLL_CONNECT_FAIL) bits |= VEX_POLL_OUT | VEX_POLL_ERR;
    return bits;
}

/* The socket AFD must be asked about: the base provider's, bypassing any
 * layered service provider. */
static int base_socket(IoHandle h, SOCKET *out)
{
    DWORD got = 0;
    SOCKET base = INVALID_SOCKET;
    if (WSAIoctl((SOCKET)h, SIO_BASE_HANDLE, NULL, 0, &base, sizeof base, &got, NULL, NULL) == 0 &&
        base != INVALID_SOCKET) {
        *out = base;
        return 0;
    }
    int rc = sock_error(h, WSAGetLastError());
    /* An open handle that is not a socket (a file, a pipe): not pollable. */
    return rc == VEX_ENOTSOCK ? VEX_ENOTSUP : rc;
}

static int ip_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events, uint64_t token)
{
    (void)ctx;
    (void)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l || !l->attached || (token & 3u) == 3u) return VEX_EINVAL;
    if (!l->afd) return VEX_ENOTSUP;
    SOCKET base = INVALID_SOCKET;
    int rc = base_socket(h, &base);
    if (rc) return rc;
    IocpSlot *s = slot_alloc(l);
    if (!s) return VEX_ENOBUFS;
    s->kind = SLOT_POLL;
    s->token = token;
    s->handle = (HANDLE)h;
    s->poll.Timeout.QuadPart = INT64_MAX;
    s->poll.NumberOfHandles = 1;
    s->poll.Exclusive = FALSE; /* the other side's poll on the same socket stays */
    s->poll.Handles[0].Handle = (HANDLE)base;
    s->poll.Handles[0].Events = afd_events(events);
    s->ov.Internal = (ULONG_PTR)ST_PENDING;
    NTSTATUS st = NtDeviceIoControlFile(l->afd, NULL, NULL, &s->ov, (PIO_STATUS_BLOCK)(void *)&s->ov,
                                        IOCTL_AFD_POLL, &s->poll, sizeof s->poll, &s->poll,
                                        sizeof s->poll);
    /* Pending (ST_PENDING) or done at once, a packet follows; a failure in
     * the call itself (a bad handle) queues none. */
    if (st >= 0) return 0;
    slot_free(l, s);
    rc = vx_win_ntstatus(st);
    return rc ? rc : VEX_EIO;
}

/* --- Operations --- */

static int start_rw(IocpLocal *l, IocpSlot *s, VexIoOp *op)
{
    HANDLE h = (HANDLE)op->handle;
    if (is_synchronous(h)) return run_offloaded(s);
    int rc = associate(l, h);
    if (rc) return rc;
    int rd = is_read(op->opcode);
    /* Handles opened for overlapped I/O keep no file position: READ and
     * WRITE use offset 0 there (pipes and sockets ignore it). */
    if (op->opcode == VEX_OP_PREAD || op->opcode == VEX_OP_PWRITE) {
        s->ov.Offset = (DWORD)op->offset;
        s->ov.OffsetHigh = (DWORD)(op->offset >> 32);
    }
    BOOL ok = rd ? ReadFile(h, op->buf, len32(op->len), NULL, &s->ov)
                 : WriteFile(h, op->buf, len32(op->len), NULL, &s->ov);
    if (ok) return 0;
    DWORD err = GetLastError();
    if (err == ERROR_IO_PENDING) return 0;
    /* Failed in the call: no packet comes. End of file is a result. */
    if (rd && (err == ERROR_HANDLE_EOF || err == ERROR_BROKEN_PIPE)) return post_result(s, 0);
    return vx_win_error(err);
}

static int start_sock_rw(IocpLocal *l, IocpSlot *s, VexIoOp *op)
{
    SOCKET sk = (SOCKET)op->handle;
    int rc = associate(l, (HANDLE)op->handle);
    if (rc) return rc;
    WSABUF wb;
    wb.buf = (char *)op->buf;
    wb.len = (ULONG)len32(op->len);
    DWORD flags = 0;
    if (op->flags & VEX_MSG_PEEK) flags |= MSG_PEEK;
    if (op->flags & VEX_MSG_WAITALL) flags |= MSG_WAITALL;
    s->flags = flags;
    int r = is_read(op->opcode) ? WSARecv(sk, &wb, 1, NULL, &s->flags, &s->ov, NULL)
                                : WSASend(sk, &wb, 1, NULL, s->flags, &s->ov, NULL);
    if (r == 0) return 0;
    int err = WSAGetLastError();
    if (err == WSA_IO_PENDING) return 0;
    return sock_error(op->handle, err);
}

static int start_accept(IocpLocal *l, IocpSlot *s, VexIoOp *op)
{
    IocpShared *sh = l->shared;
    if (!sh->accept_ex || !sh->accept_addrs) return VEX_ENOSYS;
    SOCKET ls = (SOCKET)op->handle;
    WSAPROTOCOL_INFOW info;
    int ilen = sizeof info;
    if (getsockopt(ls, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &ilen) != 0)
        return sock_error(op->handle, WSAGetLastError());
    if (!l->abuf_free) return VEX_ENOBUFS;
    int rc = associate(l, (HANDLE)op->handle);
    if (rc) return rc;
    SOCKET as = WSASocketW(info.iAddressFamily, info.iSocketType, info.iProtocol, NULL, 0,
                           WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (as == INVALID_SOCKET) return vx_win_error((DWORD)WSAGetLastError());
    AcceptBuf *b = &l->abufs[l->abuf_free - 1];
    s->abuf = (uint16_t)l->abuf_free;
    l->abuf_free = b->next;
    b->sock = as;
    DWORD got = 0;
    if (sh->accept_ex(ls, as, b->addrs, 0, ACCEPT_ADDR_LEN, ACCEPT_ADDR_LEN, &got, &s->ov)) return 0;
    int err = WSAGetLastError();
    if (err == WSA_IO_PENDING) return 0;
    closesocket(as);
    b->sock = INVALID_SOCKET;
    return sock_error(op->handle, err); /* the caller frees the slot and buffer */
}

static int start_connect(IocpLocal *l, IocpSlot *s, VexIoOp *op)
{
    IocpShared *sh = l->shared;
    if (!sh->connect_ex) return VEX_ENOSYS;
    if (!op->buf || op->len < sizeof(ADDRESS_FAMILY) || op->len > INT_MAX) return VEX_EINVAL;
    SOCKET sk = (SOCKET)op->handle;
    const struct sockaddr *to = (const struct sockaddr *)op->buf;
    /* ConnectEx wants a bound socket: bind to the wildcard address of the
     * target's family if the caller did not bind. */
    SOCKADDR_STORAGE me;
    int mlen = sizeof me;
    if (getsockname(sk, (struct sockaddr *)&me, &mlen) != 0) {
        int err = WSAGetLastError();
        if (err != WSAEINVAL) return sock_error(op->handle, err);
        memset(&me, 0, sizeof me);
        me.ss_family = to->sa_family;
        mlen = to->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) : (int)sizeof(struct sockaddr_in);
        if (bind(sk, (struct sockaddr *)&me, mlen) != 0) return sock_error(op->handle, WSAGetLastError());
    }
    int rc = associate(l, (HANDLE)op->handle);
    if (rc) return rc;
    if (sh->connect_ex(sk, to, (int)op->len, NULL, 0, NULL, &s->ov)) return 0;
    int err = WSAGetLastError();
    if (err == WSA_IO_PENDING) return 0;
    return sock_error(op->handle, err);
}

/* Closes a socket, or any other handle. */
static int close_handle(IoHandle h)
{
    if (closesocket((SOCKET)h) == 0) return 0;
    int err = WSAGetLastError();
    if (err != WSAENOTSOCK) return vx_win_error((DWORD)err);
    return CloseHandle((HANDLE)h) ? 0 : vx_win_error(GetLastError());
}

static int ip_submit(void *ctx, void *poller, void *local, VexIoOp *op, uint64_t token)
{
    (void)ctx;
    (void)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l || !l->attached || !op || (token & 3u) == 3u) return VEX_EINVAL;
    if (op->opcode < VEX_OP_READ || op->opcode > VEX_OP_FSYNC) return VEX_EINVAL;
    IocpSlot *s = slot_alloc(l);
    if (!s) return VEX_ENOBUFS;
    s->kind = SLOT_OP;
    s->mode = MODE_IO;
    s->token = token;
    s->op = op;
    s->handle = (HANDLE)op->handle;
    int rc;
    switch ((VexOpcode)op->opcode) {
    case VEX_OP_RECV:
    case VEX_OP_SEND: rc = start_sock_rw(l, s, op); break;
    case VEX_OP_ACCEPT: rc = start_accept(l, s, op); break;
    case VEX_OP_CONNECT: rc = start_connect(l, s, op); break;
    case VEX_OP_CLOSE: rc = post_result(s, close_handle(op->handle)); break;
    case VEX_OP_FSYNC: rc = run_offloaded(s); break;
    case VEX_OP_READ:
    case VEX_OP_WRITE:
        /* Sockets through Winsock (ReadFile on a socket fails under a
         * layered service provider), anything else through the file calls. */
        rc = is_socket(op->handle) ? start_sock_rw(l, s, op) : start_rw(l, s, op);
        break;
    default: rc = start_rw(l, s, op); break;
    }
    if (rc) slot_free(l, s);
    return rc;
}

static int ip_cancel(void *ctx, void *poller, void *local, uint64_t token)
{
    (void)ctx;
    (void)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l || !l->attached) return VEX_EINVAL;
    /* Earlier arms may share the token: every match is cancelled. */
    for (uint32_t i = 0; i < IOCP_SLOTS; i++) {
        IocpSlot *s = &l->slots[i];
        if (s->kind != SLOT_FREE && s->token == token) slot_cancel(l, s);
    }
    return 0;
}

/* --- Collecting completions --- */

/* The result of a finished operation that ran in the kernel. */
static int64_t op_result(IocpLocal *l, IocpSlot *s)
{
    VexIoOp *op = s->op;
    LONG st = (LONG)s->ov.Internal;
    AcceptBuf *b = s->abuf ? &l->abufs[s->abuf - 1] : NULL;
    int rc = vx_win_ntstatus(st);
    if (rc) {
        if (b && b->sock != INVALID_SOCKET) closesocket(b->sock);
        if (b) b->sock = INVALID_SOCKET;
        if (is_read(op->opcode) && (st == ST_END_OF_FILE || st == ST_PIPE_BROKEN)) return 0;
        return rc;
    }
    switch (op->opcode) {
    case VEX_OP_ACCEPT: {
        SOCKET ls = (SOCKET)op->handle, as = b->sock;
        b->sock = INVALID_SOCKET; /* the caller's now */
        /* Makes getpeername, shutdown and the like work on the new socket. */
        setsockopt(as, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&ls, sizeof ls);
        u_long one = 1;
        ioctlsocket(as, FIONBIO, &one); /* like accept4(SOCK_NONBLOCK) on Linux */
        if (op->buf) {
            struct sockaddr *la = NULL, *ra = NULL;
            int ll = 0, rl = 0;
            l->shared->accept_addrs(b->addrs, 0, ACCEPT_ADDR_LEN, ACCEPT_ADDR_LEN, &la, &ll, &ra, &rl);
            size_t n = ra && rl > 0 ? (size_t)rl : 0;
            if (n) memcpy(op->buf, ra, n < op->len ? n : op->len);
            op->len = n;
        }
        return (int64_t)as;
    }
    case VEX_OP_CONNECT:
        setsockopt((SOCKET)op->handle, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0);
        return 0;
    case VEX_OP_RECV:
    case VEX_OP_READ:
        if (s->ov.InternalHigh == 0 && op->len > 0) return eof_or_reset(op->handle);
        return (int64_t)s->ov.InternalHigh;
    default: return (int64_t)s->ov.InternalHigh; /* bytes transferred */
    }
}

static int ip_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns, VexPollerEvent *ev,
                   uint32_t max, uint32_t *n)
{
    (void)ctx;
    IocpShared *sh = (IocpShared *)poller;
    IocpLocal *l = (IocpLocal *)local;
    *n = 0;
    if (!l || !l->attached) return VEX_EINVAL;
    if (max == 0) return 0;
    OVERLAPPED_ENTRY e[BATCH];
    ULONG got = 0;
    ULONG cap = max < BATCH ? (ULONG)max : BATCH;
    uint64_t deadline = 0, left = timeout_ns;
    if (timeout_ns != 0 && timeout_ns != VEX_WAIT_FOREVER) {
        deadline = qpc_ns(sh) + timeout_ns;
        if (deadline < timeout_ns) deadline = UINT64_MAX;
    }
    while (!GetQueuedCompletionStatusEx(l->port, e, cap, &got, ms_ceil(left), FALSE)) {
        DWORD err = GetLastError();
        if (err != WAIT_TIMEOUT && err != ERROR_TIMEOUT) return vx_win_error(err);
        /* Timed out. Windows ends waits on a clock tick, which can come a
         * little before the span by the performance counter: wait out the
         * rest, so a timeout is never early. */
        if (!deadline) return 0;
        uint64_t t = qpc_ns(sh);
        if (t >= deadline) return 0;
        left = deadline - t;
    }
    uint32_t k = 0;
    for (ULONG i = 0; i < got; i++) {
        if (e[i].lpCompletionKey == KEY_WAKE) {
            /* The packet is taken: the next wake-up posts again. A waker that
             * still finds the flag set skips its post, which is safe: this
             * wait is returning, and the core checks its parker state after. */
            atomic_store_explicit(&l->wake_pending, 0, memory_order_seq_cst);
            continue;
        }
        if (!e[i].lpOverlapped) continue;
        IocpSlot *s = slot_of(sh, e[i].lpOverlapped);
        if (!s || s->kind == SLOT_FREE) continue;
        if (s->owner != l) {
            /* Landed on our port (the handle's first worker) but submitted
             * by another: to the submitter, which alone frees the slot. */
            PostQueuedCompletionStatus(s->owner->port, e[i].dwNumberOfBytesTransferred,
                                       e[i].lpCompletionKey, e[i].lpOverlapped);
            continue;
        }
        VexPollerEvent *o = &ev[k++];
        o->token = s->token;
        o->reserved = 0;
        if (s->kind == SLOT_POLL) {
            o->kind = VEX_PEV_READY;
            o->result = afd_result(s);
        } else {
            o->kind = VEX_PEV_DONE;
            o->result = s->mode == MODE_POSTED ? s->result : op_result(l, s);
        }
        slot_free(l, s);
    }
    *n = k;
    return 0;
}

static void ip_wake(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    IocpLocal *l = (IocpLocal *)local;
    if (!l || !l->port) return;
    /* One packet per wait: later wakers find the flag set. */
    if (atomic_exchange_explicit(&l->wake_pending, 1, memory_order_seq_cst)) return;
    if (!PostQueuedCompletionStatus(l->port, 0, KEY_WAKE, NULL))
        atomic_store_explicit(&l->wake_pending, 0, memory_order_seq_cst);
}

/* --- io_try / io_blocking ---
 * The core does not call these for a NATIVE_OPS poller (every op goes through
 * poller_submit); they are here for callers of the vtable that want an
 * operation done now: sockets only for io_try (made non-blocking with
 * FIONBIO, as Windows has no per-call MSG_DONTWAIT), any handle for
 * io_blocking. */

static int set_nonblocking(SOCKET s)
{
    u_long one = 1;
    return ioctlsocket(s, FIONBIO, &one) == 0 ? 0 : vx_win_error((DWORD)WSAGetLastError());
}

static int try_result(VexIoOp *op, int r)
{
    if (r != SOCKET_ERROR) {
        int rd = op->opcode == VEX_OP_RECV || op->opcode == VEX_OP_READ;
        op->result = r == 0 && rd && op->len > 0 ? eof_or_reset(op->handle) : r;
        return 0;
    }
    int err = WSAGetLastError();
    if (err == WSAEWOULDBLOCK) return VEX_EAGAIN;
    op->result = sock_error(op->handle, err);
    return 0;
}

static int win_io_try(void *ctx, VexIoOp *op)
{
    (void)ctx;
    SOCKET s = (SOCKET)op->handle;
    int n = op->len > INT_MAX ? INT_MAX : (int)op->len;
    int fl = (op->flags & VEX_MSG_PEEK ? MSG_PEEK : 0);
    if (op->opcode == VEX_OP_CLOSE) {
        op->result = close_handle(op->handle);
        return 0;
    }
    if (op->opcode == VEX_OP_PREAD || op->opcode == VEX_OP_PWRITE || op->opcode == VEX_OP_FSYNC)
        return VEX_ENOTSUP;
    if (!is_socket(op->handle)) {
        DWORD f;
        if (!GetHandleInformation((HANDLE)op->handle, &f)) {
            op->result = VEX_EBADF;
            return 0;
        }
        return VEX_ENOTSUP; /* pipes and files: no non-blocking form here */
    }
    int rc = set_nonblocking(s);
    if (rc) {
        op->result = rc;
        return 0;
    }
    switch (op->opcode) {
    case VEX_OP_READ:
    case VEX_OP_RECV: return try_result(op, recv(s, (char *)op->buf, n, fl));
    case VEX_OP_WRITE:
    case VEX_OP_SEND: return try_result(op, send(s, (const char *)op->buf, n, 0));
    case VEX_OP_ACCEPT: {
        int alen = op->buf ? (op->len > INT_MAX ? INT_MAX : (int)op->len) : 0;
        SOCKET a = accept(s, op->buf ? (struct sockaddr *)op->buf : NULL, op->buf ? &alen : NULL);
        if (a == INVALID_SOCKET) return try_result(op, SOCKET_ERROR);
        set_nonblocking(a);
        if (op->buf) op->len = (size_t)alen;
        op->result = (int64_t)a;
        return 0;
    }
    case VEX_OP_CONNECT:
        if (op->internal[5] == 0) { /* first attempt */
            op->internal[5] = 1;
            if (connect(s, (const struct sockaddr *)op->buf, (int)op->len) == 0) {
                op->result = 0;
                return 0;
            }
            int err = WSAGetLastError();
            if (err == WSAEWOULDBLOCK || err == WSAEINPROGRESS) return VEX_EAGAIN;
            op->result = sock_error(op->handle, err);
            return 0;
        } else { /* writable again: the outcome is in SO_ERROR */
            int err = 0, el = sizeof err;
            if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&err, &el) != 0) err = WSAGetLastError();
            op->result = err ? vx_win_error((DWORD)err) : 0;
            return 0;
        }
    default: return VEX_ENOTSUP;
    }
}

static void win_io_blocking(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int n = op->len > INT_MAX ? INT_MAX : (int)op->len;
    switch (op->opcode) {
    case VEX_OP_CLOSE: op->result = close_handle(op->handle); return;
    case VEX_OP_RECV:
    case VEX_OP_SEND: {
        int r = op->opcode == VEX_OP_RECV
                    ? recv((SOCKET)op->handle, (char *)op->buf, n,
                           (op->flags & VEX_MSG_PEEK ? MSG_PEEK : 0) |
                               (op->flags & VEX_MSG_WAITALL ? MSG_WAITALL : 0))
                    : send((SOCKET)op->handle, (const char *)op->buf, n, 0);
        op->result = r != SOCKET_ERROR ? r : sock_error(op->handle, WSAGetLastError());
        return;
    }
    case VEX_OP_READ:
    case VEX_OP_WRITE:
    case VEX_OP_PREAD:
    case VEX_OP_PWRITE:
    case VEX_OP_FSYNC: op->result = run_blocking(op); return;
    default: op->result = VEX_EINVAL; return;
    }
}

void vx_win_iocp_fill(VexPlatform *p)
{
    p->poller_size = sizeof(IocpShared);
    p->poller_local_size = sizeof(IocpLocal);
    p->poller_caps = VEX_POLLER_PER_WORKER | VEX_POLLER_NATIVE_OPS;
    p->poller_open = ip_open;
    p->poller_close = ip_close;
    p->poller_attach = ip_attach;
    p->poller_detach = ip_detach;
    p->poller_register = NULL;
    p->poller_deregister = NULL;
    p->poller_arm = ip_arm;
    p->poller_submit = ip_submit;
    p->poller_cancel = ip_cancel;
    p->poller_wait = ip_wait;
    p->poller_wake = ip_wake;
    p->io_try = win_io_try;
    p->io_blocking = win_io_blocking;
    p->signal_open = vx_win_signal_open;
    p->signal_consume = vx_win_signal_consume;
    p->signal_close = vx_win_signal_close;
}
