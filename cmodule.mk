# uwebsocket for MicroPython's make ports (unix, qemu, stm32, nrf, ...):
# builds the Rust core with cargo for the port's target, generates its C
# header, compiles the shim and links the static library.
#
# Settings (make variables):
#   UWS_RUST_TARGET  Rust target triple; chosen from the port by default
#                    (see below), empty for the host (unix port).
#   UWS_CARGO        cargo command (default: cargo)
#   UWS_MAX_SIZE     default maximum message size in bytes (default 65536)
#   UWS_PROFILE      what the module builds in: full (default), server
#                    (no connect()/client()), client (no accept() and
#                    HTTP helpers), nodeflate (full without
#                    permessage-deflate) or tiny (the server with nothing
#                    optional: no HTTP helpers, keepalive or
#                    compression); a board can instead set the
#                    MICROPY_PY_UWEBSOCKET_* flags in its mpconfigboard.h
#                    (see micropython_module/moduwebsocket.c)
#
# This file is parsed before the port's `all:` rule, so it saves and
# restores .DEFAULT_GOAL around the rules it defines.

UWS_DIR := $(abspath $(UWS_MODULE_DIR)/..)
UWS_CARGO ?= cargo
UWS_PORT := $(notdir $(CURDIR))

# --- Rust target: follows the port and board, overridable -----------------
ifeq ($(origin UWS_RUST_TARGET),undefined)
ifeq ($(UWS_PORT),unix)
UWS_RUST_TARGET :=
else ifeq ($(BOARD),MPS2_AN385)
UWS_RUST_TARGET := thumbv7m-none-eabi
else ifeq ($(BOARD),VIRT_RV32)
UWS_RUST_TARGET := riscv32imac-unknown-none-elf
else
# Other ports: from the CPU flags the port compiles C with (read when the
# recipe runs, after the port has set them).
UWS_RUST_TARGET = $(strip \
    $(if $(findstring -mcpu=cortex-m0,$(CFLAGS)),thumbv6m-none-eabi, \
    $(if $(findstring -mcpu=cortex-m3,$(CFLAGS)),thumbv7m-none-eabi, \
    $(if $(or $(findstring -mcpu=cortex-m4,$(CFLAGS)),$(findstring -mcpu=cortex-m7,$(CFLAGS))), \
        $(if $(findstring -mfloat-abi=hard,$(CFLAGS)),thumbv7em-none-eabihf,thumbv7em-none-eabi), \
    $(if $(findstring -mcpu=cortex-m33,$(CFLAGS)), \
        $(if $(findstring -mfloat-abi=hard,$(CFLAGS)),thumbv8m.main-none-eabihf,thumbv8m.main-none-eabi), \
    $(if $(findstring -march=rv32imac,$(CFLAGS)),riscv32imac-unknown-none-elf, \
    $(if $(findstring -march=rv32imc,$(CFLAGS)),riscv32imc-unknown-none-elf, \
    $(error uwebsocket: cannot tell the Rust target for port $(UWS_PORT); set UWS_RUST_TARGET))))))))
endif
endif

UWS_TARGET_DIR := $(abspath $(BUILD))/uwebsocket-cargo
UWS_GEN_DIR := $(abspath $(BUILD))/uwebsocket
# cargo's output for the target; copied to a fixed path the link line can
# name while this file is parsed.
UWS_CARGO_LIB = $(UWS_TARGET_DIR)/$(if $(UWS_RUST_TARGET),$(UWS_RUST_TARGET)/)release/libuwebsocket.a
UWS_LIB := $(UWS_GEN_DIR)/libuwebsocket.a

