/* fuzz/slab_fuzz.c - libFuzzer harness for the slab pools (alloc/slab.c),
 * single-threaded, under ASan + UBSan.
 *
 * The input picks the pool's geometry (1-4 heaps, an object size of 1..8200
 * bytes, a kept prefix; invalid ones must give VEX_EINVAL, a failed first
 * allocation VEX_ENOMEM), then a script of: allocations from a heap (single
 * or bursts), frees by the owning heap, frees by another heap (the blocks
 * handed over lock-free) or by a foreign thread (VX_SLAB_FOREIGN), flushes,
 * bursts of frees, allocator failures switched on and off, and probes of a
 * free object's ASan poisoning. A model of every object (live, reusable by
 * its heap, or waiting in another heap's pending block) predicts each
 * result: an allocation returns a reusable object of that heap whenever
 * there is one, else a never-used zero-filled one, else a new page, else
 * NULL; no object is handed out twice while live; no live object is written
 * by the pool (each holds a pattern, checked at its free); the kept prefix
 * of a free object is never written; page counts match. Under ASan every
 * free object must be poisoned past its kept prefix and every live one not
 * at all. At the end every heap is flushed and must hand back exactly its
 * reusable objects plus the rest of its page; after destroy the counting
 * allocator holds zero bytes. */
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "slab.h"

#define MAX_PAGES 48
#define MAX_LIVE 8192
#define MAXH 4

enum { NEVER = 0, LIVE, AVAIL, PENDING };

typedef struct Rec {
    uint8_t state;
    uint8_t where;  /* AVAIL: the heap that will reuse it; LIVE: the heap it came from */
    uint32_t gen;   /* the pattern written at its last allocation */
} Rec;

typedef struct Page {
    char *base;
    uint32_t owner;
    Rec *rec;       /* one per object */
} Page;

typedef struct Pending { /* model of one slot of a heap's pending table */
    uint32_t owner, count;
    void *obj[VX_SLAB_BLOCK_MAX];
} Pending;

/* The counting allocator the pool gets its pages and heap array from. */
typedef struct Counting {
    VexAllocator vt;
    long live_bytes, live_blocks;
    bool fail;          /* refuse every request */
    int budget;         /* pages it will still give */
} Counting;

static struct {
    Counting ca;
    VxSlab s;
    uint32_t nheaps;
    size_t obj, keep, per_page;
    Page pages[MAX_PAGES];
    int npages;
    uint32_t avail[MAXH];      /* objects each heap can reuse */
    uint32_t bump_left[MAXH];  /* never-used objects left in its current page */
    Pending pend[MAXH][VX_SLAB_PENDING];
    void *live[MAX_LIVE];
    uint32_t nlive;
    uint32_t gen;
} M;

/* Pages freed by earlier inputs, kept poisoned so that a late access still
 * fails (as a use-after-poison): an aligned 64 KiB block is a fresh mmap
 * under ASan, and its page faults cost more than the rest of an input. */
static void *page_cache[MAX_PAGES];
static int page_cached;

static void *ca_alloc(void *ctx, size_t size, size_t align)
{
    Counting *ca = ctx;
    FZ_CHECK(size > 0 && align > 0 && (align & (align - 1)) == 0, "alloc(%zu, %zu)", size, align);
    bool page = size == VX_SLAB_PAGE && align == VX_SLAB_PAGE;
    if (ca->fail || (page && ca->budget == 0)) return NULL;
    void *p;
    if (page && page_cached) {
        p = page_cache[--page_cached];
        ASAN_UNPOISON_MEMORY_REGION(p, size);
    } else {
        p = aligned_alloc(align, (size + align - 1) / align * align);
        FZ_CHECK(p != NULL, "the harness ran out of memory");
    }
    /* Garbage, not zeros: the pool must zero what it hands out itself. */
    if (page) memset(p, 0xa5, size);
    if (page) ca->budget--;
    ca->live_bytes += (long)size;
    ca->live_blocks++;
    return p;
}

