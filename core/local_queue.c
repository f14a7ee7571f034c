/* core/local_queue.c - owner push/pop and steal-half ring (see local_queue.h).
 * No OS calls. */
#include "local_queue.h"

void vx_lq_init(VxLocalQueue *q, uint32_t capacity)
{
    if (capacity < 2 || capacity > VX_LQ_MAX || (capacity & (capacity - 1)))
        capacity = VX_LQ_MAX;
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    q->mask = capacity - 1;
    for (uint32_t i = 0; i < VX_LQ_MAX; i++) atomic_init(&q->buf[i], NULL);
}

uint32_t vx_lq_take_half_owner(VxLocalQueue *q, void **out)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t n = (t - h) / 2;
    if (n != (q->mask + 1) / 2) return 0; /* no longer full: a thief took some */
    for (uint32_t i = 0; i < n; i++)
        out[i] = atomic_load_explicit(&q->buf[(h + i) & q->mask], memory_order_relaxed);
    /* acq_rel: claims the range against thieves (release: our reads are done
     * before a later push may reuse the slots). */
    if (!atomic_compare_exchange_strong_explicit(&q->head, &h, h + n, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    return n;
}

void *vx_lq_pop_owner(VxLocalQueue *q)
{
    uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (t == h) return NULL;
        void *p = atomic_load_explicit(&q->buf[h & q->mask], memory_order_relaxed);
        /* acq_rel: wins the slot against thieves; on failure h is reloaded. */
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, h + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return p;
    }
}

void *vx_lq_steal_into(VxLocalQueue *victim, VxLocalQueue *dst, uint32_t *count)
{
    uint32_t dt = atomic_load_explicit(&dst->tail, memory_order_relaxed); /* we own dst */
    uint32_t dh = atomic_load_explicit(&dst->head, memory_order_acquire);
    uint32_t half = (dst->mask + 1) / 2;
    *count = 0;
    if (dt - dh > half) return NULL; /* keep room: never steal into a busy queue */

    uint32_t n;
    for (;;) {
        /* acquire on both: head pairs with other claimers' release CAS, tail
         * with the owner's release store that published the slots. */
        uint32_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
        uint32_t t = atomic_load_explicit(&victim->tail, memory_order_acquire);
        n = t - h;
        n = n - n / 2;
        if (n == 0) return NULL;
        if (n > (victim->mask + 1) / 2) continue; /* torn h/t read: retry */
        if (n > half) n = half; /* dst is the smaller ring: take what fits (retrying hung) */
        for (uint32_t i = 0; i < n; i++) {
            void *p = atomic_load_explicit(&victim->buf[(h + i) & victim->mask],
                                           memory_order_relaxed);
            atomic_store_explicit(&dst->buf[(dt + i) & dst->mask], p, memory_order_relaxed);
        }
        if (atomic_compare_exchange_strong_explicit(&victim->head, &h, h + n,
                                                    memory_order_acq_rel,
                                                    memory_order_relaxed))
            break;
    }
    *count = n;
    void *first = atomic_load_explicit(&dst->buf[(dt + n - 1) & dst->mask], memory_order_relaxed);
    if (n > 1) /* release: publishes the copied slots to dst's own thieves */
        atomic_store_explicit(&dst->tail, dt + n - 1, memory_order_release);
    return first;
}
