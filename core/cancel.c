/* core/cancel.c - cancellation: a task's own token (its state word) and
 * tokens the caller creates (see vexrt/cancel.h).
 *
 * Cancelling a task: set CANCELLED in its state word, then wake it with the
 * generation seen by that RMW (core/task.h): a parked task is made runnable
 * (its pending timer and notify registration become stale and are released
 * when it resumes), a queued or running one gets NOTIFIED so its next park is
 * skipped. Exactly one wake per token: a second request finds the flag set.
 *
 * Created tokens ("sources") form a tree. Each has a lock guarding its list
 * of children and of linked tasks. Locks are always taken parent before
 * child. Cancelling sets the flag first and then walks the lists under the
 * lock, and linking checks the flag under the parent's lock, so a child or
 * task linked at any moment is either walked or starts cancelled.
 *
 * A task spawned with a source runs through a trampoline whose data is its
 * link record; when the task returns DONE the trampoline unlinks it (under
 * the source's lock) before the runner retires the task, so a source never
 * reaches a finished task. References: the creator holds one, each linked
 * task and each child one; the last release unlinks the source from its
 * parent and frees it. The runtime keeps the live links of its tasks so that
 * runtime_destroy can release the ones of tasks that never finished. */
#include "rt.h"
#include "vexrt/cancel.h"

typedef struct VxSource VxSource;

typedef struct VxLink {
    coro_resume_func fn;     /* the task's own resume function and data */
    void *data;
    VxSource *src;
    VxTask *task;
    struct VxLink *prev, *next;       /* the source's task list, under src->lock */
    struct VxLink *rt_prev, *rt_next; /* the runtime's list, under rt->objects.lock */
} VxLink;

struct VxSource {
    CancelToken tok;            /* SOURCE | CANCELLED; must stay first */
    VxSys sys;                  /* a copy: the source may outlive the runtime */
    _Atomic uint32_t refs;
    VxLock lock;                /* children and tasks lists */
    VxSource *parent;           /* holds a reference on it */
    VxSource *children;
    VxSource *sib_prev, *sib_next; /* in parent->children, under parent->lock */
    VxLink *tasks;
};

VX_INLINE bool is_source(const CancelToken *t)
{
    return (atomic_load_explicit(&t->state, memory_order_relaxed) & VX_TS_SOURCE) != 0;
}

/* --- A task's own token --- */

/* The runtime a task belongs to: the one whose pool its memory came from. */
VX_INLINE Runtime *task_runtime(VxTask *t)
{
    return VX_CONTAINER_OF(vx_slab_pool_of(t), Runtime, pools.tasks);
}

static void cancel_task(VxTask *t)
{
    uint64_t s = atomic_fetch_or_explicit(&t->tok.state, VX_TS_CANCELLED, memory_order_acq_rel);
    if (s & VX_TS_CANCELLED) return; /* already requested: one wake per token */
    Runtime *rt = task_runtime(t);
    atomic_fetch_add_explicit(&rt->foreign.cancels, 1, memory_order_relaxed);
    /* Wake with the generation we saw: a parked task is made runnable, a
     * queued or running one gets NOTIFIED. If the gen moved meanwhile,
     * another wake got there first: nothing to do. We do not know the calling
     * thread, so the task goes through the global queue (full wake protocol). */
    if (vx_task_wake(t, vx_ts_gen(s), VX_WAKE_CANCELLED)) vx_sched_push(rt, NULL, t, VX_PUSH_BACK);
}

CancelToken *worker_cancel_token(WorkerContext *ctx)
{
    if (!ctx || !ctx->task) return NULL;
    return &ctx->task->tok;
}

bool cancel_requested(const CancelToken *t)
{
    if (!t) return false;
    /* acquire: a task that sees the flag also sees what the canceller wrote before. */
    return (atomic_load_explicit(&t->state, memory_order_acquire) & VX_TS_CANCELLED) != 0;
}

/* --- Created tokens --- */

static void source_cancel(VxSource *s)
{
    uint64_t old = atomic_fetch_or_explicit(&s->tok.state, VX_TS_CANCELLED, memory_order_acq_rel);
    if (old & VX_TS_CANCELLED) return;
    vx_lock(&s->lock, &s->sys);
    for (VxLink *l = s->tasks; l; l = l->next) cancel_task(l->task);
    for (VxSource *c = s->children; c; c = c->sib_next) source_cancel(c); /* parent, then child lock */
    vx_unlock(&s->lock, &s->sys);
}

int cancel_request(CancelToken *tok)
{
    if (!tok) return VEX_EINVAL;
    if (is_source(tok))
        source_cancel((VxSource *)(void *)tok);
    else
        cancel_task((VxTask *)(void *)tok);
    return 0;
}

static void source_unref(VxSource *s)
{
    while (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        VxSource *p = s->parent;
        if (p) {
            vx_lock(&p->lock, &p->sys);
            if (s->sib_prev)
                s->sib_prev->sib_next = s->sib_next;
            else
                p->children = s->sib_next;
            if (s->sib_next) s->sib_next->sib_prev = s->sib_prev;
            vx_unlock(&p->lock, &p->sys);
        }
        VexAllocator a = s->sys.a;
        a.free(a.ctx, s, sizeof *s, _Alignof(VxSource));
        s = p; /* the child's reference on its parent */
    }
}

