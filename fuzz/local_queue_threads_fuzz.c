/* fuzz/local_queue_threads_fuzz.c - libFuzzer harness (TSan) for the
 * workers' run queues (core/local_queue.c) under real concurrency.
 *
 * One owner thread and 1-3 thieves, each thread owning a ring of the same
 * capacity (2..256, indices optionally starting just below the 32-bit wrap).
 * The input gives every thread a script: the owner pushes (single items or
 * bursts; a full ring overflows as in sched.c: take half, or push again if a
 * thief made room meanwhile, and the half plus the item go to a global MPMC),
 * pops, and takes from the global queue; a thief steals half of the owner's
 * or another thief's ring into its own, pops its ring, or takes from the
 * global queue. Each step may pause (spin or yield) to shift interleavings.
 * Checked: every item comes out exactly once (counted as it is taken, and
 * after the threads finish every ring and the global queue are drained),
 * the owner's own pops come out in push order, and steal / take-half counts
 * stay within bounds. TSan reports any access the rings' acquire/release
 * pairs and CASes fail to order. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_pool.h"
#include "local_queue.h"
#include "mpmc.h"

#define MAXT 3
#define MAX_ITEMS 2048
#define MAX_SCRIPT 2048

typedef struct Shared {
    int nthieves;
    uint32_t cap;
    VxLocalQueue q[1 + MAXT]; /* q[0] the owner's, q[i] thief i's */
    VxMpmc g;                 /* the global queue: room for every item, never full */
    VxMpmcCell gcells[MAX_ITEMS];
    const uint8_t *script;    /* thread i's k-th step: script[k * nthreads + i] */
    size_t script_len;
    uint32_t next_id;         /* written by the owner thread only */
    _Atomic uint8_t seen[MAX_ITEMS + 1];
    /* Plain data the owner writes before pushing an item and every taker
     * reads, as a task's fields are: the rings' slots are atomics, so only
     * this shows TSan a missing release/acquire pair. */
    uint32_t payload[MAX_ITEMS + 1];
} Shared;

static Shared sh;

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

static void consume(void *p, const char *how)
{
    uintptr_t id = (uintptr_t)p;
    FZ_CHECK(id >= 1 && id <= MAX_ITEMS, "%s returned %p, never pushed", how, p);
    uint8_t old = atomic_fetch_add_explicit(&sh.seen[id], 1, memory_order_relaxed);
    FZ_CHECK(old == 0, "%s returned item %lu a second time", how, (unsigned long)id);
    FZ_CHECK(sh.payload[id] == (uint32_t)id * 2654435761u, "%s: item %lu's payload is %#x", how,
             (unsigned long)id, sh.payload[id]);
}

/* sched.c's push_overflow, with the global MPMC as the destination. */
static void owner_push(uint32_t id)
{
    void *item = (void *)(uintptr_t)id;
    sh.payload[id] = id * 2654435761u;
    void *slots[VX_LQ_MAX / 2 + 1];
    unsigned fails = 0;
    while (!vx_lq_push_owner(&sh.q[0], item)) {
        uint32_t n = vx_lq_take_half_owner(&sh.q[0], slots);
        if (n == 0) { /* a thief is taking some: push again */
            fz_backoff(&fails);
            continue;
        }
        FZ_CHECK(n == sh.cap / 2, "take_half_owner took %u of a full ring of %u", n, sh.cap);
        slots[n++] = item;
        size_t pushed = vx_mpmc_push_batch(&sh.g, slots, n);
        FZ_CHECK(pushed == n, "global queue took %zu of %u", pushed, n);
        return;
    }
}

