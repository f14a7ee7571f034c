/* alloc/slab.c - slab pools (see slab.h). Freestanding: memory only through
 * the allocator vtable; knows nothing of tasks or scheduling. */
#include "slab.h"

VX_INLINE void **link_of(const VxSlab *s, void *obj)
{
    return (void **)(void *)((char *)obj + s->link_offset);
}

VX_INLINE VxSlabPage *page_of(void *obj)
{
    return (VxSlabPage *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1));
}

int vx_slab_init(VxSlab *s, const VexAllocator *a, size_t obj_size, size_t link_offset,
                 uint32_t nheaps)
{
    s->a = a;
    s->obj_size = (obj_size + 7) & ~(size_t)7;
    s->link_offset = link_offset;
    s->nheaps = nheaps;
    atomic_init(&s->pages, NULL);
    atomic_init(&s->page_count, 0);
    s->heaps = (VxSlabHeap *)a->alloc(a->ctx, sizeof(VxSlabHeap) * nheaps, _Alignof(VxSlabHeap));
    if (!s->heaps) return VEX_ENOMEM;
    for (uint32_t i = 0; i < nheaps; i++) {
        VxSlabHeap *h = &s->heaps[i];
        h->free = NULL;
        h->bump = h->bump_end = NULL;
        h->pages = 0;
        atomic_init(&h->remote, NULL);
    }
    return 0;
}

void vx_slab_destroy(VxSlab *s)
{
    if (!s->heaps) return;
    VxSlabPage *p = atomic_load_explicit(&s->pages, memory_order_acquire);
    while (p) {
        VxSlabPage *next = p->next;
        s->a->free(s->a->ctx, p, VX_SLAB_PAGE, VX_SLAB_PAGE);
        p = next;
    }
    atomic_store_explicit(&s->pages, NULL, memory_order_relaxed);
    atomic_store_explicit(&s->page_count, 0, memory_order_relaxed);
    s->a->free(s->a->ctx, s->heaps, sizeof(VxSlabHeap) * s->nheaps, _Alignof(VxSlabHeap));
    s->heaps = NULL;
}

VX_NOINLINE static void *alloc_slow(VxSlab *s, uint32_t hi)
{
    VxSlabHeap *h = &s->heaps[hi];
    /* acquire: pairs with the release CAS in vx_slab_free, making the
     * remote freer's writes (the links) visible. The exchange takes the whole
     * list, so there is no ABA problem with concurrent pushers. */
    void *list = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    if (list) {
        h->free = *link_of(s, list);
        return list;
    }
    if (h->bump == h->bump_end) {
        VxSlabPage *p = (VxSlabPage *)s->a->alloc(s->a->ctx, VX_SLAB_PAGE, VX_SLAB_PAGE);
        if (!p) return NULL;
        p->owner = hi;
        p->pool = s;
        VxSlabPage *old = atomic_load_explicit(&s->pages, memory_order_relaxed);
        do {
            p->next = old;
        } while (!atomic_compare_exchange_weak_explicit(&s->pages, &old, p, memory_order_release,
                                                        memory_order_relaxed));
        atomic_fetch_add_explicit(&s->page_count, 1, memory_order_relaxed);
        h->pages++;
        h->bump = (char *)p + VX_SLAB_HEADER;
        h->bump_end = h->bump + vx_slab_per_page(s) * s->obj_size;
    }
    void *obj = h->bump;
    h->bump += s->obj_size;
    vx_zero(obj, s->obj_size);
    return obj;
}

void *vx_slab_alloc(VxSlab *s, uint32_t hi)
{
    VxSlabHeap *h = &s->heaps[hi];
    void *obj = h->free;
    if (VX_LIKELY(obj != NULL)) {
        h->free = *link_of(s, obj);
        return obj;
    }
    return alloc_slow(s, hi);
}

void vx_slab_free(VxSlab *s, uint32_t cur, void *obj)
{
    uint32_t owner = page_of(obj)->owner;
    VxSlabHeap *h = &s->heaps[owner];
    if (owner == cur) {
        *link_of(s, obj) = h->free;
        h->free = obj;
        return;
    }
    void *old = atomic_load_explicit(&h->remote, memory_order_relaxed);
    do {
        *link_of(s, obj) = old;
        /* release: publishes the link; pairs with the owner's acquire exchange. */
    } while (!atomic_compare_exchange_weak_explicit(&h->remote, &old, obj, memory_order_release,
                                                    memory_order_relaxed));
}
