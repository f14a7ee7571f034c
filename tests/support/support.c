/* tests/support/support.c - see support.h: the POSIX helpers (the counting
 * allocator and platform and running a runtime on a thread are in common.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* --- Misc --- */

uint64_t test_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void test_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

/* Records its kernel thread id, for the warm-up below. */
static void *note_tid(void *arg)
{
    *(long *)arg = (long)gettid();
    return NULL;
}

/* Threads listed in /proc/self/task now. */
static int count_once(void);

int test_thread_count(void)
{
    /* Sanitizer runtimes start a helper thread with the first thread the
     * process creates: create (and join) one first so it is counted in both
     * the "before" and "after" readings. A joined thread can stay listed
     * for a moment after pthread_join returns (the kernel wakes the joiner
     * before it unlists the thread): wait until it is gone. */
    static int warmed;
    if (!warmed) {
        pthread_t th;
        long tid = 0;
        pthread_create(&th, NULL, note_tid, &tid);
        pthread_join(th, NULL);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
        for (int i = 0; i < 1000 && access(path, F_OK) == 0; i++) test_sleep_ms(1);
        warmed = 1;
    }
    /* The same for threads a runtime just joined: the reading that counts
     * is one that holds for a few milliseconds (at most about a second). */
    int n = count_once();
    for (int i = 0, same = 0; i < 1000 && same < 3; i++) {
        test_sleep_ms(1);
        int m = count_once();
        same = m == n ? same + 1 : 0;
        n = m;
    }
    return n;
}

static int count_once(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        /* io_uring's kernel workers (iou-wrk-*, for operations that block)
         * belong to the ring's owner and wind down on their own after the
         * ring is closed: the kernel's threads, not ones anybody started. */
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
            fclose(f);
        }
        if (strncmp(comm, "iou-", 4) == 0) continue;
        n++;
    }
    closedir(d);
    return n;
}

uint64_t test_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

