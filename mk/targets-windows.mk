# mk/targets-windows.mk - the Windows build's tests, run under Wine:
#
#   make test-windows
#
# installs gcc-mingw-w64-x86-64 and wine64 when missing (as root, with
# apt-get; otherwise prints the command and fails), cross-builds the library
# and two test programs into $(BUILD)/win32/, and runs them under Wine
# (WINEPREFIX in $(BUILD)/win32/wineprefix, WINEDEBUG=-all):
#   vexrt-conformance.exe  the platform conformance suite (tests/platform/)
#                          on the "iocp" backend;
#   vexrt-tests.exe        the runtime's own tests that apply on Windows
#                          (tests/api, tests/core, tests/win32) through the
#                          minicrit harness, one process per test.
# Each program's output goes to a file (never a pipe: Wine's helper
# processes would hold it open), shown once `wineserver -w` has returned;
# the target fails unless each ends with "N passed, 0 failed".

WIN_CC     ?= x86_64-w64-mingw32-gcc
WIN_BUILD  := $(BUILD)/win32
WIN_PREFIX := $(abspath $(WIN_BUILD))/wineprefix
WINE       ?= $(shell command -v wine || command -v wine64 || echo wine)
WINESERVER ?= $(shell command -v wineserver || echo /usr/lib/wine/wineserver64)
WIN_ENV    := WINEPREFIX=$(WIN_PREFIX) WINEDEBUG=-all

.PHONY: test-windows windows-deps windows-tests

windows-deps:
	@missing=""; \
	command -v $(WIN_CC) >/dev/null 2>&1 || missing=" gcc-mingw-w64-x86-64"; \
	{ command -v wine >/dev/null 2>&1 || command -v wine64 >/dev/null 2>&1; } || missing="$$missing wine64"; \
	$(call apt_install,The Windows tests)

# Runs one Windows program under Wine: $(1) the program, $(2) its log.
define win_run
	@rm -f $(2)
	@echo "  WINE    $(1)"
	@$(WIN_ENV) timeout -k 10 900 $(WINE) $(1) > $(2) 2>&1; \
	  if [ $$? -ge 124 ]; then echo "test-windows: $(1) timed out" >> $(2); $(WIN_ENV) $(WINESERVER) -k; fi; \
	  $(WIN_ENV) $(WINESERVER) -w
	@cat $(2)
	@tail -n 1 $(2) | grep -q -E '^[0-9]+ passed, 0 failed' || \
	  { echo "test-windows: $(1) did not end with 'N passed, 0 failed'"; exit 1; }
endef

test-windows: windows-deps
	@$(MAKE) --no-print-directory PLATFORM=win32 CC=$(WIN_CC) BUILD=$(WIN_BUILD) windows-tests
	@mkdir -p $(WIN_PREFIX)
	$(call win_run,$(WIN_BUILD)/tests/vexrt-conformance.exe,$(WIN_BUILD)/conformance.log)
	$(call win_run,$(WIN_BUILD)/tests/vexrt-tests.exe,$(WIN_BUILD)/tests.log)

# --- Inside the cross build (PLATFORM=win32, BUILD=$(WIN_BUILD)) -----------

ifeq ($(PLATFORM),win32)
# The runtime's tests that apply on Windows. Left out:
#   tests/io/*            file descriptors, pipes, AF_UNIX pairs, seccomp
#                         (tests/win32/test_win32_io.c covers the same ground
#                         with Winsock handles);
#   tests/fault/*         fault injection into the Linux backends.
WIN_TEST_SRCS := $(wildcard tests/api/*.c tests/core/*.c) $(sort $(wildcard tests/win32/test_*.c))
WIN_SUPPORT   := tests/win32/runner_win32.c tests/minicrit/common.c tests/win32/support_win32.c tests/support/common.c \
                 tests/support/watchdog.c \
                 tests/win32/virtual_shim.c platform/virtual/virtual.c
# MinGW's C99 printf (%zu, %lld), and the few Linux calls the tests make.
WIN_TESTCFLAGS := $(TESTCFLAGS) -Itests/minicrit -D__USE_MINGW_ANSI_STDIO=1 \
                  -include tests/win32/posix_compat.h
# Static: the programs need no MinGW DLL (libwinpthread) next to them.
WIN_TESTLIBS  := -static $(BUILD)/libvexrt.a -lpthread $(LDLIBS)

CONF_SRCS := $(wildcard tests/platform/conformance.c tests/platform/main.c) \
             tests/platform/fixture_win32.c

windows-tests: $(BUILD)/tests/vexrt-conformance.exe $(BUILD)/tests/vexrt-tests.exe

$(BUILD)/tests/vexrt-conformance.exe: $(CONF_SRCS) $(BUILD)/libvexrt.a $(wildcard tests/platform/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CSTD) $(WARN) $(OPT) $(INC) -Itests -D__USE_MINGW_ANSI_STDIO=1 $(CONF_SRCS) \
	  -o $@ $(WIN_TESTLIBS)

$(BUILD)/tests/vexrt-tests.exe: $(WIN_TEST_SRCS) $(WIN_SUPPORT) $(BUILD)/libvexrt.a \
                                $(wildcard tests/*/*.h tests/minicrit/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(WIN_TESTCFLAGS) $(WIN_TEST_SRCS) $(WIN_SUPPORT) -o $@ $(WIN_TESTLIBS)
endif
