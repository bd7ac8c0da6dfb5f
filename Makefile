# uwebsocket: the one entry point for people and scripts.
#
#   make run        build the unix firmware with the module, start the demo
#   make test       the whole test suite (installs what it needs first)
#   make firmware   build the unix firmware; prints its path as the last line
#                   (SANITIZE=1: with AddressSanitizer and UBSan, tools/sanitize.mk)
#   make natmod     uwebsocket as .mpy files for stock firmware (x64, armv6m,
#                   armv7m, armv7emsp, rv32imc), tools/natmod.mk; prints
#                   `natmod <arch> <path>` per file as the last lines
#   make firmware-plain  the unix firmware without the module; prints its path
#
# Settings: HOST, PORT (make run), MICROPY_DIR (use your own MicroPython
# checkout instead of the pinned release fetched into build/), JOBS.

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD_DIR := $(ROOT)/build
DEFAULT_MICROPY_DIR := $(BUILD_DIR)/micropython
MICROPY_DIR ?= $(DEFAULT_MICROPY_DIR)
VENV := $(BUILD_DIR)/venv
PYTHON := $(VENV)/bin/python
# The MQTT broker and OCPP central system the tests start (amqtt pins an
# older websockets than the other peers).
BROKERS_VENV := $(BUILD_DIR)/venv-brokers
JOBS ?= $(shell nproc)
HOST ?= 127.0.0.1
PORT ?= 8080

UNIX_BUILD := $(BUILD_DIR)/unix
FIRMWARE := $(UNIX_BUILD)/micropython
UNIX_MAKE = $(MAKE) -C $(MICROPY_DIR)/ports/unix -j$(JOBS) \
	VARIANT_DIR=$(ROOT)/boards/uws_unix USER_C_MODULES=$(ROOT) BUILD=$(UNIX_BUILD)

# Debian packages: to build the unix firmware, and for the tests' peers.
BUILD_PACKAGES := build-essential libffi-dev libmbedtls-dev pkgconf dpkg-dev python3-venv
TEST_PACKAGES := openssl curl node-ws
# Rust targets the core is checked on without std, and the fuzzer.
TEST_RUST_TARGETS := thumbv7em-none-eabihf riscv32imc-unknown-none-elf

# Parts with their own settings and targets: emulated boards and the
# footprint report, benchmarks, the browser tests, the sanitizer build,
# small configurations. TEST_FIRMWARES and TEST_ENV collect what they add
# to `make test`.
-include $(ROOT)/tools/qemu.mk $(ROOT)/tools/bench.mk $(ROOT)/tools/browser.mk $(ROOT)/tools/sanitize.mk \
	$(ROOT)/tools/small.mk $(ROOT)/tools/natmod.mk

.PHONY: run test firmware deps-build deps-test fuzz autobahn-compression clean

deps-build:
	@$(ROOT)/tools/apt_install.sh $(BUILD_PACKAGES)
ifeq ($(MICROPY_DIR),$(DEFAULT_MICROPY_DIR))
	@$(ROOT)/tools/fetch_micropython.sh $(MICROPY_DIR)
endif

deps-test: deps-build
	@$(ROOT)/tools/apt_install.sh $(TEST_PACKAGES) $(QEMU_PACKAGES) $(BROWSER_PACKAGES)
	@$(ROOT)/tools/rust_tools.sh $(TEST_RUST_TARGETS) $(QEMU_RUST_TARGETS)
	@$(ROOT)/tools/python_env.sh $(VENV)
	@$(ROOT)/tools/python_env.sh $(BROKERS_VENV) $(ROOT)/tools/requirements-brokers.txt
	@$(ROOT)/tools/install_autobahn.sh $(BUILD_DIR)/autobahn-cache

ifeq ($(SANITIZE),1)
firmware: firmware-asan
	@echo $(ASAN_FIRMWARE)
else
firmware: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	@$(UNIX_MAKE) -s
	@echo $(FIRMWARE)
endif

# The demo: a device page (light switch, live readings) and its JSON API on
# one port; examples/dashboard.py prints the URL to open.
run: firmware
	@exec $(FIRMWARE) $(ROOT)/examples/dashboard.py $(HOST) $(PORT)

# The abuse suite and the API fuzzer run on the sanitizer firmware as well
# (UWS_FIRMWARE_ASAN). The Autobahn suites and the core's bounded fuzzing
# (test_core.py) run beside the rest (tools/beside.sh; their output follows
# the rest's).
MAIN_TEST = UWS_FIRMWARE=$(FIRMWARE) UWS_FIRMWARE_ASAN=$(ASAN_FIRMWARE) UWS_MICROPY_DIR=$(MICROPY_DIR) \
	UWS_BUILD_DIR=$(BUILD_DIR) $(TEST_ENV) $(PYTHON) -m pytest -q -p no:cacheprovider
BESIDE_TESTS := test_autobahn.py
test: deps-test firmware firmware-asan $(TEST_FIRMWARES)
	cargo test --quiet
	$(ROOT)/tools/panic_check.sh
	$(ROOT)/tools/beside.sh $(BUILD_DIR)/beside.log '$(MAIN_TEST) $(addprefix $(ROOT)/python_tests/,$(BESIDE_TESTS))' \
		'$(MAIN_TEST) $(addprefix --ignore=$(ROOT)/python_tests/,$(BESIDE_TESTS)) $(ROOT)/python_tests && $(NATMOD_TEST)'

# A long fuzzing run of every target (FUZZ_SECONDS each), not part of test:
# the core's fuzzers, then the Python API fuzzer on the sanitizer firmware.
FUZZ_SECONDS ?= 600
fuzz: deps-test firmware firmware-asan
	UWS_FUZZ_SECONDS=$(FUZZ_SECONDS) UWS_FIRMWARE=$(FIRMWARE) $(PYTHON) -m pytest -q -s -p no:cacheprovider \
		$(ROOT)/python_tests/test_core.py -k fuzz
	UWS_API_FUZZ_SECONDS=$(FUZZ_SECONDS) UWS_FIRMWARE=$(FIRMWARE) UWS_FIRMWARE_ASAN=$(ASAN_FIRMWARE) \
		$(PYTHON) -m pytest -q -s -p no:cacheprovider $(ROOT)/python_tests/test_api_fuzz.py

# All 216 compression cases (12.*, 13.*) of the Autobahn TestSuite against
# the blocking server and the client, not part of test: the 108 with
# messages over 16 KiB take most of an hour on two cores (make test runs
# the others).
autobahn-compression: deps-test firmware
	UWS_AUTOBAHN_COMPRESSION=all UWS_FIRMWARE=$(FIRMWARE) UWS_MICROPY_DIR=$(MICROPY_DIR) UWS_BUILD_DIR=$(BUILD_DIR) \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(ROOT)/python_tests/test_autobahn.py -k compression

clean:
	rm -rf $(UNIX_BUILD) $(ASAN_BUILD) $(BUILD_DIR)/qemu-* $(BUILD_DIR)/cmake-check $(ROOT)/target
