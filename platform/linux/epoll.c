/* platform/linux/epoll.c - the epoll poller: one epoll instance per runtime,
 * handles registered once, edge-triggered, for read and write readiness (the
 * core caches readiness per handle, so a request/response loop needs no
 * epoll_ctl per wait); an eventfd for wake-ups, deduplicated by a flag; ns
 * timeouts through epoll_pwait2 where the kernel has it (5.11), else
 * milliseconds rounded up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../posix/posix.h"
#include "linux.h"
#include "vexrt/error.h"

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

/* ThreadSanitizer sees epoll_wait (it intercepts it and acquires what
 * epoll_ctl released on the instance), but not epoll_pwait2, which libc
 * does not wrap and we reach with syscall(). The kernel orders a
 * registration before the events it reports, and the core relies on it: a
 * worker creates a handle's record and registers it, another collects its
 * event and uses the record. Under TSan (only) that order is declared:
 * every epoll_ctl releases the instance, every wait that returns events
 * acquires it. */
#if defined(__SANITIZE_THREAD__)
#define VX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VX_TSAN 1
#endif
#endif
#ifdef VX_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(p) __tsan_release(p)
#define TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define TSAN_RELEASE(p) ((void)(p))
#define TSAN_ACQUIRE(p) ((void)(p))
#endif

#define WAKE_TOKEN UINT64_MAX /* the eventfd's data: never a core token */
#define ET_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

typedef struct {
    int epfd;
    int evfd;
    int have_pwait2;
    _Atomic int wake_pending; /* set by a waker, cleared by the waiter that drains evfd */
} EpollPoller;

_Static_assert(sizeof(EpollPoller) <= 64, "poller_size below");

static int ep_open(void *ctx, void *poller, uint32_t nworkers)
{
    (void)ctx;
    (void)nworkers;
    EpollPoller *p = poller;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) return vx_posix_error(errno);
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->evfd < 0) {
        int rc = vx_posix_error(errno);
        close(p->epfd);
        return rc;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TOKEN};
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0) {
        int rc = vx_posix_error(errno);
        close(p->evfd);
        close(p->epfd);
        return rc;
    }
    struct epoll_event out;
    struct timespec zero = {0, 0};
    /* Not under valgrind: 3.19 does not know the call (it warns on stderr,
     * then fails it), and the millisecond fallback is all it could time. */
    p->have_pwait2 = !vx_linux_under_valgrind() &&
                     syscall(SYS_epoll_pwait2, p->epfd, &out, 1, &zero, NULL, 0) >= 0;
    atomic_init(&p->wake_pending, 0);
    return 0;
}

static void ep_close(void *ctx, void *poller)
{
    (void)ctx;
    EpollPoller *p = poller;
    close(p->evfd);
    close(p->epfd);
}

static int ep_attach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    (void)local;
    return 0;
}

/* The epoll descriptor itself polls readable when it has events, the
 * wake-up eventfd's included: a host loop waits on it. */
static int ep_attach_host(void *ctx, void *poller, void *local, IoHandle *handle)
{
    (void)ctx;
    (void)local;
    EpollPoller *p = poller;
    if (!handle) return VEX_EINVAL;
    *handle = (IoHandle)p->epfd;
    return 0;
}

static void ep_detach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    (void)local;
}

static int ctl_error(int err)
{
    if (err == EPERM) return VEX_ENOTSUP; /* regular files and the like */
    return vx_posix_error(err);
}

/* Whether a short read or write on fd means it is drained or full: true of
 * stream sockets, pipes and terminals, not of datagram sockets (one message
 * per read) or event and signal handles. Asked once per registration. */
static int stream_kind(int fd)
{
    int type = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
        return type == SOCK_STREAM ? VEX_REG_STREAM : 0;
    struct stat st;
    if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) return VEX_REG_STREAM;
    return 0;
}

static int ep_register(void *ctx, void *poller, void *local, IoHandle h, uint64_t token)
{
    (void)ctx;
    (void)local;
    EpollPoller *p = poller;
    struct epoll_event ev = {.events = ET_EVENTS, .data.u64 = token};
    TSAN_RELEASE(p);
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, (int)h, &ev) == 0 ||
        (errno == EEXIST && epoll_ctl(p->epfd, EPOLL_CTL_MOD, (int)h, &ev) == 0))
        return stream_kind((int)h);
    return ctl_error(errno);
}

static int ep_deregister(void *ctx, void *poller, IoHandle h)
{
    (void)ctx;
    EpollPoller *p = poller;
    if (epoll_ctl(p->epfd, EPOLL_CTL_DEL, (int)h, NULL) == 0) return 0;
    return vx_posix_error(errno);
}

