/* platform/posix/io_ops.c - the I/O operations every POSIX backend shares:
 * non-blocking attempts (io_try) and blocking execution on pool threads
 * (io_blocking) for sockets, pipes and files. Moved out of linux/io_ops.c so
 * the kqueue build uses the same code; the systems differ in three spots,
 * kept here behind #if: accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC (Linux, the
 * BSDs; macOS has only accept, so the flags are set with fcntl), and
 * MSG_NOSIGNAL (macOS: SO_NOSIGPIPE on the socket instead). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "io_ops.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "posix.h"
#include "vexrt/error.h"
#include "vexrt/io.h"

/* macOS has no accept4 and no MSG_NOSIGNAL worth trusting on every release:
 * the accepted socket gets its flags with fcntl, and sends rely on
 * SO_NOSIGPIPE, set on the socket before its first send. */
#if defined(__APPLE__)
#define VX_HAVE_ACCEPT4 0
#define VX_SEND_NOSIGNAL 0
#else
#define VX_HAVE_ACCEPT4 1
#define VX_SEND_NOSIGNAL MSG_NOSIGNAL
#endif

static int msg_flags(uint32_t f)
{
    int m = VX_SEND_NOSIGNAL;
    if (f & VEX_MSG_PEEK) m |= MSG_PEEK;
    if (f & VEX_MSG_WAITALL) m |= MSG_WAITALL;
    return m;
}

static int64_t result_of(ssize_t r) { return r >= 0 ? (int64_t)r : vx_posix_error(errno); }

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

/* Sockets that must never raise SIGPIPE where send has no MSG_NOSIGNAL. */
static void no_sigpipe(int fd)
{
#if defined(SO_NOSIGPIPE) && !VX_HAVE_ACCEPT4
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

/* accept without blocking; the new handle is non-blocking and close-on-exec. */
static ssize_t accept_nb(int fd, VexIoOp *op)
{
    socklen_t alen = (socklen_t)op->len;
    struct sockaddr *sa = op->buf ? (struct sockaddr *)op->buf : NULL;
#if VX_HAVE_ACCEPT4
    int c = accept4(fd, sa, op->buf ? &alen : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    /* No accept4: the flags follow at once. Another thread's fork+exec in
     * between would inherit the handle; the runtime does not fork. */
    int c = accept(fd, sa, op->buf ? &alen : NULL);
    if (c >= 0) {
        int fdfl = fcntl(c, F_GETFD);
        if (set_nonblocking(c) != 0 || fdfl < 0 || fcntl(c, F_SETFD, fdfl | FD_CLOEXEC) != 0) {
            int err = errno;
            close(c);
            errno = err;
            return -1;
        }
        no_sigpipe(c);
    }
#endif
    if (c >= 0 && op->buf) op->len = alen;
    return c;
}

int vx_posix_io_try(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    ssize_t r;
again:
    switch (op->opcode) {
    case VEX_OP_RECV:
        r = recv(fd, op->buf, op->len, msg_flags(op->flags) | MSG_DONTWAIT);
        break;
    case VEX_OP_SEND:
        if (!VX_HAVE_ACCEPT4 && op->internal[5] == 0) { /* SO_NOSIGPIPE once per op */
            no_sigpipe(fd);
            op->internal[5] = 1;
        }
        r = send(fd, op->buf, op->len, msg_flags(op->flags) | MSG_DONTWAIT);
        break;
    case VEX_OP_ACCEPT:
        /* accept has no MSG_DONTWAIT: the listener itself must not block. */
        if (op->internal[5] == 0) {
            if (set_nonblocking(fd) != 0) {
                op->result = vx_posix_error(errno);
                return 0;
            }
            op->internal[5] = 1;
        }
        r = accept_nb(fd, op);
        break;
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
    /* Interrupted before anything moved: try again. Reporting VEX_EAGAIN
     * would make the core wait for readiness that already came, and an
     * edge-triggered poller never reports data or a connection that is
     * already there again (tests/fault/test_fault_io.c). A connect goes on
     * in the background (its outcome comes with writability), and a close
     * has released the descriptor, so neither is repeated. */
    if (r < 0 && errno == EINTR) {
        if (op->opcode == VEX_OP_CLOSE) r = 0;
        else if (op->opcode != VEX_OP_CONNECT) goto again;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return VEX_EAGAIN;
    op->result = result_of(r);
    return 0;
}

void vx_posix_io_blocking(void *ctx, VexIoOp *op)
{
    (void)ctx;
    int fd = (int)op->handle;
    ssize_t r;
    if (op->opcode == VEX_OP_SEND) no_sigpipe(fd);
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
