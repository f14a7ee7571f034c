/* tests/support/common.c - the parts of support.h that build everywhere:
 * the counting (and failing) allocator, the counting platform, and running a
 * runtime on its own thread. Shared by the POSIX build (support.c has the
 * rest) and the Windows build (tests/win32/support_win32.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support.h"

#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <malloc.h>
#endif

/* --- Counting allocator --- */

typedef struct {
    size_t size, align;
    unsigned magic;
} Hdr;

#define HDR_MAGIC 0x5ca1ab1eu

static size_t hdr_room(size_t align)
{
    size_t h = sizeof(Hdr);
    return (h + align - 1) / align * align;
}

static void *ca_alloc(void *ctx, size_t size, size_t align)
{
    CountingAlloc *ca = ctx;
    long long n = atomic_fetch_add(&ca->allocs, 1) + 1;
    long long f = atomic_load(&ca->fail_at);
    if (f && n == f) {
        atomic_fetch_add(&ca->failures, 1);
        return NULL;
    }
    if (align < 16) align = 16;
    size_t room = hdr_room(align);
#ifdef _WIN32
    char *base = _aligned_malloc(room + size, align);
#else
    size_t total = (room + size + align - 1) / align * align;
    char *base = aligned_alloc(align, total);
#endif
    if (!base) return NULL;
    char *p = base + room;
    Hdr *h = (Hdr *)(void *)(p - sizeof(Hdr));
    h->size = size;
    h->align = align;
    h->magic = HDR_MAGIC;
    long long live = atomic_fetch_add(&ca->live_bytes, (long long)size) + (long long)size;
    atomic_fetch_add(&ca->live_blocks, 1);
    long long peak = atomic_load(&ca->peak_bytes);
    while (live > peak && !atomic_compare_exchange_weak(&ca->peak_bytes, &peak, live)) {}
    return p;
}

static void ca_free(void *ctx, void *ptr, size_t size, size_t align)
{
    CountingAlloc *ca = ctx;
    if (align < 16) align = 16;
    Hdr *h = (Hdr *)(void *)((char *)ptr - sizeof(Hdr));
    if (h->magic != HDR_MAGIC || h->size != size || h->align != align) {
        atomic_fetch_add(&ca->bad_frees, 1);
        return; /* leak it rather than corrupt the heap */
    }
    h->magic = 0;
    atomic_fetch_sub(&ca->live_bytes, (long long)size);
    atomic_fetch_sub(&ca->live_blocks, 1);
#ifdef _WIN32
    _aligned_free((char *)ptr - hdr_room(align));
#else
    free((char *)ptr - hdr_room(align));
#endif
}

void counting_alloc_init(CountingAlloc *ca)
{
    memset(ca, 0, sizeof *ca);
    ca->vt.alloc = ca_alloc;
    ca->vt.free = ca_free;
    ca->vt.ctx = ca;
}

/* --- Counting platform --- */

static int cp_init(void *ctx)
{
    CountingPlatform *cp = ctx;
    return cp->inner->init ? cp->inner->init(cp->inner->ctx) : 0;
}

static void cp_fini(void *ctx)
{
    CountingPlatform *cp = ctx;
    if (cp->inner->fini) cp->inner->fini(cp->inner->ctx);
}

static int cp_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg)
{
    CountingPlatform *cp = ctx;
    long long n = atomic_fetch_add(&cp->spawns, 1) + 1;
    long long f = atomic_load(&cp->fail_spawn_at);
    if (f && n >= f) return VEX_EAGAIN;
    return cp->inner->thread_spawn(cp->inner->ctx, thread, fn, arg);
}

static int cp_join(void *ctx, void *thread)
{
    CountingPlatform *cp = ctx;
    atomic_fetch_add(&cp->joins, 1);
    return cp->inner->thread_join(cp->inner->ctx, thread);
}

static uint32_t cp_cpus(void *ctx)
{
    CountingPlatform *cp = ctx;
    return cp->inner->cpu_count(cp->inner->ctx);
}

static uint64_t cp_now(void *ctx)
{
    CountingPlatform *cp = ctx;
    return cp->inner->now_ns(cp->inner->ctx);
}

static int cp_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout)
{
    CountingPlatform *cp = ctx;
    atomic_fetch_add(&cp->parks, 1);
    int rc = cp->inner->park(cp->inner->ctx, word, expected, timeout);
    if (rc == VEX_ETIMEDOUT) atomic_fetch_add(&cp->park_timeouts, 1);
    return rc;
}

static void cp_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    CountingPlatform *cp = ctx;
    atomic_fetch_add(&cp->unparks, 1);
    cp->inner->unpark(cp->inner->ctx, word, count);
}

void counting_platform_init(CountingPlatform *cp)
{
    memset(cp, 0, sizeof *cp);
    cp->inner = vex_platform_default();
    cp->vt = *cp->inner;
    cp->vt.name = "counting";
    cp->vt.ctx = cp;
    cp->vt.init = cp_init;
    cp->vt.fini = cp_fini;
    cp->vt.thread_spawn = cp_spawn;
    cp->vt.thread_join = cp_join;
    cp->vt.cpu_count = cp_cpus;
    cp->vt.now_ns = cp_now;
    cp->vt.park = cp_park;
    cp->vt.unpark = cp_unpark;
    cp->vt.trace = NULL;
}

/* --- Runtimes for tests --- */

Runtime *test_runtime(int n, CountingAlloc *ca, CountingPlatform *cp)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = n;
    if (ca) cfg.allocator = &ca->vt;
    if (cp) cfg.platform = &cp->vt;
    Runtime *rt = NULL;
    int rc = runtime_new(&cfg, &rt);
    cr_assert(rc == 0 && rt, "runtime_new(%d workers): %s", n, vex_strerror(rc));
    return rt;
}

static void *run_thread(void *arg)
{
    return (void *)(intptr_t)runtime_run((Runtime *)arg);
}

pthread_t test_run_async(Runtime *rt)
{
    pthread_t th;
    int rc = pthread_create(&th, NULL, run_thread, rt);
    cr_assert(rc == 0, "pthread_create");
    return th;
}

void test_join(pthread_t th)
{
    void *ret;
    pthread_join(th, &ret);
    cr_assert((intptr_t)ret == 0, "runtime_run returned %d", (int)(intptr_t)ret);
}
