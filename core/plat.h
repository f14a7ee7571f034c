/* core/plat.h - the only place in core/ that calls through the platform and
 * allocator vtables: one inline wrapper per entry, which supplies the
 * documented default where an optional entry is NULL or beyond the port's
 * ABI version. Arguments are checked by the public entry points before they
 * get here; fault injection lives in the tests' wrapping platforms
 * (tests/support/fault_platform.c), which replace the vtable itself. */
#ifndef VX_PLAT_H
#define VX_PLAT_H

#include "vx.h"

/* What a runtime was given: the platform (borrowed, must outlive the runtime)
 * and the allocator (copied at creation). */
typedef struct VxSys {
    const VexPlatform *p;
    VexAllocator a;
} VxSys;

/* --- Memory --- */

/* Returns size bytes aligned to align, or NULL. */
VX_INLINE void *vx_mem_alloc(const VxSys *s, size_t size, size_t align)
{
    if (size == 0) size = 1;
    return s->a.alloc(s->a.ctx, size, align);
}

/* Frees a block from vx_mem_alloc with the same size and align; NULL is a no-op. */
VX_INLINE void vx_mem_free(const VxSys *s, void *ptr, size_t size, size_t align)
{
    if (ptr) s->a.free(s->a.ctx, ptr, size ? size : 1, align);
}

/* --- Time --- */

VX_INLINE uint64_t vx_plat_now_ns(const VxSys *s) { return s->p->now_ns(s->p->ctx); }

/* --- Parking --- */

/* The platform takes a plain uint32_t pointer (public headers cannot use
 * <stdatomic.h>); _Atomic uint32_t has the same size and representation. */
VX_INLINE int vx_plat_park(const VxSys *s, _Atomic uint32_t *word, uint32_t expected,
                           uint64_t timeout_ns)
{
    return s->p->park(s->p->ctx, (uint32_t *)(void *)word, expected, timeout_ns);
}

VX_INLINE void vx_plat_unpark(const VxSys *s, _Atomic uint32_t *word, uint32_t count)
{
    s->p->unpark(s->p->ctx, (uint32_t *)(void *)word, count);
}

/* --- Threads --- */

/* VEX_ENOSYS on a platform without threads (thread_spawn NULL). */
VX_INLINE int vx_plat_thread_spawn(const VxSys *s, void *thread, vex_thread_func fn, void *arg)
{
    if (!s->p->thread_spawn) return VEX_ENOSYS;
    return s->p->thread_spawn(s->p->ctx, thread, fn, arg);
}

VX_INLINE int vx_plat_thread_join(const VxSys *s, void *thread)
{
    return s->p->thread_join(s->p->ctx, thread);
}

/* The calling thread's identity, or 0 if the platform cannot tell (ABI 3). */
VX_INLINE uintptr_t vx_plat_thread_self(const VxSys *s)
{
    return s->p->abi_version >= 3 && s->p->thread_self ? s->p->thread_self(s->p->ctx) : 0;
}

VX_INLINE uint32_t vx_plat_cpu_count(const VxSys *s)
{
    uint32_t n = s->p->cpu_count ? s->p->cpu_count(s->p->ctx) : 1;
    return n ? n : 1;
}

/* --- Diagnostics --- */

VX_INLINE void vx_plat_trace(const VxSys *s, const char *line)
{
    if (s->p->trace) s->p->trace(s->p->ctx, line);
}

/* --- Poller and I/O (ABI 2) --- */

VX_INLINE bool vx_plat_has_poller(const VxSys *s)
{
    return s->p->abi_version >= 2 && s->p->poller_open && s->p->poller_wait &&
           s->p->poller_wake && s->p->poller_arm;
}

VX_INLINE uint32_t vx_plat_poller_caps(const VxSys *s) { return s->p->poller_caps; }

VX_INLINE int vx_plat_poller_open(const VxSys *s, void *poller, uint32_t n)
{
    return s->p->poller_open(s->p->ctx, poller, n);
}

VX_INLINE void vx_plat_poller_close(const VxSys *s, void *poller)
{
    if (s->p->poller_close) s->p->poller_close(s->p->ctx, poller);
}

VX_INLINE int vx_plat_poller_attach(const VxSys *s, void *poller, void *local)
{
    return s->p->poller_attach ? s->p->poller_attach(s->p->ctx, poller, local) : 0;
}

