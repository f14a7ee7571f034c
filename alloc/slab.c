/* alloc/slab.c - slab pools (see slab.h). Freestanding: memory only through
 * the allocator vtable; knows nothing of tasks or scheduling.
 *
 * A block is a free object whose words after the kept prefix (K words) hold:
 *   word K      the next block in a stack of blocks
 *   words K+1.. addresses of more free objects (NULL-terminated if not full) */
#include "slab.h"

#if defined(__GNUC__) || defined(__clang__)
#pragma GCC visibility push(hidden)
#endif

/* Bytes zeroed without naming libc (a compiler may still emit memset). */
VX_SLAB_INLINE void slab_zero(void *p, size_t n)
{
    unsigned char *b = (unsigned char *)p;
    while (n--) *b++ = 0;
}

/* --- AddressSanitizer ---
 *
 * Under ASan a free object is poisoned past its kept prefix, so a
 * use-after-free through it is reported; the prefix stays readable because
 * late wakers read a retired task's state word by design. The pool opens a
 * word of a free object only for the one access it makes (a block's link
 * or entries), so outside the pool's functions a free object is poisoned
 * whole. Never-used objects are poisoned with their page and opened when
 * handed out; pages are opened again before they go back to the allocator.
 * Without ASan all of this compiles to nothing (and needs no libc). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VX_SLAB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(VX_SLAB_ASAN)
#define VX_SLAB_ASAN 1
#endif

#ifdef VX_SLAB_ASAN
/* The sanitizer runtime's, declared here to keep this file free of libc
 * and sanitizer headers; default visibility, as the pragma above hides the rest. */
#pragma GCC visibility push(default)
void __asan_poison_memory_region(void const volatile *addr, size_t size);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#pragma GCC visibility pop
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Poisons what the pool may reuse of a freed object: all but the kept prefix. */
VX_SLAB_INLINE void poison_free(const VxSlab *s, void *obj)
{
    size_t keep = s->keep_words * sizeof(void *);
    POISON((char *)obj + keep, s->obj_size - keep);
}

/* The words of a free object past the kept prefix: [0] is the block link,
 * [1..] the entries. Read and written only through these two. */
VX_SLAB_INLINE void *word_get(const VxSlab *s, void *obj, uint32_t i)
{
    void **w = &((void **)obj)[s->keep_words + i];
    UNPOISON(w, sizeof *w);
    void *v = *w;
    POISON(w, sizeof *w);
    return v;
}

VX_SLAB_INLINE void word_set(const VxSlab *s, void *obj, uint32_t i, void *v)
{
    void **w = &((void **)obj)[s->keep_words + i];
    UNPOISON(w, sizeof *w);
    *w = v;
    POISON(w, sizeof *w);
}

#define LINK_GET(s, obj) word_get((s), (obj), 0)
#define LINK_SET(s, obj, v) word_set((s), (obj), 0, (v))
#define ENTRY_GET(s, obj, i) word_get((s), (obj), 1 + (i))
#define ENTRY_SET(s, obj, i, v) word_set((s), (obj), 1 + (i), (v))

VX_SLAB_INLINE VxSlabPage *page_of(void *obj)
{
    return (VxSlabPage *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1));
}

int vx_slab_init(VxSlab *s, const VexAllocator *a, size_t obj_size, size_t keep,
                 uint32_t nheaps)
{
    s->a = a;
    s->heaps = NULL;
    s->obj_size = (obj_size + 7) & ~(size_t)7;
    s->keep_words = (uint32_t)(keep / sizeof(void *));
    if (keep % sizeof(void *) || s->obj_size / sizeof(void *) < s->keep_words + 2 ||
        s->obj_size > VX_SLAB_PAGE / 8)
        return VEX_EINVAL;
    /* Words after the link carry entries; the block itself is one more
     * object. At most VX_SLAB_BLOCK_MAX, so a block fits an empty magazine. */
    s->block_max = (uint32_t)(s->obj_size / sizeof(void *) - s->keep_words - 1 + 1);
    if (s->block_max > VX_SLAB_BLOCK_MAX) s->block_max = VX_SLAB_BLOCK_MAX;
    s->nheaps = nheaps;
    atomic_init(&s->pages, NULL);
    atomic_init(&s->page_count, 0);
    s->heaps = (VxSlabHeap *)a->alloc(a->ctx, sizeof(VxSlabHeap) * nheaps, _Alignof(VxSlabHeap));
    if (!s->heaps) return VEX_ENOMEM;
    for (uint32_t i = 0; i < nheaps; i++) {
        VxSlabHeap *h = &s->heaps[i];
        slab_zero(h, sizeof *h);
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
        UNPOISON(p, VX_SLAB_PAGE);
        s->a->free(s->a->ctx, p, VX_SLAB_PAGE, VX_SLAB_PAGE);
        p = next;
    }
    atomic_store_explicit(&s->pages, NULL, memory_order_relaxed);
    atomic_store_explicit(&s->page_count, 0, memory_order_relaxed);
    s->a->free(s->a->ctx, s->heaps, sizeof(VxSlabHeap) * s->nheaps, _Alignof(VxSlabHeap));
    s->heaps = NULL;
}

