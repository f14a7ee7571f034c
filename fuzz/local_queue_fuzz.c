/* fuzz/local_queue_fuzz.c - libFuzzer harness for the workers' run queues
 * (core/local_queue.c) and the overflow path into the global MPMC
 * (core/mpmc.c), as core/sched.c uses them, single-threaded.
 *
 * The input picks 2-4 workers, each ring's capacity (2..256, rings may
 * differ), where each ring's 32-bit indices start (0 or just below the
 * wrap at 2^32), the global MPMC's capacity (2..64) and whether overflow
 * batches can be allocated, then a script interleaving, one whole call at a
 * time: owner push (single or a burst), owner pop, a steal of half of one
 * worker's ring into another's, taking an entry from the global queue into a
 * worker's ring, and the steps of an overflow (a push that found the ring
 * full; other workers may steal before the owner takes half of its ring;
 * then the half plus the new item go to the global queue as one batch, or
 * item by item, and to a spill list once the MPMC is full, as in sched.c).
 *
 * A model of every ring and of the global queue predicts each result
 * exactly: which item a pop, steal or take returns, how many a steal moves,
 * when push and take-half succeed, the lengths. At the end everything is
 * drained and every item must have come out exactly once: none lost at
 * wrap-around, on overflow or in a batch. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "local_queue.h"
#include "mpmc.h"

#define MAXW 4
#define MAX_ITEMS 4096
#define GCAP_MAX 64
#define HALF_MAX (VX_LQ_MAX / 2)

enum { NEVER = 0, QUEUED = 1, CONSUMED = 2 };

typedef struct Model { /* a ring of ids, oldest first */
    uint32_t v[VX_LQ_MAX];
    uint32_t head, len, cap;
} Model;

typedef struct Batch { /* an overflow batch: half a ring plus the pushed item */
    uint32_t count;
    uint32_t ids[HALF_MAX + 1];
} Batch;

typedef struct Fifo { /* entries of the global queue (model, and the spill list) */
    uintptr_t v[MAX_ITEMS];
    uint32_t head, len;
} Fifo;

static struct {
    int nw;
    bool batches;                /* overflow allocates a batch (else item by item) */
    VxLocalQueue q[MAXW];
    Model m[MAXW];
    uint32_t pending[MAXW];      /* item held by an overflow in progress, 0 if none */
    VxMpmc g;
    VxMpmcCell gcells[GCAP_MAX];
    uint32_t gcap, in_mpmc;      /* entries in the MPMC (the rest are spilled) */
    Fifo gm;                     /* model: every global entry, oldest first */
    Fifo spill;                  /* sched.c's spill list */
    uint8_t state[MAX_ITEMS + 1];
    uint32_t next_id;
} S;

/* Global entries: an odd value is a single item (id << 1 | 1), an even one
 * points to a malloc'ed Batch. */
static uintptr_t single_entry(uint32_t id) { return (uintptr_t)id << 1 | 1; }

static void fifo_push(Fifo *f, uintptr_t e)
{
    FZ_CHECK(f->len < MAX_ITEMS, "more global entries than items");
    f->v[(f->head + f->len++) % MAX_ITEMS] = e;
}

static uintptr_t fifo_pop(Fifo *f)
{
    uintptr_t e = f->v[f->head];
    f->head = (f->head + 1) % MAX_ITEMS;
    f->len--;
    return e;
}

static void model_push(Model *m, uint32_t id) { m->v[(m->head + m->len++) % VX_LQ_MAX] = id; }

static uint32_t model_pop(Model *m)
{
    uint32_t id = m->v[m->head];
    m->head = (m->head + 1) % VX_LQ_MAX;
    m->len--;
    return id;
}

static uint32_t model_at(const Model *m, uint32_t i) { return m->v[(m->head + i) % VX_LQ_MAX]; }

static void consume(uint32_t id, const char *how)
{
    FZ_CHECK(id >= 1 && id < S.next_id, "%s returned %u, never pushed", how, id);
    FZ_CHECK(S.state[id] == QUEUED, "%s returned item %u a second time", how, id);
    S.state[id] = CONSUMED;
}

static void check_lengths(void)
{
    for (int w = 0; w < S.nw; w++)
        FZ_CHECK(vx_lq_len(&S.q[w]) == S.m[w].len, "worker %d: len %u, model %u", w,
                 vx_lq_len(&S.q[w]), S.m[w].len);
    FZ_CHECK(vx_mpmc_len_hint(&S.g) == S.in_mpmc, "global MPMC holds %zu, model %u",
             vx_mpmc_len_hint(&S.g), S.in_mpmc);
}

/* --- The global queue, as sched.c's global_publish / global_take --- */

