/* platform/posix/park.c - futex-style parking where there is no futex.
 *
 * The parking lot: a parked thread puts a node on the list of the bucket its
 * word's address hashes to and sleeps on that bucket's condition variable;
 * unpark takes up to count nodes for the word off the list, marks them woken
 * and broadcasts. The word is checked under the bucket's mutex, and unpark
 * takes the same mutex, so the check and the sleep are atomic with respect
 * to unpark (the waker changes the word before calling unpark). A thread
 * returns only when its own node was woken or its deadline has passed on the
 * monotonic clock, so broadcasts meant for other words of the same bucket
 * never end a park, and a timeout is never early.
 *
 * Native calls, where a system has them: FreeBSD's _umtx_op (WAIT_UINT with
 * a CLOCK_MONOTONIC timeout), macOS 14.4's os_sync_wait_on_address. Both
 * compile here only on those systems (make check-kqueue syntax-checks them
 * against declarations written from the manuals). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#include "posix.h"
#include "vexrt/error.h"
#include "vexrt/platform.h"

#if defined(__FreeBSD__)
#include <sys/types.h>
#include <sys/umtx.h>
#elif VX_HAVE_NATIVE_PARK && defined(__APPLE__)
#include <os/os_sync_wait_on_address.h>
#endif

/* --- The parking lot --- */

#define LOT_BUCKETS 64u /* power of two; collisions only cost wake-ups of the bucket's cond */

typedef struct LotWaiter {
    uint32_t *word;
    struct LotWaiter *next;
    int woken; /* set by unpark under the bucket's mutex */
} LotWaiter;

typedef struct {
    pthread_mutex_t lock; /* protects head and every listed node's woken */
    pthread_cond_t cond;
    LotWaiter *head;
    _Atomic uint32_t parked; /* threads between their check and their return: unpark's hint */
} LotBucket;

/* A bucket per cache line: unparks of unrelated words do not bounce. */
typedef union {
    LotBucket b;
    char pad[128];
} LotSlot;

static LotSlot lot[LOT_BUCKETS];
static pthread_once_t lot_once = PTHREAD_ONCE_INIT;
static int lot_monotonic; /* the conds time out on CLOCK_MONOTONIC */

static void lot_init(void)
{
    pthread_condattr_t attr;
    int have_attr = pthread_condattr_init(&attr) == 0;
#if !defined(__APPLE__)
    /* macOS has no pthread_condattr_setclock: it waits with relative times. */
    if (have_attr && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0) lot_monotonic = 1;
#endif
    for (unsigned i = 0; i < LOT_BUCKETS; i++) {
        LotBucket *b = &lot[i].b;
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->cond, have_attr ? &attr : NULL);
        b->head = NULL;
        atomic_init(&b->parked, 0);
    }
    if (have_attr) pthread_condattr_destroy(&attr);
}

static LotBucket *bucket_of(const uint32_t *word)
{
    uintptr_t a = (uintptr_t)word;
    a ^= a >> 17;
    a *= (uintptr_t)0x9E3779B97F4A7C15ull; /* Fibonacci hashing: words 4 bytes apart spread */
    return &lot[(a >> 7) & (LOT_BUCKETS - 1)].b;
}

