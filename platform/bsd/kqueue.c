/* platform/bsd/kqueue.c - the kqueue poller (FreeBSD, macOS, the other
 * BSDs): one kqueue per runtime, shared by the workers like the epoll one.
 *
 * Edge-triggered, not one-shot. A handle is registered once with EV_CLEAR
 * for EVFILT_READ and EVFILT_WRITE, and poller_arm re-adds the filters it is
 * asked for, which makes the kernel evaluate the filter again and queue an
 * event if the handle is ready now. This is the contract the core's edge
 * path was built on with epoll (core/io.c caches readiness per handle, so an
 * operation that finds its side ready costs one system call and none goes
 * to kevent), and it is the path the shared-poller runtime exercises most.
 * EV_DISPATCH / EV_ONESHOT (the one-shot path, as DESIGN-NOTES R9 first
 * planned) would need a kevent per wait and per side and, with a shared
 * poller, cancellation of orphaned arms through their arming worker, which
 * buys nothing here: a knote never keeps a closed descriptor's file alive
 * (close() drops the descriptor's knotes), which is why io_uring needs it.
 *
 * Wake-ups: an EVFILT_USER event (ident 0, EV_CLEAR) triggered with
 * NOTE_TRIGGER, at most once per wait (a flag the waiter clears after it
 * retrieved the event). Timeouts are struct timespec: nanoseconds.
 *
 * Differences from epoll the code deals with: there is one knote per
 * (descriptor, filter), so a handle ready both ways reports two events with
 * the same token; a regular file registers fine (a vnode filter, always
 * ready), so poller_register refuses it itself; a pipe end refuses the
 * filter of the other direction (FreeBSD: EINVAL), which is not an error
 * as long as one filter was added; hang-up is EV_EOF on either filter, a
 * socket error EV_EOF with the error in fflags.
 *
 * Tested on Linux only through tests/kqueue/shim.c, a model of kqueue on
 * epoll: emulated, not run on a real BSD or macOS kernel (docs/kqueue.md). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "../posix/io_ops.h"
#include "../posix/posix.h"
#include "bsd.h"
#include "vexrt/error.h"

#ifndef EVFILT_USER
#error "the kqueue backend needs EVFILT_USER (FreeBSD 8.1, macOS 10.6, NetBSD 10)"
#endif

#define WAKE_IDENT 0 /* EVFILT_USER idents are a namespace of their own */
#define MAX_BATCH 256

typedef struct {
    int kq;
    _Atomic int wake_pending; /* set by a waker, cleared by the waiter that retrieved the wake */
} KqPoller;

_Static_assert(sizeof(KqPoller) <= 64, "poller_size below");

static void set_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0) (void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

static int kq_open(void *ctx, void *poller, uint32_t nworkers)
{
    (void)ctx;
    (void)nworkers;
    KqPoller *p = poller;
    p->kq = kqueue();
    if (p->kq < 0) return vx_posix_error(errno);
    set_cloexec(p->kq); /* kqueues are not inherited by fork; exec is the case left */
    struct kevent ch;
    EV_SET(&ch, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(p->kq, &ch, 1, NULL, 0, NULL) != 0) {
        int rc = vx_posix_error(errno);
        close(p->kq);
        return rc;
    }
    atomic_init(&p->wake_pending, 0);
    return 0;
}

static void kq_close(void *ctx, void *poller)
{
    (void)ctx;
    close(((KqPoller *)poller)->kq);
}

static int kq_attach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    (void)local;
    return 0;
}

/* A kqueue polls readable when it has events (EVFILT_USER wake-ups
 * included): a host loop waits on it. */
static int kq_attach_host(void *ctx, void *poller, void *local, IoHandle *handle)
{
    (void)ctx;
    (void)local;
    if (!handle) return VEX_EINVAL;
    *handle = (IoHandle)((KqPoller *)poller)->kq;
    return 0;
}

static void kq_detach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    (void)local;
}

/* Whether a short read or write on fd means it is drained or full: stream
 * sockets, pipes and terminals (see epoll.c). */
static int stream_kind(int fd, const struct stat *st)
{
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
        return type == SOCK_STREAM ? VEX_REG_STREAM : 0;
    return S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) ? VEX_REG_STREAM : 0;
}

/* Applies `flags` to the filters of fd named by events (VEX_POLL_IN: read,
 * VEX_POLL_OUT: write) in one kevent call. Succeeds if any filter took it:
 * a pipe end refuses the other direction's filter. Returns 0 or the first
 * filter's error as a VEX_E* code. */
