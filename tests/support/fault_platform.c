/* tests/support/fault_platform.c - see fault_platform.h.
 *
 * Every entry forwards to the inner backend with the inner ctx (the core
 * passes ours). The faults stay inside the VexPlatform contract, so whatever
 * breaks under them is a core bug, not a test artefact:
 *   - park may return 0 "spuriously";
 *   - poller_wait may return 0 with no events before its timeout (epoll
 *     does exactly that on EINTR);
 *   - io_try may transfer fewer bytes than asked, which a stream never
 *     does while more is available: so while short transfers are injected,
 *     poller_register stops reporting VEX_REG_STREAM (a short transfer then
 *     no longer means "drained", and the core tries again until EAGAIN);
 *   - poller_arm and poller_submit may fail with any VEX_E* code before
 *     starting anything (VEX_EINTR here: a transient failure).
 * io_uring runs operations natively (poller_submit), so io_try, and with it
 * the short transfers, only apply to backends without VEX_POLLER_NATIVE_OPS. */
#include "fault_platform.h"

#include <string.h>

#include "vexrt/error.h"
#include "vexrt/io.h"

#define FP(ctx) ((FaultPlatform *)(ctx))
#define IN(fp) ((fp)->inner)

/* splitmix64 over a shared counter: one seeded sequence of decisions for
 * all threads, without a lock. */
static uint64_t fp_rand(FaultPlatform *fp)
{
    uint64_t z = fp->seed + 0x9E3779B97F4A7C15ULL * (atomic_fetch_add(&fp->rng_next, 1) + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static bool fp_hit(FaultPlatform *fp, uint32_t one_in)
{
    return one_in && fp_rand(fp) % one_in == 0;
}

/* --- Lifecycle, threads, time --- */

static int fp_init(void *ctx)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->init ? IN(fp)->init(IN(fp)->ctx) : 0;
}

static void fp_fini(void *ctx)
{
    FaultPlatform *fp = FP(ctx);
    if (IN(fp)->fini) IN(fp)->fini(IN(fp)->ctx);
}

static int fp_spawn(void *ctx, void *thread, vex_thread_func fn, void *arg)
{
    FaultPlatform *fp = FP(ctx);
    long long n = atomic_fetch_add(&fp->spawns, 1) + 1;
    bool fail = fp->fail_spawn_at &&
                (n == fp->fail_spawn_at || (fp->fail_spawn_after && n > fp->fail_spawn_at));
    if (fail) return VEX_EAGAIN;
    int rc = IN(fp)->thread_spawn(IN(fp)->ctx, thread, fn, arg);
    if (rc == 0) atomic_fetch_add(&fp->spawns_ok, 1);
    return rc;
}

static int fp_join(void *ctx, void *thread)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->joins, 1);
    return IN(fp)->thread_join(IN(fp)->ctx, thread);
}

static uint32_t fp_cpus(void *ctx)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->cpu_count ? IN(fp)->cpu_count(IN(fp)->ctx) : 1;
}

static uint64_t fp_now(void *ctx)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->now_ns(IN(fp)->ctx);
}

/* --- Parking --- */

static int fp_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->parks, 1);
    if (timeout_ns != 0 && fp_hit(fp, fp->spurious_park_1_in)) {
        atomic_fetch_add(&fp->spurious_parks, 1);
        return 0;
    }
    return IN(fp)->park(IN(fp)->ctx, word, expected, timeout_ns);
}

static void fp_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->unpark(IN(fp)->ctx, word, count);
}

static void fp_trace(void *ctx, const char *line)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->trace(IN(fp)->ctx, line);
}

/* --- Poller --- */

static int fp_poller_open(void *ctx, void *poller, uint32_t nworkers)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->poller_open(IN(fp)->ctx, poller, nworkers);
}

static void fp_poller_close(void *ctx, void *poller)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->poller_close(IN(fp)->ctx, poller);
}

static int fp_poller_attach(void *ctx, void *poller, void *local)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->poller_attach(IN(fp)->ctx, poller, local);
}

static void fp_poller_detach(void *ctx, void *poller, void *local)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->poller_detach(IN(fp)->ctx, poller, local);
}

static int fp_poller_register(void *ctx, void *poller, void *local, IoHandle h, uint64_t token)
{
    FaultPlatform *fp = FP(ctx);
    int rc = IN(fp)->poller_register(IN(fp)->ctx, poller, local, h, token);
    /* Short transfers break the stream promise (see the file comment). */
    if (rc == VEX_REG_STREAM && fp->short_io_1_in) rc = 0;
    return rc;
}

static int fp_poller_deregister(void *ctx, void *poller, IoHandle h)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->poller_deregister(IN(fp)->ctx, poller, h);
}

static int fp_poller_arm(void *ctx, void *poller, void *local, IoHandle h, uint32_t events,
                         uint64_t token)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->arms, 1);
    if (fp_hit(fp, fp->fail_arm_1_in)) {
        atomic_fetch_add(&fp->failed_arms, 1);
        return VEX_EINTR;
    }
    return IN(fp)->poller_arm(IN(fp)->ctx, poller, local, h, events, token);
}

