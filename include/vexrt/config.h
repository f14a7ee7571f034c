/* vexrt/config.h - creating a runtime with explicit settings.
 *
 * A zero-filled RuntimeConfig means "all defaults": every NULL pointer and
 * every 0 number below selects the default named beside it. */
#ifndef VEXRT_CONFIG_H
#define VEXRT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "vexrt/runtime.h"
#include "vexrt/alloc.h"
#include "vexrt/platform.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VEX_MAX_WORKERS 1024

/* The range of RuntimeConfig.timer_tick_ns (0 selects the default). */
#define VEX_TIMER_TICK_MIN_NS 1u
#define VEX_TIMER_TICK_MAX_NS 1000000000u /* 1 s */

typedef struct RuntimeConfig {
    int workers;                  /* worker threads; 0 = one per CPU; 1..VEX_MAX_WORKERS */
    const VexAllocator *allocator; /* NULL = vex_allocator_default(); copied at create */
    const VexPlatform *platform;  /* NULL = vex_platform_default(); must outlive the runtime */
    uint64_t timer_tick_ns;       /* timer wheel resolution; 0 = 1024 ns; else VEX_TIMER_TICK_MIN_NS..
                                   * VEX_TIMER_TICK_MAX_NS (VEX_EINVAL outside), rounded down to
                                   * a power of two */
    uint32_t global_queue_capacity; /* bounded part of the global queue; 0 = 4096; rounded up to a power of two */
    bool auto_shutdown;           /* as runtime_enable_auto_shutdown(rt, true) */
    bool tracing;                 /* as runtime_set_tracing(rt, true) */
    const char *io_backend;       /* with the default platform: "epoll" or "io_uring"; NULL = io_uring
                                   * where the kernel allows it, else epoll (env VEXRT_BACKEND overrides
                                   * NULL); ignored when platform is set */
    uint64_t reserved[8];         /* must be zero (VEX_EINVAL otherwise) */
} RuntimeConfig;

/* Fills *cfg with the defaults (all zero). */
VEX_API void runtime_config_init(RuntimeConfig *cfg);

/* Creates a runtime from cfg (NULL cfg or NULL fields mean defaults); returns
 * NULL if cfg is invalid or memory runs out. Any thread. */
VEX_API Runtime *runtime_create_with(const RuntimeConfig *cfg);

/* As runtime_create_with, but returns 0 or the reason for failure
 * (VEX_EINVAL, VEX_ENOMEM, or a platform error such as VEX_EAGAIN when a
 * worker thread could not be started) and writes the runtime to *out. */
VEX_API int runtime_new(const RuntimeConfig *cfg, Runtime **out);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_CONFIG_H */
