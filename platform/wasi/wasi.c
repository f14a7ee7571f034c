/* platform/wasi/wasi.c - the WebAssembly System Interface (preview 1)
 * platform: no threads (the runtime has one worker, the caller's thread),
 * the monotonic clock from clock_time_get, and parking and the poller on
 * poll_oneoff, the one waiting primitive WASI has.
 *
 * What the hosts allow, measured under Node.js 20's node:wasi (uvwasi), and
 * what follows from it here:
 *   - a clock subscription works relative only (an absolute deadline hung),
 *     and is truncated to whole milliseconds (a 0.9 ms wait returned at
 *     once): every wait is relative and rounded up to a millisecond, so a
 *     timer is late by up to 1 ms there, never early; and a clock that short
 *     fires before a descriptor that is ready, so a look at a descriptor
 *     waits 1 ms when it is not ready (poller_wait with timeout 0 and
 *     io_try pay that per armed descriptor);
 *   - several descriptor subscriptions in one call wait for all of them,
 *     not any: one descriptor is waited for at a time, with the timeout; with
 *     more armed, each is looked at with a 1 ms wait in turn;
 *   - a regular file or /dev/null makes the whole call fail with EPERM: such
 *     a descriptor is reported ready at once;
 *   - sockets cannot be given to a program, and sock_* on stdio crashed it:
 *     no socket operation is offered.
 * Each wait blocks the host's JavaScript thread; run the module in a Worker
 * to keep a page or server responsive. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

#include "vexrt/error.h"
#include "vexrt/io.h"
#include "wasi.h"

#define WASI_ARMS 64                    /* readiness arms at once (poller_arm: VEX_ENOBUFS past it) */
#define MS ((uint64_t)1000000)          /* the hosts' clock granularity, in ns */
#define IDLE_CHUNK ((uint64_t)1000 * MS) /* nothing armed, no timeout: sleep this long, again */

/* --- Errors --- */

static int wasi_error(__wasi_errno_t e)
{
    switch (e) {
    case __WASI_ERRNO_SUCCESS: return 0;
    case __WASI_ERRNO_AGAIN: return VEX_EAGAIN;
    case __WASI_ERRNO_BADF: return VEX_EBADF;
    case __WASI_ERRNO_INVAL: return VEX_EINVAL;
    case __WASI_ERRNO_NOMEM: return VEX_ENOMEM;
    case __WASI_ERRNO_NOSYS: return VEX_ENOSYS;
    case __WASI_ERRNO_NOTSUP: return VEX_ENOTSUP;
    case __WASI_ERRNO_PIPE: return VEX_EPIPE;
    case __WASI_ERRNO_NOENT: return VEX_ENOENT;
    case __WASI_ERRNO_ACCES: return VEX_EACCES;
    case __WASI_ERRNO_EXIST: return VEX_EEXIST;
    case __WASI_ERRNO_INTR: return VEX_EINTR;
    case __WASI_ERRNO_ISDIR: return VEX_EISDIR;
    case __WASI_ERRNO_NOSPC: return VEX_ENOSPC;
    default: return VEX_EIO;
    }
}

static int errno_error(int e) { return wasi_error((__wasi_errno_t)e); } /* wasi-libc errno = WASI codes */

/* --- Time and waiting --- */

static uint64_t wasi_now_ns(void *ctx)
{
    (void)ctx;
    __wasi_timestamp_t t = 0;
    (void)__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t);
    return t;
}

/* A relative clock subscription of ns, rounded up to whole milliseconds. */
static void clock_sub(__wasi_subscription_t *s, uint64_t ns, uint64_t userdata)
{
    memset(s, 0, sizeof *s);
    s->userdata = userdata;
    s->u.tag = __WASI_EVENTTYPE_CLOCK;
    s->u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
    uint64_t ms = ns / MS + (ns % MS != 0);
    s->u.u.clock.timeout = (ms ? ms : 1) * MS;
    s->u.u.clock.precision = 1;
    s->u.u.clock.flags = 0; /* relative */
}

static void sleep_ns(uint64_t ns)
{
    __wasi_subscription_t s;
    __wasi_event_t ev;
    __wasi_size_t n = 0;
    clock_sub(&s, ns, 0);
    (void)__wasi_poll_oneoff(&s, &ev, 1, &n);
}

/* One thread: nobody else can change *word or unpark us. A wait with a
 * timeout sleeps it out; one without ends at once (a spurious wake-up, which
 * the contract allows): the core only parks that way where another thread
 * would wake it. */
