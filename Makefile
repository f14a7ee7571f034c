# libvexrt - the Vex async I/O runtime.
#
#   make                  build/libvexrt.a and build/libvexrt.so (soname libvexrt.so.0)
#   make test             the Criterion suite (installs libcriterion-dev with apt-get
#                         when missing and running as root, else prints the command)
#   make asan             the same suite under AddressSanitizer + UBSan
#   make tsan             the same test bodies under ThreadSanitizer, driven by the
#                         project's own runner (Criterion cannot run under TSan)
#   make debug            the suite with the core's internal assertions compiled in
#   make run              the showcase example
#   make bench            the compute benchmarks (JSON lines, see bench/)
#   make check-freestanding   core/ + slab pools link with nothing but mem* symbols
#   make install PREFIX=/usr/local   libraries, headers and vexrt.pc
#   make clean
#
# Variables: CC (gcc or clang), BUILD (output folder), OPT (optimisation flags).

CC      ?= cc
AR      ?= ar
BUILD   ?= build
OPT     ?= -O2 -g
PREFIX  ?= /usr/local
SAN     ?=
V       ?=
Q       := $(if $(V),,@)

ifeq ($(SAN),asan)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
ifeq ($(SAN),tsan)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CSTD    := -std=c11
INC     := -Iinclude -Icore -Ialloc -Iplatform
LIBCFLAGS := $(CSTD) $(WARN) $(OPT) $(INC) -fPIC -fvisibility=hidden -DVEXRT_BUILDING \
             $(SANFLAGS) $(EXTRA_CFLAGS)
LDLIBS  := -lpthread

# The version has one definition, in include/vexrt/api.h; the soname and
# the pkg-config file take it from there.
version_part = $(shell sed -n 's/^\#define VEXRT_VERSION_$(1) \([0-9]*\).*/\1/p' include/vexrt/api.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION       := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME        := libvexrt.so.$(VERSION_MAJOR)


# PLATFORM picks the OS folder of platform/ (linux by default). Other OS
# builds are described by mk/plat-<name>.mk, read here so they can replace
# PLAT_SRCS, LDLIBS and LIB_TARGETS before the rules below use them.
PLATFORM   ?= linux
CORE_SRCS  := $(wildcard core/*.c)
ALLOC_SRCS := alloc/slab.c alloc/libc.c
PLAT_SRCS  := platform/defaults.c platform/linux/backends.c platform/posix/posix.c platform/linux/futex.c \
              platform/linux/epoll.c platform/linux/io_ops.c platform/linux/uring.c \
              platform/posix/io_ops.c
LIB_TARGETS = $(BUILD)/libvexrt.a $(BUILD)/libvexrt.so
-include mk/plat-*.mk
LIB_SRCS   := $(CORE_SRCS) $(ALLOC_SRCS) $(PLAT_SRCS)
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
HEADERS    := $(wildcard include/*.h include/vexrt/*.h core/*.h alloc/*.h platform/*.h platform/*/*.h)
LIB_DEPS   := $(LIB_OBJS:.o=.d)

.PHONY: all lib test asan tsan debug run bench check-freestanding check-docs docs-reference install clean criterion-deps \
        test-build tsan-build examples

all: lib examples

lib: $(LIB_TARGETS)

# Objects depend on a stamp named after the flags, so changing CC, OPT or SAN
# for the same BUILD folder rebuilds everything.
FLAGS_STAMP := $(BUILD)/.flags-$(shell echo '$(CC) $(LIBCFLAGS)' | md5sum | cut -c1-12)
$(FLAGS_STAMP):
	@mkdir -p $(BUILD) && rm -f $(BUILD)/.flags-* && touch $@

# Header dependencies come from the compiler (-MMD): an object is rebuilt
# when a header it includes changes, and only then.
# An object whose .d is missing (built before, or the .d deleted) is rebuilt.
$(BUILD)/obj/%.o: %.c $(BUILD)/obj/%.d $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(LIBCFLAGS) -MMD -MP -c $< -o $@
	@touch $@ # clang writes the .d after the object: keep the object the newer

$(LIB_DEPS): ;
-include $(LIB_DEPS)

$(BUILD)/libvexrt.a: $(LIB_OBJS)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)$(AR) rcs $@ $^

$(BUILD)/libvexrt.so: $(LIB_OBJS)
	@echo "  LD      $@"
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) $(SANFLAGS) -o $(BUILD)/$(SONAME) $^ $(LDLIBS)
	$(Q)ln -sf $(SONAME) $@

# --- Examples -------------------------------------------------------------

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
EXCFLAGS := $(CSTD) $(WARN) $(OPT) -Iinclude -D_GNU_SOURCE $(SANFLAGS)

