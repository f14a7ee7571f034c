/* fuzz/mpmc_threads_fuzz.c - libFuzzer harness (TSan) for the global queue's
 * bounded MPMC ring (core/mpmc.c) under real concurrency.
 *
 * The input picks 1-4 producers, 1-4 consumers, a capacity of 2..64 cells,
 * the items per producer (1..128), and then a script per thread: batch size
 * (single push/pop or a batch of 1-15) and a pause (none, spin, yield) for
 * each step, which shifts the interleavings. Checked: every item comes out
 * exactly once (a bitmap), each consumer sees every producer's items in the
 * order they were pushed, batches never report more than asked, and after
 * the threads finish the queue is empty and its full / empty edges are exact
 * (capacity pushes succeed, the next fails, a batch pop returns them in
 * order). TSan reports any access the queue's acquire/release pairs fail to
 * order. A small capacity makes producers meet "full" and consumers "empty"
 * all the time. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_pool.h"
#include "mpmc.h"

#define MAXP 4
#define MAXC 4
#define MAX_PER 128
#define MAXCAP 64
#define MAX_BATCH 15

typedef struct Shared {
    VxMpmc q;
    VxMpmcCell cells[MAXCAP];
    int nprod, ncons;
    uint32_t per_prod;
    const uint8_t *script; /* thread i's k-th step is script[(k * nthreads + i) % len] */
    size_t script_len;
    _Atomic int producers_done;
    _Atomic long consumed;
    _Atomic uint64_t seen[(MAXP * MAX_PER + 63) / 64];
} Shared;

static Shared sh;

static uint8_t step_of(int thread, size_t k)
{
    if (sh.script_len == 0) return 0;
    size_t nthreads = (size_t)(sh.nprod + sh.ncons);
    return sh.script[(k * nthreads + (size_t)thread) % sh.script_len];
}

static void pause_for(uint8_t op)
{
    switch (op >> 6) {
    case 1:
        for (int i = 0; i < 32; i++) atomic_signal_fence(memory_order_seq_cst);
        break;
    case 2:
        sched_yield();
        break;
    default:
        break;
    }
}

static void *item_of(int p, uint32_t seq) { return (void *)(((uintptr_t)p << 16 | seq) + 1); }

static void producer(int p)
{
    uint32_t seq = 0;
    unsigned fails = 0;
    for (size_t k = 0; seq < sh.per_prod; k++) {
        uint8_t op = step_of(p, k);
        uint32_t size = op & 15;
        if (size == 0) {
            if (vx_mpmc_push(&sh.q, item_of(p, seq)))
                seq++;
            else
                fz_backoff(&fails); /* full: let a consumer run */
        } else {
            void *items[MAX_BATCH];
            if (size > sh.per_prod - seq) size = sh.per_prod - seq;
            for (uint32_t i = 0; i < size; i++) items[i] = item_of(p, seq + i);
            size_t n = vx_mpmc_push_batch(&sh.q, items, size);
            FZ_CHECK(n <= size, "push_batch of %u returned %zu", size, n);
            seq += (uint32_t)n;
            if (n == 0) fz_backoff(&fails);
        }
        pause_for(op);
    }
    /* release: every push above happens before a consumer's acquire load
     * that sees the final count. */
    atomic_fetch_add_explicit(&sh.producers_done, 1, memory_order_release);
}

static void record(int c, int64_t *last, void *v)
{
    FZ_CHECK(v != NULL, "consumer %d got a NULL item", c);
    uintptr_t x = (uintptr_t)v - 1;
    int p = (int)(x >> 16);
    uint32_t seq = (uint32_t)(x & 0xffff);
    FZ_CHECK(p < sh.nprod && seq < sh.per_prod, "consumer %d got an item never pushed: %p", c, v);
    FZ_CHECK((int64_t)seq > last[p], "consumer %d: producer %d's item %u after its item %lld", c, p,
             seq, (long long)last[p]);
    last[p] = seq;
    uint32_t id = (uint32_t)p * MAX_PER + seq;
    uint64_t bit = (uint64_t)1 << (id % 64);
    uint64_t old = atomic_fetch_or_explicit(&sh.seen[id / 64], bit, memory_order_relaxed);
    FZ_CHECK(!(old & bit), "producer %d's item %u came out twice", p, seq);
    atomic_fetch_add_explicit(&sh.consumed, 1, memory_order_relaxed);
}

