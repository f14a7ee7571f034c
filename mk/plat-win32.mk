# mk/plat-win32.mk - the Windows build (read early by the Makefile):
#
#   make PLATFORM=win32 CC=x86_64-w64-mingw32-gcc BUILD=build/win32 lib
#
# builds $(BUILD)/libvexrt.a for x86_64 Windows with MinGW-w64: core/ and
# alloc/ unchanged, platform/win32/ (threads, QueryPerformanceCounter clock,
# WaitOnAddress parking, the IOCP poller) instead of the Linux files. No DLL:
# link programs with the static library and $(LDLIBS) below.
ifeq ($(PLATFORM),win32)
PLAT_SRCS   := platform/defaults.c $(sort $(wildcard platform/win32/*.c))
LIB_TARGETS  = $(BUILD)/libvexrt.a
# ws2_32/mswsock: Winsock and its extensions; ntdll: the AFD poll and
# NtCancelIoFileEx; synchronization: WaitOnAddress; winmm: timeBeginPeriod.
LDLIBS      := -lws2_32 -lmswsock -lntdll -lsynchronization -lwinmm
# Everything is position-independent on Windows already: no -fPIC.
LIBCFLAGS   := $(filter-out -fPIC,$(LIBCFLAGS))
endif