static int wasi_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    (void)ctx;
    if (atomic_load_explicit((_Atomic uint32_t *)word, memory_order_acquire) != expected) return 0;
    if (timeout_ns == 0) return VEX_ETIMEDOUT;
    if (timeout_ns == VEX_WAIT_FOREVER) return 0;
    uint64_t until = wasi_now_ns(NULL) + timeout_ns;
    for (;;) { /* never return early: a host may wake a poll_oneoff early */
        uint64_t now = wasi_now_ns(NULL);
        if (now >= until) return VEX_ETIMEDOUT;
        sleep_ns(until - now);
    }
}

static void wasi_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    (void)word;
    (void)count; /* nobody else to wake */
}

static uintptr_t wasi_thread_self(void *ctx)
{
    (void)ctx;
    return 1; /* the only thread */
}

static void wasi_trace(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* --- The poller: one-shot readiness on poll_oneoff --- */

typedef struct {
    IoHandle h;
    uint32_t events; /* VEX_POLL_IN / OUT */
    uint64_t token;
    int used;
} WasiArm;

typedef struct {
    WasiArm arms[WASI_ARMS];
    uint32_t next; /* where the round of one-at-a-time looks resumes */
} WasiPoller;

static int wasi_poller_open(void *ctx, void *poller, uint32_t nworkers)
{
    (void)ctx;
    if (nworkers != 1) return VEX_EINVAL; /* no threads: one worker */
    memset(poller, 0, sizeof(WasiPoller));
    return 0;
}

static void wasi_poller_close(void *ctx, void *poller)
{
    (void)ctx;
    (void)poller;
}

static int wasi_poller_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                           uint64_t token)
{
    (void)ctx;
    (void)local;
    WasiPoller *p = poller;
    __wasi_fdstat_t st;
    if (__wasi_fd_fdstat_get((__wasi_fd_t)h, &st) != 0) return VEX_EBADF;
    for (uint32_t i = 0; i < WASI_ARMS; i++) {
        if (p->arms[i].used) continue;
        p->arms[i] = (WasiArm){h, events & (VEX_POLL_IN | VEX_POLL_OUT), token, 1};
        return 0;
    }
    return VEX_ENOBUFS;
}

static int wasi_poller_cancel(void *ctx, void *poller, void *local, uint64_t token)
{
    (void)ctx;
    (void)local;
    WasiPoller *p = poller;
    for (uint32_t i = 0; i < WASI_ARMS; i++)
        if (p->arms[i].used && p->arms[i].token == token) p->arms[i].used = 0; /* reports nothing */
    return 0;
}

/* Waits at most ns for arm a (one descriptor: the only safe way, see the
 * top); returns its VEX_POLL_* bits, 0 if it did not become ready. */
static uint32_t wait_one(const WasiArm *a, uint64_t ns)
{
    __wasi_subscription_t s[3];
    __wasi_event_t ev[3];
    __wasi_size_t k = 0, n = 0;
    if (a->events & VEX_POLL_IN) {
        memset(&s[k], 0, sizeof s[k]);
        s[k].userdata = 1;
        s[k].u.tag = __WASI_EVENTTYPE_FD_READ;
        s[k].u.u.fd_read.file_descriptor = (__wasi_fd_t)a->h;
        k++;
    } else {
        memset(&s[k], 0, sizeof s[k]);
        s[k].userdata = 2;
        s[k].u.tag = __WASI_EVENTTYPE_FD_WRITE;
        s[k].u.u.fd_write.file_descriptor = (__wasi_fd_t)a->h;
        k++;
    }
    clock_sub(&s[k++], ns, 0);
    __wasi_errno_t e = __wasi_poll_oneoff(s, ev, k, &n);
    if (e == __WASI_ERRNO_PERM) return a->events; /* a regular file or /dev/null: always ready */
    if (e != 0) return VEX_POLL_ERR;
    uint32_t bits = 0;
    for (__wasi_size_t i = 0; i < n; i++) {
        if (ev[i].userdata == 0) continue; /* the clock */
        if (ev[i].error) bits |= ev[i].error == __WASI_ERRNO_BADF ? VEX_POLL_ERR : VEX_POLL_HUP;
        else bits |= ev[i].userdata == 1 ? VEX_POLL_IN : VEX_POLL_OUT;
        if (ev[i].fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP) bits |= VEX_POLL_HUP;
    }
    return bits;
}

