/* tests/minicrit/criterion/parameterized.h - ParameterizedTest for the
 * minimal harness (see criterion.h beside it). */
#ifndef MINICRIT_PARAMETERIZED_H
#define MINICRIT_PARAMETERIZED_H

#include "criterion.h"

#define cr_make_param_array(Type, Array, Len) \
    ((struct criterion_test_params){sizeof(Type), (void *)(Array), (size_t)(Len)})

#define ParameterizedTestParameters(suite, name) \
    struct criterion_test_params MC_ID(suite, name, params)(void)

/* Type is a parameter declaration ("struct backend *b"), as in Criterion;
 * the runner calls the body with a pointer to each element of the array. */
#define ParameterizedTest(Type, suite, name, ...)                                     \
    struct criterion_test_params MC_ID(suite, name, params)(void);                    \
    static void MC_ID(suite, name, pfn)(Type);                                        \
    static const struct criterion_test_extra_data MC_ID(suite, name, data) = {        \
        .sentinel_ = 0, __VA_ARGS__};                                                 \
    static struct mc_test MC_ID(suite, name, t) = {                                   \
        #suite, #name, NULL, (void (*)(void *))(void (*)(void))MC_ID(suite, name, pfn), \
        MC_ID(suite, name, params), &MC_ID(suite, name, data), NULL};                 \
    __attribute__((constructor)) static void MC_ID(suite, name, reg)(void)            \
    {                                                                                 \
        mc_register_test(&MC_ID(suite, name, t));                                     \
    }                                                                                 \
    static void MC_ID(suite, name, pfn)(Type)

#endif /* MINICRIT_PARAMETERIZED_H */
