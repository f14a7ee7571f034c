# mk/targets-kqueue.mk - make check-kqueue: the kqueue backend (platform/bsd/)
# checked on a machine without kqueue. EMULATED: on Linux the backend runs on
# tests/kqueue/shim.c, a model of kqueue built on epoll; nothing here runs on
# a real BSD or macOS kernel (docs/kqueue.md says what the model covers).
#
#   (a) the BSD build's platform sources compiled with -Wall -Wextra -Werror
#       by $(CC) (and by clang too when CC is gcc) against <sys/event.h>, or,
#       where there is none, against tests/kqueue/sys/event.h (declarations
#       written from the FreeBSD and macOS manuals); then clang syntax checks
#       for FreeBSD 14, macOS 13 and macOS 14.4 targets, which select those
#       systems' #if branches (umtx parking, os_sync parking, accept without
#       accept4, SO_NOSIGPIPE). There is no FreeBSD or macOS sysroot here, so
#       those checks read the host's glibc headers plus the models in
#       tests/kqueue/: they prove the branches compile against the manuals'
#       declarations, not against the real SDKs.
#   (b) the library built for BSD (platform/bsd/backends.c in place of
#       platform/linux/backends.c) under $(BUILD)/kqueue/, linked with the
#       shim; the conformance suite run on "kqueue", then the runtime's own
#       Criterion I/O tests (tests/io/test_io_ops.c, test_io_ready.c) on it.
#       tests/io/test_io_backend.c is left out: it tests the Linux build's
#       backend choice (io_uring preferred, seccomp fallback to epoll).

KQ_BUILD   := $(BUILD)/kqueue
KQ_NATIVE  := $(shell printf '\043include <sys/event.h>\n' | $(CC) -E -x c - >/dev/null 2>&1 && echo yes)
KQ_INC     := $(if $(KQ_NATIVE),,-Itests/kqueue)
KQ_PLAT    := platform/defaults.c platform/bsd/backends.c platform/bsd/kqueue.c \
              platform/posix/posix.c platform/posix/park.c platform/posix/io_ops.c
KQ_SRCS    := $(CORE_SRCS) $(ALLOC_SRCS) $(KQ_PLAT)
KQ_OBJS    := $(KQ_SRCS:%.c=$(KQ_BUILD)/obj/%.o)
KQ_CFLAGS  := $(LIBCFLAGS) $(KQ_INC)
KQ_MODELS  := $(wildcard tests/kqueue/*/*.h)
KQ_SHIM    := $(if $(KQ_NATIVE),,$(KQ_BUILD)/obj/tests/kqueue/shim.o)
KQ_IO_SRCS := tests/io/test_io_ops.c tests/io/test_io_ready.c tests/io/test_io_close.c tests/io/test_embed.c
KQ_CONF    := tests/platform/conformance.c tests/platform/main.c tests/platform/fixture_posix.c
KQ_CONF_CF := $(CSTD) $(WARN) $(OPT) -Iinclude -Itests/platform $(SANFLAGS)
KQ_STAMP   := $(KQ_BUILD)/.flags-$(shell echo '$(CC) $(KQ_CFLAGS)' | md5sum | cut -c1-12)
KQ_CROSS   := x86_64-unknown-freebsd14 x86_64-apple-macos13 x86_64-apple-macos14.4
KQ_OTHERCC := $(if $(findstring clang,$(CC)),gcc,clang)

.PHONY: check-kqueue kqueue-compile kqueue-cross

$(KQ_STAMP):
	@mkdir -p $(KQ_BUILD) && rm -f $(KQ_BUILD)/.flags-* && touch $@

$(KQ_BUILD)/obj/%.o: %.c $(HEADERS) $(KQ_MODELS) $(KQ_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (kqueue build)"
	$(Q)$(CC) $(KQ_CFLAGS) -c $< -o $@

$(KQ_BUILD)/obj/tests/kqueue/shim.o: tests/kqueue/shim.c $(KQ_MODELS) $(KQ_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (kqueue model on epoll)"
	$(Q)$(CC) $(CSTD) $(WARN) $(OPT) -Itests/kqueue $(SANFLAGS) -c $< -o $@

$(KQ_BUILD)/libvexrt.a: $(KQ_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(KQ_BUILD)/vexrt-conformance: $(KQ_CONF) $(wildcard tests/platform/*.h) $(HEADERS) \
                               $(KQ_BUILD)/libvexrt.a $(KQ_SHIM)
	@echo "  CC      $@"
	$(Q)$(CC) $(KQ_CONF_CF) $(KQ_CONF) $(KQ_SHIM) -o $@ $(KQ_BUILD)/libvexrt.a $(LDLIBS)

$(KQ_BUILD)/vexrt-io-tests: $(KQ_IO_SRCS) $(SUPPORT_SRCS) $(wildcard tests/*/*.h) \
                            $(KQ_BUILD)/libvexrt.a $(KQ_SHIM)
	@echo "  CC      $@"
	$(Q)$(CC) $(TESTCFLAGS) $(KQ_IO_SRCS) $(SUPPORT_SRCS) $(KQ_SHIM) -o $@ \
	  $(KQ_BUILD)/libvexrt.a -lcriterion $(LDLIBS)

# (a) The other compiler on the same sources, syntax only.
kqueue-compile: $(KQ_BUILD)/libvexrt.a
	@if command -v $(KQ_OTHERCC) >/dev/null; then \
	  for f in $(KQ_PLAT); do \
	    $(KQ_OTHERCC) $(CSTD) $(WARN) $(INC) $(KQ_INC) -DVEXRT_BUILDING -fsyntax-only $$f || exit 1; \
	  done; \
	  echo "check-kqueue: platform/bsd + posix compile with $(CC) and $(KQ_OTHERCC) -Wall -Wextra -Werror ($(if $(KQ_NATIVE),<sys/event.h>,tests/kqueue/sys/event.h))"; \
	else echo "check-kqueue: $(KQ_OTHERCC) not installed, compiled with $(CC) only"; fi

# (a) FreeBSD and macOS targets, syntax only (see the header of this file).
kqueue-cross:
	@if ! command -v clang >/dev/null; then echo "check-kqueue: no clang, cross syntax checks skipped"; exit 0; fi; \
	multi=$$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu); \
	for t in $(KQ_CROSS); do \
	  case $$t in *apple*) extra="-U__nonnull -U__nullable -include tests/kqueue/cross/darwin.h";; *) extra="";; esac; \
	  for f in $(KQ_PLAT); do \
	    clang --target=$$t $(CSTD) $(WARN) -Iinclude -Icore -Ialloc -Iplatform -isystem tests/kqueue \
	      -isystem /usr/include/$$multi $$extra -DVEXRT_BUILDING -fsyntax-only $$f || exit 1; \
	  done; \
	done; \
	echo "check-kqueue: syntax checks for $(KQ_CROSS) passed (host libc headers + tests/kqueue models, no SDK)"

# (b) Run on the model.
check-kqueue: criterion-deps kqueue-compile kqueue-cross $(KQ_BUILD)/vexrt-conformance $(KQ_BUILD)/vexrt-io-tests
	@echo "check-kqueue: EMULATED kqueue ($(if $(KQ_NATIVE),the system's own,tests/kqueue/shim.c on epoll)), not a real BSD or macOS kernel"
	timeout --foreground -k 5 180 $(KQ_BUILD)/vexrt-conformance --backend kqueue
	LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0" \
	  timeout --foreground -k 10 600 $(KQ_BUILD)/vexrt-io-tests --jobs 2
