/* core/notify.c - notifications: an event with one stored permit and at most
 * one waiting task (see vexrt/notify.h).
 *
 * n->state is 0 (empty), 1 (one permit) or the waiting task's address. The
 * waiter's runner publishes (wait_src = n, wait_gen = gen) in the task and
 * then registers with a CAS empty -> task; a signaller claims the waiter with
 * a CAS task -> empty and wakes it with vx_task_wake_src, which delivers only
 * if that task is still in the wait it registered. A claim that arrives after
 * the wait ended some other way (timer, cancel) is not delivered, and the
 * signaller stores the permit instead: no signal is lost, none is doubled.
 * The runner removes a registration left from the previous wait (CAS task ->
 * empty) before arming anything new. Lock-free; no OS calls. */
#include "rt.h"
#include "vexrt/notify.h"

#define NOTIFY_EMPTY ((uintptr_t)0)
#define NOTIFY_PERMIT ((uintptr_t)1)

struct VexNotify {
    _Atomic uintptr_t state;
    Runtime *rt;               /* NULL once the runtime was destroyed */
    VexAllocator a;            /* a copy: destroying n never needs the runtime */
    VexNotify *prev, *next;    /* the runtime's list, under rt->objects.lock */
};

VexNotify *vex_notify_create(Runtime *rt)
{
    if (!rt) return NULL;
    VexNotify *n = (VexNotify *)vx_mem_alloc(&rt->sys, sizeof *n, _Alignof(VexNotify));
    if (!n) return NULL;
    atomic_init(&n->state, NOTIFY_EMPTY);
    n->rt = rt;
    n->a = rt->sys.a;
    n->prev = NULL;
    vx_lock(&rt->objects.lock, &rt->sys);
    n->next = rt->objects.notifies;
    if (n->next) n->next->prev = n;
    rt->objects.notifies = n;
    vx_unlock(&rt->objects.lock, &rt->sys);
    return n;
}

void vx_notify_orphan_all(Runtime *rt)
{
    /* Tasks are gone with the runtime: their registrations are void. The
     * notifies stay valid objects for their owner to destroy. */
    vx_lock(&rt->objects.lock, &rt->sys);
    for (VexNotify *n = rt->objects.notifies; n; n = n->next) {
        atomic_store_explicit(&n->state, NOTIFY_EMPTY, memory_order_relaxed);
        n->rt = NULL;
    }
    rt->objects.notifies = NULL;
    vx_unlock(&rt->objects.lock, &rt->sys);
}

int vex_notify_destroy(VexNotify *n)
{
    if (!n) return 0;
    Runtime *rt = n->rt;
    if (rt) {
        if (vx_notify_has_waiter(n)) return VEX_EBUSY;
        vx_lock(&rt->objects.lock, &rt->sys);
        if (n->prev)
            n->prev->next = n->next;
        else
            rt->objects.notifies = n->next;
        if (n->next) n->next->prev = n->prev;
        vx_unlock(&rt->objects.lock, &rt->sys);
    }
    VexAllocator a = n->a;
    a.free(a.ctx, n, sizeof *n, _Alignof(VexNotify));
    return 0;
}

bool vx_notify_has_waiter(VexNotify *n)
{
    if (!n->rt) return false; /* orphaned: its waiter went with the runtime */
    uintptr_t s = atomic_load_explicit(&n->state, memory_order_acquire);
    return s != NOTIFY_EMPTY && s != NOTIFY_PERMIT;
}

bool vex_notify_try_take(VexNotify *n)
{
    if (!n) return false;
    uintptr_t p = NOTIFY_PERMIT;
    return atomic_compare_exchange_strong_explicit(&n->state, &p, NOTIFY_EMPTY,
                                                   memory_order_acquire, memory_order_relaxed);
}

