/* fuzz/mpmc_fuzz.c - libFuzzer harness for the global queue's bounded MPMC
 * ring (core/mpmc.c), single-threaded: the input is a script of push, pop,
 * batch push and batch pop operations on a queue of 2..64 cells, checked
 * step by step against a model FIFO (full and empty edges, wrap-around). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpmc.h"

#define MAXCAP 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = (size_t)2 << (data[0] % 6); /* 2 .. 64 */
    VxMpmcCell cells[MAXCAP];
    VxMpmc q;
    vx_mpmc_init(&q, cells, cap);
    uintptr_t model[MAXCAP];
    size_t head = 0, len = 0;
    uintptr_t next = 1;
    for (size_t i = 1; i < size; i++) {
        uint8_t op = data[i];
        size_t k = (size_t)(op >> 2) % 9 + 1;
        switch (op & 3) {
        case 0: { /* push */
            bool ok = vx_mpmc_push(&q, (void *)next);
            if (ok != (len < cap)) abort();
            if (ok) model[(head + len++) % cap] = next++;
            break;
        }
        case 1: { /* pop */
            void *p = vx_mpmc_pop(&q);
            if ((p != NULL) != (len > 0)) abort();
            if (p) {
                if ((uintptr_t)p != model[head]) abort();
                head = (head + 1) % cap;
                len--;
            }
            break;
        }
        case 2: { /* batch push */
            void *items[9];
            for (size_t j = 0; j < k; j++) items[j] = (void *)(next + j);
            size_t n = vx_mpmc_push_batch(&q, items, k);
            size_t room = cap - len;
            if (n != (k < room ? k : room)) abort();
            for (size_t j = 0; j < n; j++) model[(head + len++) % cap] = next++;
            break;
        }
        default: { /* batch pop */
            void *out[9];
            size_t n = vx_mpmc_pop_batch(&q, out, k);
            if (n != (k < len ? k : len)) abort();
            for (size_t j = 0; j < n; j++) {
                if ((uintptr_t)out[j] != model[head]) abort();
                head = (head + 1) % cap;
                len--;
            }
        }
        }
        if (vx_mpmc_len_hint(&q) != len) abort();
    }
    return 0;
}
