/* fuzz/fuzz_pool.h - a pool of threads kept for the whole fuzzing process,
 * for the threaded harnesses. Creating threads for every input would cost
 * more than the input's work (much more under TSan); the pool's threads wait
 * on a semaphore each and are released together for every input.
 *
 * sem_post / sem_wait order everything a harness writes before fz_pool_run
 * before the threads' work, and the threads' work before fz_pool_run
 * returns (TSan sees both edges), so a harness may set up and check its
 * state with plain accesses. Test code only. */
#ifndef VX_FUZZ_POOL_H
#define VX_FUZZ_POOL_H

#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "fuzz.h"
#include "vx.h" /* vx_cpu_relax */

#define FZ_POOL_MAX 8

typedef void (*FzPoolFn)(int index, void *arg);

typedef struct FzPool {
    int started;                 /* threads created so far (main thread only) */
    pthread_t th[FZ_POOL_MAX];
    sem_t go[FZ_POOL_MAX];
    sem_t done;
    FzPoolFn fn;                 /* the current job: written before the posts */
    void *arg;
    int n;
    _Atomic int ready;           /* threads that reached the start line */
} FzPool;

static FzPool fz_pool;

/* libFuzzer's coverage counters are plain byte increments inserted by the
 * compiler, and clang 14 lets TSan instrument them, so two pool threads
 * running the same code "race" on a counter. Those reports say nothing about
 * the code under test: the counters' range (and nothing else) is declared a
 * benign race. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FZ_TSAN 1
#endif
#endif
#ifdef FZ_TSAN
/* The counters' section bounds, under names of our own: declaring
 * __start___sancov_cntrs here would make the compiler rename its own
 * reference to it, and libFuzzer would see no counters at all. The build
 * defines these two with --defsym (mk/targets-fuzz.mk). */
extern uint8_t fz_sancov_cntrs_start[];
extern uint8_t fz_sancov_cntrs_stop[];
void AnnotateBenignRaceSized(const char *file, int line, const volatile void *mem, size_t size,
                             const char *desc);
static void fz_ignore_coverage_races(void)
{
    uintptr_t start = (uintptr_t)fz_sancov_cntrs_start, stop = (uintptr_t)fz_sancov_cntrs_stop;
    FZ_CHECK(stop > start, "no coverage counters between %#lx and %#lx", (unsigned long)start,
             (unsigned long)stop);
    AnnotateBenignRaceSized(__FILE__, __LINE__, fz_sancov_cntrs_start, stop - start,
                            "libFuzzer coverage counters");
}
#else
static void fz_ignore_coverage_races(void) {}
#endif

static void *fz_pool_main(void *p)
{
    int i = (int)(intptr_t)p;
    for (;;) {
        while (sem_wait(&fz_pool.go[i]) != 0) {}
        /* Start together: a thread woken first would otherwise often finish
         * before the last one runs, and nothing would overlap. */
        atomic_fetch_add_explicit(&fz_pool.ready, 1, memory_order_relaxed);
        while (atomic_load_explicit(&fz_pool.ready, memory_order_relaxed) < fz_pool.n)
            sched_yield();
        fz_pool.fn(i, fz_pool.arg);
        sem_post(&fz_pool.done);
    }
    return NULL;
}

/* Waits a little after a failed attempt (a full or empty queue): mostly a
 * short spin, as the thread that can make progress usually runs on another
 * core; every 8th time a yield, as with more threads than cores it may
 * not. Neither creates a happens-before edge that could hide a missing
 * acquire/release from TSan (a lock or a condition variable would). */
static inline void fz_backoff(unsigned *fails)
{
    if (++*fails % 8 != 0) {
        for (int i = 0; i < 32; i++) vx_cpu_relax();
        return;
    }
    sched_yield();
}

/* Runs fn(i, arg) for i in 0..n-1 (n <= FZ_POOL_MAX), each on its own pool
 * thread, all at once; returns when every call has returned. Main thread. */
static inline void fz_pool_run(int n, FzPoolFn fn, void *arg)
{
    FZ_CHECK(n >= 1 && n <= FZ_POOL_MAX, "pool of %d threads asked for %d", FZ_POOL_MAX, n);
    if (fz_pool.started == 0) {
        fz_ignore_coverage_races();
        FZ_CHECK(sem_init(&fz_pool.done, 0, 0) == 0, "sem_init");
    }
    while (fz_pool.started < n) {
        int i = fz_pool.started;
        FZ_CHECK(sem_init(&fz_pool.go[i], 0, 0) == 0, "sem_init");
        FZ_CHECK(pthread_create(&fz_pool.th[i], NULL, fz_pool_main, (void *)(intptr_t)i) == 0,
                 "pthread_create failed for pool thread %d", i);
        fz_pool.started++;
    }
    fz_pool.fn = fn;
    fz_pool.arg = arg;
    fz_pool.n = n;
    atomic_store_explicit(&fz_pool.ready, 0, memory_order_relaxed);
    for (int i = 0; i < n; i++) sem_post(&fz_pool.go[i]);
    for (int i = 0; i < n; i++)
        while (sem_wait(&fz_pool.done) != 0) {}
}

#endif /* VX_FUZZ_POOL_H */