static void global_publish(uintptr_t e)
{
    fifo_push(&S.gm, e);
    if (S.spill.len == 0) {
        bool ok = vx_mpmc_push(&S.g, (void *)e);
        FZ_CHECK(ok == (S.in_mpmc < S.gcap), "MPMC push %s with %u of %u", ok ? "accepted" : "refused",
                 S.in_mpmc, S.gcap);
        if (ok) {
            S.in_mpmc++;
            return;
        }
    }
    fifo_push(&S.spill, e);
}

static uintptr_t global_take(void)
{
    uintptr_t e = (uintptr_t)vx_mpmc_pop(&S.g);
    FZ_CHECK((e != 0) == (S.in_mpmc > 0), "MPMC pop %s with %u queued", e ? "returned" : "empty",
             S.in_mpmc);
    if (e)
        S.in_mpmc--;
    else if (S.spill.len)
        e = fifo_pop(&S.spill);
    else
        FZ_CHECK(S.gm.len == 0, "global queue empty, model holds %u", S.gm.len);
    if (e) {
        uintptr_t want = fifo_pop(&S.gm);
        FZ_CHECK(e == want, "global take returned entry %#lx, want %#lx", (unsigned long)e,
                 (unsigned long)want);
    }
    return e;
}

/* --- Owner operations --- */

static void push(int w, uint32_t id);

/* The overflow's second half (sched.c's push_overflow): take the oldest half
 * of a full ring, or push again if a thief made room meanwhile. */
static void overflow_step(int w)
{
    uint32_t id = S.pending[w];
    Model *m = &S.m[w];
    void *slots[HALF_MAX];
    uint32_t n = vx_lq_take_half_owner(&S.q[w], slots);
    uint32_t want = m->len == m->cap ? m->cap / 2 : 0;
    FZ_CHECK(n == want, "take_half_owner on %u of %u took %u, want %u", m->len, m->cap, n, want);
    S.pending[w] = 0;
    if (n == 0) {
        bool ok = vx_lq_push_owner(&S.q[w], (void *)(uintptr_t)id);
        FZ_CHECK(ok, "push refused after a thief made room (%u of %u)", m->len, m->cap);
        model_push(m, id);
        return;
    }
    uint32_t ids[HALF_MAX + 1];
    for (uint32_t i = 0; i < n; i++) {
        ids[i] = (uint32_t)(uintptr_t)slots[i];
        uint32_t exp = model_pop(m);
        FZ_CHECK(ids[i] == exp, "take_half slot %u holds %u, want %u", i, ids[i], exp);
    }
    ids[n++] = id;
    Batch *b = S.batches ? malloc(sizeof *b) : NULL;
    if (b) {
        b->count = n;
        memcpy(b->ids, ids, n * sizeof ids[0]);
        global_publish((uintptr_t)b);
    } else {
        for (uint32_t i = 0; i < n; i++) global_publish(single_entry(ids[i]));
    }
}

/* Owner push; a full ring starts an overflow, which keeps the item. */
static void push(int w, uint32_t id)
{
    Model *m = &S.m[w];
    bool ok = vx_lq_push_owner(&S.q[w], (void *)(uintptr_t)id);
    FZ_CHECK(ok == (m->len < m->cap), "push %s with %u of %u", ok ? "accepted" : "refused", m->len,
             m->cap);
    if (ok)
        model_push(m, id);
    else
        S.pending[w] = id;
}

/* A push from inside the scheduler (expanding a batch): an overflow, if
 * any, completes at once (push_back -> push_overflow). */
static void push_back(int w, uint32_t id)
{
    push(w, id);
    if (S.pending[w]) overflow_step(w);
}

static void pop(int w)
{
    Model *m = &S.m[w];
    void *p = vx_lq_pop_owner(&S.q[w]);
    if (m->len == 0) {
        FZ_CHECK(p == NULL, "pop from an empty ring returned %p", p);
        return;
    }
    uint32_t want = model_pop(m);
    FZ_CHECK((uintptr_t)p == want, "pop returned %p, want %u", p, want);
    consume(want, "pop");
}

/* Worker t steals half of v's ring into its own; runs the one returned. */
static void steal(int t, int v)
{
    Model *mt = &S.m[t], *mv = &S.m[v];
    uint32_t half = mt->cap / 2, want = 0;
    if (mt->len <= half) {
        want = mv->len - mv->len / 2;
        if (want > half) want = half; /* a smaller ring takes what fits */
    }
    uint32_t n = 12345;
    void *first = vx_lq_steal_into(&S.q[v], &S.q[t], &n);
    FZ_CHECK(n == want, "steal of %u-of-%u into %u-of-%u moved %u, want %u", mv->len, mv->cap,
             mt->len, mt->cap, n, want);
    if (want == 0) {
        FZ_CHECK(first == NULL, "steal of nothing returned %p", first);
        return;
    }
    uint32_t last = model_at(mv, want - 1);
    FZ_CHECK((uintptr_t)first == last, "steal returned %p, want %u (the last one taken)", first,
             last);
    for (uint32_t i = 0; i + 1 < want; i++) model_push(mt, model_pop(mv));
    model_pop(mv);
    consume(last, "steal");
}

