/* tests/minicrit/common.c - see common.h. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mc_test *tests;
static struct mc_suite *suites;
int mc_failed;

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
    mc_failed = 1;
    if (abort_test) {
        fflush(NULL);
        mc_exit_test(1);
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

bool mc_parse_args(int argc, char **argv, bool run_one, McOptions *o)
{
    memset(o, 0, sizeof *o);
    o->jobs = 2;
    o->timeout = 120;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            o->filter = argv[++i];
        else if (!strncmp(argv[i], "--filter=", 9))
            o->filter = argv[i] + 9;
        else if (!strcmp(argv[i], "--jobs") && i + 1 < argc)
            o->jobs = atoi(argv[++i]);
        else if (!strncmp(argv[i], "-j", 2) && argv[i][2])
            o->jobs = atoi(argv[i] + 2);
        else if (!strcmp(argv[i], "--list"))
            o->list = 1;
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            o->timeout = atof(argv[++i]);
        else if (run_one && !strcmp(argv[i], "--run-one") && i + 1 < argc)
            o->only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--filter GLOB] [--jobs N] [--list] [--timeout S]\n", argv[0]);
            return false;
        }
    }
    if (o->jobs < 1) o->jobs = 1;
    return true;
}

/* fnmatch without flags, for '*' and '?' (all --filter takes), on every OS. */
static bool glob_match(const char *p, const char *s)
{
    if (!*p) return !*s;
    if (*p == '*') return glob_match(p + 1, s) || (*s && glob_match(p, s + 1));
    if (*s && (*p == '?' || *p == *s)) return glob_match(p + 1, s + 1);
    return false;
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const McCase *)a)->label, ((const McCase *)b)->label);
}

void *mc_collect(const McOptions *o, size_t elem_size, size_t *n_out)
{
    size_t n = 0, cap = 64;
    char *cases = calloc(cap, elem_size);
    for (struct mc_test *t = tests; t; t = t->next) {
        size_t count = t->param_fn ? t->params().length : 1;
        for (size_t k = 0; k < count; k++) {
            if (n == cap) cases = realloc(cases, (cap *= 2) * elem_size);
            McCase *c = (McCase *)(void *)(cases + n * elem_size);
            memset(c, 0, elem_size);
            c->t = t;
            c->param = k;
            if (t->param_fn)
                snprintf(c->label, sizeof c->label, "%s::%s[%u]", t->suite, t->name, (unsigned)k);
            else
                snprintf(c->label, sizeof c->label, "%s::%s", t->suite, t->name);
            char path[256];
            snprintf(path, sizeof path, "%s/%s", t->suite, t->name);
            const struct criterion_test_extra_data *sd = suite_data(t->suite);
            bool disabled = t->data->disabled || (sd && sd->disabled);
            if (o->only ? strcmp(c->label, o->only) != 0
                        : (disabled || (o->filter && !glob_match(o->filter, path))))
                continue;
            n++;
        }
    }
    qsort(cases, n, elem_size, cmp_label);
    *n_out = n;
    return cases;
}

double mc_case_timeout(const McCase *c, double dflt)
{
    const struct criterion_test_extra_data *sd = suite_data(c->t->suite);
    return c->t->data->timeout > 0 ? c->t->data->timeout
           : (sd && sd->timeout > 0) ? sd->timeout
                                     : dflt;
}

void mc_run_case(const McCase *c)
{
    const struct criterion_test_extra_data *sd = suite_data(c->t->suite);
    const struct criterion_test_extra_data *td = c->t->data;
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
    mc_exit_test(mc_failed ? 1 : 0);
}
