/* platform/linux/uring.c - the io_uring poller, on raw system calls (no
 * liburing). Each worker owns a ring, created on its own thread, so the ring
 * can be SINGLE_ISSUER|DEFER_TASKRUN (completion work runs only when its one
 * waiter asks for events) and no lock guards the queues. Arms and operations
 * only write SQEs; poller_wait submits them in the same io_uring_enter that
 * waits, so a turn of the worker costs one system call. Other threads wake a
 * ring through an eventfd watched by a multishot POLL_ADD; the eventfd is
 * drained with read(2), never read through the ring (kernel 6.15.4 could
 * block such a read forever). No SQPOLL: on a 2-core box a kernel thread
 * spinning per ring would take a core from the workers.
 *
 * Divisions: constants; system calls; probing; ring setup and teardown;
 * submission queue; completion queue; the vtable entries. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/io_uring.h>
#include <linux/time_types.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../posix/posix.h"
#include "linux.h"
#include "vexrt/error.h"
#include "vexrt/io.h"

/* --- Constants ---
 * The installed <linux/io_uring.h> may predate what is used here; every value
 * below is the kernel's ABI and never changes. */
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8) /* 5.19 */
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1U << 9) /* 5.19 */
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12) /* 6.0 */
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13) /* 6.1 */
#endif
#ifndef IORING_SQ_TASKRUN
#define IORING_SQ_TASKRUN (1U << 2) /* 5.19 */
#endif
#ifndef IORING_ENTER_EXT_ARG
#define IORING_ENTER_EXT_ARG (1U << 3) /* 5.11 */
#endif
#ifndef IORING_ENTER_REGISTERED_RING
#define IORING_ENTER_REGISTERED_RING (1U << 4) /* 5.18 */
#endif
#ifndef IORING_FEAT_EXT_ARG
#define IORING_FEAT_EXT_ARG (1U << 8) /* 5.11 */
#endif
#ifndef IORING_POLL_ADD_MULTI
#define IORING_POLL_ADD_MULTI (1U << 0) /* 5.13 */
#endif
#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1) /* 5.13 */
#endif
#ifndef IORING_ASYNC_CANCEL_ALL
#define IORING_ASYNC_CANCEL_ALL (1U << 0) /* 5.19 */
#endif

#define SQ_ENTRIES 256u
/* Polls armed in earlier batches complete alongside the current one; NODROP
 * keeps what does not fit anyway, at the cost of an overflow list. */
#define CQ_ENTRIES (4u * SQ_ENTRIES)
#define PROBE_OPS 256u

/* Our own requests: low bits VEX_TOKEN_PORT, which no core token has; the
 * high bit keeps them apart from anything derived from a pointer. Never
 * reported. */
#define WAKE_TOKEN (~(uint64_t)0)       /* the eventfd's multishot poll */
#define CANCEL_TOKEN (~(uint64_t)0 - 4) /* ASYNC_CANCEL requests: their CQEs are swallowed */
#define IS_OWN_TOKEN(ud) (((ud) & 3u) == VEX_TOKEN_PORT)

/* A CQE carries only user_data: the kind of request is the token's
 * VEX_TOKEN_OP bit (the contract in vexrt/platform.h), checked on
 * submission so a caller that breaks it fails loudly (VEX_EINVAL). */

/* The setup modes tried, best first (see DESIGN-NOTES R9): one issuer with
 * completion work deferred to its waits; else cooperative task work with a
 * flag telling when an enter is needed; else the kernel's default. */
static const uint32_t setup_modes[] = {
    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    0,
};

/* Every opcode the backend may submit; a kernel without one is not used. */
static const uint8_t required_ops[] = {
    IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_READ,    IORING_OP_WRITE,
    IORING_OP_RECV,     IORING_OP_SEND,         IORING_OP_ACCEPT,  IORING_OP_CONNECT,
    IORING_OP_CLOSE,    IORING_OP_FSYNC,
};

/* Shared state: what the probe found, for the rings the workers create. */
typedef struct {
    uint32_t setup_flags; /* one of setup_modes */
    uint32_t features;    /* IORING_FEAT_* of the probe ring */
} UringPoller;

