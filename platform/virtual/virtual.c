/* platform/virtual/virtual.c - a virtual-clock platform for tests (see
 * virtual.h). One mutex and condition variable for every park: simple, and
 * tests do not need it to scale. */
#include "virtual.h"

#include <time.h>

#include "../posix/posix.h"
#include "vexrt/error.h"

static uint64_t v_now(void *ctx)
{
    VxVirtualClock *vc = ctx;
    return __atomic_load_n(&vc->now, __ATOMIC_ACQUIRE);
}

static int v_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    VxVirtualClock *vc = ctx;
    int rc = 0;
    pthread_mutex_lock(&vc->mu);
    uint64_t deadline = timeout_ns == VEX_WAIT_FOREVER || vc->now > UINT64_MAX - timeout_ns
                            ? UINT64_MAX
                            : vc->now + timeout_ns;
    unsigned slot = 0;
    while (slot < 64 && vc->waiters[slot].word) slot++;
    if (slot < 64) {
        vc->waiters[slot].word = word;
        vc->waiters[slot].expected = expected;
        vc->waiters[slot].deadline = deadline;
    }
    vc->parked++;
    pthread_cond_broadcast(&vc->idle_cv);
    for (;;) {
        /* The word is changed before unpark is called, and unpark takes the
         * mutex: checking it under the mutex cannot miss a wake-up. */
        if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != expected) break;
        if (vc->now >= deadline) {
            rc = VEX_ETIMEDOUT;
            break;
        }
        pthread_cond_wait(&vc->cv, &vc->mu);
    }
    vc->parked--;
    if (slot < 64) vc->waiters[slot].word = NULL;
    pthread_mutex_unlock(&vc->mu);
    return rc;
}

static void v_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)word;
    (void)count;
    VxVirtualClock *vc = ctx;
    pthread_mutex_lock(&vc->mu);
    pthread_cond_broadcast(&vc->cv);
    pthread_mutex_unlock(&vc->mu);
}

void vclock_init(VxVirtualClock *vc, uint64_t start_ns)
{
    pthread_mutex_init(&vc->mu, NULL);
    pthread_cond_init(&vc->cv, NULL);
    pthread_cond_init(&vc->idle_cv, NULL);
    vc->now = start_ns;
    vc->parked = 0;
    for (unsigned i = 0; i < 64; i++) vc->waiters[i].word = NULL;
    VexPlatform p = {0};
    p.abi_version = VEX_PLATFORM_ABI;
    p.name = "virtual";
    p.ctx = vc;
    p.thread_size = VX_POSIX_THREAD_SIZE;
    p.thread_spawn = vx_posix_thread_spawn;
    p.thread_join = vx_posix_thread_join;
    p.thread_self = vx_posix_thread_self;
    p.cpu_count = vx_posix_cpu_count;
    p.now_ns = v_now;
    p.park = v_park;
    p.unpark = v_unpark;
    vc->vt = p;
}

void vclock_destroy(VxVirtualClock *vc)
{
    pthread_cond_destroy(&vc->cv);
    pthread_cond_destroy(&vc->idle_cv);
    pthread_mutex_destroy(&vc->mu);
}

void vclock_set(VxVirtualClock *vc, uint64_t t_ns)
{
    pthread_mutex_lock(&vc->mu);
    if (t_ns > vc->now) __atomic_store_n(&vc->now, t_ns, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&vc->cv);
    pthread_mutex_unlock(&vc->mu);
}

void vclock_advance(VxVirtualClock *vc, uint64_t dt_ns)
{
    pthread_mutex_lock(&vc->mu);
    __atomic_store_n(&vc->now, vc->now + dt_ns, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&vc->cv);
    pthread_mutex_unlock(&vc->mu);
}

uint64_t vclock_now(VxVirtualClock *vc) { return v_now(vc); }

/* Threads parked that will stay parked at the current virtual time: their
 * word still holds the expected value and their deadline is ahead (one woken
 * but not yet running again does not count). */
static unsigned blocked(VxVirtualClock *vc)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 64; i++)
        if (vc->waiters[i].word &&
            __atomic_load_n(vc->waiters[i].word, __ATOMIC_SEQ_CST) == vc->waiters[i].expected &&
            vc->now < vc->waiters[i].deadline)
            n++;
    return n;
}

void vclock_wait_parked(VxVirtualClock *vc, unsigned n)
{
    pthread_mutex_lock(&vc->mu);
    while (blocked(vc) < n) {
        /* Woken threads leave park without signalling idle_cv when they
         * find nothing to do and park again; poll the condition briefly. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&vc->idle_cv, &vc->mu, &ts);
    }
    pthread_mutex_unlock(&vc->mu);
}