static int fp_poller_submit(void *ctx, void *poller, void *local, struct VexIoOp *op,
                            uint64_t token)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->submits, 1);
    /* A close is never failed: the core would keep a handle it was told to
     * close, and the test could not tell whether the fd is gone. */
    if (op->opcode != VEX_OP_CLOSE && fp_hit(fp, fp->fail_arm_1_in)) {
        atomic_fetch_add(&fp->failed_submits, 1);
        return VEX_EINTR;
    }
    return IN(fp)->poller_submit(IN(fp)->ctx, poller, local, op, token);
}

static int fp_poller_cancel(void *ctx, void *poller, void *local, uint64_t token)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->poller_cancel(IN(fp)->ctx, poller, local, token);
}

static int fp_poller_wait(void *ctx, void *poller, void *local, uint64_t timeout_ns,
                          VexPollerEvent *ev, uint32_t max, uint32_t *n)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->waits, 1);
    /* By count, the first wait that may block included: a run may wait only
     * a few times. */
    if (timeout_ns != 0 && fp->spurious_wait_1_in &&
        atomic_fetch_add(&fp->blocking_waits, 1) % fp->spurious_wait_1_in == 0) {
        atomic_fetch_add(&fp->spurious_waits, 1);
        *n = 0;
        return 0;
    }
    return IN(fp)->poller_wait(IN(fp)->ctx, poller, local, timeout_ns, ev, max, n);
}

static void fp_poller_wake(void *ctx, void *poller, void *local)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->poller_wake(IN(fp)->ctx, poller, local);
}

static bool shortable(uint8_t opcode)
{
    return opcode == VEX_OP_READ || opcode == VEX_OP_WRITE || opcode == VEX_OP_RECV ||
           opcode == VEX_OP_SEND;
}

static int fp_io_try(void *ctx, struct VexIoOp *op)
{
    FaultPlatform *fp = FP(ctx);
    atomic_fetch_add(&fp->io_tries, 1);
    if (shortable(op->opcode) && op->len > 1 && fp_hit(fp, fp->short_io_1_in)) {
        size_t len = op->len;
        op->len = 1 + (size_t)(fp_rand(fp) % (len - 1)); /* 1 .. len-1 bytes */
        int rc = IN(fp)->io_try(IN(fp)->ctx, op);
        op->len = len;
        atomic_fetch_add(&fp->short_ios, 1);
        return rc;
    }
    return IN(fp)->io_try(IN(fp)->ctx, op);
}

static void fp_io_blocking(void *ctx, struct VexIoOp *op)
{
    FaultPlatform *fp = FP(ctx);
    IN(fp)->io_blocking(IN(fp)->ctx, op);
}

static int fp_signal_open(void *ctx, int signo, IoHandle *out)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->signal_open(IN(fp)->ctx, signo, out);
}

static int fp_signal_consume(void *ctx, IoHandle h)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->signal_consume(IN(fp)->ctx, h);
}

static int fp_signal_close(void *ctx, IoHandle h)
{
    FaultPlatform *fp = FP(ctx);
    return IN(fp)->signal_close(IN(fp)->ctx, h);
}

/* Our wrapper where the inner backend has the entry, NULL where it has not
 * (the core reads NULL as "not provided"). */
#define WRAP(field, fn) fp->vt.field = in->field ? fn : NULL

bool fault_platform_init(FaultPlatform *fp, const char *backend, uint64_t seed)
{
    memset(fp, 0, sizeof *fp);
    const VexPlatform *in = backend ? vex_platform_with_backend(backend) : vex_platform_default();
    if (!in) return false;
    fp->inner = in;
    fp->seed = seed;
    fp->vt = *in; /* sizes, caps, abi_version, name */
    fp->vt.ctx = fp;
    WRAP(init, fp_init);
    WRAP(fini, fp_fini);
    WRAP(thread_spawn, fp_spawn);
    WRAP(thread_join, fp_join);
    WRAP(cpu_count, fp_cpus);
    WRAP(now_ns, fp_now);
    WRAP(park, fp_park);
    WRAP(unpark, fp_unpark);
    WRAP(trace, fp_trace);
    WRAP(poller_open, fp_poller_open);
    WRAP(poller_close, fp_poller_close);
    WRAP(poller_attach, fp_poller_attach);
    WRAP(poller_detach, fp_poller_detach);
    WRAP(poller_register, fp_poller_register);
    WRAP(poller_deregister, fp_poller_deregister);
    WRAP(poller_arm, fp_poller_arm);
    WRAP(poller_submit, fp_poller_submit);
    WRAP(poller_cancel, fp_poller_cancel);
    WRAP(poller_wait, fp_poller_wait);
    WRAP(poller_wake, fp_poller_wake);
    WRAP(io_try, fp_io_try);
    WRAP(io_blocking, fp_io_blocking);
    WRAP(signal_open, fp_signal_open);
    WRAP(signal_consume, fp_signal_consume);
    WRAP(signal_close, fp_signal_close);
    return true;
}