static int wasi_poller_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns,
                            VexPollerEvent *ev, uint32_t max, uint32_t *n)
{
    (void)ctx;
    (void)local;
    WasiPoller *p = poller;
    *n = 0;
    uint32_t armed = 0, only = 0;
    for (uint32_t i = 0; i < WASI_ARMS; i++)
        if (p->arms[i].used) armed++, only = i;
    if (armed == 0) {
        if (timeout_ns) sleep_ns(timeout_ns < IDLE_CHUNK ? timeout_ns : IDLE_CHUNK);
        return 0;
    }
    uint64_t until = timeout_ns == VEX_WAIT_FOREVER ? UINT64_MAX : wasi_now_ns(NULL) + timeout_ns;
    for (;;) {
        /* One descriptor: wait for it with the whole timeout. Several: a
         * 1 ms look at each in turn (hosts wait for all, not any). */
        uint32_t k = 0;
        for (uint32_t j = 0; j < WASI_ARMS && k < max; j++) {
            uint32_t i = armed == 1 ? only : (p->next + j) % WASI_ARMS;
            if (!p->arms[i].used) continue;
            uint64_t now = wasi_now_ns(NULL);
            uint64_t left = until > now ? until - now : 0;
            uint32_t bits = wait_one(&p->arms[i], armed == 1 ? left : (left < MS ? left : MS));
            if (bits) {
                ev[k].token = p->arms[i].token;
                ev[k].result = bits;
                ev[k].kind = VEX_PEV_READY;
                ev[k].reserved = 0;
                k++;
                p->arms[i].used = 0; /* one-shot */
            }
            if (armed == 1) break;
        }
        p->next = (p->next + 1) % WASI_ARMS;
        *n = k;
        if (k || wasi_now_ns(NULL) >= until || timeout_ns == 0) return 0;
    }
}

static void wasi_poller_wake(void *ctx, void *poller, void *local)
{
    (void)ctx;
    (void)poller;
    (void)local; /* one thread: nobody waits while anyone else runs */
}

/* --- Operations --- */

/* Non-blocking attempts: read and write, once a 1 ms look says the
 * descriptor is ready (WASI cannot make a descriptor non-blocking on every
 * host). Sockets: none (see the top). */
static int wasi_io_try(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    if (op->opcode == VEX_OP_CLOSE) {
        op->result = close(fd) == 0 ? 0 : errno_error(errno);
        return 0;
    }
    if (op->opcode != VEX_OP_READ && op->opcode != VEX_OP_WRITE) return VEX_ENOTSUP;
    WasiArm a = {op->handle, op->opcode == VEX_OP_READ ? VEX_POLL_IN : VEX_POLL_OUT, 0, 1};
    if (!wait_one(&a, MS)) return VEX_EAGAIN;
    ssize_t r = op->opcode == VEX_OP_READ ? read(fd, op->buf, op->len) : write(fd, op->buf, op->len);
    op->result = r >= 0 ? r : errno_error(errno);
    return 0;
}

static void wasi_io_blocking(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    ssize_t r;
    switch (op->opcode) {
    case VEX_OP_READ: r = read(fd, op->buf, op->len); break;
    case VEX_OP_WRITE: r = write(fd, op->buf, op->len); break;
    case VEX_OP_PREAD: r = pread(fd, op->buf, op->len, (off_t)op->offset); break;
    case VEX_OP_PWRITE: r = pwrite(fd, op->buf, op->len, (off_t)op->offset); break;
    case VEX_OP_FSYNC: r = fsync(fd); break;
    case VEX_OP_CLOSE: r = close(fd); break;
    default: op->result = VEX_ENOSYS; return;
    }
    op->result = r >= 0 ? r : errno_error(errno);
}

void vx_wasi_fill(VexPlatform *p)
{
    memset(p, 0, sizeof *p);
    p->abi_version = VEX_PLATFORM_ABI;
    p->name = "wasi";
    p->thread_spawn = NULL; /* no threads: one worker, the caller's */
    p->thread_join = NULL;
    p->now_ns = wasi_now_ns;
    p->park = wasi_park;
    p->unpark = wasi_unpark;
    p->thread_self = wasi_thread_self;
    p->trace = wasi_trace;
    p->poller_size = sizeof(WasiPoller);
    p->poller_local_size = 0;
    p->poller_caps = 0; /* one-shot readiness, operations emulated */
    p->poller_open = wasi_poller_open;
    p->poller_close = wasi_poller_close;
    p->poller_arm = wasi_poller_arm;
    p->poller_cancel = wasi_poller_cancel;
    p->poller_wait = wasi_poller_wait;
    p->poller_wake = wasi_poller_wake;
    p->io_try = wasi_io_try;
    p->io_blocking = wasi_io_blocking;
}