/* A worker's ring. Everything but the wake-up line is touched only by the
 * owning worker. */
typedef struct {
    /* Submission queue. SQEs are written at sqe_tail and published to the
     * kernel by the release store of *sq_tail just before an enter. */
    _Atomic uint32_t *sq_head; /* the kernel's: how far it consumed */
    _Atomic uint32_t *sq_tail;
    _Atomic uint32_t *sq_flags; /* IORING_SQ_TASKRUN, IORING_SQ_CQ_OVERFLOW */
    struct io_uring_sqe *sqes;
    uint32_t sq_mask;
    uint32_t sq_entries;
    uint32_t sqe_tail; /* SQEs written, published or not */
    /* Completion queue. */
    _Atomic uint32_t *cq_head; /* ours */
    _Atomic uint32_t *cq_tail; /* the kernel's */
    struct io_uring_cqe *cqes;
    uint32_t cq_mask;
    uint32_t inflight; /* requests whose last CQE has not come (the wake poll excluded) */
    /* The ring. */
    int ring_fd;
    int enter_fd;          /* registered index when enter_flags says so, else ring_fd */
    uint32_t enter_flags;  /* IORING_ENTER_REGISTERED_RING or 0 */
    uint32_t mode;         /* the setup mode: one of setup_modes */
    int live;              /* attached and not yet detached */
    int wake_armed;        /* the eventfd's multishot poll is queued or active */
    int woken;             /* this wait saw a wake-up */
    void *sq_map;
    void *cq_map;          /* == sq_map with IORING_FEAT_SINGLE_MMAP */
    size_t sq_map_len;
    size_t cq_map_len;
    size_t sqes_len;
    /* Wake-up line, written by any thread: its own cache line so wakers do
     * not bounce the queue pointers above. */
    _Alignas(64) _Atomic int wake_open; /* 1: the next poller_wake writes the eventfd */
    int evfd; /* set before wake_open first becomes 1, never changed while live */
} UringLocal;

/* --- System calls --- */