CancelToken *cancel_token_create(Runtime *rt, CancelToken *parent)
{
    if (!rt) return NULL;
    if (parent && !is_source(parent)) return NULL;
    VxSource *s = (VxSource *)vx_mem_alloc(&rt->sys, sizeof *s, _Alignof(VxSource));
    if (!s) return NULL;
    vx_zero(s, sizeof *s);
    s->sys = rt->sys;
    atomic_init(&s->tok.state, VX_TS_SOURCE);
    atomic_init(&s->refs, 1);
    vx_lock_init(&s->lock);
    VxSource *p = (VxSource *)(void *)parent;
    if (p) {
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
        s->parent = p;
        vx_lock(&p->lock, &p->sys);
        /* Under the parent's lock: a cancel either walks us or set the flag
         * before we look. */
        if (atomic_load_explicit(&p->tok.state, memory_order_acquire) & VX_TS_CANCELLED)
            atomic_fetch_or_explicit(&s->tok.state, VX_TS_CANCELLED, memory_order_relaxed);
        s->sib_next = p->children;
        if (p->children) p->children->sib_prev = s;
        p->children = s;
        vx_unlock(&p->lock, &p->sys);
    }
    return &s->tok;
}

int cancel_token_destroy(CancelToken *t)
{
    if (!t || !is_source(t)) return VEX_EINVAL;
    source_unref((VxSource *)(void *)t);
    return 0;
}

/* --- Tasks linked to a created token --- */

static void link_remove(Runtime *rt, VxLink *l)
{
    VxSource *s = l->src;
    vx_lock(&s->lock, &s->sys);
    if (l->prev)
        l->prev->next = l->next;
    else
        s->tasks = l->next;
    if (l->next) l->next->prev = l->prev;
    vx_unlock(&s->lock, &s->sys);
    vx_lock(&rt->objects.lock, &rt->sys);
    if (l->rt_prev)
        l->rt_prev->rt_next = l->rt_next;
    else
        rt->objects.links = l->rt_next;
    if (l->rt_next) l->rt_next->rt_prev = l->rt_prev;
    vx_unlock(&rt->objects.lock, &rt->sys);
    vx_mem_free(&rt->sys, l, sizeof *l, _Alignof(VxLink));
    source_unref(s);
}

static CoroStatus linked_task(WorkerContext *ctx, void *data)
{
    VxLink *l = (VxLink *)data;
    CoroStatus st = l->fn(ctx, l->data);
    /* Finished (any value but RUNNING/YIELDED is DONE): unlink before the
     * runner retires the task, so the source never reaches it again. */
    if (st != CORO_STATUS_RUNNING && st != CORO_STATUS_YIELDED) link_remove(ctx->rt, l);
    return st;
}

static int spawn_linked(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data,
                        CancelToken *token)
{
    if (!token) return vx_sched_spawn(rt, w, fn, data);
    if (!fn || !is_source(token)) return VEX_EINVAL;
    VxSource *s = (VxSource *)(void *)token;
    VxLink *l = (VxLink *)vx_mem_alloc(&rt->sys, sizeof *l, _Alignof(VxLink));
    if (!l) return VEX_ENOMEM;
    vx_zero(l, sizeof *l);
    l->fn = fn;
    l->data = data;
    l->src = s;
    int err = 0;
    VxTask *t = vx_sched_task_new(rt, w, linked_task, l, &err);
    if (!t) {
        vx_mem_free(&rt->sys, l, sizeof *l, _Alignof(VxLink));
        return err;
    }
    l->task = t;
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    vx_lock(&rt->objects.lock, &rt->sys);
    l->rt_next = rt->objects.links;
    if (rt->objects.links) rt->objects.links->rt_prev = l;
    rt->objects.links = l;
    vx_unlock(&rt->objects.lock, &rt->sys);
    vx_lock(&s->lock, &s->sys);
    /* The task is not visible to anyone yet: setting the flags directly is
     * safe. A task born cancelled is also NOTIFIED, as if cancel_request had
     * reached it while queued: its first resume says VEX_WAKE_CANCELLED, and
     * an await it registers anyway does not park it (it would sleep through
     * the cancellation otherwise, nobody being left to wake it). */
    if (atomic_load_explicit(&s->tok.state, memory_order_acquire) & VX_TS_CANCELLED)
        atomic_fetch_or_explicit(&t->tok.state,
                                 VX_TS_CANCELLED | VX_TS_NOTIFIED |
                                     ((uint64_t)VX_WAKE_CANCELLED << VX_TS_REASON_SHIFT),
                                 memory_order_relaxed);
    l->next = s->tasks;
    if (s->tasks) s->tasks->prev = l;
    s->tasks = l;
    vx_unlock(&s->lock, &s->sys);
    vx_sched_task_start(rt, w, t);
    return 0;
}

int runtime_spawn_with_token(Runtime *rt, coro_resume_func fn, void *data, CancelToken *token)
{
    if (!rt) return VEX_EINVAL;
    return spawn_linked(rt, NULL, fn, data, token);
}

int worker_spawn_local_with_token(WorkerContext *ctx, coro_resume_func fn, void *data,
                                  CancelToken *token)
{
    if (!ctx || !ctx->task) return VEX_EINVAL;
    return spawn_linked(ctx->rt, ctx->w, fn, data, token);
}

CancelToken *worker_spawn_token(WorkerContext *ctx)
{
    if (!ctx || !ctx->task || ctx->task->fn != linked_task) return NULL;
    return &((VxLink *)ctx->task->data)->src->tok;
}

void vx_cancel_release_links(Runtime *rt)
{
    /* The runtime is going away with tasks that never finished: give their
     * references back, so the tokens can be destroyed (or are freed). */
    for (;;) {
        vx_lock(&rt->objects.lock, &rt->sys);
        VxLink *l = rt->objects.links;
        vx_unlock(&rt->objects.lock, &rt->sys);
        if (!l) return;
        link_remove(rt, l);
    }
}
