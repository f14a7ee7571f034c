/* core/spawn.c - making tasks (from the task slab pool, with a live-task
 * credit) and finishing them, and the public spawn entry points. A task is
 * made in two halves, so that cancel.c can link a task to its token before
 * anyone can see it. No OS calls. */
#include "rt.h"

static VxTask *task_alloc(Runtime *rt, VxWorker *w)
{
    VxTask *t;
    if (w) {
        t = (VxTask *)vx_slab_alloc(&rt->pools.tasks, w->id);
    } else {
        vx_lock(&rt->pools.foreign_lock, &rt->sys);
        t = (VxTask *)vx_slab_alloc(&rt->pools.tasks, VX_FOREIGN_HEAP(rt));
        vx_unlock(&rt->pools.foreign_lock, &rt->sys);
    }
    return t;
}

VX_INLINE void task_free(Runtime *rt, VxWorker *w, VxTask *t)
{
    vx_slab_free(&rt->pools.tasks, w ? w->id : VX_SLAB_FOREIGN, t);
}

VxTask *vx_sched_task_new(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data, int *err)
{
    if (!fn) {
        *err = VEX_EINVAL;
        return NULL;
    }
    if (atomic_load_explicit(&rt->stopping, memory_order_relaxed)) {
        *err = VEX_ESHUTDOWN;
        return NULL;
    }
    VxTask *t = task_alloc(rt, w);
    if (!t) {
        *err = VEX_ENOMEM;
        return NULL;
    }
    if (!vx_live_take(rt, w)) {
        task_free(rt, w, t);
        *err = VEX_ESHUTDOWN;
        return NULL;
    }
    vx_task_reset_state(t);
    t->fn = fn;
    t->data = data;
    t->next = NULL;
    t->timer = NULL;
    atomic_store_explicit(&t->wait_src, NULL, memory_order_relaxed);
    atomic_store_explicit(&t->wait_gen, 0, memory_order_relaxed);
    t->wait_kind = VX_WAIT_NONE;
    t->io_events = 0;
    return t;
}

void vx_sched_task_start(Runtime *rt, VxWorker *w, VxTask *t)
{
    if (w) {
        VX_STAT_INC(w, VX_ST_SPAWNED);
        vx_sched_push(rt, w, t, VX_PUSH_BACK);
    } else {
        atomic_fetch_add_explicit(&rt->foreign.spawns, 1, memory_order_relaxed);
        vx_sched_push(rt, NULL, t, VX_PUSH_BACK);
    }
}

int vx_sched_spawn(Runtime *rt, VxWorker *w, coro_resume_func fn, void *data)
{
    int err = 0;
    VxTask *t = vx_sched_task_new(rt, w, fn, data, &err);
    if (!t) return err;
    vx_sched_task_start(rt, w, t);
    return 0;
}

void vx_sched_task_done(VxWorker *w, VxTask *t)
{
    Runtime *rt = w->rt;
    vx_task_retire(t);
    task_free(rt, w, t);
    VX_STAT_INC(w, VX_ST_DONE);
    vx_live_give(rt, w);
}

/* --- Public entry points --- */

int runtime_spawn_global(Runtime *rt, coro_resume_func fn, void *data)
{
    if (!rt) return VEX_EINVAL;
    return vx_sched_spawn(rt, NULL, fn, data);
}

int worker_spawn_local(WorkerContext *ctx, coro_resume_func fn, void *data)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    return vx_sched_spawn(ctx->rt, ctx->w, fn, data);
}
