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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

typedef struct {
    McCase c; /* first: mc_collect fills it */
    pid_t pid;
    double started;
} Case;

void mc_exit_test(int status)
{
    _exit(status);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    McOptions o;
    if (!mc_parse_args(argc, argv, false, &o)) return 2;
    size_t n;
    Case *cases = mc_collect(&o, sizeof(Case), &n);
    if (o.list) {
        for (size_t i = 0; i < n; i++) printf("%s\n", cases[i].c.label);
        return 0;
    }

    int jobs = o.jobs;
    int passed = 0, failed = 0;
    size_t next = 0, running = 0;
    Case **slots = calloc((size_t)jobs, sizeof *slots);
    while (next < n || running) {
        while (running < (size_t)jobs && next < n) {
            Case *c = &cases[next++];
            double timeout = mc_case_timeout(&c->c, o.timeout);
            fflush(NULL);
            pid_t pid = fork();
            if (pid == 0) {
                if (timeout > 0) alarm((unsigned)(timeout + 0.999));
                mc_run_case(&c->c);
            }
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
            int want_exit = c->c.t->data->exit_code;
            int want_sig = c->c.t->data->signal;
            bool ok;
            if (WIFSIGNALED(status))
                ok = want_sig && WTERMSIG(status) == want_sig;
            else
                ok = !want_sig && WEXITSTATUS(status) == want_exit;
            if (ok) {
                passed++;
                printf("[PASS] %s (%.2fs)\n", c->c.label, took);
            } else {
                failed++;
                if (WIFSIGNALED(status))
                    printf("[FAIL] %s: killed by signal %d%s (%.2fs)\n", c->c.label,
                           WTERMSIG(status), WTERMSIG(status) == SIGALRM ? " (timeout)" : "", took);
                else
                    printf("[FAIL] %s: exit status %d (%.2fs)\n", c->c.label, WEXITSTATUS(status), took);
            }
            fflush(stdout);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    free(slots);
    free(cases);
    return failed ? 1 : 0;
}
