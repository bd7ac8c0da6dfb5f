# uwebsocket on emulated microcontrollers: MicroPython's qemu port with the
# module, for a Cortex-M3 (MPS2_AN385, Rust target thumbv7m-none-eabi) and
# a RISC-V core (VIRT_RV32, riscv32imac-unknown-none-elf). Included by the
# top-level Makefile, which defines ROOT, BUILD_DIR, MICROPY_DIR, JOBS and
# PYTHON.
#
#   make deps-qemu       cross compilers, QEMU, the Rust targets
#   make qemu-firmware   both firmwares, in $(BUILD_DIR)/qemu-<board>
#   make test-qemu       the in-memory tests (python_tests/mp) on both
#   make size            the module's flash and RAM on both (firmware with
#                        minus firmware without, built in qemu-<board>-plain),
#                        for the full module and the server-only and
#                        client-only profiles (qemu-<board>-<profile>);
#                        then each natmod .mpy's size and the heap its
#                        import takes (tools/natmod_size.py)

QEMU_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf \
	picolibc-riscv64-unknown-elf qemu-system-arm qemu-system-misc python3-serial cmake
QEMU_RUST_TARGETS := thumbv7m-none-eabi riscv32imac-unknown-none-elf
QEMU_BOARDS := MPS2_AN385 VIRT_RV32

# `make test` builds these before it runs python_tests (test_qemu.py).
TEST_FIRMWARES := qemu-firmware

QEMU_MAKE = $(MAKE) -s -C $(MICROPY_DIR)/ports/qemu -j$(JOBS) BOARD_DIR=$(ROOT)/boards/uws_qemu
QEMU_ENV = UWS_BUILD_DIR=$(BUILD_DIR) UWS_MICROPY_DIR=$(MICROPY_DIR)

.PHONY: deps-qemu qemu-firmware qemu-plain qemu-natmod qemu-profiles test-qemu size

deps-qemu:
	@$(ROOT)/tools/apt_install.sh $(QEMU_PACKAGES)
	@installed="$$(rustup target list --installed)"; \
	for target in $(QEMU_RUST_TARGETS); do \
		echo "$$installed" | grep -qx "$$target" || rustup target add "$$target"; \
	done

# mpy-cross compiles the boards' frozen Python.
.PHONY: qemu-mpy-cross
qemu-mpy-cross: deps-build deps-qemu
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null

qemu-firmware: $(addprefix qemu-firmware-,$(QEMU_BOARDS))
qemu-plain: $(addprefix qemu-plain-,$(QEMU_BOARDS))

# Sub-makes decide what is out of date (cargo included): always run them.
qemu-firmware-%: qemu-mpy-cross
	@$(QEMU_MAKE) BOARD=$* BUILD=$(BUILD_DIR)/qemu-$* USER_C_MODULES=$(ROOT)

qemu-plain-%: qemu-mpy-cross
	@$(QEMU_MAKE) BOARD=$* BUILD=$(BUILD_DIR)/qemu-$*-plain

# The plain firmwares again, with room in the heap for a native module
# (make natmod), whose machine code is loaded there: 512 KiB instead of the
# port's 140 KiB (the emulated boards have 4 and 2 MiB of RAM).
qemu-natmod: $(addprefix qemu-natmod-,$(QEMU_BOARDS))
qemu-natmod-%: qemu-mpy-cross
	@$(QEMU_MAKE) BOARD=$* BUILD=$(BUILD_DIR)/qemu-$*-natmod MICROPY_HEAP_SIZE=524288

# The module's build profiles (UWS_PROFILE in cmodule.mk) besides the full one.
# nodeflate: the full module without compression; `make size` prints the
# difference as the line `size deflate ...`. tiny: the smallest server.
SIZE_PROFILES := server client nodeflate tiny
qemu-profiles: $(foreach b,$(QEMU_BOARDS),$(foreach p,$(SIZE_PROFILES),qemu-profile-$(b)-$(p)))

qemu-profile-%: qemu-mpy-cross
	@$(QEMU_MAKE) BOARD=$(firstword $(subst -, ,$*)) BUILD=$(BUILD_DIR)/qemu-$* USER_C_MODULES=$(ROOT) \
		UWS_PROFILE=$(lastword $(subst -, ,$*))

test-qemu: qemu-firmware
	$(QEMU_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider $(ROOT)/python_tests/test_qemu.py

# What the natmod lines of `make size` measure: the .mpy files, the boards'
# plain firmwares they load on, the unix firmware without the module. The
# lines these targets print (`natmod <arch> <path>`, the firmware's path)
# go to stderr: stdout stays the report.
.PHONY: size-natmod
size-natmod:
	@$(MAKE) -s --no-print-directory -f $(ROOT)/Makefile natmod qemu-natmod firmware-plain >&2

size: qemu-firmware qemu-plain qemu-profiles size-natmod
	@$(QEMU_ENV) UWS_SIZE_PROFILES="$(SIZE_PROFILES)" $(PYTHON) $(ROOT)/tools/size_report.py $(QEMU_BOARDS)
	@$(QEMU_ENV) $(PYTHON) $(ROOT)/tools/natmod_size.py
