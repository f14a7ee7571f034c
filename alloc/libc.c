/* alloc/libc.c - the default allocator vtable: the C library's allocator for
 * small blocks; for the runtime's large aligned blocks (slab pages, 64 KiB),
 * mmap with the pages populated up front where the system allows it. The only
 * file of the library that calls the C allocator.
 *
 * Why populate: a slab page is written object by object as tasks are
 * spawned, so left to demand paging it takes one page fault per 4 KiB, in the
 * middle of spawning. Faulting the 16 pages in with one madvise call costs a
 * fraction of that (measured in a KVM guest: about a third of a timers run's
 * system time went to such faults). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "vexrt/alloc.h"

#if defined(_WIN32)
#include <malloc.h> /* _aligned_malloc: the Windows C runtime has no aligned_alloc */
#endif

#if defined(__linux__)
#include <sys/mman.h>
#define VX_LARGE ((size_t)64 * 1024)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older kernels answer EINVAL */
#endif
#endif

#if defined(__linux__)
/* Where the next large block would be aligned: mapping there first usually
 * lands on an aligned address, so no trimming munmap (each of which costs a
 * TLB shoot-down on every CPU the process runs on) is needed. */
static _Atomic uintptr_t next_hint;

static void *map_aligned(size_t size, size_t align)
{
    uintptr_t hint = atomic_load_explicit(&next_hint, memory_order_relaxed);
    if (hint) {
        char *p = mmap((void *)hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p != MAP_FAILED) {
            if (((uintptr_t)p & (align - 1)) == 0) return p;
            munmap(p, size);
        }
    }
    /* Over-map by the alignment, then trim both ends. */
    size_t span = size + align;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (p > raw) munmap(raw, (size_t)(p - raw));
    char *end = p + size;
    if (raw + span > end) munmap(end, (size_t)(raw + span - end));
    return p;
}
#endif

static void *libc_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (align < sizeof(void *)) align = sizeof(void *);
#if defined(__linux__)
    if (size >= VX_LARGE && size % 4096 == 0 && align <= VX_LARGE) {
        char *p = map_aligned(size, align);
        if (!p) return NULL;
        /* The kernel hands out addresses downwards: the next block fits
         * right below this one. */
        if ((uintptr_t)p > size) atomic_store_explicit(&next_hint, (uintptr_t)p - size,
                                                       memory_order_relaxed);
        madvise(p, size, MADV_POPULATE_WRITE); /* a hint: on failure pages fault in on use */
        return p;
    }
#endif
#if defined(_WIN32)
    return _aligned_malloc(size, align);
#else
    /* aligned_alloc wants size to be a multiple of align. */
    size = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, size);
#endif
}

static void libc_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)ctx;
    if (align < sizeof(void *)) align = sizeof(void *);
#if defined(__linux__)
    if (size >= VX_LARGE && size % 4096 == 0 && align <= VX_LARGE) {
        munmap(ptr, size);
        return;
    }
#endif
    (void)size;
#if defined(_WIN32)
    _aligned_free(ptr); /* blocks from _aligned_malloc must not go to free() */
#else
    free(ptr);
#endif
}

static const VexAllocator libc_allocator = {libc_alloc, libc_free, NULL};

const VexAllocator *vex_allocator_default(void) { return &libc_allocator; }
