/* file_copy - copies a file with completion operations (vexrt/io.h):
 * SLOTS tasks each claim the next CHUNK-sized piece of the source, read it
 * with VEX_OP_PREAD and write it with VEX_OP_PWRITE at the same offset, so
 * up to SLOTS chunks are in flight at once. Short reads and writes are
 * continued where they stopped. The last slot to finish flushes the copy
 * with VEX_OP_FSYNC and closes both files with VEX_OP_CLOSE.
 *
 *   build/examples/file_copy SRC DST   copies SRC to DST, prints bytes and MB/s
 *   build/examples/file_copy           copies its own executable to a temporary
 *                                      file, compares them byte for byte, deletes
 *                                      the copy and prints OK
 *
 * On io_uring the reads and writes run natively; on epoll (VEXRT_BACKEND=epoll)
 * regular files cannot be polled, so the runtime runs them on its blocking
 * pool. Exit status: 0 on success, 1 on any error (with a message). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "vexrt/io.h"

#define SLOTS 4
#define CHUNK (64 * 1024)

enum { STEP_NONE, STEP_READ, STEP_WRITE, STEP_FSYNC, STEP_CLOSE, STEP_CLOSE_SRC };

static const char *const step_names[] = {"start", "read", "write", "fsync", "close", "close"};

/* One copy, shared by its slot tasks. size and the fds are set before
 * runtime_run and only read by the tasks; everything the tasks change is
 * atomic. */
typedef struct {
    Runtime *rt;
    int src, dst;
    uint64_t size;               /* the source's size when opened: what is copied */
    _Atomic uint64_t next;       /* the next offset a slot may claim */
    _Atomic uint64_t copied;     /* bytes written so far */
    _Atomic int slots_left;      /* the one that brings it to 0 finishes the copy */
    _Atomic int err;             /* first error (VEX_E*), 0 if none */
    _Atomic int err_step;        /* STEP_* where err happened */
    _Atomic bool short_source;   /* the source ended before `size` */
} Copy;

typedef struct {
    Copy *cp;
    int step;
    bool closing_dst;
    uint64_t off;     /* file offset of this slot's chunk */
    size_t len;       /* bytes of the chunk */
    size_t done;      /* bytes of the chunk read (STEP_READ) or written (STEP_WRITE) */
    VexIoOp op;
    unsigned char buf[CHUNK];
} Slot;

/* The first error wins; later ones are usually consequences of it. */
static void fail(Copy *cp, int step, int err)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&cp->err, &none, err)) atomic_store(&cp->err_step, step);
}

static int submit(WorkerContext *ctx, Slot *s, int step, uint8_t code, int fd, void *buf,
                  size_t len, uint64_t off)
{
    s->step = step;
    memset(&s->op, 0, sizeof s->op);
    s->op.opcode = code;
    s->op.handle = (IoHandle)fd;
    s->op.buf = buf;
    s->op.len = len;
    s->op.offset = off;
    int rc = worker_await_op(ctx, &s->op);
    if (rc) fail(s->cp, step, rc);
    return rc;
}

static CoroStatus slot_finish(WorkerContext *ctx, Slot *s);

/* Claims the next chunk and starts reading it; false when there is none
 * left (or the copy already failed). */
static bool slot_next_chunk(WorkerContext *ctx, Slot *s)
{
    Copy *cp = s->cp;
    if (atomic_load(&cp->err) || atomic_load(&cp->short_source)) return false;
    uint64_t off = atomic_fetch_add(&cp->next, CHUNK);
    if (off >= cp->size) return false;
    s->off = off;
    s->len = cp->size - off < CHUNK ? (size_t)(cp->size - off) : CHUNK;
    s->done = 0;
    return submit(ctx, s, STEP_READ, VEX_OP_PREAD, cp->src, s->buf, s->len, s->off) == 0;
}

