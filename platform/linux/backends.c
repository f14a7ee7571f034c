/* platform/linux/backends.c - the Linux build's backends for defaults.c:
 * POSIX threads and futex parking with the io_uring poller (preferred where
 * this kernel and process allow it) or the epoll poller. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define VX_HAVE_VALGRIND_H 1
#endif
#endif

#include "vexrt/error.h"
#include "../os.h"
#include "../posix/posix.h"
#include "linux.h"

enum { BK_URING = 0, BK_EPOLL = 1, BK_COUNT = 2 };

static VexPlatform platforms[BK_COUNT];
static pthread_once_t platforms_once = PTHREAD_ONCE_INIT;

static void fill_common(VexPlatform *p, const char *name)
{
    memset(p, 0, sizeof *p);
    p->abi_version = VEX_PLATFORM_ABI;
    p->name = name;
    p->thread_size = VX_POSIX_THREAD_SIZE;
    p->thread_spawn = vx_posix_thread_spawn;
    p->thread_join = vx_posix_thread_join;
    p->thread_self = vx_posix_thread_self;
    p->cpu_count = vx_posix_cpu_count;
    p->now_ns = vx_posix_now_ns;
    p->park = vx_futex_park;
    p->unpark = vx_futex_unpark;
    p->trace = vx_posix_trace;
}

static void platforms_init(void)
{
    fill_common(&platforms[BK_EPOLL], "epoll");
    vx_linux_epoll_fill(&platforms[BK_EPOLL]);
    fill_common(&platforms[BK_URING], "io_uring");
    vx_linux_uring_fill(&platforms[BK_URING]);
}

int vx_os_backend_index(const char *name)
{
    if (!strcmp(name, "epoll")) return BK_EPOLL;
    if (!strcmp(name, "io_uring") || !strcmp(name, "uring")) return BK_URING;
    return -1;
}

const VexPlatform *vx_os_backend(int i)
{
    if (i < 0 || i >= BK_COUNT) return NULL;
    if (i == BK_URING && !vx_linux_uring_usable()) return NULL;
    pthread_once(&platforms_once, platforms_init);
    return &platforms[i];
}

/* Valgrind (3.19, Debian 12's) does not know that io_uring_enter may block:
 * the thread in it keeps valgrind's global lock, so while one worker sleeps
 * in its ring every other thread stands still until that wait times out (a
 * 2-worker runtime sleeping 1 ms twenty times took 39 s, against 0.04 s on
 * epoll). It also cannot see the kernel filling buffers through the ring, and
 * would report them uninitialised. So under valgrind the default backend is
 * epoll; asking for io_uring by name still gets it. Detected with valgrind's
 * client request where its header was there at build time, else by the
 * preload valgrind always puts in the environment. */
int vx_linux_under_valgrind(void)
{
    static _Atomic int cached; /* 0: not looked yet, 1: yes, 2: no */
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c == 0) {
        int yes = 0;
#ifdef VX_HAVE_VALGRIND_H
        yes = RUNNING_ON_VALGRIND != 0;
#endif
        const char *pre = getenv("LD_PRELOAD");
        if (pre && strstr(pre, "/vgpreload_")) yes = 1;
        c = yes ? 1 : 2;
        atomic_store_explicit(&cached, c, memory_order_relaxed);
    }
    return c == 1;
}

int vx_os_backend_default(void)
{
    return vx_linux_uring_usable() && !vx_linux_under_valgrind() ? BK_URING : BK_EPOLL;
}

int vx_os_backend_fallback(int i, int rc)
{
    /* io_uring looked usable but a ring could not be set up for every worker
     * (locked-memory limits, a seccomp filter on the workers): epoll. */
    if (i == BK_URING && (rc == VEX_ENOSYS || rc == VEX_EACCES || rc == VEX_ENOMEM))
        return BK_EPOLL;
    return -1;
}
