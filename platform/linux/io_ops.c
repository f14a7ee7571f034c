/* platform/linux/io_ops.c - signalfd handles for the Linux backends. The
 * operations themselves (io_try, io_blocking) are POSIX-generic and live in
 * platform/posix/io_ops.c, shared with the kqueue build. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../posix/posix.h"
#include "linux.h"
#include "vexrt/error.h"

int vx_linux_signal_open(void *ctx, int signo, IoHandle *out)
{
    (void)ctx;
    sigset_t set;
    sigemptyset(&set);
    if (sigaddset(&set, signo) != 0) return VEX_EINVAL;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return VEX_EINVAL;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return vx_posix_error(errno);
    *out = (IoHandle)fd;
    return 0;
}

int vx_linux_signal_consume(void *ctx, IoHandle h)
{
    (void)ctx;
    struct signalfd_siginfo si;
    ssize_t r = read((int)h, &si, sizeof si);
    if (r == (ssize_t)sizeof si) return 1;
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    return r < 0 ? vx_posix_error(errno) : VEX_EIO;
}

int vx_linux_signal_close(void *ctx, IoHandle h)
{
    (void)ctx;
    return close((int)h) == 0 ? 0 : vx_posix_error(errno);
}
