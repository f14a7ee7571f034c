/* tests/minicrit/runner.c - the runner of the minimal Criterion-compatible
 * harness (see criterion/criterion.h).
 *
 *   vexrt-tests-mini [--filter GLOB] [--jobs N] [--list] [--timeout SECONDS]
 *
 * Every test (every parameter of a parameterized test) runs in its own
 * forked child, at most N at a time; a crash, a failed assertion or an
 * expired timeout fails that test only. Prints "[PASS]"/"[FAIL]" lines and
 * "N passed, M failed"; exits 1 if anything failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "criterion/criterion.h"

static struct mc_test *tests;
static struct mc_suite *suites;
static int failed_in_child;

void mc_register_test(struct mc_test *t)
{
    t->next = tests;
    tests = t;
}

void mc_register_suite(struct mc_suite *s)
{
    s->next = suites;
    suites = s;
}

void mc_fail(const char *file, int line, bool abort_test, const char *fmt, ...)
{
    fprintf(stderr, "  %s:%d: assertion failed", file, line);
    if (fmt && fmt[0] && fmt[1]) {
        va_list ap;
        va_start(ap, fmt);
        fputs(":", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    failed_in_child = 1;
    if (abort_test) {
        fflush(NULL);
        _exit(1);
    }
}

void mc_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("  [info] ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static const struct criterion_test_extra_data *suite_data(const char *name)
{
    for (struct mc_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0) return s->data;
    return NULL;
}

typedef struct {
    struct mc_test *t;
    size_t param; /* index for parameterized tests */
    char label[256];
    pid_t pid;
    double started;
} Case;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const Case *)a)->label, ((const Case *)b)->label);
}

static void run_child(Case *c, double timeout)
{
    const struct criterion_test_extra_data *sd = suite_data(c->t->suite);
    const struct criterion_test_extra_data *td = c->t->data;
    if (timeout > 0) alarm((unsigned)(timeout + 0.999));
    void (*init)(void) = td->init ? td->init : (sd ? sd->init : NULL);
    void (*fini)(void) = td->fini ? td->fini : (sd ? sd->fini : NULL);
    if (init) init();
    if (c->t->fn) {
        c->t->fn();
    } else {
        struct criterion_test_params p = c->t->params();
        c->t->param_fn((char *)p.params + p.size * c->param);
    }
    if (fini) fini();
    fflush(NULL);
    _exit(failed_in_child ? 1 : 0);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    int jobs = 2;
    int list = 0;
    double default_timeout = 120;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else if (!strncmp(argv[i], "--filter=", 9))
            filter = argv[i] + 9;
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
            jobs = atoi(argv[++i]);
        else if (!strncmp(argv[i], "-j", 2) && argv[i][2])
            jobs = atoi(argv[i] + 2);
        else if (!strcmp(argv[i], "--list"))
            list = 1;
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            default_timeout = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--filter GLOB] [--jobs N] [--list] [--timeout S]\n", argv[0]);
            return 2;
        }
    }
    if (jobs < 1) jobs = 1;

    size_t n = 0, cap = 64;
    Case *cases = calloc(cap, sizeof *cases);
    for (struct mc_test *t = tests; t; t = t->next) {
        size_t count = 1;
        if (t->param_fn) count = t->params().length;
        for (size_t k = 0; k < count; k++) {
            if (n == cap) cases = realloc(cases, (cap *= 2) * sizeof *cases);
            Case *c = &cases[n];
            memset(c, 0, sizeof *c);
            c->t = t;
            c->param = k;
            if (t->param_fn)
                snprintf(c->label, sizeof c->label, "%s::%s[%zu]", t->suite, t->name, k);
            else
                snprintf(c->label, sizeof c->label, "%s::%s", t->suite, t->name);
            char path[256];
            snprintf(path, sizeof path, "%s/%s", t->suite, t->name);
            const struct criterion_test_extra_data *sd = suite_data(t->suite);
            bool disabled = t->data->disabled || (sd && sd->disabled);
            if (disabled || (filter && fnmatch(filter, path, 0) != 0)) continue;
            n++;
        }
    }
    qsort(cases, n, sizeof *cases, cmp_case);
    if (list) {
        for (size_t i = 0; i < n; i++) printf("%s\n", cases[i].label);
        return 0;
    }

    int passed = 0, failed = 0;
    size_t next = 0, running = 0;
    Case **slots = calloc((size_t)jobs, sizeof *slots);
    while (next < n || running) {
        while (running < (size_t)jobs && next < n) {
            Case *c = &cases[next++];
            const struct criterion_test_extra_data *sd = suite_data(c->t->suite);
            double timeout = c->t->data->timeout > 0 ? c->t->data->timeout
                             : (sd && sd->timeout > 0) ? sd->timeout
                                                       : default_timeout;
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) run_child(c, timeout);
            c->pid = pid;
            c->started = now_s();
            for (int j = 0; j < jobs; j++)
                if (!slots[j]) {
                    slots[j] = c;
                    break;
                }
            running++;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int j = 0; j < jobs; j++) {
            Case *c = slots[j];
            if (!c || c->pid != pid) continue;
            slots[j] = NULL;
            running--;
            double took = now_s() - c->started;
            int want_exit = c->t->data->exit_code;
            int want_sig = c->t->data->signal;
            bool ok;
            if (WIFSIGNALED(status))
                ok = want_sig && WTERMSIG(status) == want_sig;
            else
                ok = !want_sig && WEXITSTATUS(status) == want_exit;
            if (ok) {
                passed++;
                printf("[PASS] %s (%.2fs)\n", c->label, took);
            } else {
                failed++;
                if (WIFSIGNALED(status))
                    printf("[FAIL] %s: killed by signal %d%s (%.2fs)\n", c->label,
                           WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "", took);
                else
                    printf("[FAIL] %s: exit status %d (%.2fs)\n", c->label, WEXITSTATUS(status), took);
            }
            fflush(stdout);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    free(slots);
    free(cases);
    return failed ? 1 : 0;
}
