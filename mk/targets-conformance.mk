# mk/targets-conformance.mk - the platform conformance suite (tests/platform/).
#
#   make conformance    builds $(BUILD)/tests/vexrt-conformance and runs it on
#                       every backend of this build usable here (Linux: epoll,
#                       and io_uring where the kernel allows it)
#
# The suite is plain C (its own runner, no Criterion), so the same sources
# build for the Windows cross build (mk/targets-windows.mk, with
# fixture_win32.c) and for the kqueue check (mk/targets-kqueue.mk).

CONFORMANCE_SRCS   := tests/platform/conformance.c tests/platform/main.c
CONFORMANCE_POSIX  := $(CONFORMANCE_SRCS) tests/platform/fixture_posix.c
CONFORMANCE_CFLAGS := $(CSTD) $(WARN) $(OPT) -Iinclude -Itests/platform $(SANFLAGS)
CONFORMANCE_HDRS   := $(wildcard tests/platform/*.h) $(wildcard include/*.h include/vexrt/*.h)

.PHONY: conformance

$(BUILD)/tests/vexrt-conformance: $(CONFORMANCE_POSIX) $(CONFORMANCE_HDRS) $(BUILD)/libvexrt.a
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(CONFORMANCE_CFLAGS) $(CONFORMANCE_POSIX) -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

# The watchdog in the suite ends a hung check after its own limit; the
# outer timeout only guards the runner itself.
conformance: $(BUILD)/tests/vexrt-conformance
	timeout --foreground -k 5 180 $(BUILD)/tests/vexrt-conformance
