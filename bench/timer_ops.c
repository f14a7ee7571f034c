/* bench/timer_ops.c - cost of arming and cancelling a timer, the common case
 * of a timeout that never fires: a timer entry from the slab pool, filed in
 * a per-worker wheel that already holds many timers, then unlinked and freed
 * (what a task that awaited I/O with a timeout, and got its I/O, costs).
 *
 *   vexrt-timer-ops [--n OPS] [--live TIMERS] [--reps R]
 *
 * Prints one JSON line with the median ns per insert+cancel over R reps. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slab.h"
#include "timer_wheel.h"
#include "vexrt/alloc.h"

typedef struct {
    VxWheelEntry e;
    uint64_t pad[4]; /* the size of a runtime timer entry (64 bytes) */
} Entry;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = 1000000, live = 100000, reps = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--live")) live = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atol(argv[i + 1]);
    }
    VxSlab pool;
    if (vx_slab_init(&pool, vex_allocator_default(), sizeof(Entry), 0, 1)) return 1;
    VxWheel w;
    uint64_t t = 1000000000ull;
    vx_wheel_init(&w, 10, t);
    uint64_t rng = 7;
    for (long i = 0; i < live; i++) { /* background timers, 1 ms .. 10 s away */
        Entry *e = vx_slab_alloc(&pool, 0);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        e->e.deadline_ns = t + 1000000 + (rng >> 20) % 10000000000ull;
        vx_wheel_insert(&w, &e->e);
    }
    double *per = malloc(sizeof(double) * (size_t)reps);
    for (long r = 0; r < reps; r++) {
        uint64_t a = now_ns();
        for (long i = 0; i < n; i++) {
            Entry *e = vx_slab_alloc(&pool, 0);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            e->e.deadline_ns = t + 100000 + (rng >> 24) % 30000000000ull; /* 0.1 ms .. 30 s */
            vx_wheel_insert(&w, &e->e);
            vx_wheel_remove(&w, &e->e);
            vx_slab_free(&pool, 0, e);
        }
        per[r] = (double)(now_ns() - a) / (double)n;
    }
    qsort(per, (size_t)reps, sizeof *per, cmp_double);
    printf("{\"impl\":\"vexrt\",\"workload\":\"timer_insert_cancel\",\"params\":{\"n\":%ld,\"live\":%ld,"
           "\"reps\":%ld},\"ns_per_op_median\":%.2f,\"ns_per_op_min\":%.2f,\"unit\":\"ns/op\"}\n",
           n, live, reps, per[reps / 2], per[0]);
    vx_slab_destroy(&pool);
    free(per);
    return 0;
}