examples: $(EXAMPLES)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libvexrt.a $(HEADERS)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(EXCFLAGS) $< -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

# The showcase: an echo server and client tasks on 127.0.0.1 for 3 seconds.
run: $(BUILD)/examples/showcase
	$(BUILD)/examples/showcase

# --- Tests ----------------------------------------------------------------

TEST_SRCS    := $(wildcard tests/api/*.c tests/core/*.c tests/alloc/*.c tests/io/*.c tests/fault/*.c)
SUPPORT_SRCS := $(wildcard tests/support/*.c) platform/virtual/virtual.c
TESTCFLAGS   := $(CSTD) $(WARN) -Wno-missing-prototypes $(OPT) $(INC) -Itests -D_GNU_SOURCE \
                $(SANFLAGS) -DVX_EXAMPLES_DIR='"$(BUILD)/examples"'

# $(call apt_install,WHO): a shell fragment that installs the Debian packages
# named in the shell variable `missing` (apt-get, when running as root) or
# prints the exact command and fails; WHO says what needs them. Every
# *-deps target uses it.
define apt_install
if [ -n "$$missing" ]; then \
  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
    echo "$(1) needs:$$missing: installing"; \
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
  else \
    echo "$(1) needs:$$missing. Install with:  sudo apt-get install -y$$missing"; \
    exit 1; \
  fi; \
fi
endef

criterion-deps:
	@missing=""; [ -f /usr/include/criterion/criterion.h ] || missing=" libcriterion-dev"; \
	$(call apt_install,The test suite (Criterion))

# Criterion build: every test file and the support code in one binary.
$(BUILD)/tests/vexrt-tests: $(TEST_SRCS) $(SUPPORT_SRCS) $(BUILD)/libvexrt.a $(wildcard tests/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TESTCFLAGS) $(TEST_SRCS) $(SUPPORT_SRCS) -o $@ $(BUILD)/libvexrt.a -lcriterion $(LDLIBS)

# Own-runner build (ThreadSanitizer): the same test files compiled against
# tests/minicrit/criterion/, a small Criterion-compatible header and runner.
$(BUILD)/tests/vexrt-tests-mini: $(TEST_SRCS) $(SUPPORT_SRCS) tests/minicrit/runner.c tests/minicrit/common.c \
                                 $(BUILD)/libvexrt.a $(wildcard tests/*/*.h tests/minicrit/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(TESTCFLAGS) -Itests/minicrit $(TEST_SRCS) $(SUPPORT_SRCS) tests/minicrit/runner.c tests/minicrit/common.c \
	  -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

test-build: criterion-deps $(BUILD)/tests/vexrt-tests $(EXAMPLES)

# Criterion leaks a few bytes of its own at exit; they are suppressed so that
# LeakSanitizer reports only ours. The runtime's own memory is checked exactly
# by the tests' counting allocator.
test: test-build
	LSAN_OPTIONS="suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0" \
	  timeout --foreground -k 10 900 $(BUILD)/tests/vexrt-tests --jobs 2
	$(BUILD)/examples/seed_example > /dev/null

asan:
	$(MAKE) BUILD=build/asan SAN=asan OPT="-O1 -g" test

tsan:
	$(MAKE) BUILD=build/tsan SAN=tsan OPT="-O1 -g" tsan-run

# The suite against a library whose internal assertions (VX_ASSERT: the
# state machines, ring and inbox invariants) are compiled in; a release
# build compiles them out.
debug:
	$(MAKE) BUILD=build/debug OPT="-O1 -g" EXTRA_CFLAGS=-DVX_DEBUG test

tsan-run: $(BUILD)/tests/vexrt-tests-mini $(EXAMPLES)
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	  timeout --foreground -k 10 1200 $(BUILD)/tests/vexrt-tests-mini

# --- Benchmarks -----------------------------------------------------------

$(BUILD)/vexrt-bench: bench/vexrt_bench.c $(BUILD)/libvexrt.a $(HEADERS)
	$(CC) $(CSTD) $(WARN) -O2 -g -Iinclude -D_GNU_SOURCE $< -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

$(BUILD)/vexrt-timer-ops: bench/timer_ops.c $(BUILD)/libvexrt.a $(HEADERS)
	$(CC) $(CSTD) $(WARN) -O2 -g $(INC) -D_GNU_SOURCE $< -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

$(BUILD)/vexrt-server: bench/vexrt_server.c $(BUILD)/libvexrt.a $(HEADERS)
	$(CC) $(CSTD) $(WARN) -O2 -g -Iinclude -D_GNU_SOURCE $< -o $@ $(BUILD)/libvexrt.a $(LDLIBS)

bench: $(BUILD)/vexrt-bench $(BUILD)/vexrt-timer-ops $(BUILD)/vexrt-server
	@for w in spawn_many yield_many chained_spawn ping_pong timers; do $(BUILD)/vexrt-bench $$w; done
	@$(BUILD)/vexrt-timer-ops

# --- Checks ---------------------------------------------------------------

# core/ and the slab pools compiled freestanding, linked into one relocatable
# object: the only undefined symbols allowed are the mem* functions a
# compiler may emit for struct copies and zeroing.
check-freestanding:
	@rm -rf $(BUILD)/free && mkdir -p $(BUILD)/free
	@for f in $(CORE_SRCS); do \
	  $(CC) $(CSTD) $(WARN) -O2 -ffreestanding -fno-builtin -Iinclude -Icore -Ialloc \
	    -c $$f -o $(BUILD)/free/$$(echo $$f | tr / _).o || exit 1; \
	done
	@$(CC) $(CSTD) $(WARN) -O2 -ffreestanding -fno-builtin -Iinclude -Ialloc \
	  -c alloc/slab.c -o $(BUILD)/free/alloc_slab.c.o || \
	  { echo "check-freestanding: alloc/slab.c must build from alloc/ and include/ alone"; exit 1; }
	@ld -r -o $(BUILD)/free/core.o $(BUILD)/free/*_*.o
	@bad=$$(nm -u $(BUILD)/free/core.o | awk '{print $$2}' | grep -v -E '^(memcpy|memset|memmove|memcmp)$$'); \
	if [ -n "$$bad" ]; then echo "check-freestanding: core/ needs: $$bad"; exit 1; fi
	@bad=$$(grep -n '#include <' core/*.[ch] | grep -v -E '<(stddef|stdint|stdbool|stdatomic)\.h>'); \
	if [ -n "$$bad" ]; then echo "check-freestanding: core/ includes:"; echo "$$bad"; exit 1; fi
	@bad=$$(grep -n -E '(_WIN32|__linux__|__APPLE__|__FreeBSD__|(^|[^.>_a-z])(malloc|calloc|realloc|free)\(|errno)' core/*.[ch]); \
	if [ -n "$$bad" ]; then echo "check-freestanding: OS-specific code in core/:"; echo "$$bad"; exit 1; fi
	@bad=$$(nm -A $(BUILD)/libvexrt.a 2>/dev/null | grep -E ' U (malloc|calloc|realloc|free|aligned_alloc|posix_memalign|memalign)$$' | grep -v 'libc.o:'); \
	if [ -n "$$bad" ]; then echo "check-freestanding: allocation bypassing the allocator vtable:"; echo "$$bad"; exit 1; fi
	@echo "check-freestanding: ok (core/ and alloc/slab.c need only mem*; only alloc/libc.c calls the C allocator)"

check-freestanding: $(BUILD)/libvexrt.a

# The user docs as code: code blocks build, the API reference in
# docs/guide.md matches the headers, headers are c99-clean, no link to
# ../shared (tests/docs/check_docs.sh says what each step checks).
check-docs: $(BUILD)/libvexrt.a
	@tests/docs/check_docs.sh "$(CC)" "$(BUILD)" "$(BUILD)/libvexrt.a" "$(LDLIBS)"

# Rewrites the API reference section of docs/guide.md from the headers.
docs-reference:
	@awk -f tests/docs/reference.awk $$(tests/docs/headers.sh) > $(BUILD)/reference.md.tmp
	@awk -v ref=$(BUILD)/reference.md.tmp '/<!-- reference:begin -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next } \
	  /<!-- reference:end -->/ { skip = 0 } !skip' docs/guide.md > $(BUILD)/guide.md.tmp
	@mv $(BUILD)/guide.md.tmp docs/guide.md && rm -f $(BUILD)/reference.md.tmp
	@echo "docs-reference: docs/guide.md's API reference rewritten from the headers"

# --- Install --------------------------------------------------------------

# Headers as an embedder gets them: <vexrt.h> (everything), <vexrt/*.h>,
# and the seed's "runtime.h"; `pkg-config --cflags vexrt` serves all three.
install: lib
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/vexrt $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(BUILD)/libvexrt.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/$(SONAME) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libvexrt.so
	install -m 644 include/runtime.h include/vexrt.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 include/vexrt/*.h $(DESTDIR)$(PREFIX)/include/vexrt/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: vexrt\nDescription: Vex async I/O runtime (M:N tasks, work stealing, timers, I/O)\nVersion: %s\nLibs: -L$${libdir} -lvexrt\nLibs.private: -lpthread\nCflags: -I$${includedir}\n' '$(PREFIX)' '$(VERSION)' \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/vexrt.pc

clean:
	rm -rf build

# Further targets (fuzzing, other platforms' checks) live in mk/targets-*.mk.
-include mk/targets-*.mk
