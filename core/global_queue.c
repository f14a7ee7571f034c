/* core/global_queue.c - the global run queue (global_queue.h): entries go
 * to the bounded MPMC; when it is full, to the spill list (a linked list
 * under a lock), and while the spill list is non-empty every producer
 * appends there, so FIFO order holds per producer. Consumers take from the
 * MPMC first: everything in it is older than the spill list. A worker takes
 * a fair share at a time, never more than its ring holds. No OS calls. */
#include "rt.h"

int vx_gq_init(VxGlobalQueue *g, const VxSys *sys, size_t capacity)
{
    g->capacity = capacity;
    g->cells = (VxMpmcCell *)vx_mem_alloc(sys, vx_mpmc_cells_size(capacity), _Alignof(VxMpmcCell));
    if (!g->cells) return VEX_ENOMEM;
    vx_mpmc_init(&g->mpmc, g->cells, capacity);
    vx_lock_init(&g->spill_lock);
    g->spill_head = g->spill_tail = NULL;
    atomic_init(&g->spill_len, 0);
    return 0;
}

void vx_gq_fini(VxGlobalQueue *g, const VxSys *sys)
{
    vx_mem_free(sys, g->cells, vx_mpmc_cells_size(g->capacity), _Alignof(VxMpmcCell));
    g->cells = NULL;
}

size_t vx_gq_len_hint(Runtime *rt)
{
    return vx_mpmc_len_hint(&rt->gq.mpmc) +
           atomic_load_explicit(&rt->gq.spill_len, memory_order_relaxed);
}

VX_INLINE void **entry_link(void *e)
{
    return vx_gq_is_batch(e) ? &vx_gq_batch_of(e)->next : (void **)&((VxTask *)e)->next;
}

/* Publishes one entry of n tasks (no wake-up). Any thread. */
void vx_gq_publish(Runtime *rt, void *e, size_t n)
{
    if (atomic_load_explicit(&rt->gq.spill_len, memory_order_relaxed) == 0 && vx_mpmc_push(&rt->gq.mpmc, e))
        return;
    *entry_link(e) = NULL;
    vx_lock(&rt->gq.spill_lock, &rt->sys);
    if (rt->gq.spill_tail)
        *entry_link(rt->gq.spill_tail) = e;
    else
        rt->gq.spill_head = e;
    rt->gq.spill_tail = e;
    atomic_fetch_add_explicit(&rt->gq.spill_len, n, memory_order_seq_cst);
    vx_unlock(&rt->gq.spill_lock, &rt->sys);
}


/* Takes the oldest global entry, or NULL if the queue looked empty. */
void *vx_gq_take(Runtime *rt)
{
    void *e = vx_mpmc_pop(&rt->gq.mpmc);
    if (e || atomic_load_explicit(&rt->gq.spill_len, memory_order_acquire) == 0) return e;
    vx_lock(&rt->gq.spill_lock, &rt->sys);
    e = rt->gq.spill_head;
    if (e) {
        rt->gq.spill_head = *entry_link(e);
        if (!rt->gq.spill_head) rt->gq.spill_tail = NULL;
        /* Once the spill list is empty producers return to the MPMC;
         * everything still in the MPMC is older than what they add. */
        atomic_fetch_sub_explicit(&rt->gq.spill_len, vx_gq_is_batch(e) ? vx_gq_batch_of(e)->count : 1,
                                  memory_order_relaxed);
    }
    vx_unlock(&rt->gq.spill_lock, &rt->sys);
    return e;
}

/* Returns the first task of entry e and queues the rest of a batch on w, as
 * many as fit in w's ring with `reserve` slots left free. The remainder goes
 * back to the global queue in the same batch (behind newer entries: a small
 * loss of order). Pushing it into a full ring instead would overflow half
 * the ring straight back out, and a busy worker taking an entry every
 * VX_GLOBAL_INTERVAL ticks for fairness then traded hundreds of tasks with the
 * global queue each time (ping_pong ran at half speed). *count gets the
 * number of tasks taken. */
VxTask *vx_gq_expand(VxWorker *w, void *e, uint32_t reserve, size_t *count)
{
    if (!vx_gq_is_batch(e)) {
        *count = 1;
        return (VxTask *)e;
    }
    VxBatch *b = vx_gq_batch_of(e);
    uint32_t n = b->count;
    uint32_t used = vx_lq_len(&w->remote.q) + reserve, cap = vx_lq_capacity(&w->remote.q);
    uint32_t room = used < cap ? cap - used : 0;
    uint32_t take = n - 1 <= room ? n : room + 1;
    for (uint32_t i = 1; i < take; i++) {
        VxTask *t = b->tasks[i];
        VX_PREFETCH_W(t); /* addresses from an array: the misses overlap */
        if (!vx_lq_push_owner(&w->remote.q, t)) vx_rq_push_back(w, t);
    }
    VxTask *first = b->tasks[0];
    *count = take;
    if (take == n) {
        vx_slab_free(&w->rt->pools.batches, w->id, b);
        return first;
    }
    for (uint32_t i = take; i < n; i++) b->tasks[i - take] = b->tasks[i];
    b->count = n - take;
    vx_gq_publish(w->rt, e, n - take);
    return first;
}

/* Takes work from the global queue into w: about a fair share, len /
 * nworkers + 1 tasks, at most half a ring (Tokio), and never more than the
 * ring holds. Returns one to run. */
VxTask *vx_gq_pull(VxWorker *w)
{
    Runtime *rt = w->rt;
    size_t len = vx_mpmc_len_hint(&rt->gq.mpmc) +
                 atomic_load_explicit(&rt->gq.spill_len, memory_order_relaxed);
    if (len == 0) return NULL;
    size_t want = len / rt->nworkers + 1;
    if (want > VX_LQ_MAX / 2) want = VX_LQ_MAX / 2;
    VxTask *first = NULL;
    size_t got = 0;
    while (got < want) {
        /* A later entry's first task needs a slot of its own. */
        if (first && vx_lq_len(&w->remote.q) >= vx_lq_capacity(&w->remote.q)) break;
        void *e = vx_gq_take(rt);
        if (!e) break;
        size_t n;
        VxTask *t = vx_gq_expand(w, e, first ? 1 : 0, &n);
        if (first) {
            if (!vx_lq_push_owner(&w->remote.q, t)) vx_rq_push_back(w, t);
        } else {
            first = t;
        }
        got += n;
    }
    return first;
}
