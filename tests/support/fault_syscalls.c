/* tests/support/fault_syscalls.c - see fault_syscalls.h. Linux only (the
 * interposed calls and their numbers are Linux's); elsewhere this file is
 * empty. */
#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fault_syscalls.h"

#include <dlfcn.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif
#ifndef SYS_io_uring_enter
#define SYS_io_uring_enter 426
#endif
#define ENTER_GETEVENTS 1u /* IORING_ENTER_GETEVENTS */

_Atomic long long fault_sys_data_calls, fault_sys_data_eintrs, fault_sys_accept_eintrs;
_Atomic long long fault_sys_wait_calls, fault_sys_wait_eintrs, fault_sys_shorts;
_Atomic long long fault_sys_close_eintrs;

static _Atomic bool enabled;
static FaultSyscalls cfg;
static _Atomic uint64_t rng_next;
static _Atomic int watched[64];
static _Thread_local bool in_test_io;
/* Accepts and closes are few: they fail by count, not by chance (the first
 * accept on a watched listener is always interrupted, then 1 in eintr_1_in;
 * every other close of the runtime's, the first included). */
static _Atomic long long accept_calls, close_calls;

/* --- The C library's functions --- */

/* Resolved on first use; a race only resolves the same pointer twice. */
#define REAL(type, name)                                                        \
    static _Atomic(type) real_##name;                                           \
    static type get_##name(void)                                                \
    {                                                                           \
        type f = atomic_load_explicit(&real_##name, memory_order_acquire);      \
        if (!f) {                                                               \
            f = (type)dlsym(RTLD_NEXT, #name);                                  \
            atomic_store_explicit(&real_##name, f, memory_order_release);       \
        }                                                                       \
        return f;                                                               \
    }

typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef int (*accept4_fn)(int, __SOCKADDR_ARG, socklen_t *, int);
typedef int (*close_fn)(int);
typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);
typedef long (*syscall_fn)(long, ...);

REAL(read_fn, read)
REAL(write_fn, write)
REAL(recv_fn, recv)
REAL(send_fn, send)
REAL(accept4_fn, accept4)
REAL(close_fn, close)
REAL(epoll_wait_fn, epoll_wait)
REAL(syscall_fn, syscall)

/* --- Decisions --- */

static uint64_t rnd(void)
{
    uint64_t z = cfg.seed + 0x9E3779B97F4A7C15ULL * (atomic_fetch_add(&rng_next, 1) + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* acquire: pairs with the store in fault_sys_enable, so cfg is seen whole. */
static bool on(void) { return atomic_load_explicit(&enabled, memory_order_acquire); }

static bool is_watched(int fd)
{
    for (int i = 0; i < 64; i++)
        if (atomic_load_explicit(&watched[i], memory_order_relaxed) == fd + 1) return true;
    return false;
}

/* True if this data call on fd is to fail with EINTR (and counts it). */
static bool data_eintr(int fd)
{
    if (!on() || !is_watched(fd)) return false;
    atomic_fetch_add(&fault_sys_data_calls, 1);
    if (!cfg.eintr_1_in || rnd() % cfg.eintr_1_in) return false;
    atomic_fetch_add(&fault_sys_data_eintrs, 1);
    return true;
}

/* The byte count to ask the kernel for: n, or less inside the test's own raw
 * I/O when short transfers are on. */
static size_t data_len(int fd, size_t n)
{
    if (!in_test_io || !on() || !cfg.short_1_in || n < 2 || !is_watched(fd)) return n;
    if (rnd() % cfg.short_1_in) return n;
    atomic_fetch_add(&fault_sys_shorts, 1);
    return 1 + (size_t)(rnd() % (n - 1));
}

/* Blocking waits are few too: by count, the first one included. */
static bool wait_eintr(void)
{
    if (!on() || !cfg.wait_eintr_1_in) return false;
    if (atomic_fetch_add(&fault_sys_wait_calls, 1) % cfg.wait_eintr_1_in) return false;
    atomic_fetch_add(&fault_sys_wait_eintrs, 1);
    return true;
}

/* --- Setup --- */

void fault_sys_enable(const FaultSyscalls *c)
{
    cfg = *c;
    atomic_store(&rng_next, 0);
    atomic_store(&fault_sys_data_calls, 0);
    atomic_store(&fault_sys_data_eintrs, 0);
    atomic_store(&fault_sys_accept_eintrs, 0);
    atomic_store(&fault_sys_wait_calls, 0);
    atomic_store(&fault_sys_wait_eintrs, 0);
    atomic_store(&fault_sys_shorts, 0);
    atomic_store(&fault_sys_close_eintrs, 0);
    atomic_store(&accept_calls, 0);
    atomic_store(&close_calls, 0);
    atomic_store(&enabled, true);
}

void fault_sys_disable(void) { atomic_store(&enabled, false); }

void fault_sys_watch(int fd)
{
    for (int i = 0; i < 64; i++) {
        int z = 0;
        if (atomic_compare_exchange_strong(&watched[i], &z, fd + 1)) return;
    }
}

void fault_sys_unwatch_all(void)
{
    for (int i = 0; i < 64; i++) atomic_store(&watched[i], 0);
}

ssize_t fault_sys_read(int fd, void *buf, size_t n)
{
    in_test_io = true;
    ssize_t r = read(fd, buf, n);
    in_test_io = false;
    return r;
}

int fault_sys_close(int fd)
{
    in_test_io = true;
    int r = close(fd);
    in_test_io = false;
    return r;
}

ssize_t fault_sys_write(int fd, const void *buf, size_t n)
{
    in_test_io = true;
    ssize_t r = write(fd, buf, n);
    in_test_io = false;
    return r;
}

/* --- The interposed calls --- */

ssize_t read(int fd, void *buf, size_t n)
{
    if (data_eintr(fd)) {
        errno = EINTR;
        return -1;
    }
    return get_read()(fd, buf, data_len(fd, n));
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (data_eintr(fd)) {
        errno = EINTR;
        return -1;
    }
    return get_write()(fd, buf, data_len(fd, n));
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
    if (data_eintr(fd)) {
        errno = EINTR;
        return -1;
    }
    return get_recv()(fd, buf, data_len(fd, n), flags);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    if (data_eintr(fd)) {
        errno = EINTR;
        return -1;
    }
    return get_send()(fd, buf, data_len(fd, n), flags);
}

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
    if (on() && cfg.eintr_1_in && is_watched(fd) &&
        atomic_fetch_add(&accept_calls, 1) % cfg.eintr_1_in == 0) {
        atomic_fetch_add(&fault_sys_accept_eintrs, 1);
        errno = EINTR;
        return -1;
    }
    return get_accept4()(fd, addr, len, flags);
}

/* Linux's close releases the descriptor even when it reports EINTR, so the
 * only correct reaction is not to close it again. The runtime's closes of a
 * watched fd are interrupted every other time, the first one included. */
int close(int fd)
{
    bool inject = on() && cfg.eintr_1_in && !in_test_io && is_watched(fd) &&
                  atomic_fetch_add(&close_calls, 1) % 2 == 0;
    int r = get_close()(fd);
    if (!inject || r != 0) return r;
    atomic_fetch_add(&fault_sys_close_eintrs, 1);
    errno = EINTR;
    return -1;
}

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    if (timeout != 0 && wait_eintr()) {
        errno = EINTR;
        return -1;
    }
    return get_epoll_wait()(epfd, ev, max, timeout);
}

/* syscall(2) is variadic: the six argument registers are read whatever the
 * caller passed (harmless on the ABIs Linux runs on), and passed on. Only
 * blocking waits are interrupted, as a signal would: a futex wait, an epoll
 * wait with a timeout, an io_uring wait that submits nothing (a wait that
 * also submits would have submitted before being interrupted). */
long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
    va_end(ap);
    bool blocking_wait = false;
    if (nr == SYS_futex) {
        int op = (int)a[1] & FUTEX_CMD_MASK;
        blocking_wait = op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET;
    } else if (nr == SYS_epoll_pwait2) {
        const struct timespec *ts = (const struct timespec *)a[3];
        blocking_wait = !ts || ts->tv_sec || ts->tv_nsec;
    } else if (nr == SYS_io_uring_enter) {
        blocking_wait = a[1] == 0 && (a[3] & ENTER_GETEVENTS) && a[2] > 0;
    }
    if (blocking_wait && wait_eintr()) {
        errno = EINTR;
        return -1;
    }
    return get_syscall()(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

#endif /* __linux__ */