SRC_USERMOD_C += $(UWS_MODULE_DIR)/moduwebsocket.c
CFLAGS_USERMOD += -I$(UWS_MODULE_DIR) -I$(UWS_GEN_DIR)
ifdef UWS_MAX_SIZE
CFLAGS_USERMOD += -DMICROPY_PY_UWEBSOCKET_MAX_SIZE=$(UWS_MAX_SIZE)
endif
ifeq ($(UWS_PROFILE),server)
CFLAGS_USERMOD += -DMICROPY_PY_UWEBSOCKET_CLIENT=0
else ifeq ($(UWS_PROFILE),client)
CFLAGS_USERMOD += -DMICROPY_PY_UWEBSOCKET_SERVER=0
else ifeq ($(UWS_PROFILE),nodeflate)
CFLAGS_USERMOD += -DMICROPY_PY_UWEBSOCKET_DEFLATE=0
else ifeq ($(UWS_PROFILE),tiny)
CFLAGS_USERMOD += -DMICROPY_PY_UWEBSOCKET_CLIENT=0 -DMICROPY_PY_UWEBSOCKET_HTTP=0 \
	-DMICROPY_PY_UWEBSOCKET_KEEPALIVE=0 -DMICROPY_PY_UWEBSOCKET_DEFLATE=0
else ifneq ($(filter-out full,$(UWS_PROFILE)),)
$(error uwebsocket: UWS_PROFILE must be full, server, client, nodeflate or tiny, not "$(UWS_PROFILE)")
endif

# -lm first: the archive carries compiler_builtins, whose weak fmod & co
# would otherwise stand in for libm's. Ports that link the archive before
# the objects (qemu, stm32, ...) need a symbol named so that the linker
# pulls the core in: the crate is one object (codegen-units = 1, LTO), so
# one symbol brings all of it, and --gc-sections then drops every function
# the shim does not call (a board that leaves the client out loses the
# client's Rust code too).
UWS_SYMBOLS := uws_conn_size
COMMA := ,
LDFLAGS_USERMOD += -lm $(addprefix -Wl$(COMMA)--undefined=,$(UWS_SYMBOLS)) $(UWS_LIB)

UWS_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

# cargo decides whether anything changed: a no-op build leaves the archive
# untouched, a Rust edit rebuilds it and so the shim and the firmware.
# Only the staticlib is built: with the rlib beside it (Cargo.toml's
# crate-type, for the tests, fuzzers and benches) rustc skips LTO, and
# every string of `core` lands in the firmware (≈ 13 KiB more flash on
# Cortex-M).
.PHONY: uwebsocket-FORCE
uwebsocket-FORCE:

# rustc emits .ARM.exidx/.ARM.extab even with panic = "abort", and
# linker scripts of bare-metal ports may not place them: drop them.
$(UWS_LIB): uwebsocket-FORCE
	$(ECHO) "CARGO uwebsocket $(or $(UWS_RUST_TARGET),host)"
	$(Q)mkdir -p $(UWS_GEN_DIR)
	$(Q)UWS_GEN_DIR=$(UWS_GEN_DIR) $(UWS_CARGO) rustc --lib --crate-type staticlib --release --quiet \
		--manifest-path $(UWS_DIR)/Cargo.toml --target-dir $(UWS_TARGET_DIR) \
		$(if $(UWS_RUST_TARGET),--target $(UWS_RUST_TARGET))
	$(Q)$(if $(filter thumb%,$(UWS_RUST_TARGET)), \
		$(OBJCOPY) --remove-section='.ARM.exidx*' --remove-section='.ARM.extab*' $(UWS_CARGO_LIB) $@.new, \
		cp $(UWS_CARGO_LIB) $@.new)
	$(Q)if cmp -s $@.new $@; then rm $@.new; else mv $@.new $@; fi

# The shim includes the generated header: cargo runs before the shim is
# compiled and before MicroPython scans sources for qstrs.
$(BUILD)/micropython_module/moduwebsocket.o: $(UWS_LIB)
QSTR_GLOBAL_REQUIREMENTS += $(UWS_LIB)

.DEFAULT_GOAL := $(UWS_SAVED_DEFAULT_GOAL)
