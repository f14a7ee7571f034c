/* core/io_api.c - the public I/O entry points of runtime.h and vexrt/io.h:
 * the awaits a resume registers (readiness, operations, blocking jobs),
 * forgetting a handle, signals, and the backend's name. They check their
 * arguments and record the await in the WorkerContext; the scheduler arms
 * it after the resume (io_ready.c, io_op.c). */
#include "io_internal.h"

int worker_await_ioh(WorkerContext *ctx, IoHandle h, EventType type)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!(type & (EVENT_TYPE_READABLE | EVENT_TYPE_WRITABLE))) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    if (!ctx->rt->io.poller) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_ENOSYS);
    if (!handle_in_range(h)) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EBADF);
    vx_io_drop_pending(ctx);
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_IO;
    ctx->await_io = h;
    ctx->await_events = (uint8_t)(type & (EVENT_TYPE_READABLE | EVENT_TYPE_WRITABLE));
    return 0;
}

int worker_await_io(WorkerContext *ctx, int fd, EventType type)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (fd < 0) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EBADF);
    return worker_await_ioh(ctx, (IoHandle)fd, type);
}

int worker_await_op(WorkerContext *ctx, VexIoOp *op)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!op) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    /* A bad op is taken anyway, and completes at once with its error in
     * op->result (vx_io_op_start), so that the wait never hangs. */
    vx_io_drop_pending(ctx);
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_OP;
    ctx->await_src = op;
    return vx_op_invalid(op);
}

int worker_await_blocking(WorkerContext *ctx, void (*fn)(void *arg), void *arg)
{
    if (!vx_ctx_live(ctx)) return VEX_EINVAL;
    if (!fn) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_EINVAL);
    VexIoOp *job = vx_pool_fn_job(ctx->rt, fn, arg);
    if (!job) return vx_ctx_await_failed(ctx, VX_AWAIT_FAIL_SOURCE, VEX_ENOMEM);
    vx_io_drop_pending(ctx); /* a second await in one resume replaces the first */
    vx_ctx_await_armed(ctx, VX_AWAIT_FAIL_SOURCE);
    ctx->await_kind = VX_WAIT_JOB;
    ctx->await_src = job;
    return 0;
}

int vex_io_forget(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    VxIoRes *r = vx_res_lookup(rt, h);
    if (!r) return 0;
    VxWorker *w = vx_sched_current(rt);
    vx_res_forget(rt, w, r, NULL);
    /* Without thread identities a worker calling us would wait for its own
     * queue: then the cancellations go out at its next look at the poller. */
    if (w || vx_plat_thread_self(&rt->sys)) vx_res_wait_cancels(rt, w, r);
    return 0;
}

int vex_signal_open(Runtime *rt, int signo, IoHandle *out)
{
    if (!rt || !out) return VEX_EINVAL;
    return vx_plat_signal_open(&rt->sys, signo, out);
}

int vex_signal_consume(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    return vx_plat_signal_consume(&rt->sys, h);
}

int vex_signal_close(Runtime *rt, IoHandle h)
{
    if (!rt) return VEX_EINVAL;
    vex_io_forget(rt, h);
    return vx_plat_signal_close(&rt->sys, h);
}

const char *runtime_io_backend(Runtime *rt)
{
    if (!rt || !rt->io.poller) return "none";
    const char *n = rt->sys.p->name;
    return n ? n : "unknown";
}
