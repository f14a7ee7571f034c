/* tests/minicrit/criterion/criterion.h - a small Criterion-compatible test
 * harness, for builds where Criterion cannot run: ThreadSanitizer (Debian's
 * Criterion 2.4.1 aborts under TSan, Snaipe/Criterion#274) and the Windows
 * cross build. The test files are the same; only the include path differs.
 *
 * Supported: Test(suite, name, .timeout/.init/.fini/.disabled), TestSuite
 * with the same options, cr_assert*, cr_expect*, cr_fail, cr_log_info, and
 * ParameterizedTest (criterion/parameterized.h). Each test runs in a forked
 * child (POSIX) under an alarm for its timeout; the runner prints one line per
 * test and ends with "N passed, M failed". */
#ifndef MINICRIT_CRITERION_H
#define MINICRIT_CRITERION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

struct criterion_test_extra_data {
    int sentinel_;
    double timeout;          /* seconds; 0 = the suite's, else the runner's default */
    void (*init)(void);
    void (*fini)(void);
    bool disabled;
    const char *description;
    int exit_code;
    int signal;
};

struct mc_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    void (*param_fn)(void *);
    struct criterion_test_params (*params)(void);
    const struct criterion_test_extra_data *data;
    struct mc_test *next;
};

struct mc_suite {
    const char *name;
    const struct criterion_test_extra_data *data;
    struct mc_suite *next;
};

struct criterion_test_params {
    size_t size;
    void *params;
    size_t length;
};

/* For MinGW targets GCC's "printf" format means Microsoft's printf, which
 * lacks %zu; the Windows build prints through MinGW's C99 printf
 * (__USE_MINGW_ANSI_STDIO), which is gnu_printf (clang checks C99 already). */
#if defined(__MINGW32__) && !defined(__clang__)
#define MC_PRINTF_FORMAT gnu_printf
#else
#define MC_PRINTF_FORMAT printf
#endif

void mc_register_test(struct mc_test *t);
void mc_register_suite(struct mc_suite *s);
void mc_fail(const char *file, int line, bool abort_test, const char *fmt, ...)
    __attribute__((format(MC_PRINTF_FORMAT, 4, 5)));
void mc_log(const char *fmt, ...) __attribute__((format(MC_PRINTF_FORMAT, 1, 2)));

#define MC_ID(suite, name, x) mc_##suite##_##name##_##x

#define Test(suite, name, ...)                                                        \
    static void MC_ID(suite, name, fn)(void);                                         \
    static const struct criterion_test_extra_data MC_ID(suite, name, data) = {        \
        .sentinel_ = 0, __VA_ARGS__};                                                 \
    static struct mc_test MC_ID(suite, name, t) = {#suite, #name, MC_ID(suite, name, fn), \
                                                   NULL, NULL, &MC_ID(suite, name, data), \
                                                   NULL};                             \
    __attribute__((constructor)) static void MC_ID(suite, name, reg)(void)            \
    {                                                                                 \
        mc_register_test(&MC_ID(suite, name, t));                                     \
    }                                                                                 \
    static void MC_ID(suite, name, fn)(void)

#define TestSuite(suite, ...)                                                         \
    static const struct criterion_test_extra_data mc_suite_##suite##_data = {         \
        .sentinel_ = 0, __VA_ARGS__};                                                 \
    static struct mc_suite mc_suite_##suite = {#suite, &mc_suite_##suite##_data, NULL}; \
    __attribute__((constructor)) static void mc_suite_##suite##_reg(void)             \
    {                                                                                 \
        mc_register_suite(&mc_suite_##suite);                                         \
    }                                                                                 \
    struct mc_suite_##suite##_unused_

#define MC_CHECK_(abort_, cond, ...)                                                  \
    do {                                                                              \
        if (!(cond)) mc_fail(__FILE__, __LINE__, abort_, " " __VA_ARGS__);             \
    } while (0)

#define cr_assert(cond, ...) MC_CHECK_(true, cond, __VA_ARGS__)
#define cr_expect(cond, ...) MC_CHECK_(false, cond, __VA_ARGS__)
#define cr_assert_not(cond, ...) MC_CHECK_(true, !(cond), __VA_ARGS__)
#define cr_expect_not(cond, ...) MC_CHECK_(false, !(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) MC_CHECK_(true, (a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) MC_CHECK_(true, (a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) MC_CHECK_(true, (a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) MC_CHECK_(true, (a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) MC_CHECK_(true, (a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) MC_CHECK_(true, (a) >= (b), __VA_ARGS__)
#define cr_expect_eq(a, b, ...) MC_CHECK_(false, (a) == (b), __VA_ARGS__)
#define cr_assert_null(p, ...) MC_CHECK_(true, (p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) MC_CHECK_(true, (p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) MC_CHECK_(true, strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_fail(...) mc_fail(__FILE__, __LINE__, true, " " __VA_ARGS__)
#define cr_expect_fail(...) mc_fail(__FILE__, __LINE__, false, " " __VA_ARGS__)
#define cr_fatal(...) mc_fail(__FILE__, __LINE__, true, " " __VA_ARGS__)
#define cr_log_info(...) mc_log(__VA_ARGS__)
#define cr_log_warn(...) mc_log(__VA_ARGS__)
#define cr_log_error(...) mc_log(__VA_ARGS__)

#endif /* MINICRIT_CRITERION_H */
