# mk/targets-valgrind.mk - make valgrind: the seed example and the programs
# of tests/valgrind/ (timers, cross-worker wakes, I/O) under valgrind's
# memcheck on the default backend, each with a time bound (VG_SECONDS, 120)
# that a runtime stalling under valgrind blows (before the fix, a 2-worker
# io_uring runtime took ~2 s per 1 ms sleep there). Installs valgrind with
# apt-get when missing and running as root, like Criterion.
VG_SECONDS ?= 120
VG_FLAGS   := --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 -q
VG_CFLAGS  := $(CSTD) $(WARN) -O1 -g -Iinclude -D_GNU_SOURCE

.PHONY: valgrind valgrind-deps

valgrind-deps:
	@missing=""; command -v valgrind >/dev/null || missing=" valgrind"; \
	$(call apt_install,make valgrind)

$(BUILD)/tests/vg_check: tests/valgrind/vg_check.c $(BUILD)/libvexrt.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(VG_CFLAGS) $< -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

valgrind: valgrind-deps $(BUILD)/tests/vg_check $(BUILD)/examples/seed_example
	@for prog in "examples/seed_example" "tests/vg_check timers" "tests/vg_check wakes" "tests/vg_check io"; do \
	  echo "  VALGRIND $$prog"; \
	  timeout -k 5 $(VG_SECONDS) valgrind $(VG_FLAGS) $(BUILD)/$$prog > $(BUILD)/valgrind.out 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ]; then \
	    cat $(BUILD)/valgrind.out; \
	    if [ $$rc -ge 124 ]; then echo "make valgrind: $$prog took more than $(VG_SECONDS) s under valgrind"; \
	    else echo "make valgrind: $$prog failed under valgrind (exit $$rc)"; fi; \
	    exit 1; \
	  fi; \
	  tail -n 1 $(BUILD)/valgrind.out; \
	done
	@echo "make valgrind: ok"
