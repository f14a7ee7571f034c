/* test_spawn_fail - thread spawns failing through the platform, on every
 * backend: a worker spawn failing at any index makes creation report the
 * platform's error with nothing leaked and every started thread joined; a
 * blocking-pool spawn failing makes the job run anyway, as the pool does it
 * (core/io.c, pool_submit): on the submitting worker when the pool has no
 * thread at all, later on an existing pool thread otherwise. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "support/fault_platform.h"
#include "support/io_support.h"
#include "vexrt/task.h"

TestSuite(spawn_fail, .timeout = 60);

static Runtime *new_rt(FaultPlatform *fp, CountingAlloc *ca, int workers, int *rc)
{
    RuntimeConfig cfg;
    runtime_config_init(&cfg);
    cfg.workers = workers;
    cfg.platform = &fp->vt;
    cfg.allocator = &ca->vt;
    Runtime *rt = NULL;
    *rc = runtime_new(&cfg, &rt);
    return rt;
}

/* Every worker thread (workers 1..W-1: worker 0 is the thread that calls
 * runtime_run), failing only that spawn and failing it and all after:
 * VEX_EAGAIN, no runtime, the threads started before it joined. */
IO_TEST(spawn_fail, worker_spawn_failure_is_reported_without_leaks, .timeout = 60)
{
    enum { W = 3 };
    int before = test_thread_count();
    for (int after = 0; after < 2; after++) {
        for (long long at = 1; at <= W; at++) {
            FaultPlatform fp;
            cr_assert(fault_platform_init(&fp, b->name, 1), "backend %s", b->name);
            fp.fail_spawn_at = at;
            fp.fail_spawn_after = after;
            CountingAlloc ca;
            counting_alloc_init(&ca);
            int rc;
            Runtime *rt = new_rt(&fp, &ca, W, &rc);
            if (at <= W - 1) {
                CHECK_INT(rc, VEX_EAGAIN);
                cr_assert_null(rt);
                CHECK_INT(atomic_load(&fp.spawns), at); /* creation stops at the failure */
                CHECK_INT(atomic_load(&fp.spawns_ok), at - 1);
            } else {
                /* One past the workers: creation starts no other thread. */
                CHECK_INT(rc, 0);
                cr_assert_str_eq(runtime_io_backend(rt), b->name);
                CHECK_OK(runtime_destroy(rt));
                CHECK_INT(atomic_load(&fp.spawns_ok), W - 1);
            }
            CHECK_INT(atomic_load(&fp.joins), atomic_load(&fp.spawns_ok));
            CHECK_INT(test_thread_count(), before);
            CHECK_INT(atomic_load(&ca.live_bytes), 0);
            CHECK_INT(atomic_load(&ca.live_blocks), 0);
            CHECK_INT(atomic_load(&ca.bad_frees), 0);
        }
    }
}

/* --- The blocking pool --- */

enum { JOB_TASKS = 6, JOBS_EACH = 4, FILE_BYTES = 4096 };

typedef struct {
    _Atomic int ran;       /* jobs that ran */
    _Atomic int completed; /* resumes with VEX_WAKE_COMPLETED after a job */
    _Atomic int errors;
    _Atomic int file_ok;
    int fd;                /* a regular file: its ops go to the pool on epoll */
} PoolShared;

typedef struct {
    PoolShared *sh;
    int id, step;
    VexIoOp op;
    unsigned char buf[FILE_BYTES];
} PoolTask;

static void job(void *arg)
{
    PoolShared *sh = arg;
    /* Long enough that jobs overlap and the pool wants more threads. */
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&sh->ran, 1);
}