static int uring_setup(uint32_t entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int uring_register(int fd, unsigned op, void *arg, unsigned nr)
{
    return (int)syscall(__NR_io_uring_register, fd, op, arg, nr);
}

/* Returns what the kernel returned, or -errno. */
static int uring_enter(UringLocal *l, uint32_t to_submit, uint32_t min_complete, uint32_t flags,
                       void *arg, size_t argsz)
{
    long r = syscall(__NR_io_uring_enter, l->enter_fd, to_submit, min_complete,
                     flags | l->enter_flags, arg, argsz);
    return r < 0 ? -errno : (int)r;
}

/* --- Probing --- */

/* Unavailable (seccomp, sysctl kernel.io_uring_disabled, old kernel) is
 * ENOSYS or EACCES, so the runtime falls back to epoll without a word. */
static int setup_error(int err)
{
    if (err == ENOSYS) return VEX_ENOSYS;
    if (err == EPERM || err == EACCES) return VEX_EACCES;
    return vx_posix_error(err);
}

/* Creates a ring: its fd, or a VEX_E* code (VEX_EINVAL: flags not known). */
static int ring_create(uint32_t entries, struct io_uring_params *p)
{
    int fd = uring_setup(entries, p);
    return fd >= 0 ? fd : setup_error(errno);
}

static int ops_supported(int fd)
{
    union {
        struct io_uring_probe p;
        unsigned char bytes[sizeof(struct io_uring_probe) +
                            PROBE_OPS * sizeof(struct io_uring_probe_op)];
    } buf;
    memset(&buf, 0, sizeof buf); /* the kernel rejects a probe that is not zeroed */
    if (uring_register(fd, IORING_REGISTER_PROBE, &buf.p, PROBE_OPS) < 0) return 0;
    for (size_t i = 0; i < sizeof required_ops; i++) {
        uint8_t op = required_ops[i];
        if (op >= buf.p.ops_len || !(buf.p.ops[op].flags & IO_URING_OP_SUPPORTED)) return 0;
    }
    return 1;
}

/* Sets up and closes a small ring to learn the best setup mode; VEX_ENOSYS
 * if the kernel lacks a feature or opcode the backend relies on. */
static int probe(UringPoller *out)
{
    struct io_uring_params p;
    int fd = VEX_EINVAL;
    for (size_t i = 0; fd == VEX_EINVAL && i < sizeof setup_modes / sizeof setup_modes[0]; i++) {
        memset(&p, 0, sizeof p);
        p.flags = setup_modes[i];
        fd = ring_create(4, &p);
    }
    if (fd == VEX_EINVAL) return VEX_ENOSYS; /* not even flags 0: a kernel we do not know */
    if (fd < 0) return fd;
    int rc = 0;
    /* EXT_ARG: timed waits without a TIMEOUT SQE; NODROP: a full CQ never
     * loses a completion. */
    if ((p.features & (IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP)) !=
        (IORING_FEAT_EXT_ARG | IORING_FEAT_NODROP))
        rc = VEX_ENOSYS;
    else if (!ops_supported(fd))
        rc = VEX_ENOSYS;
    close(fd);
    if (rc == 0) {
        out->setup_flags = p.flags; /* one of setup_modes */
        out->features = p.features;
    }
    return rc;
}

int vx_linux_uring_usable(void)
{
    /* 0: not probed yet, 1: usable, 2: not. Threads racing here probe twice
     * and store the same answer. */
    static _Atomic int cached;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c == 0) {
        UringPoller tmp;
        c = probe(&tmp) == 0 ? 1 : 2;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c == 1;
}

/* --- Ring setup and teardown --- */

static void unmap_rings(UringLocal *l)
{
    if (l->sqes) munmap(l->sqes, l->sqes_len);
    if (l->cq_map && l->cq_map != l->sq_map) munmap(l->cq_map, l->cq_map_len);
    if (l->sq_map) munmap(l->sq_map, l->sq_map_len);
    l->sqes = NULL;
    l->cq_map = l->sq_map = NULL;
}

static int map_rings(UringLocal *l, int fd, const struct io_uring_params *p)
{
    const int prot = PROT_READ | PROT_WRITE, fl = MAP_SHARED | MAP_POPULATE;
    size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(uint32_t);
    size_t cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
    int single = (p->features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
    void *sq = mmap(NULL, sq_len, prot, fl, fd, (off_t)IORING_OFF_SQ_RING);
    if (sq == MAP_FAILED) return vx_posix_error(errno);
    l->sq_map = sq;
    l->sq_map_len = sq_len;
    void *cq = sq;
    if (!single) {
        cq = mmap(NULL, cq_len, prot, fl, fd, (off_t)IORING_OFF_CQ_RING);
        if (cq == MAP_FAILED) {
            int rc = vx_posix_error(errno);
            unmap_rings(l);
            return rc;
        }
    }
    l->cq_map = cq;
    l->cq_map_len = cq_len;
    size_t sqes_len = p->sq_entries * sizeof(struct io_uring_sqe);
    void *sqes = mmap(NULL, sqes_len, prot, fl, fd, (off_t)IORING_OFF_SQES);
    if (sqes == MAP_FAILED) {
        int rc = vx_posix_error(errno);
        unmap_rings(l);
        return rc;
    }
    l->sqes = sqes;
    l->sqes_len = sqes_len;

    char *s = sq, *c = cq;
    l->sq_head = (_Atomic uint32_t *)(void *)(s + p->sq_off.head);
    l->sq_tail = (_Atomic uint32_t *)(void *)(s + p->sq_off.tail);
    l->sq_flags = (_Atomic uint32_t *)(void *)(s + p->sq_off.flags);
    l->sq_mask = *(uint32_t *)(void *)(s + p->sq_off.ring_mask);
    l->sq_entries = *(uint32_t *)(void *)(s + p->sq_off.ring_entries);
    l->cq_head = (_Atomic uint32_t *)(void *)(c + p->cq_off.head);
    l->cq_tail = (_Atomic uint32_t *)(void *)(c + p->cq_off.tail);
    l->cq_mask = *(uint32_t *)(void *)(c + p->cq_off.ring_mask);
    l->cqes = (struct io_uring_cqe *)(void *)(c + p->cq_off.cqes);
    /* SQE i always sits in array slot i, so the indirection is filled once;
     * the kernel reads it only at enter, after the release store of the tail. */
    uint32_t *array = (uint32_t *)(void *)(s + p->sq_off.array);
    for (uint32_t i = 0; i < l->sq_entries; i++) array[i] = i;
    l->sqe_tail = atomic_load_explicit(l->sq_tail, memory_order_relaxed);
    return 0;
}

/* A registered ring fd saves the fd-table lookup on every enter. Optional:
 * 5.18+, and it belongs to the registering thread, which is the only one
 * entering this ring. */
static void register_ring_fd(UringLocal *l)
{
    struct io_uring_rsrc_update up;
    memset(&up, 0, sizeof up);
    up.offset = UINT32_MAX; /* any free slot */
    up.data = (uint64_t)l->ring_fd;
    if (uring_register(l->ring_fd, IORING_REGISTER_RING_FDS, &up, 1) == 1) {
        l->enter_fd = (int)up.offset;
        l->enter_flags = IORING_ENTER_REGISTERED_RING;
    }
}

static void unregister_ring_fd(UringLocal *l)
{
    if (!(l->enter_flags & IORING_ENTER_REGISTERED_RING)) return;
    /* The registration holds a reference to the ring until the thread
     * exits: drop it so closing ring_fd really frees the ring. */
    struct io_uring_rsrc_update up;
    memset(&up, 0, sizeof up);
    up.offset = (uint32_t)l->enter_fd;
    (void)uring_register(l->ring_fd, IORING_UNREGISTER_RING_FDS, &up, 1);
    l->enter_fd = l->ring_fd;
    l->enter_flags = 0;
}

/* --- Submission queue --- */

/* Publishes the SQEs written so far and returns how many the kernel has
 * not consumed yet. */
static uint32_t sq_publish(UringLocal *l)
{
    /* release: the SQE contents before the new tail; pairs with the
     * kernel's acquire load of the tail in io_uring_enter. */
    atomic_store_explicit(l->sq_tail, l->sqe_tail, memory_order_release);
    /* acquire: pairs with the kernel's release store of the head, after
     * which the consumed SQEs may be rewritten. */
    return l->sqe_tail - atomic_load_explicit(l->sq_head, memory_order_acquire);
}

/* Hands the kernel what is queued, without waiting. */
static int sq_submit(UringLocal *l)
{
    uint32_t pending = sq_publish(l);
    if (!pending) return 0;
    int r;
    do r = uring_enter(l, pending, 0, 0, NULL, 0);
    while (r == -EINTR);
    return r < 0 ? vx_posix_error(-r) : 0;
}

/* Returns a zeroed SQE at the tail (committed by sqe_commit), submitting
 * first if the queue is full; NULL if the kernel takes nothing now (a CQ
 * overflow backlog: poller_wait drains it). */
static struct io_uring_sqe *sqe_get(UringLocal *l)
{
    uint32_t head = atomic_load_explicit(l->sq_head, memory_order_acquire);
    if (l->sqe_tail - head >= l->sq_entries) {
        (void)sq_submit(l);
        head = atomic_load_explicit(l->sq_head, memory_order_acquire);
        if (l->sqe_tail - head >= l->sq_entries) return NULL;
    }
    struct io_uring_sqe *sqe = &l->sqes[l->sqe_tail & l->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

static void sqe_commit(UringLocal *l, int counts)
{
    l->sqe_tail++;
    if (counts) l->inflight++;
}

/* sqe->poll32_events is stored little-endian by halves on big-endian hosts. */
static uint32_t poll_mask(uint32_t m)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (m << 16) | (m >> 16);
#else
    return m;
#endif
}

/* Multishot, so one SQE serves every wake-up until the kernel ends it (a
 * CQE without IORING_CQE_F_MORE, e.g. after a CQ overflow). */
static int wake_arm(UringLocal *l)
{
    struct io_uring_sqe *sqe = sqe_get(l);
    if (!sqe) return VEX_EBUSY;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = l->evfd;
    sqe->poll32_events = poll_mask(POLLIN);
    sqe->len = IORING_POLL_ADD_MULTI;
    sqe->user_data = WAKE_TOKEN;
    sqe_commit(l, 0); /* not in flight: it lasts as long as the ring */
    l->wake_armed = 1;
    return 0;
}

/* --- Completion queue --- */

static void on_wake_cqe(UringLocal *l, const struct io_uring_cqe *cqe)
{
    uint64_t v;
    /* Drain, then reopen: a waker that comes after the reopen writes again
     * and its write reaches the next wait; one that came before it found
     * wake_open 0 and relies on this wait, which is returning anyway.
     * (Reopening first could let a waker's write be drained here with no
     * CQE left to reopen, and every later wake-up would be swallowed.) */
    ssize_t r = read(l->evfd, &v, sizeof v);
    (void)r; /* EAGAIN: another CQE of the same poll drained it already */
    atomic_store_explicit(&l->wake_open, 1, memory_order_seq_cst);
    l->woken = 1;
    if (!(cqe->flags & IORING_CQE_F_MORE)) l->wake_armed = 0;
}

static uint32_t ready_bits(int32_t res)
{
    uint32_t m = (uint32_t)res, bits = 0;
    if (m & POLLIN) bits |= VEX_POLL_IN;
    if (m & POLLOUT) bits |= VEX_POLL_OUT;
    if (m & (POLLHUP | POLLRDHUP)) bits |= VEX_POLL_HUP;
    if (m & POLLERR) bits |= VEX_POLL_ERR;
    return bits;
}

/* Copies up to max reportable CQEs to ev, consuming our own on the way, and
 * leaves the rest in the CQ for the next call. */
static uint32_t cq_reap(UringLocal *l, VexPollerEvent *ev, uint32_t max)
{
    /* relaxed: only this thread writes the head. */
    uint32_t head = atomic_load_explicit(l->cq_head, memory_order_relaxed);
    /* acquire: pairs with the kernel's release store of the tail; the CQEs
     * before it are written. */
    uint32_t tail = atomic_load_explicit(l->cq_tail, memory_order_acquire);
    uint32_t first = head, k = 0;
    for (; head != tail; head++) {
        const struct io_uring_cqe *cqe = &l->cqes[head & l->cq_mask];
        uint64_t ud = cqe->user_data;
        if (IS_OWN_TOKEN(ud)) {
            if (ud == WAKE_TOKEN) {
                on_wake_cqe(l, cqe);
                continue;
            }
            if (l->inflight) l->inflight--; /* a cancel's outcome: nothing to tell */
            continue;
        }
        if (k == max) break;
        if (!(cqe->flags & IORING_CQE_F_MORE) && l->inflight) l->inflight--;
        int32_t res = cqe->res;
        ev[k].token = ud;
        ev[k].reserved = 0;
        if (ud & VEX_TOKEN_OP) {
            ev[k].kind = VEX_PEV_DONE;
            ev[k].result = res >= 0 ? (int64_t)res : (int64_t)vx_posix_error(-res);
        } else {
            /* A cancelled poll reports VEX_ECANCELED too: the core takes
             * a negative readiness result as a failed arm. */
            ev[k].kind = VEX_PEV_READY;
            ev[k].result = res >= 0 ? (int64_t)ready_bits(res) : (int64_t)vx_posix_error(-res);
        }
        k++;
    }
    /* release: we are done reading the CQEs before head; pairs with the
     * kernel's acquire load of the head before it reuses their slots. */
    if (head != first) atomic_store_explicit(l->cq_head, head, memory_order_release);
    return k;
}

/* True if an enter without waiting could produce CQEs now. */
static int kernel_has_work(UringLocal *l)
{
    uint32_t f = atomic_load_explicit(l->sq_flags, memory_order_relaxed);
    if (f & IORING_SQ_CQ_OVERFLOW) return 1; /* the backlog moves to the CQ on enter */
    if (!l->inflight) return 0;
    /* DEFER_TASKRUN: completion work waits for our enter. TASKRUN_FLAG: the
     * kernel says when it has some. Otherwise it runs on its own. */
    if (l->mode & IORING_SETUP_DEFER_TASKRUN) return 1;
    return (l->mode & IORING_SETUP_TASKRUN_FLAG) && (f & IORING_SQ_TASKRUN);
}

static int wait_for_cqe(UringLocal *l, uint32_t pending, uint64_t timeout_ns)
{
    struct __kernel_timespec ts;
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    arg.sigmask = 0;
    arg.sigmask_sz = _NSIG / 8;
    if (!l->wake_armed && timeout_ns > 1000000u) {
        /* The wake poll could not be queued (SQ full behind a CQ backlog):
         * bound the sleep so wake-ups still get through. */
        timeout_ns = 1000000u;
    }
    if (timeout_ns != VEX_WAIT_FOREVER) {
        ts.tv_sec = (long long)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long long)(timeout_ns % 1000000000u);
        arg.ts = (uint64_t)(uintptr_t)&ts;
    }
    return uring_enter(l, pending, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg,
                       sizeof arg);
}

/* --- The vtable entries --- */

static int ur_open(void *ctx, void *poller, uint32_t nworkers)
{
    (void)ctx;
    (void)nworkers;
    return probe((UringPoller *)poller);
}

static void ur_close(void *ctx, void *poller)
{
    (void)ctx;
    (void)poller; /* the probe ring is long closed; the rings went with detach */
}

/* Creates and maps a ring in setup mode `mode` for l, with its wake-up. */
static int attach_mode(UringLocal *l, uint32_t mode)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* The ring is created here, on the worker's thread, because
     * SINGLE_ISSUER binds it to the creating thread. */
    p.flags = IORING_SETUP_CQSIZE | mode;
    p.cq_entries = CQ_ENTRIES;
    int fd = ring_create(SQ_ENTRIES, &p);
    if (fd < 0) return fd;
    l->ring_fd = l->enter_fd = fd;
    l->enter_flags = 0;
    l->mode = mode;
    l->inflight = 0;
    int rc = map_rings(l, fd, &p);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->evfd < 0) {
        rc = vx_posix_error(errno);
        unmap_rings(l);
        close(fd);
        return rc;
    }
    register_ring_fd(l);
    /* Submitted now, so an issuer mix-up (-EEXIST) shows here, not in the
     * first wait. */
    rc = wake_arm(l);
    if (rc == 0) rc = sq_submit(l);
    if (rc < 0) {
        unregister_ring_fd(l);
        close(l->evfd);
        unmap_rings(l);
        close(fd);
        return rc;
    }
    l->live = 1;
    /* release: evfd before wakers can see the line open; pairs with the
     * exchange in ur_wake. */
    atomic_store_explicit(&l->wake_open, 1, memory_order_release);
    return 0;
}

