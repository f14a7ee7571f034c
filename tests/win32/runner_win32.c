/* tests/win32/runner_win32.c - the runner of tests/minicrit's harness for
 * Windows, where there is no fork: the test program starts itself again
 * for every test (CreateProcess, "--run-one LABEL"), at most N at a time,
 * so a crash, a failed assertion or a hang fails that test only. The parent
 * ends a child that outlives its timeout (TerminateProcess).
 *
 *   prog.exe [--filter GLOB] [--jobs N] [--list] [--timeout SECONDS]
 *
 * Prints "[PASS]"/"[FAIL]" lines and "N passed, M failed"; exits 1 if
 * anything failed. Same test registry and labels as tests/minicrit/runner.c. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        /* Other threads may be inside the runtime: end the process here,
         * without running anyone's clean-up. */
        fflush(NULL);
        TerminateProcess(GetCurrentProcess(), 1);
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
    size_t param;
    char label[256];
    HANDLE proc;
    ULONGLONG started, deadline;
} Case;

static int cmp_case(const void *a, const void *b)
{
    return strcmp(((const Case *)a)->label, ((const Case *)b)->label);
}

/* fnmatch without flags: '*' and '?' only, which is what --filter takes. */
static int glob_match(const char *p, const char *s)
{
    if (!*p) return !*s;
    if (*p == '*') return glob_match(p + 1, s) || (*s && glob_match(p, s + 1));
    if (*s && (*p == '?' || *p == *s)) return glob_match(p + 1, s + 1);
    return 0;
}

static LONG WINAPI on_crash(EXCEPTION_POINTERS *xp)
{
    /* Report and end here rather than start a debugger (Wine's winedbg). */
    fprintf(stderr, "  crashed: exception 0x%08lx at %p\n",
            (unsigned long)xp->ExceptionRecord->ExceptionCode, xp->ExceptionRecord->ExceptionAddress);
    fflush(NULL);
    TerminateProcess(GetCurrentProcess(), 3);
    return EXCEPTION_EXECUTE_HANDLER;
}

static int run_one(Case *c)
{
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    SetUnhandledExceptionFilter(on_crash);
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
    TerminateProcess(GetCurrentProcess(), failed_in_child ? 1 : 0);
    return failed_in_child ? 1 : 0;
}

static HANDLE start_child(const char *exe, const char *label)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "\"%s\" --run-one \"%s\"", exe, label);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    if (!CreateProcessA(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) return NULL;
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

int main(int argc, char **argv)
{
    const char *filter = NULL, *only = NULL;
    int jobs = 2, list = 0;
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
        else if (!strcmp(argv[i], "--run-one") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--filter GLOB] [--jobs N] [--list] [--timeout S]\n", argv[0]);
            return 2;
        }
    }
    if (jobs < 1) jobs = 1;
    if (jobs > MAXIMUM_WAIT_OBJECTS) jobs = MAXIMUM_WAIT_OBJECTS;

    size_t n = 0, cap = 64;
    Case *cases = calloc(cap, sizeof *cases);
    for (struct mc_test *t = tests; t; t = t->next) {
        size_t count = t->param_fn ? t->params().length : 1;
        for (size_t k = 0; k < count; k++) {
            if (n == cap) cases = realloc(cases, (cap *= 2) * sizeof *cases);
            Case *c = &cases[n];
            memset(c, 0, sizeof *c);
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
            if (only ? strcmp(c->label, only) != 0
                     : (disabled || (filter && !glob_match(filter, path))))
                continue;
            n++;
        }
    }
    if (only) {
        if (n != 1) {
            fprintf(stderr, "no test %s\n", only);
            return 2;
        }
        return run_one(&cases[0]);
    }
    qsort(cases, n, sizeof *cases, cmp_case);
    if (list) {
        for (size_t i = 0; i < n; i++) printf("%s\n", cases[i].label);
        return 0;
    }

    /* Children write to our stdout and stderr: let them inherit both. */
    SetHandleInformation(GetStdHandle(STD_OUTPUT_HANDLE), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    SetHandleInformation(GetStdHandle(STD_ERROR_HANDLE), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
    char exe[MAX_PATH];
    if (!GetModuleFileNameA(NULL, exe, sizeof exe)) return 2;

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
            c->proc = start_child(exe, c->label);
            c->started = GetTickCount64();
            c->deadline = c->started + (ULONGLONG)(timeout * 1000.0);
            if (!c->proc) {
                failed++;
                printf("[FAIL] %s: could not start (error %lu)\n", c->label, GetLastError());
                continue;
            }
            for (int j = 0; j < jobs; j++)
                if (!slots[j]) {
                    slots[j] = c;
                    break;
                }
            running++;
        }
        if (!running) break;
        HANDLE hs[MAXIMUM_WAIT_OBJECTS];
        Case *who[MAXIMUM_WAIT_OBJECTS];
        DWORD nh = 0;
        ULONGLONG now = GetTickCount64(), first = ~0ull;
        for (int j = 0; j < jobs; j++) {
            if (!slots[j]) continue;
            hs[nh] = slots[j]->proc;
            who[nh++] = slots[j];
            if (slots[j]->deadline < first) first = slots[j]->deadline;
        }
        DWORD wait = first > now ? (DWORD)(first - now) : 0;
        DWORD r = WaitForMultipleObjects(nh, hs, FALSE, wait);
        now = GetTickCount64();
        for (DWORD i = 0; i < nh; i++) {
            Case *c = who[i];
            bool done = WaitForSingleObject(c->proc, 0) == WAIT_OBJECT_0;
            bool expired = !done && now >= c->deadline;
            if (!done && !expired) continue;
            if (expired) {
                TerminateProcess(c->proc, 259);
                WaitForSingleObject(c->proc, INFINITE);
            }
            DWORD code = 0;
            GetExitCodeProcess(c->proc, &code);
            CloseHandle(c->proc);
            for (int j = 0; j < jobs; j++)
                if (slots[j] == c) slots[j] = NULL;
            running--;
            double took = (double)(now - c->started) / 1000.0;
            if (!expired && (int)code == c->t->data->exit_code) {
                passed++;
                printf("[PASS] %s (%.2fs)\n", c->label, took);
            } else {
                failed++;
                if (expired)
                    printf("[FAIL] %s: timeout (%.2fs)\n", c->label, took);
                else
                    printf("[FAIL] %s: exit status 0x%lx (%.2fs)\n", c->label, (unsigned long)code, took);
            }
            fflush(stdout);
        }
        (void)r;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    free(slots);
    free(cases);
    return failed ? 1 : 0;
}
