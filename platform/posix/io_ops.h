/* platform/posix/io_ops.h - the I/O operations shared by every POSIX
 * backend (epoll, io_uring, kqueue): sockets, pipes and files, tried without
 * blocking or run on the blocking pool. Each function has the contract of
 * the matching VexPlatform entry in vexrt/platform.h. */
#ifndef VX_PLATFORM_POSIX_IO_OPS_H
#define VX_PLATFORM_POSIX_IO_OPS_H

struct VexIoOp;

/* VexPlatform.io_try: performs op without blocking (VEX_EAGAIN: wait for
 * readiness; VEX_ENOTSUP: a file, use io_blocking). */
int vx_posix_io_try(void *ctx, struct VexIoOp *op);
/* VexPlatform.io_blocking: performs op, blocking if it must (pool threads). */
void vx_posix_io_blocking(void *ctx, struct VexIoOp *op);

#endif /* VX_PLATFORM_POSIX_IO_OPS_H */
