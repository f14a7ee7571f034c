/* platform/defaults.c - the entry points that fill a config's defaults before
 * the core sees it (the core itself never names a platform or allocator),
 * over the backends the OS build offers (os.h; linux/backends.c on Linux).
 *
 * Backend choice at runtime_create: the config's io_backend, else
 * VEXRT_BACKEND from the environment, else the OS's preferred usable backend
 * (on Linux io_uring where the kernel and process allow it, else epoll). If
 * that one still fails to open, the OS names a fallback (io_uring -> epoll). */
#include <stdlib.h>
#include <string.h>

#include "../core/create.h"
#include "os.h"

const VexPlatform *vex_platform_with_backend(const char *name)
{
    if (!name) return NULL;
    return vx_os_backend(vx_os_backend_index(name));
}

/* Index of the backend a runtime asking for none gets: VEXRT_BACKEND from the
 * environment if it names a usable one, else the OS's default. */
static int default_index(void)
{
    const char *env = getenv("VEXRT_BACKEND");
    if (env && *env) {
        int b = vx_os_backend_index(env);
        if (b >= 0 && vx_os_backend(b)) return b;
        /* An unusable or unknown choice falls back like the default does. */
    }
    return vx_os_backend_default();
}

const VexPlatform *vex_platform_default(void)
{
    return vx_os_backend(default_index());
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
    int b = -1;
    if (chosen && c.io_backend) {
        b = vx_os_backend_index(c.io_backend);
        if (b < 0) return VEX_EINVAL;
        c.platform = vx_os_backend(b);
        if (!c.platform) return VEX_ENOTSUP; /* known, but not usable here */
        chosen = false;                      /* asked for by name: no fallback */
    }
    if (!c.platform) {
        b = default_index();
        c.platform = vx_os_backend(b);
    }
    int rc = vx_runtime_new(&c, out);
    /* A backend that looked usable may still fail for every worker (limits,
     * a seccomp filter on worker threads): the OS says what to use instead,
     * and the caller, who asked for no backend in particular, gets no error. */
    while (rc && chosen && (b = vx_os_backend_fallback(b, rc)) >= 0 &&
           (c.platform = vx_os_backend(b)) != NULL)
        rc = vx_runtime_new(&c, out);
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