static int ur_attach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    UringPoller *up = poller;
    UringLocal *l = local;
    if (!l) return VEX_EINVAL;
    return attach_mode(l, up->setup_flags); /* the mode the probe chose */
}

/* A ring a host loop waits on (vexrt/embed.h) must wake a poll() or
 * epoll_wait() on its descriptor when completions come. Under DEFER_TASKRUN
 * it never does (completion work waits for our own enter), so a hosted
 * ring uses cooperative task work with the flag that tells when an enter is
 * due (5.19), where the probe found the kernel new enough, else the
 * default mode; its descriptor then polls readable with completions to
 * reap. Hosts must retry their wait on EINTR: task work can interrupt it. */
static int ur_attach_host(void *ctx, void *poller, void *local, IoHandle *handle)
{
    (void)ctx;
    UringPoller *up = poller;
    UringLocal *l = local;
    if (!l || !handle) return VEX_EINVAL;
    uint32_t mode = up->setup_flags ? IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG : 0;
    int rc = attach_mode(l, mode);
    if (rc == 0) *handle = (IoHandle)l->ring_fd;
    return rc;
}

static void ur_detach(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    if (!l || !l->live) return;
    /* The core detaches after the worker's thread has exited and every
     * thread that could wake it has been joined: no waker is left, and the
     * ring fd registration went with the thread (registrations belong to the
     * registering thread; unregistering here would touch this thread's). */
    atomic_store_explicit(&l->wake_open, 0, memory_order_seq_cst);
    l->enter_flags = 0;
    l->enter_fd = l->ring_fd;
    unmap_rings(l);
    close(l->ring_fd); /* cancels whatever is still in flight */
    close(l->evfd);
    l->live = 0;
}

