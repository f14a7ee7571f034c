/* test_lockfree_queue - the global queue's bounded MPMC ring and the
 * per-worker steal-half ring, hammered by several threads at once: every item
 * must come out exactly once, and per producer in order. */
#include <pthread.h>
#include <stdlib.h>

#include "local_queue.h"
#include "mpmc.h"
#include "support/support.h"

TestSuite(lockfree_queue, .timeout = 120);

/* --- MPMC --- */

Test(lockfree_queue, mpmc_full_and_empty_edges)
{
    VxMpmcCell cells[4];
    VxMpmc q;
    vx_mpmc_init(&q, cells, 4);
    cr_assert_null(vx_mpmc_pop(&q));
    for (uintptr_t i = 1; i <= 4; i++) cr_assert(vx_mpmc_push(&q, (void *)i));
    cr_assert(!vx_mpmc_push(&q, (void *)5), "a full queue refuses");
    CHECK_EQ(vx_mpmc_len_hint(&q), 4);
    for (uintptr_t lap = 0; lap < 1000; lap++) { /* wrap around many times */
        CHECK_EQ((uintptr_t)vx_mpmc_pop(&q), lap + 1);
        cr_assert(vx_mpmc_push(&q, (void *)(lap + 5)));
    }
    for (uintptr_t i = 1001; i <= 1004; i++) CHECK_EQ((uintptr_t)vx_mpmc_pop(&q), i);
    cr_assert_null(vx_mpmc_pop(&q));
}

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 200000 };

typedef struct {
    VxMpmc q;
    _Atomic int go;
    _Atomic long consumed;
    _Atomic unsigned char *seen; /* one counter per item */
    int id;
} MpmcShared;

typedef struct {
    MpmcShared *sh;
    int id;
    long last[PRODUCERS]; /* per producer, the last sequence this consumer saw */
    bool order_ok;
} Worker;

static void *mpmc_producer(void *arg)
{
    Worker *w = arg;
    while (!atomic_load(&w->sh->go)) {}
    for (long i = 0; i < PER_PRODUCER; i++) {
        uintptr_t item = ((uintptr_t)w->id << 32 | (uintptr_t)i) + 1;
        while (!vx_mpmc_push(&w->sh->q, (void *)item)) sched_yield();
    }
    return NULL;
}

static void *mpmc_consumer(void *arg)
{
    Worker *w = arg;
    MpmcShared *sh = w->sh;
    for (int p = 0; p < PRODUCERS; p++) w->last[p] = -1;
    w->order_ok = true;
    while (!atomic_load(&sh->go)) {}
    while (atomic_load(&sh->consumed) < (long)PRODUCERS * PER_PRODUCER) {
        void *v = vx_mpmc_pop(&sh->q);
        if (!v) {
            sched_yield();
            continue;
        }
        uintptr_t item = (uintptr_t)v - 1;
        int p = (int)(item >> 32);
        long seq = (long)(item & 0xffffffffu);
        if (seq <= w->last[p]) w->order_ok = false;
        w->last[p] = seq;
        atomic_fetch_add(&sh->seen[(long)p * PER_PRODUCER + seq], 1);
        atomic_fetch_add(&sh->consumed, 1);
    }
    return NULL;
}

Test(lockfree_queue, mpmc_every_item_exactly_once)
{
    static VxMpmcCell cells[1024];
    MpmcShared sh = {0};
    vx_mpmc_init(&sh.q, cells, 1024);
    sh.seen = calloc((size_t)PRODUCERS * PER_PRODUCER, 1);
    Worker prod[PRODUCERS], cons[CONSUMERS];
    pthread_t th[PRODUCERS + CONSUMERS];
    for (int i = 0; i < PRODUCERS; i++) {
        prod[i] = (Worker){.sh = &sh, .id = i};
        pthread_create(&th[i], NULL, mpmc_producer, &prod[i]);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        cons[i] = (Worker){.sh = &sh, .id = i};
        pthread_create(&th[PRODUCERS + i], NULL, mpmc_consumer, &cons[i]);
    }
    atomic_store(&sh.go, 1);
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++) pthread_join(th[i], NULL);
    for (long i = 0; i < (long)PRODUCERS * PER_PRODUCER; i++)
        cr_assert(sh.seen[i] == 1, "item %ld seen %d times", i, sh.seen[i]);
    for (int i = 0; i < CONSUMERS; i++)
        cr_assert(cons[i].order_ok, "consumer %d saw a producer's items out of order", i);
    cr_assert_null(vx_mpmc_pop(&sh.q));
    free((void *)sh.seen);
}

/* --- Local queue: one owner, several thieves, overflow to a shared list --- */

enum { THIEVES = 3, OWNER_ITEMS = 400000 };

