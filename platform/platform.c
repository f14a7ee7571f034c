/* platform/platform.c - the platform compiled in as this OS's default, and
 * the entry points that fill a config's defaults before the core sees it
 * (the core itself never names a platform or allocator). */
#include <string.h>

#include "../core/create.h"
#include "posix/posix.h"

static const VexPlatform linux_platform = {
    .abi_version = VEX_PLATFORM_ABI,
    .name = "linux",
    .ctx = NULL,
    .init = NULL,
    .fini = NULL,
    .thread_size = VX_POSIX_THREAD_SIZE,
    .thread_spawn = vx_posix_thread_spawn,
    .thread_join = vx_posix_thread_join,
    .cpu_count = vx_posix_cpu_count,
    .now_ns = vx_posix_now_ns,
    .park = vx_futex_park,
    .unpark = vx_futex_unpark,
    .trace = vx_posix_trace,
};

const VexPlatform *vex_platform_default(void) { return &linux_platform; }

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
    if (!c.platform) c.platform = vex_platform_default();
    return vx_runtime_new(&c, out);
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
