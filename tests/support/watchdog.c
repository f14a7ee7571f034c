/* tests/support/watchdog.c - see watchdog.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "watchdog.h"

#include <pthread.h>
#include <time.h>

/* The deadline's clock: monotonic where condition variables can wait on it
 * (immune to wall-clock steps); MinGW's winpthreads ignores the condattr
 * clock and always waits against the wall clock. */
#ifdef _WIN32
#define WATCH_CLOCK CLOCK_REALTIME
#else
#define WATCH_CLOCK CLOCK_MONOTONIC
#endif

typedef struct {
    Runtime *rt;
    int seconds;
    pthread_mutex_t mu; /* done, hung */
    pthread_cond_t cv;
    bool done, hung;
} Watch;

static void *watch_main(void *arg)
{
    Watch *w = arg;
    struct timespec until;
    clock_gettime(WATCH_CLOCK, &until);
    until.tv_sec += w->seconds;
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0) break;
    if (!w->done) {
        w->hung = true;
        runtime_shutdown(w->rt);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

bool test_run_watched(Runtime *rt, int seconds, int *rc)
{
    Watch w = {.rt = rt, .seconds = seconds};
    pthread_mutex_init(&w.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, WATCH_CLOCK);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t th;
    bool watching = pthread_create(&th, NULL, watch_main, &w) == 0;
    *rc = runtime_run(rt);
    if (watching) {
        pthread_mutex_lock(&w.mu);
        w.done = true;
        pthread_cond_signal(&w.cv);
        pthread_mutex_unlock(&w.mu);
        pthread_join(th, NULL);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return w.hung;
}