static CoroStatus slot_task(WorkerContext *ctx, void *data)
{
    Slot *s = data;
    Copy *cp = s->cp;
    int64_t res = s->op.result;

    switch (s->step) {
    case STEP_READ:
        if (res < 0) {
            fail(cp, STEP_READ, (int)res);
            break;
        }
        if (res == 0) { /* the source shrank while we copied it */
            atomic_store(&cp->short_source, true);
            s->len = s->done; /* write what this chunk did get */
        } else {
            s->done += (size_t)res;
            if (s->done < s->len) { /* short read: ask for the rest */
                if (submit(ctx, s, STEP_READ, VEX_OP_PREAD, cp->src, s->buf + s->done,
                           s->len - s->done, s->off + s->done))
                    break;
                return CORO_STATUS_YIELDED;
            }
        }
        s->done = 0;
        if (s->len == 0) break;
        if (submit(ctx, s, STEP_WRITE, VEX_OP_PWRITE, cp->dst, s->buf, s->len, s->off)) break;
        return CORO_STATUS_YIELDED;

    case STEP_WRITE:
        if (res <= 0) {
            /* pwrite of a non-empty buffer returning 0 would loop forever. */
            fail(cp, STEP_WRITE, res < 0 ? (int)res : VEX_EIO);
            break;
        }
        s->done += (size_t)res;
        atomic_fetch_add(&cp->copied, (uint64_t)res);
        if (s->done < s->len) { /* short write: the rest, at its own offset */
            if (submit(ctx, s, STEP_WRITE, VEX_OP_PWRITE, cp->dst, s->buf + s->done,
                       s->len - s->done, s->off + s->done))
                break;
            return CORO_STATUS_YIELDED;
        }
        break;

    case STEP_FSYNC:
    case STEP_CLOSE:
        return slot_finish(ctx, s);

    default: /* first resume */
        break;
    }
    if (slot_next_chunk(ctx, s)) return CORO_STATUS_YIELDED;

    /* This slot is out of work. The others may still be writing, so only
     * the last one may fsync and close. */
    if (atomic_fetch_sub(&cp->slots_left, 1) != 1) {
        free(s);
        return CORO_STATUS_DONE;
    }
    s->step = STEP_NONE;
    return slot_finish(ctx, s);
}

/* Closes fd through the runtime, so it forgets the handle before the number
 * can be reused; if the op cannot even be submitted, forgets and closes it
 * here. Returns true if the task must wait for the op. */
static bool slot_close(WorkerContext *ctx, Slot *s, int fd)
{
    if (submit(ctx, s, STEP_CLOSE, VEX_OP_CLOSE, fd, NULL, 0, 0) == 0) return true;
    vex_io_forget(s->cp->rt, (IoHandle)fd);
    close(fd);
    return false;
}

/* The last slot: fsync the copy (unless it failed), then close both files,
 * destination first, continuing past errors so neither fd leaks. */
static CoroStatus slot_finish(WorkerContext *ctx, Slot *s)
{
    Copy *cp = s->cp;
    int64_t res = s->op.result;
    switch (s->step) {
    case STEP_NONE:
        /* A failed copy is not worth syncing: straight to closing. */
        if (!atomic_load(&cp->err) &&
            submit(ctx, s, STEP_FSYNC, VEX_OP_FSYNC, cp->dst, NULL, 0, 0) == 0)
            return CORO_STATUS_YIELDED;
        res = 0;
        /* fall through */
    case STEP_FSYNC:
        if (res < 0) fail(cp, STEP_FSYNC, (int)res);
        s->closing_dst = true;
        if (slot_close(ctx, s, cp->dst)) return CORO_STATUS_YIELDED;
        res = 0;
        /* fall through */
    default:
        /* close() can report a write-back error too: it counts. */
        if (res < 0) fail(cp, s->closing_dst ? STEP_CLOSE : STEP_CLOSE_SRC, (int)res);
        if (s->closing_dst) {
            s->closing_dst = false;
            if (slot_close(ctx, s, cp->src)) return CORO_STATUS_YIELDED;
        }
        free(s);
        return CORO_STATUS_DONE;
    }
}