/* Takes one global entry into w (sched.c's global_pull / expand): the first
 * item runs, the rest of a batch goes to w's ring. */
static void pull(int w)
{
    uintptr_t e = global_take();
    if (!e) return;
    if (e & 1) {
        consume((uint32_t)(e >> 1), "global take");
        return;
    }
    Batch *b = (Batch *)e;
    for (uint32_t i = 1; i < b->count; i++) push_back(w, b->ids[i]);
    consume(b->ids[0], "batch");
    free(b);
}

static bool new_item(uint32_t *id)
{
    if (S.next_id > MAX_ITEMS) return false;
    *id = S.next_id++;
    S.state[*id] = QUEUED;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FzIn in = {data, data + size};
    if (size < 2) return 0;
    memset(&S, 0, sizeof S);
    S.next_id = 1;
    uint8_t b = fz_u8(&in);
    S.nw = 2 + (b & 3) % 3;
    S.batches = !(b & 4);
    S.gcap = 2u << ((b >> 3) % 6);
    vx_mpmc_init(&S.g, S.gcells, S.gcap);
    for (int w = 0; w < S.nw; w++) {
        uint8_t c = fz_u8(&in);
        S.m[w].cap = 2u << (c % 8);
        vx_lq_init(&S.q[w], S.m[w].cap);
        FZ_CHECK(vx_lq_capacity(&S.q[w]) == S.m[w].cap, "capacity %u, asked %u",
                 vx_lq_capacity(&S.q[w]), S.m[w].cap);
        if (c & 8) { /* indices just below the 32-bit wrap */
            uint32_t start = 0u - (uint32_t)(c >> 4) * 37u - 1u;
            atomic_store_explicit(&S.q[w].head, start, memory_order_relaxed);
            atomic_store_explicit(&S.q[w].tail, start, memory_order_relaxed);
        }
    }

    while (fz_more(&in)) {
        uint8_t op = fz_u8(&in);
        int w = (op >> 3) % S.nw;
        int kind = op & 7;
        uint32_t id;
        /* An overflow in progress runs on its owner: the owner does nothing
         * else until it ends, but other workers (kind 3 from them) may steal. */
        if (S.pending[w] && kind != 3) {
            overflow_step(w);
        } else if (S.pending[w]) {
            int v = (int)(fz_u8(&in) % (uint8_t)S.nw);
            if (v != w && !S.pending[v]) steal(v, w); /* another worker robs the overflowing one */
        } else {
            switch (kind) {
            case 0:
            case 1:
                if (new_item(&id)) push(w, id);
                break;
            case 2:
                pop(w);
                break;
            case 3: {
                int v = (int)(fz_u8(&in) % (uint8_t)S.nw);
                if (v == w) v = (v + 1) % S.nw;
                steal(w, v);
                break;
            }
            case 4:
                pull(w);
                break;
            case 5: { /* a burst of pushes: fills even a 256-slot ring quickly */
                uint32_t k = 1 + fz_u8(&in) % 128;
                for (uint32_t i = 0; i < k && !S.pending[w] && new_item(&id); i++) push(w, id);
                break;
            }
            case 6: { /* a burst of pops */
                uint32_t k = 1 + fz_u8(&in) % 64;
                for (uint32_t i = 0; i < k; i++) pop(w);
                break;
            }
            default: /* push, finishing any overflow at once */
                if (new_item(&id)) push_back(w, id);
                break;
            }
        }
        check_lengths();
    }

    /* Drain: finish overflows, then empty every ring and the global queue. */
    for (int w = 0; w < S.nw; w++)
        if (S.pending[w]) overflow_step(w);
    for (;;) {
        bool any = false;
        for (int w = 0; w < S.nw; w++)
            while (S.m[w].len) {
                pop(w);
                any = true;
            }
        if (S.gm.len) {
            pull(0);
            any = true;
        }
        if (!any) break;
    }
    check_lengths();
    for (int w = 0; w < S.nw; w++)
        FZ_CHECK(vx_lq_pop_owner(&S.q[w]) == NULL, "worker %d's ring not empty at the end", w);
    FZ_CHECK(vx_mpmc_pop(&S.g) == NULL, "global MPMC not empty at the end");
    for (uint32_t id = 1; id < S.next_id; id++)
        FZ_CHECK(S.state[id] == CONSUMED, "item %u was lost", id);
    return 0;
}
