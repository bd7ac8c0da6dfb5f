# uwebsocket's emulated microcontroller boards: MicroPython's qemu port,
# BOARD=MPS2_AN385 (Cortex-M3) or BOARD=VIRT_RV32 (RV32IMAC), with the
# port's own board settings plus what the module needs from a port:
#   make -C <micropython>/ports/qemu BOARD=MPS2_AN385 \
#       BOARD_DIR=<repo>/boards/uws_qemu USER_C_MODULES=<repo>
UWS_QEMU_BOARD_DIR := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

include boards/$(BOARD)/mpconfigboard.mk

# The port's default frozen manifest needs micropython-lib's unittest,
# which MicroPython's source package does not carry. Ours freezes what the
# in-memory tests import.
FROZEN_MANIFEST ?= $(UWS_QEMU_BOARD_DIR)/manifest.py

# Debian's GCC 12 with picolibc: the pre-2019 ISA spec keeps Zicsr in
# rv32imac, which the port's startup code needs.
ifeq ($(QEMU_ARCH),riscv32)
RV32_ARCH = rv32imac
AFLAGS += -misa-spec=2.2
endif

# What the module needs and the qemu port lacks: a millisecond clock, and
# strncasecmp (the port links no C library).
SRC_C += $(UWS_QEMU_BOARD_DIR)/uws_qemu_port.c
