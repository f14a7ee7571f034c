/* platform/posix/posix.c - threads, the monotonic clock, errno translation
 * and trace output for POSIX systems. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "posix.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include "vexrt/error.h"

/* The handle the core reserves per thread: the pthread and the start
 * routine, which the trampoline reads (pthread_create takes one pointer). */
typedef struct {
    pthread_t tid;
    vex_thread_func fn;
    void *arg;
} PosixThread;

_Static_assert(sizeof(PosixThread) <= VX_POSIX_THREAD_SIZE, "thread handle too small");

static void *trampoline(void *p)
{
    PosixThread *t = (PosixThread *)p;
#if defined(__linux__) && defined(PR_SET_TIMERSLACK)
    /* Workers sleep until the next timer; the default 50 us slack would be
     * added to every such sleep. 1 ns is the smallest value the kernel takes. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
#endif
    t->fn(t->arg);
    return NULL;
}

int vx_posix_thread_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg)
{
    (void)ctx;
    PosixThread *t = (PosixThread *)thread;
    t->fn = fn;
    t->arg = arg;
    /* Workers never take process signals: those are delivered to the
     * application's own threads (and to signal awaits through the poller). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->tid, NULL, trampoline, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc ? vx_posix_error(rc) : 0;
}

uintptr_t vx_posix_thread_self(void *ctx)
{
    (void)ctx;
    /* pthread_t is an integer or a pointer on every system this builds on. */
    uintptr_t id = (uintptr_t)pthread_self();
    return id ? id : 1;
}

int vx_posix_thread_join(void *ctx, void *thread)
{
    (void)ctx;
    int rc = pthread_join(((PosixThread *)thread)->tid, NULL);
    return rc ? vx_posix_error(rc) : 0;
}

uint32_t vx_posix_cpu_count(void *ctx)
{
    (void)ctx;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return (uint32_t)n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

uint64_t vx_posix_now_ns(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vx_posix_trace(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

int vx_posix_error(int err)
{
    switch (err) {
    case 0: return 0;
    case EINVAL: return VEX_EINVAL;
    case ENOMEM: return VEX_ENOMEM;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return VEX_EAGAIN;
    case EBADF: return VEX_EBADF;
    case ECANCELED: return VEX_ECANCELED;
    case ETIMEDOUT: return VEX_ETIMEDOUT;
    case ENOSYS: return VEX_ENOSYS;
    case EBUSY: return VEX_EBUSY;
    case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
    case ENOTSUP:
#endif
        return VEX_ENOTSUP;
    case ECONNRESET: return VEX_ECONNRESET;
    case EPIPE: return VEX_EPIPE;
    case ECONNREFUSED: return VEX_ECONNREFUSED;
    case ENOTCONN: return VEX_ENOTCONN;
    case EADDRINUSE: return VEX_EADDRINUSE;
    case ENOENT: return VEX_ENOENT;
    case EACCES:
    case EPERM: return VEX_EACCES;
    case EEXIST: return VEX_EEXIST;
    case ENOSPC: return VEX_ENOSPC;
    case EINTR: return VEX_EINTR;
    case EMFILE:
    case ENFILE: return VEX_EMFILE;
    case ENOBUFS: return VEX_ENOBUFS;
    case EADDRNOTAVAIL: return VEX_EADDRNOTAVAIL;
    case ENETUNREACH: return VEX_ENETUNREACH;
    case EHOSTUNREACH: return VEX_EHOSTUNREACH;
    case EISCONN: return VEX_EISCONN;
    case EINPROGRESS: return VEX_EINPROGRESS;
    case EFBIG: return VEX_EFBIG;
    case EISDIR: return VEX_EISDIR;
    case ENOTSOCK: return VEX_ENOTSOCK;
    case EOVERFLOW: return VEX_EOVERFLOW;
    case ERANGE: return VEX_ERANGE;
    default: return VEX_EIO;
    }
}
