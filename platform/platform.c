/* platform/platform.c - the platforms compiled in for this OS (POSIX threads
 * and futex parking, with the epoll or the io_uring poller), which one is the
 * default, and the entry points that fill a config's defaults before the
 * core sees it (the core itself never names a platform or allocator).
 *
 * Backend choice at runtime_create: the config's io_backend, else
 * VEXRT_BACKEND from the environment, else io_uring where this kernel and
 * process allow it (not disabled by sysctl or seccomp), else epoll. If the
 * io_uring poller still fails to open, the runtime is made with epoll. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../core/create.h"
#include "linux/linux.h"
#include "posix/posix.h"

enum { BK_EPOLL = 0, BK_URING = 1, BK_COUNT = 2 };

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

static const VexPlatform *backend(int which)
{
    pthread_once(&platforms_once, platforms_init);
    return &platforms[which];
}

/* Backend index for a name, -1 if unknown. */
static int backend_index(const char *name)
{
    if (!strcmp(name, "epoll")) return BK_EPOLL;
    if (!strcmp(name, "io_uring") || !strcmp(name, "uring")) return BK_URING;
    return -1;
}

const VexPlatform *vex_platform_with_backend(const char *name)
{
    if (!name) return NULL;
    int b = backend_index(name);
    if (b < 0) return NULL;
    if (b == BK_URING && !vx_linux_uring_usable()) return NULL;
    return backend(b);
}

const VexPlatform *vex_platform_default(void)
{
    const char *env = getenv("VEXRT_BACKEND");
    if (env && *env) {
        const VexPlatform *p = vex_platform_with_backend(env);
        if (p) return p;
        /* An unusable or unknown choice falls back like the default does. */
    }
    return vx_linux_uring_usable() ? backend(BK_URING) : backend(BK_EPOLL);
}

void runtime_config_init(RuntimeConfig *cfg)
{
    if (cfg) memset(cfg, 0, sizeof *cfg);
}

int runtime_new(const RuntimeConfig *cfg, Runtime **out)
{
    if (!out) return VEX_EINVAL;
    *out = NULL;
    RuntimeConfig c;
    if (cfg)
        c = *cfg;
    else
        runtime_config_init(&c);
    if (!c.allocator) c.allocator = vex_allocator_default();
    bool chosen = c.platform == NULL;
    if (chosen && c.io_backend) {
        if (backend_index(c.io_backend) < 0) return VEX_EINVAL;
        c.platform = vex_platform_with_backend(c.io_backend);
        if (!c.platform) return VEX_ENOTSUP; /* known, but not usable here */
        chosen = false;                      /* asked for by name: no fallback */
    }
    if (!c.platform) c.platform = vex_platform_default();
    int rc = vx_runtime_new(&c, out);
    if (rc && chosen && c.platform == backend(BK_URING) &&
        (rc == VEX_ENOSYS || rc == VEX_EACCES || rc == VEX_ENOMEM)) {
        /* io_uring looked usable but a ring could not be set up for every
         * worker (locked-memory limits, a seccomp filter on the workers):
         * epoll, without an error. */
        c.platform = backend(BK_EPOLL);
        rc = vx_runtime_new(&c, out);
    }
    return rc;
}

Runtime *runtime_create_with(const RuntimeConfig *cfg)
{
    Runtime *rt = NULL;
    runtime_new(cfg, &rt);
    return rt;
}

Runtime *runtime_create(int num_workers)
{
    if (num_workers < 0) return NULL;
    RuntimeConfig c;
    runtime_config_init(&c);
    c.workers = num_workers;
    return runtime_create_with(&c);
}