static void ca_free(void *ctx, void *ptr, size_t size, size_t align)
{
    Counting *ca = ctx;
    FZ_CHECK(ptr && ((uintptr_t)ptr & (align - 1)) == 0, "free(%p, %zu, %zu)", ptr, size, align);
    ca->live_bytes -= (long)size;
    ca->live_blocks--;
    /* The pool must open its pages before handing them back: the next
     * owner of this memory may not know about ASan. */
    FZ_CHECK(__asan_region_is_poisoned(ptr, size) == NULL, "block %p freed still poisoned", ptr);
    if (size == VX_SLAB_PAGE && align == VX_SLAB_PAGE && page_cached < MAX_PAGES) {
        ASAN_POISON_MEMORY_REGION(ptr, size);
        page_cache[page_cached++] = ptr;
        return;
    }
    free(ptr);
}

static Page *page_of_obj(void *obj)
{
    char *base = (char *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1));
    for (int i = 0; i < M.npages; i++)
        if (M.pages[i].base == base) return &M.pages[i];
    return NULL;
}

static Rec *rec_of(void *obj)
{
    Page *pg = page_of_obj(obj);
    FZ_CHECK(pg != NULL, "object %p is not in any page of the pool", obj);
    size_t off = (size_t)((char *)obj - pg->base);
    FZ_CHECK(off >= VX_SLAB_HEADER && (off - VX_SLAB_HEADER) % M.obj == 0 &&
                 (off - VX_SLAB_HEADER) / M.obj < M.per_page,
             "object %p at offset %zu is not an object boundary (size %zu)", obj, off, M.obj);
    return &pg->rec[(off - VX_SLAB_HEADER) / M.obj];
}

/* The harness's own byte loops carry no signal for the fuzzer; left
 * uninstrumented they cost nothing (with trace-cmp they took most of the time). */
#define NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline))

/* The words a live object holds: its generation mixed with the word index. */
static uint64_t pattern(uint32_t gen, size_t i)
{
    return ((uint64_t)gen << 32 | (uint32_t)i) * 0x9E3779B97F4A7C15ull;
}

NO_COVERAGE static void fill(void *obj, size_t from, size_t to, uint32_t gen)
{
    for (size_t i = from / 8; i < to / 8; i++) ((uint64_t *)obj)[i] = pattern(gen, i);
}

/* Returns the offset of the first word in [from, to) not holding gen's
 * pattern (0 for gen 0: zero-filled), or SIZE_MAX if all do. */
NO_COVERAGE static size_t mismatch(const void *obj, size_t from, size_t to, uint32_t gen)
{
    for (size_t i = from / 8; i < to / 8; i++)
        if (((const uint64_t *)obj)[i] != (gen ? pattern(gen, i) : 0)) return i * 8;
    return SIZE_MAX;
}

/* Every byte of [p, p + n) is poisoned (ASan poisons whole 8-byte granules). */
NO_COVERAGE static bool all_poisoned(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 8)
        if (!__asan_address_is_poisoned(p + i)) return false;
    return n == 0 || __asan_address_is_poisoned(p + n - 1);
}

static void check_free_poisoned(void *obj)
{
    FZ_CHECK(all_poisoned((char *)obj + M.keep, M.obj - M.keep),
             "free object %p has unpoisoned bytes past its kept prefix", obj);
    FZ_CHECK(__asan_region_is_poisoned(obj, M.keep) == NULL,
             "free object %p's kept prefix is poisoned (late wakers read it)", obj);
}