/* Delivers one signal; w is the calling worker, or NULL for any thread. */
static int signal_from(VexNotify *n, VxWorker *w)
{
    uintptr_t s = atomic_load_explicit(&n->state, memory_order_acquire);
    for (;;) {
        if (s == NOTIFY_PERMIT) return 0; /* permits do not accumulate */
        if (s == NOTIFY_EMPTY) {
            /* release: what the signaller wrote is visible to whoever takes
             * the permit (acquire there). */
            if (atomic_compare_exchange_weak_explicit(&n->state, &s, NOTIFY_PERMIT,
                                                      memory_order_release,
                                                      memory_order_acquire))
                return 0;
            continue;
        }
        VxTask *t = (VxTask *)s;
        if (!atomic_compare_exchange_weak_explicit(&n->state, &s, NOTIFY_EMPTY,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        int r = vx_task_wake_src(t, n, VX_WAKE_NOTIFIED);
        if (r == VX_SRC_ENQUEUE) {
            if (w) {
                VX_STAT_INC(w, VX_ST_WAKEUPS);
                vx_sched_push(n->rt, w, t, VX_PUSH_LIFO); /* runs next here: a hand-off */
            } else {
                vx_sched_push(n->rt, NULL, t, VX_PUSH_BACK);
            }
            return 0;
        }
        if (r == VX_SRC_DELIVERED) return 0;
        /* The waiter's wait had ended: keep the signal as the permit. */
        s = atomic_load_explicit(&n->state, memory_order_acquire);
    }
}

int vex_notify_signal(VexNotify *n)
{
    if (!n) return VEX_EINVAL;
    if (!n->rt) return VEX_ESHUTDOWN;
    return signal_from(n, NULL);
}

int worker_notify_signal(WorkerContext *ctx, VexNotify *n)
{
    if (!n) return VEX_EINVAL;
    if (!n->rt) return VEX_ESHUTDOWN;
    /* The waiter belongs to n's runtime: a task of another runtime signals
     * it as any thread would, so it is queued on its own runtime. */
    if (!ctx || !ctx->task || ctx->rt != n->rt) return signal_from(n, NULL);
    return signal_from(n, ctx->w);
}

int worker_await_notify(WorkerContext *ctx, VexNotify *n)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!n || n->rt != ctx->rt) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    vx_io_drop_pending(ctx);
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_NOTIFY;
    ctx->await_src = n;
    return 0;
}

unsigned vx_notify_arm(VxWorker *w, VxTask *t, uint64_t gen)
{
    VexNotify *n = (VexNotify *)w->own.ctx.await_src;
    atomic_store_explicit(&t->wait_src, n, memory_order_relaxed);
    /* release: with the registration CAS below, a signaller that claims us
     * sees this wait's src and gen. */
    atomic_store_explicit(&t->wait_gen, (uint32_t)gen, memory_order_release);
    t->wait_kind = VX_WAIT_NOTIFY;
    uintptr_t s = atomic_load_explicit(&n->state, memory_order_acquire);
    for (;;) {
        if (s == NOTIFY_PERMIT) {
            if (atomic_compare_exchange_weak_explicit(&n->state, &s, NOTIFY_EMPTY,
                                                      memory_order_acquire,
                                                      memory_order_acquire))
                return VX_WAKE_NOTIFIED; /* consumed: resume at once */
        } else if (s == NOTIFY_EMPTY) {
            if (atomic_compare_exchange_weak_explicit(&n->state, &s, (uintptr_t)t,
                                                      memory_order_acq_rel,
                                                      memory_order_acquire))
                return VX_WAKE_NONE; /* registered: park */
        } else {
            return VX_WAKE_ERROR; /* another task already waits on n */
        }
    }
}

void vx_notify_release(VxTask *t, bool claimed)
{
    VexNotify *n = (VexNotify *)atomic_load_explicit(&t->wait_src, memory_order_relaxed);
    /* Woken by the notify itself: the signaller already took our
     * registration out of n (that is how it woke us), so there is nothing to
     * remove. Otherwise remove it; the CAS fails if a signaller claimed it
     * meanwhile, and its wake then finds the wait over and keeps the permit. */
    if (!claimed) {
        uintptr_t me = (uintptr_t)t;
        atomic_compare_exchange_strong_explicit(&n->state, &me, NOTIFY_EMPTY, memory_order_acq_rel,
                                                memory_order_relaxed);
    }
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
}
