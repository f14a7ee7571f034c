/* tests/support/io_support.c - see io_support.h. */
#include "support/io_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vexrt/platform.h"

static IoBackend backends[4];

struct criterion_test_params io_backends(void)
{
    /* Every backend name the library may know; the ones this build has and
     * this machine can use (the kqueue build, mk/targets-kqueue.mk, runs
     * these same tests on "kqueue"). */
    static const char *const names[] = {"epoll", "io_uring", "kqueue", "iocp"};
    size_t n = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (vex_platform_with_backend(names[i])) strcpy(backends[n++].name, names[i]);
    return cr_make_param_array(IoBackend, backends, n);
}

Runtime *io_runtime_alloc(const IoBackend *b, int workers, CountingAlloc *ca)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    cfg.io_backend = b->name;
    if (ca) cfg.allocator = &ca->vt;
    Runtime *rt = NULL;
    CHECK_OK(runtime_new(&cfg, &rt));
    cr_assert_str_eq(runtime_io_backend(rt), b->name, "runtime on backend %s", b->name);
    return rt;
}

Runtime *io_runtime(const IoBackend *b, int workers) { return io_runtime_alloc(b, workers, NULL); }

void io_run(Runtime *rt)
{
    CHECK_OK(runtime_enable_auto_shutdown(rt, true));
    CHECK_OK(runtime_run(rt));
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.live_tasks, 0);
}

void io_set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    cr_assert(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0, "O_NONBLOCK");
}

void io_socketpair(int sv[2])
{
    cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0,
              "socketpair");
}

void io_pipe(int p[2]) { cr_assert(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2"); }

int io_listen(uint16_t *port, int backlog)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    io_addr(0, &a);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    cr_assert(listen(fd, backlog) == 0, "listen");
    socklen_t len = sizeof a;
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    *port = ntohs(a.sin_port);
    return fd;
}

int io_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(fd >= 0, "socket");
    struct sockaddr_in a;
    io_addr(port, &a);
    cr_assert(connect(fd, (struct sockaddr *)&a, sizeof a) == 0, "connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void io_addr(uint16_t port, void *out)
{
    struct sockaddr_in *a = out;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

long io_raise_nofile(long n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if ((long)rl.rlim_cur < n) {
        rl.rlim_cur = (rlim_t)n < rl.rlim_max ? (rlim_t)n : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}

void io_small_buffers(int fd)
{
    int sz = 4096;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
}