static int change_filters(KqPoller *p, int fd, uint32_t events, uint16_t flags, uint64_t token)
{
    struct kevent ch[2], res[2];
    int n = 0;
    void *udata = (void *)(uintptr_t)token;
    if (events & VEX_POLL_IN) {
        EV_SET(&ch[n], (uintptr_t)fd, EVFILT_READ, flags, 0, 0, udata);
        n++;
    }
    if (events & VEX_POLL_OUT) {
        EV_SET(&ch[n], (uintptr_t)fd, EVFILT_WRITE, flags, 0, 0, udata);
        n++;
    }
    if (n == 0) return VEX_EINVAL;
#ifdef EV_RECEIPT
    /* EV_RECEIPT: one result per change (EV_ERROR set, data the error or 0),
     * so a refused filter does not hide whether the other one took. */
    for (int i = 0; i < n; i++) ch[i].flags |= EV_RECEIPT;
    struct timespec zero = {0, 0};
    int r = kevent(p->kq, ch, n, res, n, &zero);
    if (r < 0) return vx_posix_error(errno);
    int ok = 0, err = 0;
    for (int i = 0; i < r; i++) {
        int e = (res[i].flags & EV_ERROR) ? (int)res[i].data : 0;
        if (e == 0)
            ok = 1;
        else if (!err)
            err = e;
    }
    if (ok) return 0;
    return err ? vx_posix_error(err) : VEX_EIO;
#else
    /* No receipts (older OpenBSD): one call per filter. */
    (void)res;
    int ok = 0, err = 0;
    for (int i = 0; i < n; i++) {
        if (kevent(p->kq, &ch[i], 1, NULL, 0, NULL) == 0)
            ok = 1;
        else if (!err)
            err = errno;
    }
    if (ok) return 0;
    return vx_posix_error(err);
#endif
}

static int kq_register(void *ctx, void *poller, void *local, IoHandle h, uint64_t token)
{
    (void)ctx;
    (void)local;
    int fd = (int)h;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return VEX_EBADF;
    /* kqueue takes regular files and directories (vnode filters that always
     * report ready); epoll refuses them, and the core wants VEX_ENOTSUP so
     * their operations go to the blocking pool. */
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return VEX_ENOTSUP;
    int rc = change_filters(poller, fd, VEX_POLL_IN | VEX_POLL_OUT, EV_ADD | EV_CLEAR, token);
    return rc < 0 ? rc : stream_kind(fd, &st);
}

static int kq_deregister(void *ctx, void *poller, IoHandle h)
{
    (void)ctx;
    int rc = change_filters(poller, (int)h, VEX_POLL_IN | VEX_POLL_OUT, EV_DELETE, 0);
    return rc == VEX_ENOENT ? 0 : rc;
}

/* Re-adding a knote re-evaluates its filter and queues an event if the
 * handle is ready now: the re-check a one-shot await needs after the task
 * may have left data unread (epoll.c does the same with a MOD). */
static int kq_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                  uint64_t token)
{
    (void)ctx;
    (void)local;
    if ((int)h < 0) return VEX_EBADF;
    events &= VEX_POLL_IN | VEX_POLL_OUT;
    if (!events) events = VEX_POLL_IN | VEX_POLL_OUT;
    return change_filters(poller, (int)h, events, EV_ADD | EV_CLEAR, token);
}

static int kq_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns, VexPollerEvent *out,
                   uint32_t max, uint32_t *n)
{
    (void)ctx;
    (void)local;
    KqPoller *p = poller;
    struct kevent evs[MAX_BATCH];
    int cap = max < MAX_BATCH ? (int)max : MAX_BATCH;
    struct timespec ts, *tp = NULL;
    if (timeout_ns != VEX_WAIT_FOREVER) {
        /* kevent's timeout is a relative timespec: nanoseconds, no rounding.
         * Very long ones are capped (some kernels refuse huge tv_sec); the
         * caller waits again after a return with nothing. */
        uint64_t t = timeout_ns > 86400u * 1000000000ull ? 86400u * 1000000000ull : timeout_ns;
        ts.tv_sec = (time_t)(t / 1000000000u);
        ts.tv_nsec = (long)(t % 1000000000u);
        tp = &ts;
    }
    *n = 0;
    if (cap == 0) return 0; /* an event taken now would be lost: EV_CLEAR resets it */
    int r = kevent(p->kq, NULL, 0, evs, cap, tp);
    if (r < 0) return errno == EINTR ? 0 : vx_posix_error(errno);
    uint32_t k = 0;
    for (int i = 0; i < r; i++) {
        const struct kevent *e = &evs[i];
        if (e->filter == EVFILT_USER) {
            /* EV_CLEAR reset the trigger when it was retrieved; then the
             * flag (the other order could leave the flag set with nothing
             * triggered, and every later waker would skip its trigger). */
            atomic_store_explicit(&p->wake_pending, 0, memory_order_seq_cst);
            continue;
        }
        if (e->flags & EV_ERROR) continue; /* a change's result: none are passed here */
        uint32_t bits = e->filter == EVFILT_WRITE ? VEX_POLL_OUT : VEX_POLL_IN;
        if (e->flags & EV_EOF) {
            bits |= VEX_POLL_HUP;
            if (e->fflags) bits |= VEX_POLL_ERR; /* sockets: the pending error */
        }
        out[k].token = (uint64_t)(uintptr_t)e->udata;
        out[k].result = bits;
        out[k].kind = VEX_PEV_READY;
        out[k].reserved = 0;
        k++;
    }
    *n = k;
    return 0;
}

