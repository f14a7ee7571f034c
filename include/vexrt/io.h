/* vexrt/io.h - I/O beyond the seed's readiness awaits: completion operations,
 * work for the blocking pool, and signals.
 *
 * A completion operation is described by a caller-owned VexIoOp. A task
 * submits it with worker_await_op during a resume and is resumed when it has
 * completed; op->result then holds the byte count (or the accepted handle, or
 * 0) or a negative VEX_E* code. The op and its buffer belong to the runtime
 * from submission until that resume: do not touch or free them meanwhile.
 * With a timer await in the same resume the timer is a timeout: when it fires
 * first the operation is cancelled, and the task is resumed once the
 * cancellation is complete (op->result is VEX_ECANCELED unless the operation
 * finished first), so the buffer is never written after the task resumes.
 * The same holds when the task's cancel token is cancelled while it waits
 * (resumed with VEX_WAKE_CANCELLED). VEX_OP_CLOSE is the exception: it is
 * never abandoned (the handle would stay open); the task resumes once the
 * close is done.
 *
 * On io_uring the operations run natively. On epoll, socket operations are
 * tried at once and, if they would block, retried by the runtime when the
 * handle becomes ready (readiness is cached per handle, edge-triggered, so a
 * request/response loop costs one system call per operation); file
 * operations run on a small pool of blocking threads.
 *
 * Handles used with these calls should be closed with VEX_OP_CLOSE (or
 * vex_io_forget before close), so the runtime drops what it knows of them
 * before the number can be reused. Closing a handle that way ends every
 * operation and await still in flight on it at once (VEX_ECANCELED or
 * VEX_EBADF; awaits with VEX_WAKE_ERROR), on whichever worker it waits, and
 * the file is really closed (the peer sees end-of-file) once VEX_OP_CLOSE
 * completes or vex_io_forget has returned. A plain close() behind the
 * runtime's back is not noticed on Linux: docs/platform.md says what each
 * backend does then.
 *
 * Descriptor flags: on the readiness backends (epoll, kqueue) VEX_OP_ACCEPT
 * and VEX_OP_CONNECT set O_NONBLOCK on their socket, and VEX_OP_READ and
 * VEX_OP_WRITE on their pipe, socket or terminal (regular files are left
 * alone: they go to the blocking pool). RECV and SEND use MSG_DONTWAIT and
 * change nothing. io_uring and IOCP change no flags. Accepted sockets are
 * non-blocking and close-on-exec on every backend. */
#ifndef VEXRT_IO_H
#define VEXRT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "vexrt/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    VEX_OP_READ = 1,    /* read(handle, buf, len) */
    VEX_OP_WRITE = 2,   /* write(handle, buf, len) */
    VEX_OP_RECV = 3,    /* recv(handle, buf, len, flags) */
    VEX_OP_SEND = 4,    /* send(handle, buf, len, flags); never raises SIGPIPE */
    VEX_OP_ACCEPT = 5,  /* accept(handle, buf = sockaddr out or NULL, len = its size); result: new handle */
    VEX_OP_CONNECT = 6, /* connect(handle, buf = sockaddr, len); result 0 */
    VEX_OP_CLOSE = 7,   /* close(handle), after the runtime forgets it */
    VEX_OP_PREAD = 8,   /* pread(handle, buf, len, offset) */
    VEX_OP_PWRITE = 9,  /* pwrite(handle, buf, len, offset) */
    VEX_OP_FSYNC = 10   /* fsync(handle) */
} VexOpcode;

/* Flags for VEX_OP_RECV / VEX_OP_SEND (translated by the platform). */
#define VEX_MSG_PEEK 1u
#define VEX_MSG_WAITALL 2u

/* An operation. Set the fields it uses (zero the others: memset is
 * simplest) before each submission; the runtime resets its own words and
 * result when the op is submitted, so an op may be reused as soon as its
 * task was resumed with it completed. */
typedef struct VexIoOp {
    uint8_t opcode;       /* VexOpcode */
    uint8_t reserved_[3];
    uint32_t flags;       /* VEX_MSG_* for recv/send; 0 otherwise */
    IoHandle handle;
    void *buf;            /* data, or sockaddr for accept/connect */
    size_t len;           /* bytes, or sockaddr size; accept writes the peer's size back */
    uint64_t offset;      /* pread / pwrite */
    int64_t result;       /* out: bytes, new handle, or 0; negative VEX_E* on error */
    uint64_t internal[6]; /* the runtime's while the op is in flight; internal[5]
                           * belongs to the platform's poller (e.g. accept's
                           * socklen_t), the rest to the core */
} VexIoOp;

/* Submits op for this resume: the task is resumed once op has completed
 * (see the header comment for timeouts). Replaces an I/O or notify await
 * registered earlier in the same resume. A bad op (unknown opcode, a handle
 * out of range, no buffer) is still taken: the call returns the error
 * (VEX_EINVAL, VEX_EBADF) and the op completes at once with it in
 * op->result, whatever else the resume armed. A NULL op gives VEX_EINVAL
 * and the resume's wait ends at once with VEX_WAKE_ERROR. */
VEX_API int worker_await_op(WorkerContext *ctx, VexIoOp *op);

/* Runs fn(arg) on the runtime's blocking pool and resumes the task when it
 * returned: for work that would block a worker (file systems, DNS, CPU-heavy
 * steps). The pool starts threads on demand (at most 4); if none can be
 * started at all (the platform's thread_spawn fails), the job runs on the
 * submitting worker instead, so it is never lost. A timeout or cancellation
 * in the same wait: a job still queued is dropped (fn never runs; the task
 * resumes with VEX_WAKE_TIMER or VEX_WAKE_CANCELLED); a job already running
 * is waited for (the task resumes when fn returns, with
 * VEX_WAKE_COMPLETED). RuntimeStats.blocking_jobs counts the jobs whose fn
 * was called. runtime_destroy waits for running jobs to return. */
VEX_API int worker_await_blocking(WorkerContext *ctx, void (*fn)(void *arg), void *arg);

/* Drops what the runtime knows of handle h (cached readiness, its poller
 * registration) and ends every await and operation still in flight on it
 * (see the header comment); returns once nothing the runtime started holds
 * h's file, so that your close() really closes it. Call before closing h
 * yourself. Any thread (from a task too). */
VEX_API int vex_io_forget(Runtime *rt, IoHandle h);

/* Returns a handle that becomes readable when signal signo (SIGINT,
 * SIGTERM, ...) is delivered to the process; await it with worker_await_io
 * and acknowledge each delivery with vex_signal_consume. One signal per
 * handle. The signal is blocked in the calling thread, so it is delivered to
 * the handle instead of its default action: call this from the thread that
 * will call runtime_run (the runtime's own workers and pool threads block
 * every signal, so creating the runtime first is fine), before any thread of
 * your own that does not block the signal is started. */
VEX_API int vex_signal_open(Runtime *rt, int signo, IoHandle *out);

/* Consumes one pending delivery on a handle from vex_signal_open: 1 if one
 * was pending, 0 if none, or a negative VEX_E*. Never blocks. */
VEX_API int vex_signal_consume(Runtime *rt, IoHandle h);

/* Closes a handle from vex_signal_open. */
VEX_API int vex_signal_close(Runtime *rt, IoHandle h);

/* Name of the I/O backend a runtime uses ("epoll", "io_uring", ...), or
 * "none" if it has no poller. */
VEX_API const char *runtime_io_backend(Runtime *rt);

#ifdef __cplusplus
}
#endif
#endif /* VEXRT_IO_H */
