/* platform/linux/io_ops.c - the I/O operations and signal handles shared by
 * the Linux backends: non-blocking attempts (io_try), blocking execution on
 * pool threads (io_blocking), and signalfd handles. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../posix/posix.h"
#include "linux.h"
#include "vexrt/error.h"
#include "vexrt/io.h"

static int msg_flags(uint32_t f)
{
    int m = MSG_NOSIGNAL;
    if (f & VEX_MSG_PEEK) m |= MSG_PEEK;
    if (f & VEX_MSG_WAITALL) m |= MSG_WAITALL;
    return m;
}

VX_INLINE_PLAT int64_t result_of(ssize_t r) { return r >= 0 ? (int64_t)r : vx_posix_error(errno); }

/* Regular files and other handles that poll as always ready cannot be
 * waited on: their operations go to the blocking pool. */
static int needs_pool(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return 0; /* let the operation report the error */
    return !(S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
}

static int set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    if (fl & O_NONBLOCK) return 0;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int vx_linux_io_try(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    ssize_t r;
    switch (op->opcode) {
    case VEX_OP_RECV:
        r = recv(fd, op->buf, op->len, msg_flags(op->flags) | MSG_DONTWAIT);
        break;
    case VEX_OP_SEND:
        r = send(fd, op->buf, op->len, msg_flags(op->flags) | MSG_DONTWAIT);
        break;
    case VEX_OP_ACCEPT: {
        /* accept4 has no MSG_DONTWAIT: the listener itself must not block. */
        if (op->internal[5] == 0) {
            if (set_nonblocking(fd) != 0) {
                op->result = vx_posix_error(errno);
                return 0;
            }
            op->internal[5] = 1;
        }
        socklen_t alen = (socklen_t)op->len;
        r = accept4(fd, op->buf ? (struct sockaddr *)op->buf : NULL, op->buf ? &alen : NULL,
                    SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (r >= 0 && op->buf) op->len = alen;
        break;
    }
    case VEX_OP_CONNECT:
        if (op->internal[5] == 0) { /* first attempt */
            if (set_nonblocking(fd) != 0) {
                op->result = vx_posix_error(errno);
                return 0;
            }
            op->internal[5] = 1;
            r = connect(fd, (const struct sockaddr *)op->buf, (socklen_t)op->len);
            if (r < 0 && (errno == EINPROGRESS || errno == EAGAIN)) return VEX_EAGAIN;
        } else { /* writable again: the outcome is in SO_ERROR */
            int err = 0;
            socklen_t el = sizeof err;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
            op->result = err ? vx_posix_error(err) : 0;
            return 0;
        }
        break;
    case VEX_OP_READ:
    case VEX_OP_WRITE:
        if (op->internal[5] == 0) {
            if (needs_pool(fd)) return VEX_ENOTSUP;
            if (set_nonblocking(fd) != 0) {
                op->result = vx_posix_error(errno);
                return 0;
            }
            op->internal[5] = 1;
        }
        r = op->opcode == VEX_OP_READ ? read(fd, op->buf, op->len) : write(fd, op->buf, op->len);
        break;
    case VEX_OP_CLOSE:
        r = close(fd);
        break;
    default: /* PREAD, PWRITE, FSYNC: files */
        return VEX_ENOTSUP;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return VEX_EAGAIN;
    if (r < 0 && errno == EINTR) return VEX_EAGAIN;
    op->result = result_of(r);
    return 0;
}

void vx_linux_io_blocking(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    ssize_t r;
    do {
        switch (op->opcode) {
        case VEX_OP_READ: r = read(fd, op->buf, op->len); break;
        case VEX_OP_WRITE: r = write(fd, op->buf, op->len); break;
        case VEX_OP_PREAD: r = pread(fd, op->buf, op->len, (off_t)op->offset); break;
        case VEX_OP_PWRITE: r = pwrite(fd, op->buf, op->len, (off_t)op->offset); break;
        case VEX_OP_FSYNC: r = fsync(fd); break;
        case VEX_OP_CLOSE: r = close(fd); break;
        case VEX_OP_RECV: r = recv(fd, op->buf, op->len, msg_flags(op->flags)); break;
        case VEX_OP_SEND: r = send(fd, op->buf, op->len, msg_flags(op->flags)); break;
        default: r = -1; errno = EINVAL; break;
        }
    } while (r < 0 && errno == EINTR && op->opcode != VEX_OP_CLOSE);
    op->result = result_of(r);
}

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
