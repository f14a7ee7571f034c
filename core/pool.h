/* core/pool.h - the blocking pool: a few platform threads that run work a
 * worker must not block on, behind three calls (libuv's threadpool.c).
 *
 * A job is a VexIoOp: an operation the platform performs blocking
 * (io_blocking: files on the readiness backends), or a function job made
 * by vx_pool_fn_job (worker_await_blocking). A pool thread runs it and
 * hands it to vx_io_op_finished (io_op.c), which wakes its task. */
#ifndef VX_POOL_H
#define VX_POOL_H

#include "lock.h"
#include "vexrt/io.h"

struct Runtime;
struct VxFnJob;

/* The opcode of a function job (no VexOpcode is 0). */
#define VX_OP_FN_JOB 0

typedef struct VxPool {
    VX_ALIGNED VxLock lock;       /* the queue, the counters, stop, fnjobs */
    struct VexIoOp *head, *tail;  /* queued jobs, linked through their OP_NEXT word */
    uint32_t threads, idle;       /* started; of those, waiting for a job */
    bool stop;
    _Atomic uint32_t signal;      /* bumped per job; idle threads park on it */
    void *thread_mem;             /* VX_POOL_MAX platform thread handles */
    struct VxFnJob *fnjobs;       /* function jobs not yet freed (freed at stop) */
    _Atomic uint64_t jobs_run;    /* function jobs whose fn was called */
} VxPool;

/* Sets up rt's pool (no thread yet). */
void vx_pool_init(struct Runtime *rt);
/* Queues job (state: the caller's); a thread is started on demand. If no
 * thread can be started at all, the job runs on the caller now, so it is
 * never lost. Any thread. */
void vx_pool_submit(struct Runtime *rt, struct VexIoOp *job);
/* Takes job back if no thread has started it; true if it did. */
bool vx_pool_withdraw(struct Runtime *rt, struct VexIoOp *job);
/* Stops and joins the threads; frees function jobs never released. After
 * the workers are joined. */
void vx_pool_stop(struct Runtime *rt);

/* A function job for fn(arg) (VX_OP_FN_JOB), or NULL without memory. */
struct VexIoOp *vx_pool_fn_job(struct Runtime *rt, void (*fn)(void *), void *arg);
/* Frees a function job that never started or has finished. */
void vx_pool_fn_job_free(struct Runtime *rt, struct VexIoOp *job);

#endif /* VX_POOL_H */