typedef struct {
    VxLocalQueue owner;
    VxLocalQueue thief_q[THIEVES];
    _Atomic int go, owner_done;
    _Atomic unsigned char *seen;
    _Atomic long taken;
    pthread_mutex_t ov_mu;
    long overflowed;
} LqShared;

static void take(LqShared *sh, void *v)
{
    uintptr_t i = (uintptr_t)v - 1;
    atomic_fetch_add(&sh->seen[i], 1);
    atomic_fetch_add(&sh->taken, 1);
}

static void *lq_owner(void *arg)
{
    LqShared *sh = arg;
    void *batch[VX_LQ_MAX / 2];
    unsigned rng = 12345;
    while (!atomic_load(&sh->go)) {}
    for (uintptr_t i = 0; i < OWNER_ITEMS; i++) {
        void *item = (void *)(i + 1);
        while (!vx_lq_push_owner(&sh->owner, item)) {
            uint32_t n = vx_lq_take_half_owner(&sh->owner, batch);
            if (n == 0) continue; /* a thief made room */
            /* The overflow path: the batch goes to "the global queue"; here
             * we consume it directly. */
            pthread_mutex_lock(&sh->ov_mu);
            sh->overflowed += n;
            pthread_mutex_unlock(&sh->ov_mu);
            for (uint32_t k = 0; k < n; k++) take(sh, batch[k]);
        }
        rng = rng * 1103515245u + 12345u;
        if ((rng >> 16) % 3 == 0) { /* the owner also pops now and then */
            void *v = vx_lq_pop_owner(&sh->owner);
            if (v) take(sh, v);
        }
    }
    void *v;
    while ((v = vx_lq_pop_owner(&sh->owner))) take(sh, v);
    atomic_store(&sh->owner_done, 1);
    return NULL;
}

typedef struct {
    LqShared *sh;
    int id;
} Thief;

static void *lq_thief(void *arg)
{
    Thief *t = arg;
    LqShared *sh = t->sh;
    VxLocalQueue *mine = &sh->thief_q[t->id];
    while (!atomic_load(&sh->go)) {}
    while (!atomic_load(&sh->owner_done) || vx_lq_len(&sh->owner)) {
        uint32_t n;
        void *first = vx_lq_steal_into(&sh->owner, mine, &n);
        if (!first) {
            sched_yield();
            continue;
        }
        take(sh, first);
        void *v;
        while ((v = vx_lq_pop_owner(mine))) take(sh, v);
    }
    return NULL;
}

Test(lockfree_queue, local_queue_owner_and_thieves_every_item_once)
{
    LqShared sh = {0};
    vx_lq_init(&sh.owner, VX_LQ_MAX);
    for (int i = 0; i < THIEVES; i++) vx_lq_init(&sh.thief_q[i], VX_LQ_MAX);
    pthread_mutex_init(&sh.ov_mu, NULL);
    sh.seen = calloc(OWNER_ITEMS, 1);
    pthread_t th[THIEVES + 1];
    Thief thieves[THIEVES];
    pthread_create(&th[0], NULL, lq_owner, &sh);
    for (int i = 0; i < THIEVES; i++) {
        thieves[i] = (Thief){&sh, i};
        pthread_create(&th[i + 1], NULL, lq_thief, &thieves[i]);
    }
    atomic_store(&sh.go, 1);
    for (int i = 0; i <= THIEVES; i++) pthread_join(th[i], NULL);
    CHECK_INT(atomic_load(&sh.taken), OWNER_ITEMS);
    for (long i = 0; i < OWNER_ITEMS; i++)
        cr_assert(sh.seen[i] == 1, "item %ld seen %d times", i, sh.seen[i]);
    free((void *)sh.seen);
}

Test(lockfree_queue, local_queue_small_capacity_wraps)
{
    VxLocalQueue q, dst;
    vx_lq_init(&q, 4);
    vx_lq_init(&dst, 4);
    void *batch[2];
    uintptr_t next_in = 1, next_out = 1;
    for (int round = 0; round < 10000; round++) {
        while (vx_lq_push_owner(&q, (void *)next_in)) next_in++;
        CHECK_EQ(vx_lq_len(&q), 4);
        CHECK_EQ(vx_lq_take_half_owner(&q, batch), 2); /* overflow takes the oldest half */
        CHECK_EQ((uintptr_t)batch[0], next_out);
        CHECK_EQ((uintptr_t)batch[1], next_out + 1);
        next_out += 2;
        uint32_t n;
        void *first = vx_lq_steal_into(&q, &dst, &n); /* steal half of the two left */
        CHECK_EQ(n, 1);
        CHECK_EQ((uintptr_t)first, next_out);
        next_out++;
        CHECK_EQ((uintptr_t)vx_lq_pop_owner(&q), next_out);
        next_out++;
        cr_assert_null(vx_lq_pop_owner(&q));
    }
}