static int ur_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                  uint64_t token)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    if (!l || !l->live || (token & 3u) != 0) return VEX_EINVAL;
    struct io_uring_sqe *sqe = sqe_get(l);
    if (!sqe) return VEX_EBUSY;
    uint32_t m = POLLRDHUP;
    if (events & VEX_POLL_IN) m |= POLLIN;
    if (events & VEX_POLL_OUT) m |= POLLOUT;
    sqe->opcode = IORING_OP_POLL_ADD; /* one-shot; reports at once if ready now */
    sqe->fd = (int)h;
    sqe->poll32_events = poll_mask(m);
    sqe->user_data = token;
    sqe_commit(l, 1);
    return 0;
}

static uint32_t msg_flags(uint32_t f, int send)
{
    uint32_t m = send ? MSG_NOSIGNAL : 0;
    if (f & VEX_MSG_PEEK) m |= MSG_PEEK;
    if (f & VEX_MSG_WAITALL) m |= MSG_WAITALL;
    return m;
}

/* Lengths are 32-bit in an SQE; a shorter transfer is a legal result. */
static uint32_t sqe_len(size_t len) { return len > UINT32_MAX ? UINT32_MAX : (uint32_t)len; }

static int ur_submit(void *ctx, void *poller, void *local, struct VexIoOp *op, uint64_t token)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    if (!l || !l->live || !op || (token & 3u) != VEX_TOKEN_OP) return VEX_EINVAL;
    if (op->opcode < VEX_OP_READ || op->opcode > VEX_OP_FSYNC) return VEX_EINVAL;
    if (op->opcode == VEX_OP_ACCEPT && op->buf && op->len > INT_MAX) return VEX_EINVAL;
    struct io_uring_sqe *sqe = sqe_get(l);
    if (!sqe) return VEX_EBUSY;
    sqe->fd = (int)op->handle;
    sqe->user_data = token;
    switch ((VexOpcode)op->opcode) {
    case VEX_OP_READ:
    case VEX_OP_WRITE:
    case VEX_OP_PREAD:
    case VEX_OP_PWRITE: {
        int rd = op->opcode == VEX_OP_READ || op->opcode == VEX_OP_PREAD;
        int positioned = op->opcode == VEX_OP_PREAD || op->opcode == VEX_OP_PWRITE;
        sqe->opcode = rd ? IORING_OP_READ : IORING_OP_WRITE;
        sqe->addr = (uint64_t)(uintptr_t)op->buf;
        sqe->len = sqe_len(op->len);
        /* -1: the file position, as read(2) would (also right for pipes
         * and sockets, which have none). */
        sqe->off = positioned ? op->offset : (uint64_t)-1;
        break;
    }
    case VEX_OP_RECV:
    case VEX_OP_SEND:
        sqe->opcode = op->opcode == VEX_OP_RECV ? IORING_OP_RECV : IORING_OP_SEND;
        sqe->addr = (uint64_t)(uintptr_t)op->buf;
        sqe->len = sqe_len(op->len);
        sqe->msg_flags = msg_flags(op->flags, op->opcode == VEX_OP_SEND);
        break;
    case VEX_OP_ACCEPT:
        sqe->opcode = IORING_OP_ACCEPT;
        sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        if (op->buf) {
            /* The kernel reads the buffer size from addr2 and writes the
             * peer's size back there before it posts the CQE. Pointing it at
             * the socklen_t-sized part of op->len holding the value makes
             * that write-back the update of op->len: the completion needs
             * no access to op, which a CQE (user_data = token) cannot give. */
            socklen_t *sl = (socklen_t *)(void *)&op->len;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
            sl += sizeof op->len / sizeof(socklen_t) - 1;
#endif
            sqe->addr = (uint64_t)(uintptr_t)op->buf;
            sqe->addr2 = (uint64_t)(uintptr_t)sl;
        }
        break;
    case VEX_OP_CONNECT:
        sqe->opcode = IORING_OP_CONNECT;
        sqe->addr = (uint64_t)(uintptr_t)op->buf;
        sqe->off = op->len; /* the address length */
        break;
    case VEX_OP_CLOSE:
        sqe->opcode = IORING_OP_CLOSE;
        break;
    case VEX_OP_FSYNC:
        sqe->opcode = IORING_OP_FSYNC;
        break;
    }
    sqe_commit(l, 1);
    return 0;
}

