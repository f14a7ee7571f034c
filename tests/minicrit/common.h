/* tests/minicrit/common.h - what the two runners of the minimal Criterion
 * harness share (runner.c forks per test on POSIX; tests/win32/runner_win32.c
 * starts itself again per test on Windows): the test registry, assertion
 * failures, the command line, the list of cases, and running one body. */
#ifndef VX_MINICRIT_COMMON_H
#define VX_MINICRIT_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "criterion/criterion.h"

/* One test, or one parameter of a parameterized test. Each runner's own case
 * type starts with this. */
typedef struct McCase {
    struct mc_test *t;
    size_t param;      /* index for parameterized tests */
    char label[256];   /* suite::name or suite::name[k] */
} McCase;

typedef struct McOptions {
    const char *filter; /* --filter GLOB on "suite/name" */
    const char *only;   /* --run-one LABEL (Windows children) */
    int jobs;           /* --jobs N, at least 1 */
    int list;           /* --list */
    double timeout;     /* --timeout SECONDS, for tests that set none */
} McOptions;

/* Set once an assertion failed in this (child) process. */
extern int mc_failed;

/* Ends the current test's process with status, without anyone's clean-up
 * (other threads may be inside the runtime). Each runner defines it. */
void mc_exit_test(int status);

/* Parses the command line; false (usage printed) on a bad option. --run-one
 * is accepted only if run_one is true. */
bool mc_parse_args(int argc, char **argv, bool run_one, McOptions *o);

/* The cases to run, sorted by label, in an array of elements of elem_size
 * bytes, each starting with an McCase (the rest zeroed); count in *n. */
void *mc_collect(const McOptions *o, size_t elem_size, size_t *n);

/* The timeout of c in seconds: the test's, else its suite's, else dflt. */
double mc_case_timeout(const McCase *c, double dflt);

/* Runs c's init, body and fini in this process, then ends it with status 1
 * if an assertion failed, else 0. */
void mc_run_case(const McCase *c);

#endif /* VX_MINICRIT_COMMON_H */
