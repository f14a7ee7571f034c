# mk/plat-wasi.mk - the WebAssembly (WASI preview 1) build (read early by the
# Makefile):
#
#   make PLATFORM=wasi CC="clang-14 --target=wasm32-wasi" BUILD=build/wasi lib
#
# builds $(BUILD)/libvexrt.a for wasm32-wasi against Debian's wasi-libc:
# core/ and alloc/ unchanged, platform/wasi/ (no threads, poll_oneoff) in
# place of the OS folders. `make wasi` and `make test-wasi`
# (mk/targets-wasi.mk) do this and more.
ifeq ($(PLATFORM),wasi)
PLAT_SRCS   := platform/defaults.c platform/wasi/backends.c platform/wasi/wasi.c
LIB_TARGETS  = $(BUILD)/libvexrt.a
LDLIBS      :=
# A static wasm module: no -fPIC, no shared library.
LIBCFLAGS   := $(filter-out -fPIC,$(LIBCFLAGS))
endif