/* Allocation from heap h, checked against the model. */
static void *do_alloc(uint32_t h)
{
    bool new_page = M.avail[h] == 0 && M.bump_left[h] == 0;
    bool can = !new_page || (!M.ca.fail && M.ca.budget > 0 && M.npages < MAX_PAGES);
    size_t bytes_before = vx_slab_bytes(&M.s);
    void *obj = vx_slab_alloc(&M.s, h);
    if (!can) {
        FZ_CHECK(obj == NULL, "heap %u allocated %p though nothing was free and pages were refused", h,
                 obj);
        FZ_CHECK(vx_slab_bytes(&M.s) == bytes_before, "a failed allocation changed the page count");
        return NULL;
    }
    FZ_CHECK(obj != NULL, "heap %u: NULL with %u reusable, %u never used, new page %s", h, M.avail[h],
             M.bump_left[h], new_page ? "allowed" : "not needed");
    FZ_CHECK(((uintptr_t)obj & 7) == 0, "object %p not 8-aligned", obj);
    FZ_CHECK(vx_slab_pool_of(obj) == &M.s, "object %p names another pool", obj);
    if (new_page) {
        char *base = (char *)((uintptr_t)obj & ~(uintptr_t)(VX_SLAB_PAGE - 1));
        FZ_CHECK(page_of_obj(obj) == NULL, "a new page %p was already known", (void *)base);
        Page *pg = &M.pages[M.npages++];
        pg->base = base;
        pg->owner = h;
        pg->rec = calloc(M.per_page, sizeof(Rec));
        FZ_CHECK(pg->rec != NULL, "harness out of memory");
        FZ_CHECK(((VxSlabPage *)base)->owner == h, "page of heap %u owned by %u", h,
                 ((VxSlabPage *)base)->owner);
        FZ_CHECK(vx_slab_bytes(&M.s) == (size_t)M.npages * VX_SLAB_PAGE, "pool holds %zu bytes, %d pages",
                 vx_slab_bytes(&M.s), M.npages);
        M.bump_left[h] = (uint32_t)M.per_page;
        uint64_t mine = 0;
        for (int i = 0; i < M.npages; i++) mine += M.pages[i].owner == h;
        FZ_CHECK(M.s.heaps[h].pages == mine, "heap %u counts %llu pages, model %llu", h,
                 (unsigned long long)M.s.heaps[h].pages, (unsigned long long)mine);
    }
    Page *pg = page_of_obj(obj);
    Rec *r = rec_of(obj);
    FZ_CHECK(pg->owner == h, "heap %u handed out an object of heap %u's page", h, pg->owner);
    FZ_CHECK(__asan_region_is_poisoned(obj, M.obj) == NULL, "allocated object %p is poisoned", obj);
    size_t bad;
    if (M.avail[h]) {
        FZ_CHECK(r->state == AVAIL && r->where == h,
                 "heap %u with %u reusable objects handed out %p in state %d", h, M.avail[h], obj,
                 r->state);
        bad = mismatch(obj, 0, M.keep, r->gen); /* the pool never writes the kept prefix */
        FZ_CHECK(bad == SIZE_MAX, "kept byte %zu of %p changed while free", bad, obj);
        M.avail[h]--;
    } else {
        FZ_CHECK(r->state == NEVER, "heap %u handed out %p in state %d instead of a never-used one", h,
                 obj, r->state);
        bad = mismatch(obj, 0, M.obj, 0);
        FZ_CHECK(bad == SIZE_MAX, "never-used object %p not zero-filled at byte %zu", obj, bad);
        M.bump_left[h]--;
    }
    r->state = LIVE;
    r->where = (uint8_t)h;
    r->gen = ++M.gen;
    fill(obj, 0, M.obj, r->gen);
    FZ_CHECK(M.nlive < MAX_LIVE, "too many live objects");
    M.live[M.nlive++] = obj;
    return obj;
}

static void make_avail(void *obj, uint32_t owner)
{
    Rec *r = rec_of(obj);
    r->state = AVAIL;
    r->where = (uint8_t)owner;
    M.avail[owner]++;
}

static void hand_over(Pending *p)
{
    for (uint32_t i = 0; i < p->count; i++) make_avail(p->obj[i], p->owner);
    p->count = 0;
}

