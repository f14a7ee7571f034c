/* platform/bsd/backends.c - the BSD and macOS build's backends for
 * defaults.c (platform/os.h): one, "kqueue", on POSIX threads, with the
 * system's own wait-on-address for parking where park.c knows it (FreeBSD,
 * macOS 14.4) and the portable parking lot elsewhere. */
#include <pthread.h>
#include <string.h>

#include "../os.h"
#include "../posix/park.h"
#include "../posix/posix.h"
#include "bsd.h"
#include "vexrt/error.h"

enum { BK_KQUEUE = 0, BK_COUNT = 1 };

static VexPlatform platforms[BK_COUNT];
static pthread_once_t platforms_once = PTHREAD_ONCE_INIT;

static void platforms_init(void)
{
    VexPlatform *p = &platforms[BK_KQUEUE];
    memset(p, 0, sizeof *p);
    p->abi_version = VEX_PLATFORM_ABI;
    p->name = "kqueue";
    p->thread_size = VX_POSIX_THREAD_SIZE;
    p->thread_spawn = vx_posix_thread_spawn;
    p->thread_join = vx_posix_thread_join;
    p->thread_self = vx_posix_thread_self;
    p->cpu_count = vx_posix_cpu_count;
    p->now_ns = vx_posix_now_ns;
#if VX_HAVE_NATIVE_PARK
    p->park = vx_native_park;
    p->unpark = vx_native_unpark;
#else
    p->park = vx_lot_park;
    p->unpark = vx_lot_unpark;
#endif
    p->trace = vx_posix_trace;
    vx_bsd_kqueue_fill(p);
}

int vx_os_backend_index(const char *name)
{
    if (name && !strcmp(name, "kqueue")) return BK_KQUEUE;
    return -1;
}

const VexPlatform *vx_os_backend(int i)
{
    if (i < 0 || i >= BK_COUNT) return NULL;
    pthread_once(&platforms_once, platforms_init);
    return &platforms[i];
}

int vx_os_backend_default(void) { return BK_KQUEUE; }

int vx_os_backend_fallback(int i, int rc)
{
    (void)i;
    (void)rc;
    return -1; /* nothing to fall back to */
}
