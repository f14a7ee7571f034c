# mk/targets-wasi.mk - the WebAssembly (WASI preview 1) port, built and run
# on this machine:
#
#   make wasi        build/wasi/libvexrt.a, the seed example and the WASI test
#                    set as .wasm (clang-14 --target=wasm32-wasi, Debian's
#                    wasi-libc and libclang-rt-14-dev-wasm32)
#   make test-wasi   runs them under Node.js's node:wasi: the seed example
#                    unchanged, and tests/wasi/wasi_tests.c with stdin a pipe
#                    ("N passed, M failed"; any failure fails the target)
#
# Installs what is missing (wasi-libc, libclang-rt-14-dev-wasm32, lld-14,
# nodejs) with apt-get when running as root, else prints the command.
WASI_CC    ?= clang-14 --target=wasm32-wasi
WASI_AR    ?= llvm-ar-14
WASI_BUILD := $(BUILD)/wasi
WASI_NODE  ?= node --no-warnings
WASI_CF    := $(CSTD) $(WARN) -O2 -Iinclude -D_WASI_EMULATED_SIGNAL

.PHONY: wasi test-wasi wasi-deps

wasi-deps:
	@missing=""; \
	[ -f /usr/lib/wasm32-wasi/libc.a ] || missing="$$missing wasi-libc"; \
	ls /usr/lib/llvm-14/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a >/dev/null 2>&1 || \
	  missing="$$missing libclang-rt-14-dev-wasm32"; \
	command -v wasm-ld-14 >/dev/null 2>&1 || command -v wasm-ld >/dev/null 2>&1 || missing="$$missing lld-14"; \
	command -v clang-14 >/dev/null 2>&1 || missing="$$missing clang-14"; \
	command -v llvm-ar-14 >/dev/null 2>&1 || missing="$$missing llvm-14"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	$(call apt_install,The WASI build)

wasi: wasi-deps
	@$(MAKE) --no-print-directory PLATFORM=wasi CC="$(WASI_CC)" AR=$(WASI_AR) BUILD=$(WASI_BUILD) lib
	@echo "  WASM    $(WASI_BUILD)/seed_example.wasm"
	$(Q)$(WASI_CC) $(CSTD) -O2 -Iinclude examples/seed_example.c $(WASI_BUILD)/libvexrt.a \
	  -o $(WASI_BUILD)/seed_example.wasm
	@echo "  WASM    $(WASI_BUILD)/wasi_tests.wasm"
	$(Q)$(WASI_CC) $(WASI_CF) tests/wasi/wasi_tests.c $(WASI_BUILD)/libvexrt.a \
	  -o $(WASI_BUILD)/wasi_tests.wasm

test-wasi: wasi
	@echo "  NODE    seed_example.wasm"
	@$(WASI_NODE) tests/wasi/run.mjs $(WASI_BUILD)/seed_example.wasm > $(WASI_BUILD)/seed.out; \
	  rc=$$?; tail -n 3 $(WASI_BUILD)/seed.out; \
	  [ $$rc = 0 ] && [ $$(grep -c '^Task' $(WASI_BUILD)/seed.out) = 60 ] || \
	  { echo "test-wasi: the seed example failed (exit $$rc)"; exit 1; }
	@echo "  NODE    wasi_tests.wasm"
	@# "ping" goes in once the stdin test has started (it prints its backend),
	@# so the reader is parked on the poller when it arrives.
	@rm -f $(WASI_BUILD)/tests.out; \
	  { for i in $$(seq 600); do grep -q '(backend' $(WASI_BUILD)/tests.out 2>/dev/null && break; \
	      sleep 0.1; done; sleep 0.2; printf 'ping\n'; } | \
	  $(WASI_NODE) tests/wasi/run.mjs $(WASI_BUILD)/wasi_tests.wasm \
	  > $(WASI_BUILD)/tests.out; rc=$$?; cat $(WASI_BUILD)/tests.out; \
	  tail -n 1 $(WASI_BUILD)/tests.out | grep -q -E '^[0-9]+ passed, 0 failed' && [ $$rc = 0 ] || \
	  { echo "test-wasi: the WASI test set failed (exit $$rc)"; exit 1; }