/* VEX_ENOSYS if the platform cannot host a worker's waits (ABI 3). */
VX_INLINE int vx_plat_poller_attach_host(const VxSys *s, void *poller, void *local, IoHandle *h)
{
    return s->p->abi_version >= 3 && s->p->poller_attach_host
               ? s->p->poller_attach_host(s->p->ctx, poller, local, h)
               : VEX_ENOSYS;
}

VX_INLINE void vx_plat_poller_detach(const VxSys *s, void *poller, void *local)
{
    if (s->p->poller_detach) s->p->poller_detach(s->p->ctx, poller, local);
}

VX_INLINE int vx_plat_poller_register(const VxSys *s, void *poller, void *local, IoHandle h,
                                      uint64_t token)
{
    return s->p->poller_register ? s->p->poller_register(s->p->ctx, poller, local, h, token)
                                 : VEX_ENOSYS;
}

VX_INLINE int vx_plat_poller_deregister(const VxSys *s, void *poller, IoHandle h)
{
    return s->p->poller_deregister ? s->p->poller_deregister(s->p->ctx, poller, h) : 0;
}

VX_INLINE int vx_plat_poller_arm(const VxSys *s, void *poller, void *local, IoHandle h,
                                 uint32_t events, uint64_t token)
{
    return s->p->poller_arm(s->p->ctx, poller, local, h, events, token);
}

VX_INLINE int vx_plat_poller_submit(const VxSys *s, void *poller, void *local,
                                    struct VexIoOp *op, uint64_t token)
{
    return s->p->poller_submit ? s->p->poller_submit(s->p->ctx, poller, local, op, token)
                               : VEX_ENOSYS;
}

VX_INLINE int vx_plat_poller_cancel(const VxSys *s, void *poller, void *local, uint64_t token)
{
    return s->p->poller_cancel ? s->p->poller_cancel(s->p->ctx, poller, local, token) : VEX_ENOSYS;
}

VX_INLINE int vx_plat_poller_wait(const VxSys *s, void *poller, void *local, uint64_t timeout_ns,
                                  VexPollerEvent *ev, uint32_t max, uint32_t *n)
{
    return s->p->poller_wait(s->p->ctx, poller, local, timeout_ns, ev, max, n);
}

VX_INLINE void vx_plat_poller_wake(const VxSys *s, void *poller, void *local)
{
    s->p->poller_wake(s->p->ctx, poller, local);
}

VX_INLINE int vx_plat_io_try(const VxSys *s, struct VexIoOp *op)
{
    return s->p->io_try ? s->p->io_try(s->p->ctx, op) : VEX_ENOTSUP;
}

VX_INLINE bool vx_plat_has_io_blocking(const VxSys *s)
{
    return s->p->abi_version >= 2 && s->p->io_blocking;
}

VX_INLINE void vx_plat_io_blocking(const VxSys *s, struct VexIoOp *op)
{
    s->p->io_blocking(s->p->ctx, op);
}

VX_INLINE int vx_plat_signal_open(const VxSys *s, int signo, IoHandle *out)
{
    return s->p->abi_version >= 2 && s->p->signal_open ? s->p->signal_open(s->p->ctx, signo, out)
                                                        : VEX_ENOSYS;
}

VX_INLINE int vx_plat_signal_consume(const VxSys *s, IoHandle h)
{
    return s->p->abi_version >= 2 && s->p->signal_consume ? s->p->signal_consume(s->p->ctx, h)
                                                           : VEX_ENOSYS;
}

VX_INLINE int vx_plat_signal_close(const VxSys *s, IoHandle h)
{
    return s->p->abi_version >= 2 && s->p->signal_close ? s->p->signal_close(s->p->ctx, h)
                                                         : VEX_ENOSYS;
}

/* Checks that a platform provides every required entry for the ABI it
 * claims. thread_spawn and thread_join come as a pair or not at all: a
 * platform without threads runs one worker, on the caller's thread. */
VX_INLINE bool vx_plat_valid(const VexPlatform *p)
{
    return p && p->abi_version >= 1 && p->abi_version <= VEX_PLATFORM_ABI &&
           !p->thread_spawn == !p->thread_join && p->now_ns && p->park && p->unpark;
}

#endif /* VX_PLAT_H */