static CoroStatus pool_task(WorkerContext *ctx, void *data)
{
    PoolTask *t = data;
    PoolShared *sh = t->sh;
    if (t->step > 0) {
        if (worker_wake_reason(ctx) == VEX_WAKE_COMPLETED)
            atomic_fetch_add(&sh->completed, 1);
        else
            atomic_fetch_add(&sh->errors, 1);
    }
    if (t->step < JOBS_EACH) {
        t->step++;
        int rc = worker_await_blocking(ctx, job, sh);
        if (rc) {
            atomic_fetch_add(&sh->errors, 1);
            return CORO_STATUS_DONE;
        }
        return CORO_STATUS_YIELDED;
    }
    /* Then a file write and read back at this task's own offset. */
    if (t->step == JOBS_EACH) {
        t->step++;
        memset(t->buf, 'a' + t->id, sizeof t->buf);
        memset(&t->op, 0, sizeof t->op);
        t->op.opcode = VEX_OP_PWRITE;
        t->op.handle = (IoHandle)sh->fd;
        t->op.buf = t->buf;
        t->op.len = sizeof t->buf;
        t->op.offset = (uint64_t)t->id * FILE_BYTES;
        CHECK_OK(worker_await_op(ctx, &t->op));
        return CORO_STATUS_YIELDED;
    }
    if (t->step == JOBS_EACH + 1) {
        t->step++;
        if (t->op.result != FILE_BYTES) atomic_fetch_add(&sh->errors, 1);
        memset(t->buf, 0, sizeof t->buf);
        t->op.opcode = VEX_OP_PREAD;
        t->op.len = sizeof t->buf;
        CHECK_OK(worker_await_op(ctx, &t->op));
        return CORO_STATUS_YIELDED;
    }
    bool same = t->op.result == FILE_BYTES;
    for (int i = 0; same && i < FILE_BYTES; i++) same = t->buf[i] == (unsigned char)('a' + t->id);
    if (same) atomic_fetch_add(&sh->file_ok, 1);
    return CORO_STATUS_DONE;
}

/* Runs JOB_TASKS tasks of blocking jobs and file ops on a runtime whose
 * platform fails spawn `at` (and after it, if `after`). Returns the pool
 * threads that were started. */
static long long run_pool(const IoBackend *b, long long at, bool after)
{
    enum { W = 2 };
    int before = test_thread_count();
    FaultPlatform fp;
    cr_assert(fault_platform_init(&fp, b->name, 7), "backend %s", b->name);
    fp.fail_spawn_at = at;
    fp.fail_spawn_after = after;
    CountingAlloc ca;
    counting_alloc_init(&ca);
    int rc;
    Runtime *rt = new_rt(&fp, &ca, W, &rc);
    CHECK_OK(rc);
    static PoolShared sh;
    static PoolTask tasks[JOB_TASKS];
    memset(&sh, 0, sizeof sh);
    char path[] = "/tmp/vexrt-spawnfail-XXXXXX";
    sh.fd = mkstemp(path);
    cr_assert(sh.fd >= 0, "mkstemp");
    unlink(path);
    for (int i = 0; i < JOB_TASKS; i++) {
        tasks[i] = (PoolTask){.sh = &sh, .id = i};
        CHECK_OK(runtime_spawn_global(rt, pool_task, &tasks[i]));
    }
    io_run(rt);
    CHECK_INT(atomic_load(&sh.errors), 0);
    CHECK_INT(atomic_load(&sh.ran), JOB_TASKS * JOBS_EACH);
    CHECK_INT(atomic_load(&sh.completed), JOB_TASKS * JOBS_EACH + 2 * JOB_TASKS);
    CHECK_INT(atomic_load(&sh.file_ok), JOB_TASKS);
    RuntimeStats st;
    CHECK_OK(runtime_get_stats(rt, &st));
    CHECK_EQ(st.blocking_jobs, JOB_TASKS * JOBS_EACH);
    CHECK_EQ(st.tasks_done, JOB_TASKS);
    CHECK_OK(runtime_destroy(rt));
    close(sh.fd);
    long long pool_threads = atomic_load(&fp.spawns_ok) - (W - 1); /* W-1 worker threads */
    CHECK_INT(atomic_load(&fp.joins), atomic_load(&fp.spawns_ok));
    CHECK_INT(test_thread_count(), before);
    CHECK_INT(atomic_load(&ca.live_bytes), 0);
    CHECK_INT(atomic_load(&ca.bad_frees), 0);
    return pool_threads;
}

/* No pool thread can ever start: every job runs on the worker that
 * submitted it, and completes. */
IO_TEST(spawn_fail, pool_without_threads_runs_jobs_on_the_worker, .timeout = 60)
{
    CHECK_INT(run_pool(b, 2, true), 0); /* spawn 1: worker 1; from spawn 2: the pool */
}

/* Only the first pool spawn fails: that job runs on its worker, the next
 * ones start threads as usual. */
IO_TEST(spawn_fail, pool_first_spawn_failing_once, .timeout = 60)
{
    long long threads = run_pool(b, 2, false);
    CHECK_GE(threads, 1);
}

/* One pool thread, then every spawn fails: the jobs queue for it and run
 * later. */
IO_TEST(spawn_fail, pool_capped_at_one_thread_runs_jobs_later, .timeout = 60)
{
    CHECK_INT(run_pool(b, 3, true), 1);
}