static int ur_cancel(void *ctx, void *poller, void *local, uint64_t token)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    if (!l || !l->live) return VEX_EINVAL;
    struct io_uring_sqe *sqe = sqe_get(l);
    if (!sqe) return VEX_EBUSY;
    /* Matches polls as well as operations. Earlier arms may share a token:
     * with CANCEL_ALL (5.19, as are the setup modes other than 0) none of
     * them keeps the file open. */
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = token;
    sqe->cancel_flags = l->mode ? IORING_ASYNC_CANCEL_ALL : 0;
    sqe->user_data = CANCEL_TOKEN;
    sqe_commit(l, 1);
    /* Submitted at once, with GETEVENTS so that (under DEFER_TASKRUN) the
     * cancelled requests' completion work runs now too: a cancelled request
     * gives up its reference to the file before this returns, and a close
     * that follows really closes it (the peer sees end-of-file). The CQEs
     * wait in the CQ for the next poller_wait. */
    uint32_t pending = sq_publish(l);
    int r;
    do r = uring_enter(l, pending, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    while (r == -EINTR);
    return 0; /* EBUSY/EAGAIN (a CQ backlog): the SQE goes with the next wait */
}

static int ur_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns, VexPollerEvent *ev,
                   uint32_t max, uint32_t *n)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    *n = 0;
    if (!l || !l->live) return VEX_EINVAL;
    if (!l->wake_armed) (void)wake_arm(l);
    l->woken = 0;
    uint32_t k = cq_reap(l, ev, max);
    uint32_t pending = sq_publish(l);
    int r;
    if (k == 0 && !l->woken && timeout_ns != 0) {
        r = wait_for_cqe(l, pending, timeout_ns);
    } else if (pending || (k < max && kernel_has_work(l))) {
        /* GETEVENTS even without waiting: under DEFER_TASKRUN that is what
         * runs the completion work. */
        r = uring_enter(l, pending, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    } else {
        *n = k;
        return 0;
    }
    if (r == -EBUSY || r == -EAGAIN) {
        /* Nothing was submitted: the CQ backlog must move first. Collect,
         * and the SQEs go with the next wait. */
        (void)uring_enter(l, 0, 0, IORING_ENTER_GETEVENTS, NULL, 0);
    }
    k += cq_reap(l, ev + k, max - k);
    *n = k;
    if (r >= 0 || r == -EINTR || r == -ETIME || r == -EBUSY || r == -EAGAIN) return 0;
    return vx_posix_error(-r);
}

