/* core/pool.c - the blocking pool (pool.h): up to VX_POOL_MAX platform
 * threads, started when a job finds no idle one and kept until the runtime
 * is destroyed. A job is a VexIoOp queued through its OP_NEXT word: an op
 * the platform performs blocking, or a function job. The pool runs a job and
 * hands it back to the I/O layer (vx_io_op_finished); it knows nothing of
 * tasks or of an op's states. */
#include "io_internal.h"

struct VxFnJob {
    VexIoOp op; /* first: the job is queued and completed as an op (VX_OP_FN_JOB) */
    void (*fn)(void *);
    void *arg;
    struct VxFnJob *prev, *next; /* rt->pool.fnjobs, so destroy frees jobs never released */
};
typedef struct VxFnJob VxFnJob;

void vx_pool_init(Runtime *rt)
{
    VxPool *p = &rt->pool;
    vx_lock_init(&p->lock);
    p->head = p->tail = NULL;
    p->threads = p->idle = 0;
    p->stop = false;
    atomic_init(&p->signal, 0);
    p->thread_mem = NULL;
    p->fnjobs = NULL;
    atomic_init(&p->jobs_run, 0);
}

VexIoOp *vx_pool_fn_job(Runtime *rt, void (*fn)(void *), void *arg)
{
    VxFnJob *j = (VxFnJob *)vx_mem_alloc(&rt->sys, sizeof *j, _Alignof(VxFnJob));
    if (!j) return NULL;
    vx_zero(j, sizeof *j);
    j->op.opcode = VX_OP_FN_JOB;
    j->fn = fn;
    j->arg = arg;
    vx_lock(&rt->pool.lock, &rt->sys);
    j->next = rt->pool.fnjobs;
    if (j->next) j->next->prev = j;
    rt->pool.fnjobs = j;
    vx_unlock(&rt->pool.lock, &rt->sys);
    return &j->op;
}

void vx_pool_fn_job_free(Runtime *rt, VexIoOp *job)
{
    VX_ASSERT(job->opcode == VX_OP_FN_JOB);
    VxFnJob *j = (VxFnJob *)(void *)job;
    vx_lock(&rt->pool.lock, &rt->sys);
    if (j->prev)
        j->prev->next = j->next;
    else
        rt->pool.fnjobs = j->next;
    if (j->next) j->next->prev = j->prev;
    vx_unlock(&rt->pool.lock, &rt->sys);
    vx_mem_free(&rt->sys, j, sizeof *j, _Alignof(VxFnJob));
}

/* Runs a job taken off the queue (the one copy of this code: pool threads
 * and the inline fallback both come here) and hands it back. A function
 * job is counted as it starts: one dropped from the queue never ran. */
static void run_job(Runtime *rt, VexIoOp *job)
{
    if (job->opcode == VX_OP_FN_JOB) {
        VxFnJob *j = (VxFnJob *)(void *)job;
        atomic_fetch_add_explicit(&rt->pool.jobs_run, 1, memory_order_relaxed);
        j->fn(j->arg);
        job->result = 0;
    } else {
        vx_plat_io_blocking(&rt->sys, job);
    }
    vx_io_op_finished(rt, job);
}

static void pool_thread(void *arg)
{
    Runtime *rt = (Runtime *)arg;
    VxPool *p = &rt->pool;
    vx_lock(&p->lock, &rt->sys);
    for (;;) {
        while (!p->head && !p->stop) {
            uint32_t sig = atomic_load_explicit(&p->signal, memory_order_acquire);
            p->idle++;
            vx_unlock(&p->lock, &rt->sys);
            /* acquire (above): a submitter bumps the signal after queueing
             * under the lock; a bump we missed makes the park return. */
            vx_plat_park(&rt->sys, &p->signal, sig, VEX_WAIT_FOREVER);
            vx_lock(&p->lock, &rt->sys);
            p->idle--;
        }
        if (p->stop) break;
        VexIoOp *job = p->head;
        p->head = (VexIoOp *)(uintptr_t)OP_NEXT(job);
        if (!p->head) p->tail = NULL;
        vx_unlock(&p->lock, &rt->sys);
        run_job(rt, job);
        vx_lock(&p->lock, &rt->sys);
    }
    vx_unlock(&p->lock, &rt->sys);
}

VX_INLINE size_t thread_bytes(Runtime *rt) { return rt->sys.p->thread_size ? rt->sys.p->thread_size : 1; }

void vx_pool_submit(Runtime *rt, VexIoOp *job)
{
    VxPool *p = &rt->pool;
    OP_NEXT(job) = 0;
    vx_lock(&p->lock, &rt->sys);
    if (p->tail)
        OP_NEXT(p->tail) = (uint64_t)(uintptr_t)job;
    else
        p->head = job;
    p->tail = job;
    if (p->idle == 0 && p->threads < VX_POOL_MAX && !p->stop) {
        if (!p->thread_mem)
            p->thread_mem = vx_mem_alloc(&rt->sys, thread_bytes(rt) * VX_POOL_MAX, 16);
        if (p->thread_mem &&
            vx_plat_thread_spawn(&rt->sys, (char *)p->thread_mem + thread_bytes(rt) * p->threads,
                                 pool_thread, rt) == 0)
            p->threads++;
    }
    bool no_thread = p->threads == 0 && !p->stop;
    vx_unlock(&p->lock, &rt->sys);
    if (no_thread && vx_pool_withdraw(rt, job)) {
        /* No thread could be started: run it here rather than never. */
        run_job(rt, job);
        return;
    }
    /* release: pairs with the idle thread's acquire of the signal. */
    atomic_fetch_add_explicit(&p->signal, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &p->signal, 1);
}

bool vx_pool_withdraw(Runtime *rt, VexIoOp *job)
{
    VxPool *p = &rt->pool;
    bool found = false;
    vx_lock(&p->lock, &rt->sys);
    VexIoOp *prev = NULL;
    for (VexIoOp *q = p->head; q; prev = q, q = (VexIoOp *)(uintptr_t)OP_NEXT(q)) {
        if (q != job) continue;
        VexIoOp *next = (VexIoOp *)(uintptr_t)OP_NEXT(q);
        if (prev)
            OP_NEXT(prev) = (uint64_t)(uintptr_t)next;
        else
            p->head = next;
        if (p->tail == q) p->tail = prev;
        found = true;
        break;
    }
    vx_unlock(&p->lock, &rt->sys);
    return found;
}

void vx_pool_stop(Runtime *rt)
{
    VxPool *p = &rt->pool;
    vx_lock(&p->lock, &rt->sys);
    p->stop = true;
    uint32_t n = p->threads;
    vx_unlock(&p->lock, &rt->sys);
    atomic_fetch_add_explicit(&p->signal, 1, memory_order_release);
    vx_plat_unpark(&rt->sys, &p->signal, UINT32_MAX);
    for (uint32_t i = 0; i < n; i++)
        vx_plat_thread_join(&rt->sys, (char *)p->thread_mem + thread_bytes(rt) * i);
    if (p->thread_mem) vx_mem_free(&rt->sys, p->thread_mem, thread_bytes(rt) * VX_POOL_MAX, 16);
    p->thread_mem = NULL;
    p->threads = 0;
    p->head = p->tail = NULL;
    /* Jobs whose tasks will never resume (the runtime stopped first). */
    while (p->fnjobs) {
        VxFnJob *j = p->fnjobs;
        p->fnjobs = j->next;
        vx_mem_free(&rt->sys, j, sizeof *j, _Alignof(VxFnJob));
    }
}
