/* test_register_fail - a socket the poller cannot register (the kernel out
 * of memory for its watch) makes an operation on it fail with that error at
 * once, instead of handing it to the blocking pool, where a blocking socket
 * would hold a pool thread and no timeout could end the wait. EDGE pollers
 * only (epoll): they register handles; io_uring arms per request. */
#include <sys/socket.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/task.h"

TestSuite(register_fail, .timeout = 60);

static VexPlatform failing;

static int register_enomem(void *ctx, void *poller, void *local, IoHandle h, uint64_t token)
{
    (void)ctx, (void)poller, (void)local, (void)h, (void)token;
    return VEX_ENOMEM;
}

typedef struct {
    int fd;
    int resumes;
    VexIoOp op;
    char buf[16];
} Recv;

static CoroStatus recv_task(WorkerContext *ctx, void *data)
{
    Recv *r = data;
    if (r->resumes++ == 0) {
        r->op = (VexIoOp){.opcode = VEX_OP_RECV, .handle = (IoHandle)r->fd, .buf = r->buf,
                          .len = sizeof r->buf};
        worker_await_op(ctx, &r->op);
        return CORO_STATUS_YIELDED;
    }
    return CORO_STATUS_DONE;
}

Test(register_fail, op_on_unregistrable_socket_fails_with_the_error)
{
    const VexPlatform *epoll = vex_platform_with_backend("epoll");
    cr_assert_not_null(epoll);
    failing = *epoll;
    failing.poller_register = register_enomem;
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 1;
    cfg.platform = &failing;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    int sv[2];
    io_socketpair(sv); /* nothing is ever written: a pool thread would wait forever */
    Recv r = {.fd = sv[0]};
    CHECK_OK(runtime_spawn_global(rt, recv_task, &r));
    io_run(rt);
    CHECK_INT(r.resumes, 2);
    CHECK_INT(r.op.result, VEX_ENOMEM);
    CHECK_OK(runtime_destroy(rt));
    close(sv[0]);
    close(sv[1]);
}