/* A MOD with the same edge-triggered events re-evaluates readiness and
 * queues an event if the handle is ready now: the re-check a one-shot await
 * needs after the task may have left data unread. */
static int ep_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                  uint64_t token)
{
    (void)ctx;
    (void)local;
    (void)events;
    EpollPoller *p = poller;
    struct epoll_event ev = {.events = ET_EVENTS, .data.u64 = token};
    TSAN_RELEASE(p);
    if (epoll_ctl(p->epfd, EPOLL_CTL_MOD, (int)h, &ev) == 0) return 0;
    if (errno == ENOENT && epoll_ctl(p->epfd, EPOLL_CTL_ADD, (int)h, &ev) == 0) return 0;
    return ctl_error(errno);
}

static int ep_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns, VexPollerEvent *out,
                   uint32_t max, uint32_t *n)
{
    (void)ctx;
    (void)local;
    EpollPoller *p = poller;
    struct epoll_event evs[256];
    int cap = max < 256 ? (int)max : 256;
    int r;
    if (p->have_pwait2) {
        struct timespec ts, *tp = NULL;
        if (timeout_ns != VEX_WAIT_FOREVER) {
            ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
            ts.tv_nsec = (long)(timeout_ns % 1000000000u);
            tp = &ts;
        }
        r = (int)syscall(SYS_epoll_pwait2, p->epfd, evs, cap, tp, NULL, 0);
    } else {
        int ms = -1;
        if (timeout_ns != VEX_WAIT_FOREVER) {
            uint64_t m = (timeout_ns + 999999u) / 1000000u; /* round up: never early */
            ms = m > 86400000u ? 86400000 : (int)m;
        }
        r = epoll_wait(p->epfd, evs, cap, ms);
    }
    *n = 0;
    if (r < 0) return errno == EINTR ? 0 : vx_posix_error(errno);
    if (r > 0) TSAN_ACQUIRE(p);
    uint32_t k = 0;
    for (int i = 0; i < r; i++) {
        if (evs[i].data.u64 == WAKE_TOKEN) {
            uint64_t v;
            /* Drain, then clear the flag. (The other order loses wake-ups:
             * a waker writing between the clear and the read would have its
             * write eaten, leaving the flag set and the counter at zero, so
             * no later waker would write again.) A waker that finds the flag
             * still set here skips its write, which is safe: we are awake and
             * look at the parker state and the stop flag after returning. */
            while (read(p->evfd, &v, sizeof v) == (ssize_t)sizeof v) {}
            atomic_store_explicit(&p->wake_pending, 0, memory_order_seq_cst);
            continue;
        }
        uint32_t e = evs[i].events, bits = 0;
        if (e & EPOLLIN) bits |= VEX_POLL_IN;
        if (e & EPOLLOUT) bits |= VEX_POLL_OUT;
        if (e & (EPOLLHUP | EPOLLRDHUP)) bits |= VEX_POLL_HUP;
        if (e & EPOLLERR) bits |= VEX_POLL_ERR;
        out[k].token = evs[i].data.u64;
        out[k].result = bits;
        out[k].kind = VEX_PEV_READY;
        out[k].reserved = 0;
        k++;
    }
    *n = k;
    return 0;
}

static void ep_wake(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)local;
    EpollPoller *p = poller;
    /* One eventfd write per wait: later wakers see the flag set. */
    if (atomic_exchange_explicit(&p->wake_pending, 1, memory_order_seq_cst)) return;
    uint64_t one = 1;
    ssize_t r = write(p->evfd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, which is all we need */
}

void vx_linux_epoll_fill(VexPlatform *p)
{
    p->poller_size = 64;
    p->poller_local_size = 0;
    p->poller_caps = VEX_POLLER_EDGE | VEX_POLLER_NS_TIMEOUT;
    p->poller_open = ep_open;
    p->poller_close = ep_close;
    p->poller_attach = ep_attach;
    p->poller_attach_host = ep_attach_host;
    p->poller_detach = ep_detach;
    p->poller_register = ep_register;
    p->poller_deregister = ep_deregister;
    p->poller_arm = ep_arm;
    p->poller_submit = NULL;
    p->poller_cancel = NULL;
    p->poller_wait = ep_wait;
    p->poller_wake = ep_wake;
    p->io_try = vx_posix_io_try;
    p->io_blocking = vx_posix_io_blocking;
    p->signal_open = vx_linux_signal_open;
    p->signal_consume = vx_linux_signal_consume;
    p->signal_close = vx_linux_signal_close;
}