static void destroy_runtime(Runtime *rt)
{
    int rc = runtime_destroy(rt);
    if (rc) fprintf(stderr, "file_copy: runtime_destroy: %s\n", vex_strerror(rc));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Copies src_path to dst_path; prints a message and returns 1 on error. */
static int copy_file(const char *src_path, const char *dst_path, uint64_t *bytes, double *secs)
{
    int src = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        fprintf(stderr, "file_copy: open %s: %s\n", src_path, strerror(errno));
        return 1;
    }
    struct stat ss, ds;
    if (fstat(src, &ss) != 0) {
        fprintf(stderr, "file_copy: stat %s: %s\n", src_path, strerror(errno));
        close(src);
        return 1;
    }
    if (!S_ISREG(ss.st_mode)) {
        fprintf(stderr, "file_copy: %s is not a regular file\n", src_path);
        close(src);
        return 1;
    }
    /* O_TRUNC on the source itself would destroy it before it is read. */
    if (stat(dst_path, &ds) == 0 && ds.st_dev == ss.st_dev && ds.st_ino == ss.st_ino) {
        fprintf(stderr, "file_copy: %s and %s are the same file\n", src_path, dst_path);
        close(src);
        return 1;
    }
    int dst = open(dst_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, ss.st_mode & 0777);
    if (dst < 0) {
        fprintf(stderr, "file_copy: open %s: %s\n", dst_path, strerror(errno));
        close(src);
        return 1;
    }

    Runtime *rt = runtime_create(2);
    if (!rt) {
        fprintf(stderr, "file_copy: runtime_create failed\n");
        close(src);
        close(dst);
        return 1;
    }
    int rc = runtime_enable_auto_shutdown(rt, true);
    if (rc) {
        fprintf(stderr, "file_copy: runtime_enable_auto_shutdown: %s\n", vex_strerror(rc));
        destroy_runtime(rt);
        close(src);
        close(dst);
        return 1;
    }

    Copy cp = {.rt = rt, .src = src, .dst = dst, .size = (uint64_t)ss.st_size};
    atomic_store(&cp.slots_left, SLOTS);
    int spawned = 0;
    for (int i = 0; i < SLOTS; i++) {
        Slot *s = calloc(1, sizeof *s);
        if (!s) {
            rc = VEX_ENOMEM;
        } else {
            s->cp = &cp;
            rc = runtime_spawn_global(rt, slot_task, s);
            if (rc) free(s);
        }
        if (rc) {
            fprintf(stderr, "file_copy: spawn: %s\n", vex_strerror(rc));
            break;
        }
        spawned++;
    }
    if (spawned == 0) {
        destroy_runtime(rt);
        close(src);
        close(dst);
        return 1;
    }
    if (spawned < SLOTS) {
        /* Fewer slots only make the copy slower; the ones never started
         * count as finished, so the last real one still closes the files. */
        atomic_fetch_sub(&cp.slots_left, SLOTS - spawned);
    }

    double t0 = now_s();
    rc = runtime_run(rt);
    double t1 = now_s();
    if (rc) fprintf(stderr, "file_copy: runtime_run: %s\n", vex_strerror(rc));
    printf("backend %s, %d slots of %d KiB\n", runtime_io_backend(rt), SLOTS, CHUNK / 1024);
    destroy_runtime(rt);
    if (rc) { /* the slots never ran: the files are still open */
        close(src);
        close(dst);
        return 1;
    }

    int err = atomic_load(&cp.err);
    if (err) {
        int step = atomic_load(&cp.err_step);
        bool on_src = step == STEP_READ || step == STEP_CLOSE_SRC;
        fprintf(stderr, "file_copy: %s %s: %s\n", step_names[step], on_src ? src_path : dst_path,
                vex_strerror(err));
        return 1;
    }
    *bytes = atomic_load(&cp.copied);
    *secs = t1 - t0;
    if (atomic_load(&cp.short_source))
        fprintf(stderr, "file_copy: warning: %s shrank during the copy; copied %llu of %llu bytes\n",
                src_path, (unsigned long long)*bytes, (unsigned long long)cp.size);
    return 0;
}

/* Byte-for-byte comparison with plain stdio: the check must not share code
 * with what it checks. */
static int same_content(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    if (!same) fprintf(stderr, "file_copy: verify: cannot open %s\n", fa ? b : a);
    unsigned char *ba = malloc(CHUNK), *bb = malloc(CHUNK);
    if (same && (!ba || !bb)) {
        fprintf(stderr, "file_copy: verify: out of memory\n");
        same = 0;
    }
    while (same) {
        size_t na = fread(ba, 1, CHUNK, fa), nb = fread(bb, 1, CHUNK, fb);
        if (na != nb || memcmp(ba, bb, na) != 0) same = 0;
        if (na < CHUNK) break;
    }
    if (same && (ferror(fa) || ferror(fb))) same = 0;
    free(ba);
    free(bb);
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static void report(uint64_t bytes, double secs)
{
    printf("copied %llu bytes in %.3f ms, fsync included (%.1f MB/s)\n", (unsigned long long)bytes, secs * 1e3,
           secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
}

int main(int argc, char **argv)
{
    uint64_t bytes = 0;
    double secs = 0;
    if (argc == 3) {
        if (copy_file(argv[1], argv[2], &bytes, &secs)) return 1;
        report(bytes, secs);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "usage: file_copy SRC DST\n       file_copy   (self-test)\n");
        return 2;
    }

    /* Self-test: argv[0] is a path when run as build/examples/file_copy; when
     * found through PATH it is only a name, and /proc/self/exe is the file. */
    const char *self = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s/file_copy.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    if (n < 0 || (size_t)n >= sizeof tmp) {
        fprintf(stderr, "file_copy: TMPDIR too long\n");
        return 1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "file_copy: mkstemp %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    close(fd);
    printf("self-test: %s -> %s\n", self, tmp);
    int rc = copy_file(self, tmp, &bytes, &secs);
    if (rc == 0) {
        report(bytes, secs);
        if (!same_content(self, tmp)) {
            fprintf(stderr, "file_copy: %s differs from %s\n", tmp, self);
            rc = 1;
        }
    }
    if (unlink(tmp) != 0) {
        fprintf(stderr, "file_copy: unlink %s: %s\n", tmp, strerror(errno));
        rc = 1;
    }
    if (rc == 0) printf("OK\n");
    return rc;
}