/* Frees live object i from heap cur (M.nheaps means a foreign thread). */
static void do_free(uint32_t i, uint32_t cur)
{
    void *obj = M.live[i];
    M.live[i] = M.live[--M.nlive];
    Rec *r = rec_of(obj);
    Page *pg = page_of_obj(obj);
    FZ_CHECK(r->state == LIVE, "freeing %p in state %d", obj, r->state);
    size_t bad = mismatch(obj, 0, M.obj, r->gen);
    FZ_CHECK(bad == SIZE_MAX, "live object %p changed at byte %zu: handed out twice, or written by the pool",
             obj, bad);
    uint32_t owner = pg->owner;
    vx_slab_free(&M.s, cur == M.nheaps ? VX_SLAB_FOREIGN : cur, obj);
    check_free_poisoned(obj);
    if (cur == owner || cur == M.nheaps) {
        make_avail(obj, owner);
        return;
    }
    /* Another heap's object: into the block that heap fills for the owner. */
    Pending *p = &M.pend[cur][owner % VX_SLAB_PENDING];
    if (p->count && p->owner != owner) hand_over(p);
    p->owner = owner;
    p->obj[p->count++] = obj;
    r->state = PENDING;
    if (p->count == M.s.block_max) hand_over(p);
}

static void do_flush(uint32_t h)
{
    vx_slab_flush(&M.s, h);
    for (int i = 0; i < VX_SLAB_PENDING; i++)
        if (M.pend[h][i].count) hand_over(&M.pend[h][i]);
}

/* The first free object from a place chosen by x (looking at a few hundred
 * at most) must still be poisoned past its kept prefix, whatever the pool
 * did with it since (a block's words written, unpacked, handed over). */
static void probe(uint32_t x)
{
    if (M.npages == 0) return;
    Page *pg = &M.pages[x % (uint32_t)M.npages];
    for (size_t j = 0; j < 512 && j < M.per_page; j++) {
        size_t o = (x + j) % M.per_page;
        if (pg->rec[o].state == AVAIL || pg->rec[o].state == PENDING) {
            check_free_poisoned(pg->base + VX_SLAB_HEADER + o * M.obj);
            return;
        }
    }
}

/* After every heap was flushed, with no more pages: heap h hands out each
 * of its reusable objects, then a never-used one if its page has any left,
 * then nothing. */
static void check_all_reusable(uint32_t h)
{
    while (M.avail[h]) {
        void *obj = vx_slab_alloc(&M.s, h);
        FZ_CHECK(obj != NULL, "heap %u: NULL with %u objects freed and flushed", h, M.avail[h]);
        Rec *r = rec_of(obj);
        FZ_CHECK(r->state == AVAIL && r->where == h, "heap %u handed out %p in state %d", h, obj,
                 r->state);
        r->state = LIVE;
        M.avail[h]--;
    }
    void *obj = vx_slab_alloc(&M.s, h);
    if (M.bump_left[h]) {
        FZ_CHECK(obj != NULL && rec_of(obj)->state == NEVER,
                 "heap %u: %p instead of one of the %u never-used objects", h, obj, M.bump_left[h]);
    } else {
        FZ_CHECK(obj == NULL, "heap %u: %p though every object was accounted for", h, obj);
    }
}

