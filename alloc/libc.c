/* alloc/libc.c - the default allocator vtable: libc's aligned_alloc/free.
 * The only file of the library that calls the C allocator. */
#include <stdlib.h>

#include "vexrt/alloc.h"

static void *libc_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (align < sizeof(void *)) align = sizeof(void *);
    /* aligned_alloc wants size to be a multiple of align. */
    size = (size + align - 1) & ~(align - 1);
    return aligned_alloc(align, size);
}

static void libc_free(void *ctx, void *ptr, size_t size, size_t align)
{
    (void)ctx;
    (void)size;
    (void)align;
    free(ptr);
}

static const VexAllocator libc_allocator = {libc_alloc, libc_free, NULL};

const VexAllocator *vex_allocator_default(void) { return &libc_allocator; }