static void kq_wake(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)local;
    KqPoller *p = poller;
    /* One trigger per wait: later wakers see the flag set. */
    if (atomic_exchange_explicit(&p->wake_pending, 1, memory_order_seq_cst)) return;
    struct kevent ch;
    EV_SET(&ch, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    if (kevent(p->kq, &ch, 1, NULL, 0, NULL) != 0) {
        /* Cannot happen short of a closed kqueue; let the next waker try. */
        atomic_store_explicit(&p->wake_pending, 0, memory_order_seq_cst);
    }
}

/* --- Signals ---
 * A kqueue of the handle's own with an EVFILT_SIGNAL knote: it turns
 * readable when the signal is sent, and kqueue descriptors can themselves be
 * watched by the runtime's kqueue (EVFILT_READ). EVFILT_SIGNAL records every
 * attempt to deliver the signal, blocked ones included (kqueue(2)); the
 * signal is blocked in the calling thread (workers block them all), so it
 * stays pending and consume takes it with sigwait. */

int vx_bsd_signal_open(void *ctx, int signo, IoHandle *out)
{
    (void)ctx;
    sigset_t set;
    sigemptyset(&set);
    if (signo <= 0 || sigaddset(&set, signo) != 0) return VEX_EINVAL;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return VEX_EINVAL;
    int sk = kqueue();
    if (sk < 0) return vx_posix_error(errno);
    set_cloexec(sk);
    struct kevent ch;
    EV_SET(&ch, (uintptr_t)signo, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (kevent(sk, &ch, 1, NULL, 0, NULL) != 0) {
        int rc = vx_posix_error(errno);
        close(sk);
        return rc;
    }
    *out = (IoHandle)sk;
    return 0;
}

int vx_bsd_signal_consume(void *ctx, IoHandle h)
{
    (void)ctx;
    struct kevent ev;
    struct timespec zero = {0, 0};
    int r = kevent((int)h, NULL, 0, &ev, 1, &zero);
    if (r < 0) return errno == EINTR ? 0 : vx_posix_error(errno);
    if (r == 0 || ev.filter != EVFILT_SIGNAL) return 0;
    /* A delivery was recorded: take the signal off the pending set, if it
     * is still there (sigwait would block otherwise). */
    int signo = (int)ev.ident;
    sigset_t pend, one;
    if (sigpending(&pend) == 0 && sigismember(&pend, signo) == 1) {
        sigemptyset(&one);
        sigaddset(&one, signo);
        int got;
        (void)sigwait(&one, &got);
    }
    return 1;
}

int vx_bsd_signal_close(void *ctx, IoHandle h)
{
    (void)ctx;
    return close((int)h) == 0 ? 0 : vx_posix_error(errno);
}

void vx_bsd_kqueue_fill(VexPlatform *p)
{
    p->poller_size = 64;
    p->poller_local_size = 0;
    p->poller_caps = VEX_POLLER_EDGE | VEX_POLLER_NS_TIMEOUT;
    p->poller_open = kq_open;
    p->poller_close = kq_close;
    p->poller_attach = kq_attach;
    p->poller_attach_host = kq_attach_host;
    p->poller_detach = kq_detach;
    p->poller_register = kq_register;
    p->poller_deregister = kq_deregister;
    p->poller_arm = kq_arm;
    p->poller_submit = NULL;
    p->poller_cancel = NULL;
    p->poller_wait = kq_wait;
    p->poller_wake = kq_wake;
    p->io_try = vx_posix_io_try;
    p->io_blocking = vx_posix_io_blocking;
    p->signal_open = vx_bsd_signal_open;
    p->signal_consume = vx_bsd_signal_consume;
    p->signal_close = vx_bsd_signal_close;
}
