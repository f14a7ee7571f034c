# mk/targets-fuzz.mk - libFuzzer harnesses (fuzz/*_fuzz.c), read at the end
# of the Makefile.
#
#   make fuzz                      builds every harness into $(BUILD)/fuzz/<name>_fuzz
#   make fuzz-run [SECONDS=30] [JOBS=1] [FUZZ=name...]
#                                  runs each harness SECONDS on its own copy of
#                                  fuzz/corpus/<name>/ under $(BUILD)/fuzz/ and
#                                  prints one summary line per harness; fails
#                                  on any crash, sanitizer report, leak or hang
#
# Each harness compiles the sources of the structure it tests directly, with
# its own flags (clang only: gcc has no libFuzzer). Single-threaded harnesses
# use ASan + UBSan: their bugs are index and bookkeeping errors, which the
# model checks and out-of-bounds accesses show. The threaded ones use TSan
# instead: ASan cannot see a missing release/acquire pair at all (on x86 the
# hardware hides it), while TSan reports the unordered access on the very
# interleaving that ran; the logic checks (exactly once, order) still run.

FUZZ_CC    ?= clang
# SECONDS only from the command line: bash keeps its own SECONDS (seconds
# since the shell started), which may reach make through the environment.
FUZZ_SECONDS = $(if $(filter command line,$(origin SECONDS)),$(SECONDS),30)
FUZZ_JOBS  := $(or $(JOBS),1)
FUZZ_DIR   := $(BUILD)/fuzz

FUZZ_CFLAGS   := $(CSTD) $(WARN) -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE \
                 -Iinclude -Icore -Ialloc -Ifuzz
FUZZ_SAN_asan := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_SAN_tsan := -fsanitize=fuzzer,thread \
                 -Wl,--defsym=fz_sancov_cntrs_start=__start___sancov_cntrs \
                 -Wl,--defsym=fz_sancov_cntrs_stop=__stop___sancov_cntrs
FUZZ_HDRS     := $(HEADERS) $(wildcard fuzz/*.h)

# name, sources under test, sanitizer (asan or tsan), libraries
define FUZZ_HARNESS
FUZZ_NAMES += $(1)
$(FUZZ_DIR)/$(1)_fuzz: fuzz/$(1)_fuzz.c $(2) $(FUZZ_HDRS) mk/targets-fuzz.mk
	@mkdir -p $$(dir $$@)
	@echo "  FUZZ    $$@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $$(FUZZ_SAN_$(3)) fuzz/$(1)_fuzz.c $(2) -o $$@ $(4)
endef

$(eval $(call FUZZ_HARNESS,mpmc,core/mpmc.c,asan,))
$(eval $(call FUZZ_HARNESS,mpmc_threads,core/mpmc.c,tsan,-lpthread))
$(eval $(call FUZZ_HARNESS,local_queue,core/local_queue.c core/mpmc.c,asan,))
$(eval $(call FUZZ_HARNESS,local_queue_threads,core/local_queue.c core/mpmc.c,tsan,-lpthread))
$(eval $(call FUZZ_HARNESS,slab,alloc/slab.c,asan,))
$(eval $(call FUZZ_HARNESS,wheel,core/timer_wheel.c,asan,))

# FUZZ=a b ... limits fuzz-run to some harnesses.
FUZZ ?= $(FUZZ_NAMES)

.PHONY: fuzz fuzz-run

fuzz: $(FUZZ_NAMES:%=$(FUZZ_DIR)/%_fuzz)

fuzz-run: $(FUZZ:%=$(FUZZ_DIR)/%_fuzz)
	@bash fuzz/run.sh "$(FUZZ_DIR)" "$(FUZZ_SECONDS)" "$(FUZZ_JOBS)" $(FUZZ)