static void consumer(int c)
{
    int64_t last[MAXP] = {-1, -1, -1, -1};
    unsigned fails = 0;
    for (size_t k = 0;; k++) {
        uint8_t op = step_of(sh.nprod + c, k);
        uint32_t size = op & 15;
        void *out[MAX_BATCH];
        size_t n;
        if (size == 0) {
            out[0] = vx_mpmc_pop(&sh.q);
            n = out[0] != NULL;
        } else {
            n = vx_mpmc_pop_batch(&sh.q, out, size);
            FZ_CHECK(n <= size, "pop_batch of %u returned %zu", size, n);
        }
        if (n == 0) {
            /* acquire: pairs with the producers' release increments. Once
             * all are done every item is published, so a pop that still
             * finds nothing means every item has been claimed. */
            if (atomic_load_explicit(&sh.producers_done, memory_order_acquire) == sh.nprod) {
                out[0] = vx_mpmc_pop(&sh.q);
                if (!out[0]) return;
                n = 1;
            } else {
                fz_backoff(&fails);
                continue;
            }
        }
        for (size_t i = 0; i < n; i++) record(c, last, out[i]);
        pause_for(op);
    }
}

static void thread_main(int i, void *arg)
{
    (void)arg;
    if (i < sh.nprod)
        producer(i);
    else
        consumer(i - sh.nprod);
}

/* Deterministic edges on the (now private) queue: exactly cap pushes fit. */
static void check_edges(size_t cap)
{
    void *out[MAXCAP + 1];
    FZ_CHECK(vx_mpmc_pop(&sh.q) == NULL, "queue not empty after every item came out");
    FZ_CHECK(vx_mpmc_pop_batch(&sh.q, out, 4) == 0, "batch pop from an empty queue");
    FZ_CHECK(vx_mpmc_len_hint(&sh.q) == 0, "len_hint %zu on an empty queue", vx_mpmc_len_hint(&sh.q));
    for (size_t i = 0; i < cap; i++)
        FZ_CHECK(vx_mpmc_push(&sh.q, (void *)(i + 1)), "push %zu of %zu refused", i + 1, cap);
    FZ_CHECK(!vx_mpmc_push(&sh.q, (void *)(cap + 1)), "push beyond capacity %zu accepted", cap);
    FZ_CHECK(vx_mpmc_push_batch(&sh.q, out, 1) == 0, "batch push into a full queue");
    FZ_CHECK(vx_mpmc_len_hint(&sh.q) == cap, "len_hint %zu, want %zu", vx_mpmc_len_hint(&sh.q), cap);
    size_t n = vx_mpmc_pop_batch(&sh.q, out, cap + 1);
    FZ_CHECK(n == cap, "batch pop of a full queue returned %zu of %zu", n, cap);
    for (size_t i = 0; i < cap; i++)
        FZ_CHECK((uintptr_t)out[i] == i + 1, "slot %zu holds %p", i, out[i]);
    FZ_CHECK(vx_mpmc_pop(&sh.q) == NULL, "queue not empty after draining it");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FzIn in = {data, data + size};
    if (size < 3) return 0;
    uint8_t b = fz_u8(&in);
    sh.nprod = 1 + (b & 3);
    sh.ncons = 1 + ((b >> 2) & 3);
    size_t cap = (size_t)2 << (fz_u8(&in) % 6); /* 2 .. 64 */
    sh.per_prod = fz_range(&in, 1, MAX_PER);
    sh.script = in.p;
    sh.script_len = (size_t)(in.end - in.p);
    if (sh.script_len > 4096) sh.script_len = 4096; /* keeps an input to a few ms */
    vx_mpmc_init(&sh.q, sh.cells, cap);
    atomic_store_explicit(&sh.producers_done, 0, memory_order_relaxed);
    atomic_store_explicit(&sh.consumed, 0, memory_order_relaxed);
    for (size_t i = 0; i < sizeof sh.seen / sizeof sh.seen[0]; i++)
        atomic_store_explicit(&sh.seen[i], 0, memory_order_relaxed);

    fz_pool_run(sh.nprod + sh.ncons, thread_main, NULL);

    long total = (long)sh.nprod * sh.per_prod;
    long consumed = atomic_load_explicit(&sh.consumed, memory_order_relaxed);
    FZ_CHECK(consumed == total, "%ld of %ld items came out", consumed, total);
    for (int p = 0; p < sh.nprod; p++)
        for (uint32_t s = 0; s < sh.per_prod; s++) {
            uint32_t id = (uint32_t)p * MAX_PER + s;
            uint64_t word = atomic_load_explicit(&sh.seen[id / 64], memory_order_relaxed);
            FZ_CHECK(word >> (id % 64) & 1, "producer %d's item %u was lost", p, s);
        }
    check_edges(cap);
    return 0;
}
