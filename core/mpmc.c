/* core/mpmc.c - Vyukov bounded MPMC queue (see mpmc.h). No OS calls. */
#include "mpmc.h"

void vx_mpmc_init(VxMpmc *q, VxMpmcCell *cells, size_t capacity)
{
    q->cells = cells;
    q->mask = capacity - 1;
    for (size_t i = 0; i < capacity; i++) {
        atomic_init(&cells[i].seq, i);
        cells[i].data = NULL;
    }
    atomic_init(&q->enq, 0);
    atomic_init(&q->deq, 0);
}

bool vx_mpmc_push(VxMpmc *q, void *p)
{
    size_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
    for (;;) {
        VxMpmcCell *c = &q->cells[pos & q->mask];
        /* acquire: pairs with the consumer's release of seq, so its read of
         * data happened before we overwrite it. */
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            /* relaxed: the ticket only orders producers among themselves; the
             * cell's seq carries the data to the consumer. */
            if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                c->data = p;
                /* release: publishes data; pairs with the acquire in pop. */
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false; /* the cell one lap behind is still full */
        } else {
            pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
        }
    }
}

void *vx_mpmc_pop(VxMpmc *q)
{
    size_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
    for (;;) {
        VxMpmcCell *c = &q->cells[pos & q->mask];
        /* acquire: pairs with the producer's release; makes data visible. */
        size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                void *p = c->data;
                /* release: hands the cell to the producer one lap ahead;
                 * pairs with the acquire in push. */
                atomic_store_explicit(&c->seq, pos + q->mask + 1, memory_order_release);
                return p;
            }
        } else if (dif < 0) {
            return NULL; /* not yet published: empty (or a producer is mid-push) */
        } else {
            pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
        }
    }
}

/* Batches claim a range of tickets with one CAS. A range is claimed only
 * after every cell in it was seen free (push) or full (pop) for exactly that
 * ticket; cells cannot change state until their ticket is claimed, and the
 * CAS fails if any ticket in the range was claimed meanwhile, so the check
 * stays true until the claim. */
size_t vx_mpmc_push_batch(VxMpmc *q, void *const *items, size_t k)
{
    size_t pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
    for (;;) {
        size_t n = 0;
        for (; n < k && n <= q->mask; n++) {
            /* acquire: as in push, the previous lap's reads are done. */
            size_t seq = atomic_load_explicit(&q->cells[(pos + n) & q->mask].seq,
                                              memory_order_acquire);
            if (seq != pos + n) break;
        }
        if (n == 0) {
            size_t seq = atomic_load_explicit(&q->cells[pos & q->mask].seq, memory_order_acquire);
            if ((intptr_t)seq - (intptr_t)pos < 0) return 0; /* full */
            pos = atomic_load_explicit(&q->enq, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + n, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            for (size_t i = 0; i < n; i++) {
                VxMpmcCell *c = &q->cells[(pos + i) & q->mask];
                c->data = items[i];
                /* release: publishes data; pairs with the acquire in pop. */
                atomic_store_explicit(&c->seq, pos + i + 1, memory_order_release);
            }
            return n;
        }
    }
}

size_t vx_mpmc_pop_batch(VxMpmc *q, void **out, size_t k)
{
    size_t pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
    for (;;) {
        size_t n = 0;
        for (; n < k && n <= q->mask; n++) {
            size_t seq = atomic_load_explicit(&q->cells[(pos + n) & q->mask].seq,
                                              memory_order_acquire);
            if (seq != pos + n + 1) break;
        }
        if (n == 0) {
            size_t seq = atomic_load_explicit(&q->cells[pos & q->mask].seq, memory_order_acquire);
            if ((intptr_t)seq - (intptr_t)(pos + 1) < 0) return 0; /* empty */
            pos = atomic_load_explicit(&q->deq, memory_order_relaxed);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + n, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            for (size_t i = 0; i < n; i++) {
                VxMpmcCell *c = &q->cells[(pos + i) & q->mask];
                out[i] = c->data;
                /* release: hands the cell to the producer one lap ahead. */
                atomic_store_explicit(&c->seq, pos + i + q->mask + 1, memory_order_release);
            }
            return n;
        }
    }
}
