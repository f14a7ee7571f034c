/* tests/win32/support_win32.c - the rest of tests/support/support.h for the
 * Windows build (support.c is POSIX: /proc, getrusage; the counting allocator
 * and platform come from tests/support/common.c, shared). Same
 * contracts; the clock is QueryPerformanceCounter, like the runtime's. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <tlhelp32.h>

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "support/support.h"

/* --- Misc --- */

uint64_t test_now_ns(void)
{
    /* The runtime's clock (platform/win32/win32.c): tests compare the two. */
    LARGE_INTEGER f, t;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&t);
    uint64_t freq = (uint64_t)f.QuadPart, ticks = (uint64_t)t.QuadPart;
    return ticks / freq * 1000000000u + ticks % freq * 1000000000u / freq;
}

void test_sleep_ms(unsigned ms)
{
    /* Sleep can end a little early by QueryPerformanceCounter (it ends on a
     * clock tick): sleep until the span has really passed. */
    uint64_t end = test_now_ns() + (uint64_t)ms * 1000000u;
    for (uint64_t now = test_now_ns(); now < end; now = test_now_ns())
        Sleep((DWORD)((end - now + 999999u) / 1000000u));
}

int test_thread_count(void)
{
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snap == INVALID_HANDLE_VALUE) return -1;
    DWORD pid = GetCurrentProcessId();
    THREADENTRY32 te;
    te.dwSize = sizeof te;
    int n = 0;
    for (BOOL ok = Thread32First(snap, &te); ok; ok = Thread32Next(snap, &te))
        if (te.th32OwnerProcessID == pid) n++;
    CloseHandle(snap);
    return n;
}

uint64_t test_cpu_ns(void)
{
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u)) return 0;
    uint64_t kt = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
    uint64_t ut = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
    return (kt + ut) * 100u; /* FILETIME counts 100 ns units */
}


unsigned long long vx_compat_affinity_mask(void)
{
    DWORD_PTR proc = 0, sys = 0;
    return GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys) ? (unsigned long long)proc : 0;
}
