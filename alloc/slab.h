/* alloc/slab.h - slab pools of fixed-size objects (tasks, timer entries).
 *
 * Pages of VX_SLAB_PAGE bytes come from the allocator vtable and go back to it
 * only at vx_slab_destroy, so object memory is type-stable for the pool's
 * life: a late, stale access to a freed task's state word (a wake carrying an
 * old generation) reads a valid word and is rejected by the generation check.
 *
 * Each owner (a worker, or the shared heap used under the caller's lock by
 * foreign threads) has a heap: a private free list, a bump region in its
 * current page, and an atomic list for objects freed by other threads, which
 * the owner takes in one exchange when its private list runs dry (mimalloc's
 * thread_free idea). A page's objects always return to the page's owner.
 *
 * Freestanding: no libc, no OS. */
#ifndef VX_SLAB_H
#define VX_SLAB_H

#include "vx.h"

#define VX_SLAB_PAGE ((size_t)64 * 1024)
#define VX_SLAB_HEADER ((size_t)64) /* page header; objects follow it */
#define VX_SLAB_FOREIGN UINT32_MAX  /* "owner" of a thread that is not a worker */

struct VxSlab;

typedef struct VxSlabPage {
    struct VxSlabPage *next; /* the pool's page list, walked at destroy */
    struct VxSlab *pool;     /* pool the page belongs to */
    uint32_t owner;          /* heap the page's objects return to */
} VxSlabPage;

typedef struct VxSlabHeap {
    VX_ALIGNED void *free; /* owner-only free list */
    char *bump;            /* next never-used object in the current page */
    char *bump_end;
    uint64_t pages;        /* pages carved by this heap (owner only) */
    VX_ALIGNED _Atomic(void *) remote; /* objects freed by other threads */
} VxSlabHeap;

typedef struct VxSlab {
    const VexAllocator *a;
    size_t obj_size;     /* rounded up to 8 */
    size_t link_offset;  /* where the free-list link lives inside an object */
    uint32_t nheaps;
    VxSlabHeap *heaps;
    _Atomic(VxSlabPage *) pages;   /* every page, for destroy */
    _Atomic size_t page_count;
} VxSlab;

/* Prepares a pool of nheaps heaps for objects of obj_size bytes (at most
 * VX_SLAB_PAGE / 8), whose free-list link is the pointer at link_offset.
 * Never-used objects are handed out zero-filled. Returns VX_ENOMEM-style
 * VEX_ENOMEM if the heap array cannot be allocated. Single thread. */
int vx_slab_init(VxSlab *s, const VexAllocator *a, size_t obj_size, size_t link_offset,
                 uint32_t nheaps);

/* Returns every page to the allocator; objects still in use are dropped. */
void vx_slab_destroy(VxSlab *s);

/* Returns an object from heap h's free lists or a fresh slot, or NULL when
 * the allocator fails. Only heap h's owner (or the holder of its lock). */
void *vx_slab_alloc(VxSlab *s, uint32_t h);

/* Frees obj. cur is the caller's own heap index (VX_SLAB_FOREIGN if none):
 * objects of cur's pages go to its private list, others to their owner's
 * remote list. Any thread. */
void vx_slab_free(VxSlab *s, uint32_t cur, void *obj);

/* Returns the pool an object handed out by vx_slab_alloc belongs to. */
VX_INLINE VxSlab *vx_slab_pool_of(const void *obj)
{
    return ((const VxSlabPage *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1)))->pool;
}

/* Bytes currently held from the allocator (pages only). */
VX_INLINE size_t vx_slab_bytes(VxSlab *s)
{
    return atomic_load_explicit(&s->page_count, memory_order_relaxed) * VX_SLAB_PAGE;
}

/* Objects one page holds. */
VX_INLINE size_t vx_slab_per_page(const VxSlab *s)
{
    return (VX_SLAB_PAGE - VX_SLAB_HEADER) / s->obj_size;
}

#endif /* VX_SLAB_H */
