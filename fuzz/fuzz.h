/* fuzz/fuzz.h - helpers shared by the libFuzzer harnesses: a reader that
 * turns the input bytes into small numbers (0 once the input runs out, so
 * every prefix of an input is itself a valid script), and a check that
 * names the failed condition before aborting, so a crash report says which
 * invariant broke. Test code only: never included by the library. */
#ifndef VX_FUZZ_H
#define VX_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point each harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with file, line, the condition and a printf-style explanation. */
#define FZ_CHECK(cond, ...)                                                         \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

typedef struct FzIn {
    const uint8_t *p, *end;
} FzIn;

/* True while unread bytes remain. */
static inline bool fz_more(const FzIn *in) { return in->p < in->end; }

/* Next byte, or 0 past the end. */
static inline uint8_t fz_u8(FzIn *in) { return in->p < in->end ? *in->p++ : 0; }

/* Next `bytes` bytes as a big-endian number (missing bytes read as 0). */
static inline uint64_t fz_bytes(FzIn *in, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | fz_u8(in);
    return v;
}

/* A number in lo..hi from one byte (hi - lo < 256). */
static inline uint32_t fz_range(FzIn *in, uint32_t lo, uint32_t hi)
{
    return lo + (uint32_t)fz_u8(in) % (hi - lo + 1);
}

#endif /* VX_FUZZ_H */
