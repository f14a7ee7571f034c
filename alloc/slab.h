/* alloc/slab.h - slab pools of fixed-size objects (tasks, timer entries).
 *
 * Pages of VX_SLAB_PAGE bytes come from the allocator vtable and go back to it
 * only at vx_slab_destroy, so object memory is type-stable for the pool's
 * life: a late, stale access to a freed task's state word (a wake carrying an
 * old generation) reads a valid word and is rejected by the generation check.
 * The first `keep` bytes of an object (a multiple of the pointer size, chosen at init) are
 * never written by the pool.
 *
 * Each owner (a worker, or the shared heap used under the caller's lock by
 * foreign threads) has a heap, and a page's objects always return to the
 * page's owner (mimalloc's rule). Free objects travel in blocks: a free
 * object doubles as a container holding the addresses of up to a few more
 * (VX_SLAB_BLOCK_MAX - 1). A worker freeing another owner's objects fills a
 * block per owner and hands over a full block with one CAS on the owner's
 * remote stack; the owner unpacks a block into its magazine (a small array)
 * and prefetches all of its objects at once. So the common path of
 * "allocated on one worker, finished on another" costs one atomic per block,
 * and the owner never chases a linked list of cold objects one miss at a time.
 *
 * Freestanding: no libc, no OS. */
#ifndef VX_SLAB_H
#define VX_SLAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vexrt/alloc.h"
#include "vexrt/error.h"

/* The pools build from alloc/ and include/ alone (no core/ header): these
 * are their own compiler helpers, and nothing here is exported. */
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(hidden)
#define VX_SLAB_INLINE static inline __attribute__((always_inline))
#define VX_SLAB_NOINLINE __attribute__((noinline))
#define VX_SLAB_LIKELY(x) __builtin_expect(!!(x), 1)
#define VX_SLAB_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#define VX_SLAB_INLINE static inline
#define VX_SLAB_NOINLINE
#define VX_SLAB_LIKELY(x) (x)
#define VX_SLAB_PREFETCH_W(p) ((void)(p))
#endif
/* A heap's owner-only part and its remote stack on lines of their own (two
 * lines: adjacent-line prefetch, as core/vx.h's VX_CACHE_LINE). */
#define VX_SLAB_ALIGNED _Alignas(128)

#define VX_SLAB_PAGE ((size_t)64 * 1024)
#define VX_SLAB_HEADER ((size_t)64) /* page header; objects follow it */
#define VX_SLAB_FOREIGN UINT32_MAX  /* "owner" of a thread that is not a worker */
#define VX_SLAB_MAG 64              /* magazine: free objects at hand, per heap */
#define VX_SLAB_PENDING 4           /* blocks being filled for other owners, per heap */
#define VX_SLAB_BLOCK_MAX 16        /* objects one block carries, itself included */

struct VxSlab;

typedef struct VxSlabPage {
    struct VxSlabPage *next; /* the pool's page list, walked at destroy */
    struct VxSlab *pool;     /* pool the page belongs to */
    uint32_t owner;          /* heap the page's objects return to */
} VxSlabPage;

typedef struct VxSlabPending {
    void *block;             /* block being filled with objects of `owner` */
    uint32_t owner;
    uint32_t count;          /* objects in block, the block itself included */
} VxSlabPending;

typedef struct VxSlabHeap {
    /* Owner-only. */
    VX_SLAB_ALIGNED uint32_t nmag;
    void *mag[VX_SLAB_MAG];
    void *blocks;            /* full blocks of own objects (local frees past the magazine) */
    char *bump;              /* next never-used object in the current page */
    char *bump_end;
    uint64_t pages;          /* pages carved by this heap */
    VxSlabPending pending[VX_SLAB_PENDING];
    /* Written by other threads. */
    VX_SLAB_ALIGNED _Atomic(void *) remote; /* stack of blocks freed by other threads */
} VxSlabHeap;

typedef struct VxSlab {
    const VexAllocator *a;
    size_t obj_size;     /* rounded up to 8 */
    uint32_t keep_words; /* leading words the pool never writes */
    uint32_t block_max;  /* objects one block carries, itself included */
    uint32_t nheaps;
    VxSlabHeap *heaps;
    _Atomic(VxSlabPage *) pages;   /* every page, for destroy */
    _Atomic size_t page_count;
} VxSlab;

/* Prepares a pool of nheaps heaps for objects of obj_size bytes (at most
 * VX_SLAB_PAGE / 8) whose first keep bytes (a multiple of the pointer size) the pool never
 * writes once handed out; obj_size must leave at least two more words.
 * Never-used objects are handed out zero-filled. Returns 0, VEX_EINVAL for a
 * bad geometry, or VEX_ENOMEM. Single thread. */
int vx_slab_init(VxSlab *s, const VexAllocator *a, size_t obj_size, size_t keep,
                 uint32_t nheaps);

/* Returns every page to the allocator; objects still in use are dropped. */
void vx_slab_destroy(VxSlab *s);

/* Returns an object of heap h, or NULL when the allocator fails. Only heap
 * h's owner (or the holder of its lock). */
void *vx_slab_alloc(VxSlab *s, uint32_t h);

/* Frees obj. cur is the caller's own heap index (VX_SLAB_FOREIGN if none,
 * in which case the object goes to its owner at once). Any thread. */
void vx_slab_free(VxSlab *s, uint32_t cur, void *obj);

/* Hands the partly filled blocks heap cur holds for other owners to them.
 * Call when the owner of cur goes idle. Only cur's owner. */
void vx_slab_flush(VxSlab *s, uint32_t cur);

/* Returns the pool an object handed out by vx_slab_alloc belongs to. */
VX_SLAB_INLINE VxSlab *vx_slab_pool_of(const void *obj)
{
    return ((const VxSlabPage *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1)))->pool;
}

/* Bytes currently held from the allocator (pages only). */
VX_SLAB_INLINE size_t vx_slab_bytes(VxSlab *s)
{
    return atomic_load_explicit(&s->page_count, memory_order_relaxed) * VX_SLAB_PAGE;
}

/* Objects one page holds. */
VX_SLAB_INLINE size_t vx_slab_per_page(const VxSlab *s)
{
    return (VX_SLAB_PAGE - VX_SLAB_HEADER) / s->obj_size;
}

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility pop
#endif

#endif /* VX_SLAB_H */
