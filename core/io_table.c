/* core/io_table.c - the handle table: from a handle number to the record
 * the runtime keeps for it (io.h, VxIoRes).
 *
 * A three-level radix table (top -> mid -> leaf), grown under
 * rt->io.table_lock and read without locks: blocks and records live until
 * the runtime is destroyed, so a record found once (or reached through a
 * poller token) is always valid memory. No OS calls. */
#include "io_internal.h"

#define LEAF_BITS 12
#define MID_BITS 10
#define TOP_BITS 10
#define LEAF_N ((size_t)1 << LEAF_BITS)
#define MID_N ((size_t)1 << MID_BITS)
#define TOP_N ((size_t)1 << TOP_BITS)

_Static_assert(LEAF_BITS + MID_BITS + TOP_BITS == 32, "handle_in_range covers the table");

typedef _Atomic(VxIoRes *) Slot;
typedef _Atomic(Slot *) MidSlot;

int vx_res_table_init(Runtime *rt)
{
    vx_lock_init(&rt->io.table_lock);
    rt->io.table = (_Atomic(VxIoRes **) *)vx_mem_alloc(&rt->sys, sizeof(MidSlot) * TOP_N,
                                                       _Alignof(MidSlot));
    if (!rt->io.table) return VEX_ENOMEM;
    for (size_t i = 0; i < TOP_N; i++) atomic_init(&((MidSlot *)rt->io.table)[i], NULL);
    return vx_slab_init(&rt->io.records, &rt->sys.a, 128, 0, rt->nworkers + 1);
}

VX_INLINE MidSlot *top_slot(Runtime *rt, uint64_t v)
{
    return &((MidSlot *)rt->io.table)[v >> (LEAF_BITS + MID_BITS)];
}

VxIoRes *vx_res_lookup(Runtime *rt, IoHandle h)
{
    if (!handle_in_range(h)) return NULL;
    uint64_t v = (uint64_t)h;
    Slot **mid = (Slot **)atomic_load_explicit(top_slot(rt, v), memory_order_acquire);
    if (!mid) return NULL;
    Slot *leaf = atomic_load_explicit((MidSlot *)&mid[(v >> LEAF_BITS) & (MID_N - 1)],
                                      memory_order_acquire);
    if (!leaf) return NULL;
    return atomic_load_explicit(&leaf[v & (LEAF_N - 1)], memory_order_acquire);
}

static VxIoRes *res_create_locked(Runtime *rt, IoHandle h)
{
    uint64_t v = (uint64_t)h;
    Slot **mid = (Slot **)atomic_load_explicit(top_slot(rt, v), memory_order_relaxed);
    if (!mid) {
        mid = (Slot **)vx_mem_alloc(&rt->sys, sizeof(MidSlot) * MID_N, _Alignof(MidSlot));
        if (!mid) return NULL;
        for (size_t i = 0; i < MID_N; i++) atomic_init((MidSlot *)&mid[i], NULL);
        /* release: the initialised block is visible before its address. */
        atomic_store_explicit(top_slot(rt, v), (Slot *)mid, memory_order_release);
    }
    MidSlot *ms = (MidSlot *)&mid[(v >> LEAF_BITS) & (MID_N - 1)];
    Slot *leaf = atomic_load_explicit(ms, memory_order_relaxed);
    if (!leaf) {
        leaf = (Slot *)vx_mem_alloc(&rt->sys, sizeof(Slot) * LEAF_N, _Alignof(Slot));
        if (!leaf) return NULL;
        for (size_t i = 0; i < LEAF_N; i++) atomic_init(&leaf[i], NULL);
        atomic_store_explicit(ms, leaf, memory_order_release);
    }
    VxIoRes *r = atomic_load_explicit(&leaf[v & (LEAF_N - 1)], memory_order_relaxed);
    if (r) return r;
    r = (VxIoRes *)vx_slab_alloc(&rt->io.records, VX_FOREIGN_HEAP(rt)); /* the shared heap: under the table lock */
    if (!r) return NULL;
    vx_zero(r, sizeof *r);
    vx_lock_init(&r->lock);
    atomic_init(&r->flags, 0);
    atomic_init(&r->rstate, 0);
    atomic_init(&r->remote_cancels, 0);
    atomic_init(&r->closer, NULL);
    r->handle = h;
    atomic_store_explicit(&leaf[v & (LEAF_N - 1)], r, memory_order_release);
    return r;
}

VxIoRes *vx_res_get(Runtime *rt, IoHandle h)
{
    VxIoRes *r = vx_res_lookup(rt, h);
    if (r || !handle_in_range(h)) return r;
    vx_lock(&rt->io.table_lock, &rt->sys);
    r = res_create_locked(rt, h);
    vx_unlock(&rt->io.table_lock, &rt->sys);
    return r;
}

void vx_res_table_free(Runtime *rt)
{
    if (!rt->io.table) return;
    for (size_t i = 0; i < TOP_N; i++) {
        Slot **mid = (Slot **)atomic_load_explicit(&((MidSlot *)rt->io.table)[i], memory_order_relaxed);
        if (!mid) continue;
        for (size_t j = 0; j < MID_N; j++) {
            Slot *leaf = atomic_load_explicit((MidSlot *)&mid[j], memory_order_relaxed);
            if (leaf) vx_mem_free(&rt->sys, leaf, sizeof(Slot) * LEAF_N, _Alignof(Slot));
        }
        vx_mem_free(&rt->sys, mid, sizeof(MidSlot) * MID_N, _Alignof(MidSlot));
    }
    vx_mem_free(&rt->sys, (void *)rt->io.table, sizeof(MidSlot) * TOP_N, _Alignof(MidSlot));
    rt->io.table = NULL;
    vx_slab_destroy(&rt->io.records);
}