static void unlink_waiter(LotBucket *b, LotWaiter *w)
{
    for (LotWaiter **pp = &b->head; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

static void ts_of(uint64_t ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

/* One timed sleep on b's cond, at most until deadline (monotonic ns). */
static void lot_sleep_until(LotBucket *b, uint64_t now, uint64_t deadline)
{
    struct timespec ts;
#if defined(__APPLE__)
    (void)lot_monotonic;
    ts_of(deadline - now, &ts);
    pthread_cond_timedwait_relative_np(&b->cond, &b->lock, &ts);
#else
    if (lot_monotonic) {
        ts_of(deadline, &ts);
    } else {
        /* No monotonic conds: sleep by the wall clock for the time left;
         * the caller looks at the monotonic clock again afterwards. */
        struct timespec rt;
        clock_gettime(CLOCK_REALTIME, &rt);
        uint64_t wall = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
        ts_of(wall + (deadline - now), &ts);
    }
    pthread_cond_timedwait(&b->cond, &b->lock, &ts);
#endif
}

int vx_lot_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    (void)ctx;
    if (timeout_ns == 0)
        return __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected ? VEX_ETIMEDOUT : 0;
    pthread_once(&lot_once, lot_init);
    uint64_t deadline = VEX_WAIT_FOREVER;
    if (timeout_ns != VEX_WAIT_FOREVER) {
        uint64_t now = vx_posix_now_ns(NULL);
        deadline = timeout_ns > VEX_WAIT_FOREVER - 1 - now ? VEX_WAIT_FOREVER - 1 : now + timeout_ns;
    }
    LotBucket *b = bucket_of(word);
    pthread_mutex_lock(&b->lock);
    /* seq_cst RMW and fence, then the word: against the waker's store of the
     * word, fence and load of `parked` in vx_lot_unpark (either it sees us
     * counted and takes the mutex, or we see its new value). */
    atomic_fetch_add_explicit(&b->parked, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
    int rc = 0;
    if (__atomic_load_n(word, __ATOMIC_SEQ_CST) == expected) {
        LotWaiter w = {word, b->head, 0};
        b->head = &w;
        while (!w.woken) {
            if (deadline == VEX_WAIT_FOREVER) {
                pthread_cond_wait(&b->cond, &b->lock);
                continue;
            }
            uint64_t now = vx_posix_now_ns(NULL);
            if (now >= deadline) {
                rc = VEX_ETIMEDOUT;
                break;
            }
            lot_sleep_until(b, now, deadline);
        }
        if (!w.woken) unlink_waiter(b, &w);
    }
    atomic_fetch_sub_explicit(&b->parked, 1, memory_order_relaxed);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void vx_lot_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    if (count == 0) return;
    pthread_once(&lot_once, lot_init);
    LotBucket *b = bucket_of(word);
    /* seq_cst fence: orders the caller's store of the word before the look
     * at `parked`; pairs with the fetch_add and fence in vx_lot_park. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&b->parked, memory_order_relaxed) == 0) return;
    uint32_t woke = 0;
    pthread_mutex_lock(&b->lock);
    for (LotWaiter **pp = &b->head; *pp && woke < count;) {
        LotWaiter *w = *pp;
        if (w->word != word) {
            pp = &w->next;
            continue;
        }
        *pp = w->next; /* off the list: the waiter no longer unlinks itself */
        w->woken = 1;
        woke++;
    }
    if (woke) pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* --- Native wait-on-address --- */

#if defined(__FreeBSD__)

int vx_native_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    (void)ctx;
    if (timeout_ns == 0)
        return __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected ? VEX_ETIMEDOUT : 0;
    /* _umtx_op(2): WAIT_UINT compares and sleeps atomically; with a struct
     * _umtx_time (its size passed in uaddr) the timeout is relative, on the
     * clock named, and never expires early. EINTR and a changed word are
     * ordinary returns. */
    int r;
    if (timeout_ns == VEX_WAIT_FOREVER) {
        r = _umtx_op(word, UMTX_OP_WAIT_UINT_PRIVATE, expected, NULL, NULL);
    } else {
        struct _umtx_time t;
        ts_of(timeout_ns, &t._timeout);
        t._flags = 0;
        t._clockid = CLOCK_MONOTONIC;
        r = _umtx_op(word, UMTX_OP_WAIT_UINT_PRIVATE, expected, (void *)(uintptr_t)sizeof t, &t);
    }
    if (r == -1 && errno == ETIMEDOUT) return VEX_ETIMEDOUT;
    return 0;
}

void vx_native_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    int n = count > (uint32_t)INT_MAX ? INT_MAX : (int)count;
    (void)_umtx_op(word, UMTX_OP_WAKE_PRIVATE, (unsigned long)n, NULL, NULL);
}

#elif VX_HAVE_NATIVE_PARK && defined(__APPLE__)

int vx_native_park(void *ctx, uint32_t *word, uint32_t expected, uint64_t timeout_ns)
{
    (void)ctx;
    if (timeout_ns == 0)
        return __atomic_load_n(word, __ATOMIC_SEQ_CST) == expected ? VEX_ETIMEDOUT : 0;
    /* The timeout runs on mach absolute time, which stops while the machine
     * sleeps; CLOCK_MONOTONIC (our now_ns) does not, so it cannot be early
     * by that clock either. */
    int r;
    if (timeout_ns == VEX_WAIT_FOREVER)
        r = os_sync_wait_on_address(word, expected, sizeof *word, OS_SYNC_WAIT_ON_ADDRESS_NONE);
    else
        r = os_sync_wait_on_address_with_timeout(word, expected, sizeof *word,
                                                 OS_SYNC_WAIT_ON_ADDRESS_NONE,
                                                 OS_CLOCK_MACH_ABSOLUTE_TIME, timeout_ns);
    if (r < 0 && errno == ETIMEDOUT) return VEX_ETIMEDOUT;
    return 0;
}

void vx_native_unpark(void *ctx, uint32_t *word, uint32_t count)
{
    (void)ctx;
    if (count == UINT32_MAX) {
        (void)os_sync_wake_by_address_all(word, sizeof *word, OS_SYNC_WAKE_BY_ADDRESS_NONE);
        return;
    }
    /* wake_any fails with ENOENT once nobody is left. */
    for (uint32_t i = 0; i < count; i++)
        if (os_sync_wake_by_address_any(word, sizeof *word, OS_SYNC_WAKE_BY_ADDRESS_NONE) != 0) break;
}

#endif