static void ur_wake(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    UringLocal *l = local;
    if (!l) return;
    /* One eventfd write per drain: later wakers find the line closed. The
     * exchange also acquires evfd from ur_attach's release. */
    if (!atomic_exchange_explicit(&l->wake_open, 0, memory_order_seq_cst)) return;
    uint64_t one = 1;
    ssize_t r = write(l->evfd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is already non-zero, which is all we need */
}

void vx_linux_uring_fill(VexPlatform *p)
{
    p->poller_size = sizeof(UringPoller);
    p->poller_local_size = sizeof(UringLocal);
    p->poller_caps = VEX_POLLER_PER_WORKER | VEX_POLLER_NATIVE_OPS | VEX_POLLER_NS_TIMEOUT;
    p->poller_open = ur_open;
    p->poller_close = ur_close;
    p->poller_attach = ur_attach;
    p->poller_attach_host = ur_attach_host;
    p->poller_detach = ur_detach;
    p->poller_register = NULL;
    p->poller_deregister = NULL;
    p->poller_arm = ur_arm;
    p->poller_submit = ur_submit;
    p->poller_cancel = ur_cancel;
    p->poller_wait = ur_wait;
    p->poller_wake = ur_wake;
    p->io_try = vx_posix_io_try;
    p->io_blocking = vx_posix_io_blocking;
    p->signal_open = vx_linux_signal_open;
    p->signal_consume = vx_linux_signal_consume;
    p->signal_close = vx_linux_signal_close;
}