/* Moves a block's objects into the (empty) magazine, prefetching each. */
static void unpack(VxSlab *s, VxSlabHeap *h, void *block)
{
    uint32_t entries = s->block_max - 1;
    for (uint32_t i = 0; i < entries; i++) {
        void *obj = ENTRY_GET(s, block, i);
        if (!obj) break;
        VX_SLAB_PREFETCH_W(obj);
        h->mag[h->nmag++] = obj;
    }
    h->mag[h->nmag++] = block; /* popped first: its line is already here */
}

VX_SLAB_NOINLINE static void *alloc_slow(VxSlab *s, uint32_t hi)
{
    VxSlabHeap *h = &s->heaps[hi];
    if (!h->blocks) {
        /* acquire: pairs with the release CAS in push_remote, making the
         * freer's writes (the block's words) visible. The exchange takes the
         * whole stack, so concurrent pushers cause no ABA problem. */
        h->blocks = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
    }
    if (h->blocks) {
        void *b = h->blocks;
        h->blocks = LINK_GET(s, b);
        unpack(s, h, b);
        void *obj = h->mag[--h->nmag];
        UNPOISON(obj, s->obj_size);
        return obj;
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
        POISON(h->bump, VX_SLAB_PAGE - VX_SLAB_HEADER);
    }
    void *obj = h->bump;
    h->bump += s->obj_size;
    UNPOISON(obj, s->obj_size);
    slab_zero(obj, s->obj_size);
    return obj;
}

void *vx_slab_alloc(VxSlab *s, uint32_t hi)
{
    VxSlabHeap *h = &s->heaps[hi];
    if (VX_SLAB_LIKELY(h->nmag)) {
        void *obj = h->mag[--h->nmag];
        UNPOISON(obj, s->obj_size);
        return obj;
    }
    return alloc_slow(s, hi);
}

/* Pushes a block (count objects) onto owner's remote stack. */
static void push_remote(VxSlab *s, uint32_t owner, void *block, uint32_t count)
{
    if (count < s->block_max) ENTRY_SET(s, block, count - 1, NULL); /* NULL-terminated */
    VxSlabHeap *h = &s->heaps[owner];
    void *old = atomic_load_explicit(&h->remote, memory_order_relaxed);
    do {
        LINK_SET(s, block, old);
        /* release: publishes the block's words; pairs with the owner's exchange. */
    } while (!atomic_compare_exchange_weak_explicit(&h->remote, &old, block, memory_order_release,
                                                    memory_order_relaxed));
}

void vx_slab_free(VxSlab *s, uint32_t cur, void *obj)
{
    uint32_t owner = page_of(obj)->owner;
#ifdef VX_SLAB_ASAN
    /* A second free of obj reads a poisoned byte here: ASan reports it. */
    (void)*(volatile char *)((char *)obj + s->keep_words * sizeof(void *));
#endif
    poison_free(s, obj);
    if (owner == cur) {
        VxSlabHeap *h = &s->heaps[cur];
        if (VX_SLAB_LIKELY(h->nmag < VX_SLAB_MAG)) {
            h->mag[h->nmag++] = obj;
            return;
        }
        /* Magazine full: pack half of it into blocks kept for later. */
        while (h->nmag > VX_SLAB_MAG / 2) {
            void *b = h->mag[--h->nmag];
            uint32_t i = 0;
            for (; i < s->block_max - 1 && h->nmag > VX_SLAB_MAG / 2; i++)
                ENTRY_SET(s, b, i, h->mag[--h->nmag]);
            if (i < s->block_max - 1) ENTRY_SET(s, b, i, NULL);
            LINK_SET(s, b, h->blocks);
            h->blocks = b;
        }
        h->mag[h->nmag++] = obj;
        return;
    }
    if (cur == VX_SLAB_FOREIGN) {
        push_remote(s, owner, obj, 1);
        return;
    }
    /* Another owner's object: add it to the block being filled for that
     * owner (a tiny direct-mapped table), handing the block over when full. */
    VxSlabPending *p = &s->heaps[cur].pending[owner % VX_SLAB_PENDING];
    if (p->block && p->owner != owner) {
        push_remote(s, p->owner, p->block, p->count);
        p->block = NULL;
    }
    if (!p->block) {
        p->block = obj;
        p->owner = owner;
        p->count = 1;
    } else {
        ENTRY_SET(s, p->block, p->count - 1, obj);
        p->count++;
    }
    if (p->count == s->block_max) {
        push_remote(s, owner, p->block, p->count);
        p->block = NULL;
    }
}

void vx_slab_flush(VxSlab *s, uint32_t cur)
{
    if (cur == VX_SLAB_FOREIGN) return;
    for (int i = 0; i < VX_SLAB_PENDING; i++) {
        VxSlabPending *p = &s->heaps[cur].pending[i];
        if (p->block) push_remote(s, p->owner, p->block, p->count);
        p->block = NULL;
    }
}
