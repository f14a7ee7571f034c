/* vexrt/alloc.h - the allocator vtable.
 *
 * Every byte libvexrt uses comes from the allocator given in RuntimeConfig
 * (libc's by default). The struct is copied at runtime creation, so it is
 * per runtime: two runtimes in one process may use two allocators. */
#ifndef VEXRT_ALLOC_H
#define VEXRT_ALLOC_H

#include <stddef.h>

#include "vexrt/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct VexAllocator {
    /* Returns size bytes aligned to align (a power of two, at most 64 KiB), or
     * NULL. Called from any worker or caller thread concurrently: it must be
     * thread-safe. size is never 0. */
    void *(*alloc)(void *ctx, size_t size, size_t align);
    /* Releases a block from alloc; size and align are the values passed to
     * alloc. ptr is never NULL. Any thread. */
    void (*free)(void *ctx, void *ptr, size_t size, size_t align);
    /* Passed unchanged to both calls. */
    void *ctx;
} VexAllocator;

/* Returns the default allocator (aligned_alloc/free from libc). */
VEX_API const VexAllocator *vex_allocator_default(void);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_ALLOC_H */
