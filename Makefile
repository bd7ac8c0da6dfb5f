# uwebsocket: the one entry point for people and scripts.
#
#   make run        build the unix firmware with the module, start the demo
#   make test       the whole test suite (installs what it needs first)
#   make firmware   build the unix firmware; prints its path as the last line
#
# Settings: HOST, PORT (make run), MICROPY_DIR (use your own MicroPython
# checkout instead of the pinned release fetched into build/), JOBS.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD_DIR := $(ROOT)/build
DEFAULT_MICROPY_DIR := $(BUILD_DIR)/micropython
MICROPY_DIR ?= $(DEFAULT_MICROPY_DIR)
VENV := $(BUILD_DIR)/venv
PYTHON := $(VENV)/bin/python
JOBS ?= $(shell nproc)
HOST ?= 127.0.0.1
PORT ?= 8080

UNIX_BUILD := $(BUILD_DIR)/unix
FIRMWARE := $(UNIX_BUILD)/micropython
UNIX_MAKE = $(MAKE) -C $(MICROPY_DIR)/ports/unix -j$(JOBS) \
	VARIANT_DIR=$(ROOT)/boards/uws_unix USER_C_MODULES=$(ROOT) BUILD=$(UNIX_BUILD)

# Debian packages: to build the unix firmware, and for the tests' peers.
BUILD_PACKAGES := build-essential libffi-dev libmbedtls-dev pkgconf dpkg-dev libclang-dev clang python3-venv
TEST_PACKAGES :=

.PHONY: run test firmware deps-build deps-test clean

deps-build:
	@$(ROOT)/tools/apt_install.sh $(BUILD_PACKAGES)
ifeq ($(MICROPY_DIR),$(DEFAULT_MICROPY_DIR))
	@$(ROOT)/tools/fetch_micropython.sh $(MICROPY_DIR)
endif

deps-test: deps-build
	@$(if $(TEST_PACKAGES),$(ROOT)/tools/apt_install.sh $(TEST_PACKAGES))
	@$(ROOT)/tools/python_env.sh $(VENV)

firmware: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	@$(UNIX_MAKE) -s
	@echo $(FIRMWARE)

run: firmware
	@echo "uwebsocket echo server: connect a WebSocket client to ws://$(HOST):$(PORT)/"
	@echo "  e.g. $(PYTHON) -m websockets ws://$(HOST):$(PORT)/"
	@exec $(FIRMWARE) $(ROOT)/examples/echo_server.py $(HOST) $(PORT)

test: deps-test firmware
	cargo test --release --quiet
	UWS_FIRMWARE=$(FIRMWARE) UWS_MICROPY_DIR=$(MICROPY_DIR) $(PYTHON) -m pytest -q $(ROOT)/python_tests

clean:
	rm -rf $(UNIX_BUILD) $(ROOT)/target