static void owner(void)
{
    size_t nthreads = (size_t)sh.nthieves + 1;
    uint32_t last_popped = 0;
    for (size_t k = 0; k * nthreads < sh.script_len; k++) {
        uint8_t op = sh.script[k * nthreads];
        switch (op & 3) {
        case 0:
            if (sh.next_id <= MAX_ITEMS) owner_push(sh.next_id++);
            break;
        case 1: { /* a burst, so that even a 256-slot ring fills */
            uint32_t burst = 1 + (uint32_t)(op >> 2 & 15) * 8;
            for (uint32_t i = 0; i < burst && sh.next_id <= MAX_ITEMS; i++) owner_push(sh.next_id++);
            break;
        }
        case 2: {
            void *p = vx_lq_pop_owner(&sh.q[0]);
            if (p) {
                /* Only the owner adds to its ring, in id order, and every
                 * remover takes from the head: its own pops ascend. */
                FZ_CHECK((uintptr_t)p > last_popped, "owner popped %p after %u", p, last_popped);
                last_popped = (uint32_t)(uintptr_t)p;
                consume(p, "owner pop");
            }
            break;
        }
        default: {
            void *p = vx_mpmc_pop(&sh.g);
            if (p) consume(p, "owner global take");
            break;
        }
        }
        pause_for(op);
    }
}

static void thief(int i)
{
    size_t nthreads = (size_t)sh.nthieves + 1;
    VxLocalQueue *mine = &sh.q[i];
    for (size_t k = 0; k * nthreads + (size_t)i < sh.script_len; k++) {
        uint8_t op = sh.script[k * nthreads + (size_t)i];
        switch (op & 3) {
        case 0:
        case 1: { /* steal from the owner, or from any other ring */
            int v = (op & 3) == 0 ? 0 : (int)((op >> 2) % (uint8_t)(sh.nthieves + 1));
            if (v == i) v = 0;
            uint32_t n = 12345;
            void *first = vx_lq_steal_into(&sh.q[v], mine, &n);
            FZ_CHECK(n <= sh.cap / 2, "steal moved %u from a ring of %u", n, sh.cap);
            FZ_CHECK((first != NULL) == (n > 0), "steal returned %p with count %u", first, n);
            FZ_CHECK(vx_lq_len(mine) <= sh.cap, "thief ring holds %u of %u", vx_lq_len(mine), sh.cap);
            if (first) consume(first, "steal");
            break;
        }
        case 2: {
            void *p = vx_lq_pop_owner(mine);
            if (p) consume(p, "thief pop");
            break;
        }
        default: {
            void *p = vx_mpmc_pop(&sh.g);
            if (p) consume(p, "thief global take");
            break;
        }
        }
        pause_for(op);
    }
}

static void thread_main(int i, void *arg)
{
    (void)arg;
    if (i == 0)
        owner();
    else
        thief(i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FzIn in = {data, data + size};
    if (size < 2) return 0;
    uint8_t b = fz_u8(&in);
    sh.nthieves = 1 + (b & 3) % MAXT;
    sh.cap = 2u << ((b >> 2) % 8);
    uint32_t start = (b & 0x20) ? 0u - (uint32_t)fz_u8(&in) * 3u - 1u : 0; /* near the wrap */
    for (int i = 0; i <= sh.nthieves; i++) {
        vx_lq_init(&sh.q[i], sh.cap);
        atomic_store_explicit(&sh.q[i].head, start, memory_order_relaxed);
        atomic_store_explicit(&sh.q[i].tail, start, memory_order_relaxed);
    }
    vx_mpmc_init(&sh.g, sh.gcells, MAX_ITEMS);
    sh.script = in.p;
    sh.script_len = (size_t)(in.end - in.p);
    if (sh.script_len > MAX_SCRIPT) sh.script_len = MAX_SCRIPT;
    sh.next_id = 1;
    for (uint32_t i = 0; i <= MAX_ITEMS; i++) atomic_store_explicit(&sh.seen[i], 0, memory_order_relaxed);

    fz_pool_run(sh.nthieves + 1, thread_main, NULL);

    /* The threads are done (fz_pool_run orders their work before this):
     * drain every ring and the global queue here. */
    for (int i = 0; i <= sh.nthieves; i++) {
        void *p;
        while ((p = vx_lq_pop_owner(&sh.q[i]))) consume(p, "final pop");
        FZ_CHECK(vx_lq_len(&sh.q[i]) == 0, "ring %d not empty after draining", i);
    }
    void *p;
    while ((p = vx_mpmc_pop(&sh.g))) consume(p, "final global take");
    for (uint32_t id = 1; id < sh.next_id; id++)
        FZ_CHECK(atomic_load_explicit(&sh.seen[id], memory_order_relaxed) == 1, "item %u was lost", id);
    return 0;
}
