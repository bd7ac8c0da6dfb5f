# uwebsocket under AddressSanitizer and UndefinedBehaviorSanitizer: the
# unix firmware (same variant, module built in) with the interpreter, the
# shim and the Rust core instrumented, in its own build folder so it never
# mixes with the normal build. Included by the top-level Makefile, which
# defines ROOT, BUILD_DIR, MICROPY_DIR and JOBS.
#
#   make firmware SANITIZE=1   build it; prints its path as the last line
#   make test                  runs the abuse suite and the API fuzzer on it
#                              too (UWS_FIRMWARE_ASAN)
#
# Any report fails the process: ASan aborts on its first error (its
# default), and -fno-sanitize-recover makes every UBSan check fatal.

ASAN_BUILD := $(BUILD_DIR)/unix-asan
ASAN_FIRMWARE := $(ASAN_BUILD)/micropython

# Not nonnull-attribute: MicroPython itself passes NULL with a length of 0
# to memset/memcpy (bytearray(0) in py/objarray.c), which every libc
# treats as the no-op it is; the check would stop every run there.
# MICROPY_NLR_SETJMP: exceptions unwind with longjmp, which ASan intercepts
# (it cleans the stack it jumps over); the port's hand-written assembly
# unwinder is invisible to it and leaves stale state behind that reads as
# false reports. -Wno-error=clobbered: setjmp warnings in py/ are known
# and harmless there.
SANITIZE_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-sanitize=nonnull-attribute \
	-fno-omit-frame-pointer -DMICROPY_NLR_SETJMP=1 -Wno-error=clobbered
SANITIZE_LDFLAGS := -fsanitize=address,undefined

# The Rust core is built by nightly rustc with -Zsanitizer=address; the
# instrumented staticlib links against GCC's libasan (the same ABI,
# version 8). An explicit --target keeps the flags off build.rs and its
# dependencies (cbindgen). The precompiled `core` stays
# uninstrumented; the core's own code and its dependencies are.
SANITIZE_RUST_TARGET := x86_64-unknown-linux-gnu
SANITIZE_CARGO := env RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes -Cdebuginfo=1" cargo +nightly

ASAN_MAKE = $(MAKE) -C $(MICROPY_DIR)/ports/unix -j$(JOBS) \
	VARIANT_DIR=$(ROOT)/boards/uws_unix USER_C_MODULES=$(ROOT) BUILD=$(ASAN_BUILD) STRIP= \
	CFLAGS_EXTRA="$(SANITIZE_CFLAGS)" LDFLAGS_EXTRA="$(SANITIZE_LDFLAGS)" \
	UWS_RUST_TARGET=$(SANITIZE_RUST_TARGET) UWS_CARGO='$(SANITIZE_CARGO)'

.PHONY: firmware-asan deps-sanitize

# The nightly toolchain (with rust-src) for -Zsanitizer.
deps-sanitize:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

firmware-asan: deps-build deps-sanitize
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	@$(ASAN_MAKE) -s
