# mk/targets-soak.mk - the soak run (tests/soak/soak.c) under ThreadSanitizer.
#
#   make soak               two minutes
#   make soak MINUTES=N     N minutes
#   make soak SECONDS=N     N seconds (short runs; SECONDS wins over MINUTES)
#
# The library comes from make tsan's build (build/tsan, same flags, so it is
# reused); the soak program is linked against it and run with
# halt_on_error=1: a race report, a failed check, a leak or a hang (its own
# watchdog) makes the target fail. One JSON summary line goes to stdout.

SOAK_BUILD   := build/tsan
SOAK_BIN     := $(SOAK_BUILD)/soak/vexrt-soak
# SECONDS only from the command line: bash's own SECONDS (seconds since the
# shell started) can reach make through the environment.
SOAK_SECONDS  = $(if $(filter command line,$(origin SECONDS)),$(SECONDS),$(shell echo $$(( $(or $(MINUTES),2) * 60 ))))

.PHONY: soak soak-build

soak-build:
	$(MAKE) BUILD=$(SOAK_BUILD) SAN=tsan OPT="-O1 -g" lib
	@mkdir -p $(dir $(SOAK_BIN))
	@echo "  CC      $(SOAK_BIN)"
	$(Q)$(CC) $(CSTD) $(WARN) -O1 -g -Iinclude -D_GNU_SOURCE -fsanitize=thread -fno-omit-frame-pointer \
	  tests/soak/soak.c -o $(SOAK_BIN) $(SOAK_BUILD)/libvexrt.a $(LDLIBS)

soak: soak-build
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  timeout --foreground -k 10 $$(( $(SOAK_SECONDS) * 2 + 300 )) $(SOAK_BIN) $(SOAK_SECONDS)
