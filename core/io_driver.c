/* core/io_driver.c - the I/O layer's setup and the poller's use: creating
 * and releasing the poller state, who waits in the poller (each worker in
 * its own, or the one holding a shared poller's driver role), collecting
 * events and dispatching them to the readiness and operation code. */
#include "io_internal.h"

VX_INLINE size_t poller_bytes(const VexPlatform *p) { return p->poller_size ? p->poller_size : 1; }

VX_INLINE size_t local_stride(const VexPlatform *p) { return (p->poller_local_size + 63) & ~(size_t)63; }

static void poller_free(Runtime *rt)
{
    const VexPlatform *p = rt->sys.p;
    if (rt->io.plocal_mem)
        vx_mem_free(&rt->sys, rt->io.plocal_mem, local_stride(p) * rt->nworkers, 64);
    if (rt->io.poller) vx_mem_free(&rt->sys, rt->io.poller, poller_bytes(p), 64);
    rt->io.plocal_mem = NULL;
    rt->io.poller = NULL;
    for (uint32_t i = 0; i < rt->nworkers; i++) rt->workers[i].plocal = NULL;
}

int vx_io_init(Runtime *rt)
{
    rt->io.inited = true;
    atomic_init(&rt->io.driver, 0);
    atomic_init(&rt->io.poll_seq, 0);
    atomic_init(&rt->io.attach_error, 0);
    atomic_init(&rt->io.attached, 0);
    atomic_init(&rt->io.used, false);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        VxIoCancels *c = &rt->workers[i].remote.cancels;
        vx_lock_init(&c->lock);
        atomic_init(&c->pending, 0);
    }
    int rc = vx_res_table_init(rt);
    if (rc) return rc;
    if (!vx_plat_has_poller(&rt->sys)) return 0;
    const VexPlatform *p = rt->sys.p;
    rt->io.caps = p->poller_caps;
    rt->io.poller = vx_mem_alloc(&rt->sys, poller_bytes(p), 64);
    if (!rt->io.poller) return VEX_ENOMEM;
    vx_zero(rt->io.poller, poller_bytes(p));
    if (p->poller_local_size) {
        rt->io.plocal_mem = (char *)vx_mem_alloc(&rt->sys, local_stride(p) * rt->nworkers, 64);
        if (!rt->io.plocal_mem) {
            poller_free(rt);
            return VEX_ENOMEM;
        }
        vx_zero(rt->io.plocal_mem, local_stride(p) * rt->nworkers);
        for (uint32_t i = 0; i < rt->nworkers; i++)
            rt->workers[i].plocal = rt->io.plocal_mem + local_stride(p) * i;
    }
    rc = vx_plat_poller_open(&rt->sys, rt->io.poller, rt->nworkers);
    if (rc) poller_free(rt);
    return rc;
}

void vx_io_fini(Runtime *rt)
{
    if (!rt->io.inited) return; /* creation failed before the I/O layer was set up */
    for (uint32_t i = 0; i < rt->nworkers; i++)
        if (rt->workers[i].own.poller_attached) vx_io_detach(&rt->workers[i]);
    if (rt->io.poller) vx_plat_poller_close(&rt->sys, rt->io.poller);
    poller_free(rt);
    for (uint32_t i = 0; i < rt->nworkers; i++) {
        VxIoCancels *c = &rt->workers[i].remote.cancels;
        if (c->tokens) vx_mem_free(&rt->sys, c->tokens, sizeof(uint64_t) * c->cap, 8);
        c->tokens = NULL;
    }
    vx_res_table_free(rt);
}

int vx_io_attach(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (!rt->io.poller) return 0;
    return vx_plat_poller_attach(&rt->sys, rt->io.poller, w->plocal);
}

int vx_io_attach_host(VxWorker *w, IoHandle *handle)
{
    Runtime *rt = w->rt;
    if (!rt->io.poller) return VEX_ENOSYS;
    int rc = vx_plat_poller_attach_host(&rt->sys, rt->io.poller, w->plocal, handle);
    if (rc != VEX_ENOSYS) return rc;
    rc = vx_plat_poller_attach(&rt->sys, rt->io.poller, w->plocal);
    return rc ? rc : VEX_ENOSYS; /* attached, but with no handle to give the host */
}

void vx_io_detach(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (rt->io.poller) vx_plat_poller_detach(&rt->sys, rt->io.poller, w->plocal);
}

/* --- Events --- */

unsigned vx_io_dispatch(VxWorker *w, uint32_t n)
{
    unsigned woke = 0;
    VX_STAT_ADD(w, VX_ST_POLLER_EVENTS, n);
    for (uint32_t i = 0; i < n; i++) {
        VexPollerEvent *ev = &w->own.events[i];
        uint64_t tag = ev->token & TAG_MASK;
        if (tag == 0 && ev->kind == VEX_PEV_READY) {
            woke += vx_ready_report(w, token_res(ev->token), ev->result, token_dirs(ev->token),
                                    token_epoch(ev->token));
        } else if (tag == VEX_TOKEN_OP && ev->kind == VEX_PEV_DONE) {
            vx_op_complete_native(w, (VexIoOp *)(uintptr_t)(ev->token & ~(uint64_t)TAG_MASK),
                               ev->result);
            woke++;
        }
    }
    return woke;
}

bool vx_io_per_worker(Runtime *rt) { return rt->io.poller && (rt->io.caps & VEX_POLLER_PER_WORKER); }

uint32_t vx_io_poll_seq(Runtime *rt) { return atomic_load_explicit(&rt->io.poll_seq, memory_order_relaxed); }

bool vx_io_can_wait(VxWorker *w, bool *took_driver)
{
    Runtime *rt = w->rt;
    *took_driver = false;
    if (!rt->io.poller) return false;
    if (rt->io.caps & VEX_POLLER_PER_WORKER) return true;
    uint32_t z = 0;
    /* acquire: the previous driver's dispatch happened before. */
    if (atomic_compare_exchange_strong_explicit(&rt->io.driver, &z, 1, memory_order_acquire,
                                                memory_order_relaxed)) {
        *took_driver = true;
        return true;
    }
    return false;
}

void vx_io_release_driver(VxWorker *w)
{
    atomic_store_explicit(&w->rt->io.driver, 0, memory_order_release);
}

uint32_t vx_io_collect(VxWorker *w, uint64_t timeout_ns)
{
    Runtime *rt = w->rt;
    vx_io_drain_cancels(w);
    w->own.poll_own_seq = atomic_fetch_add_explicit(&rt->io.poll_seq, 1, memory_order_relaxed) + 1;
    uint32_t n = 0;
    vx_plat_poller_wait(&rt->sys, rt->io.poller, w->plocal, timeout_ns, w->own.events, VX_EVENTS_MAX, &n);
    return n;
}

unsigned vx_io_poll(VxWorker *w)
{
    bool drv;
    if (!vx_io_active(w->rt) || !vx_io_can_wait(w, &drv)) return 0;
    uint32_t n = vx_io_collect(w, 0);
    if (drv) vx_io_release_driver(w); /* another worker may poll while we dispatch */
    return n ? vx_io_dispatch(w, n) : 0;
}

void vx_io_wake(VxWorker *w)
{
    Runtime *rt = w->rt;
    if (!rt->io.poller) return;
    vx_plat_poller_wake(&rt->sys, rt->io.poller, w->plocal);
}

bool vx_io_active(Runtime *rt) { return atomic_load_explicit(&rt->io.used, memory_order_relaxed); }
