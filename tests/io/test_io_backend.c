/* test_io_backend - choosing the I/O backend: the default, the config field,
 * VEXRT_BACKEND, bad names, and the silent fallback to epoll when io_uring
 * is refused (here by a seccomp filter, as a container runtime or
 * kernel.io_uring_disabled would refuse it). */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "support/io_support.h"
#include "vexrt/platform.h"
#include "vexrt/task.h"

TestSuite(io_backend, .timeout = 30);

/* A round trip through the poller, to show a runtime's backend works. */
typedef struct {
    int fd, wfd, step;
    unsigned reason;
} Probe;

static CoroStatus probe_task(WorkerContext *ctx, void *data)
{
    Probe *p = data;
    if (p->step++ == 0) {
        cr_assert(write(p->wfd, "p", 1) == 1);
        worker_await_io(ctx, p->fd, EVENT_TYPE_READABLE);
        return CORO_STATUS_YIELDED;
    }
    p->reason = worker_wake_reason(ctx);
    return CORO_STATUS_DONE;
}

static void check_works(Runtime *rt)
{
    int pp[2];
    io_pipe(pp);
    Probe p = {.fd = pp[0], .wfd = pp[1]};
    CHECK_OK(runtime_spawn_global(rt, probe_task, &p));
    io_run(rt);
    CHECK_INT(p.reason, VEX_WAKE_READABLE);
    close(pp[0]);
    close(pp[1]);
}

Test(io_backend, default_prefers_io_uring)
{
    unsetenv("VEXRT_BACKEND");
    Runtime *rt = runtime_create(2);
    cr_assert_not_null(rt);
    const char *want = vex_platform_with_backend("io_uring") ? "io_uring" : "epoll";
    cr_assert_str_eq(runtime_io_backend(rt), want);
    check_works(rt);
    runtime_destroy(rt);
}

Test(io_backend, environment_selects)
{
    setenv("VEXRT_BACKEND", "epoll", 1);
    Runtime *rt = runtime_create(1);
    cr_assert_not_null(rt);
    cr_assert_str_eq(runtime_io_backend(rt), "epoll");
    check_works(rt);
    runtime_destroy(rt);
    /* An unknown name in the environment falls back like the default. */
    setenv("VEXRT_BACKEND", "no-such-backend", 1);
    rt = runtime_create(1);
    cr_assert_not_null(rt);
    cr_assert(strcmp(runtime_io_backend(rt), "none") != 0);
    runtime_destroy(rt);
    unsetenv("VEXRT_BACKEND");
}

Test(io_backend, config_names)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 1;
    cfg.io_backend = "no-such-backend";
    Runtime *rt = NULL;
    CHECK_INT(runtime_new(&cfg, &rt), VEX_EINVAL);
    cr_assert_null(rt);
    cfg.io_backend = "epoll";
    setenv("VEXRT_BACKEND", "io_uring", 1); /* the config wins over the environment */
    CHECK_OK(runtime_new(&cfg, &rt));
    cr_assert_str_eq(runtime_io_backend(rt), "epoll");
    runtime_destroy(rt);
    unsetenv("VEXRT_BACKEND");
    cr_assert_null(vex_platform_with_backend("no-such-backend"));
    cr_assert_null(vex_platform_with_backend(NULL));
    cr_assert_str_eq(runtime_io_backend(NULL), "none");
}

/* Makes io_uring_setup fail with EPERM in this process (what
 * kernel.io_uring_disabled=2 does), like a seccomp profile would. */
static void refuse_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    cr_assert(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    cr_assert(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0, "seccomp: %d", errno);
}

Test(io_backend, falls_back_to_epoll_when_io_uring_is_refused)
{
    unsetenv("VEXRT_BACKEND");
    refuse_io_uring();
    cr_assert(syscall(__NR_io_uring_setup, 1, NULL) < 0 && errno == EPERM);
    Runtime *rt = runtime_create(2); /* no error: epoll instead */
    cr_assert_not_null(rt);
    cr_assert_str_eq(runtime_io_backend(rt), "epoll");
    check_works(rt);
    runtime_destroy(rt);
    /* Asked for by name, io_uring is an error rather than a silent switch. */
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 1;
    cfg.io_backend = "io_uring";
    rt = NULL;
    cr_assert(runtime_new(&cfg, &rt) < 0);
    cr_assert_null(rt);
}

/* A platform without a poller: I/O awaits and ops fail cleanly. */
typedef struct {
    int step, rc_io;
    VexIoOp op;
    unsigned reason;
} NoPoll;

static CoroStatus nopoll_task(WorkerContext *ctx, void *data)
{
    NoPoll *n = data;
    if (n->step++) {
        n->reason = worker_wake_reason(ctx);
        return CORO_STATUS_DONE;
    }
    n->rc_io = worker_await_io(ctx, 0, EVENT_TYPE_READABLE);
    n->op.opcode = VEX_OP_FSYNC;
    n->op.handle = 0;
    worker_await_op(ctx, &n->op);
    return CORO_STATUS_YIELDED;
}

Test(io_backend, platform_without_poller)
{
    VexPlatform p = *vex_platform_with_backend("epoll");
    p.poller_open = NULL;
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = 1;
    cfg.platform = &p;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    cr_assert_str_eq(runtime_io_backend(rt), "none");
    NoPoll n = {0};
    CHECK_OK(runtime_spawn_global(rt, nopoll_task, &n));
    io_run(rt);
    CHECK_INT(n.rc_io, VEX_ENOSYS);
    CHECK_INT(n.op.result, VEX_ENOSYS);
    CHECK_INT(n.reason, VEX_WAKE_COMPLETED);
    runtime_destroy(rt);
}
