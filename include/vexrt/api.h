/* vexrt/api.h - what every public header shares: the export macro every
 * public declaration carries, the library's version (its one definition:
 * the Makefile reads the soname and the pkg-config version from here), and
 * the OS handle type.
 *
 * The shared library is built with -fvisibility=hidden and -DVEXRT_BUILDING,
 * so only symbols marked VEX_API are exported (nm -D shows nothing else). */
#ifndef VEXRT_API_H
#define VEXRT_API_H

#if defined(_WIN32) && defined(VEXRT_SHARED)
#  if defined(VEXRT_BUILDING)
#    define VEX_API __declspec(dllexport)
#  else
#    define VEX_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define VEX_API __attribute__((visibility("default")))
#else
#  define VEX_API
#endif

#define VEXRT_VERSION_MAJOR 0
#define VEXRT_VERSION_MINOR 1
#define VEXRT_VERSION_PATCH 0
#define VEXRT_VERSION_STRING "0.1.0"

#include <stdint.h>

/* An OS handle: a file descriptor on POSIX, a SOCKET or HANDLE on Windows. */
typedef uintptr_t IoHandle;

#endif /* VEXRT_API_H */