static void teardown(void)
{
    vx_slab_destroy(&M.s);
    for (int i = 0; i < M.npages; i++) free(M.pages[i].rec);
    FZ_CHECK(M.ca.live_bytes == 0 && M.ca.live_blocks == 0,
             "after destroy the allocator still holds %ld bytes in %ld blocks", M.ca.live_bytes,
             M.ca.live_blocks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FzIn in = {data, data + size};
    if (size < 3) return 0;
    memset(&M, 0, sizeof M);
    M.ca.vt = (VexAllocator){ca_alloc, ca_free, &M.ca};
    M.ca.budget = MAX_PAGES;

    uint8_t g = fz_u8(&in);
    M.nheaps = 1 + (g & 3);
    size_t obj = (g & 0x80) ? (size_t)(fz_bytes(&in, 2) % 8200) + 1 : (size_t)fz_range(&in, 1, 160);
    uint8_t k = fz_u8(&in);
    size_t keep = (size_t)(k % 12) * 8 + ((k & 0x80) ? 4 : 0);
    size_t obj8 = (obj + 7) & ~(size_t)7;
    const size_t W = sizeof(void *);
    bool valid = keep % W == 0 && obj8 / W >= keep / W + 2 && obj8 <= VX_SLAB_PAGE / 8;
    M.ca.fail = (g & 0x40) && valid; /* the heap array's allocation fails */
    int rc = vx_slab_init(&M.s, &M.ca.vt, obj, keep, M.nheaps);
    if (!valid || M.ca.fail) {
        FZ_CHECK(rc == (valid ? VEX_ENOMEM : VEX_EINVAL), "init(size %zu, keep %zu) returned %d", obj,
                 keep, rc);
        teardown();
        return 0;
    }
    FZ_CHECK(rc == 0, "init(size %zu, keep %zu) returned %d", obj, keep, rc);
    M.obj = M.s.obj_size;
    M.keep = keep;
    M.per_page = vx_slab_per_page(&M.s);
    FZ_CHECK(M.obj == obj8 && M.per_page == (VX_SLAB_PAGE - VX_SLAB_HEADER) / obj8,
             "geometry: size %zu per page %zu", M.obj, M.per_page);
    FZ_CHECK(M.s.block_max >= 2 && M.s.block_max <= VX_SLAB_BLOCK_MAX &&
                 M.s.block_max <= M.obj / 8 - keep / 8,
             "block_max %u for %zu-byte objects keeping %zu", M.s.block_max, M.obj, keep);

    while (fz_more(&in)) {
        uint8_t op = fz_u8(&in);
        uint32_t h = (uint32_t)(op >> 3) % M.nheaps;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
            if (M.nlive < MAX_LIVE) do_alloc(h);
            break;
        case 3:
        case 4: /* free by the owner */
            if (M.nlive) {
                uint32_t i = fz_u8(&in) % M.nlive;
                do_free(i, page_of_obj(M.live[i])->owner);
            }
            break;
        case 5: /* free by another heap, or by a foreign thread */
            if (M.nlive) {
                uint32_t i = fz_u8(&in) % M.nlive;
                uint32_t owner = page_of_obj(M.live[i])->owner;
                do_free(i, (owner + 1 + (uint32_t)(op >> 3) % M.nheaps) % (M.nheaps + 1));
            }
            break;
        case 6:
            do_flush(h);
            break;
        default:
            switch ((op >> 3) & 3) {
            case 0:
                M.ca.fail = !M.ca.fail;
                break;
            case 1:
                probe(fz_u8(&in));
                break;
            case 2: { /* a burst of allocations: past a magazine, through blocks */
                uint32_t n = 1 + fz_u8(&in) % 128, hh = (uint32_t)(op >> 5) % M.nheaps;
                for (uint32_t j = 0; j < n && M.nlive < MAX_LIVE; j++)
                    if (!do_alloc(hh)) break;
                break;
            }
            default: { /* a burst of frees, all by one heap (or foreign) */
                uint32_t n = 1 + fz_u8(&in) % 128, cur = (uint32_t)(op >> 5) % (M.nheaps + 1);
                for (uint32_t j = 0; j < n && M.nlive; j++) do_free(M.nlive - 1, cur);
                break;
            }
            }
        }
    }

    /* Every freed object must be reusable; live and free objects alike are
     * dropped by destroy, which must return every page. */
    for (uint32_t h = 0; h < M.nheaps; h++) do_flush(h);
    M.ca.fail = true;
    for (uint32_t h = 0; h < M.nheaps; h++) check_all_reusable(h);
    teardown();
    return 0;
}
