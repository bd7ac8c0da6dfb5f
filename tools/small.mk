# uwebsocket on small configurations, tried on the unix port: a board
# without floats, sockets, TLS or unicode strings must build the module
# without warnings (the port compiles with -Werror) and pass the in-memory
# tests. Included by the top-level Makefile, which defines ROOT, BUILD_DIR,
# MICROPY_DIR and JOBS.
#
#   make firmware-small     boards/uws_unix_small: the minimal variant's
#                           settings at the core feature level, plus the
#                           modules the in-memory tests import; prints its
#                           path as the last line
#   make firmware-minimal   the unix port's own minimal variant with the
#                           module (a build and import check: it has no io
#                           module for the tests' streams)
#   make firmware-tiny      the test firmware's configuration with the
#                           module's smallest profile (UWS_PROFILE=tiny: the
#                           server with nothing optional), for the tests of
#                           what scripts and the asyncio helper do without

SMALL_BUILD := $(BUILD_DIR)/unix-small
SMALL_FIRMWARE := $(SMALL_BUILD)/micropython
MINIMAL_BUILD := $(BUILD_DIR)/unix-minimal
MINIMAL_FIRMWARE := $(MINIMAL_BUILD)/micropython
TINY_BUILD := $(BUILD_DIR)/unix-tiny
TINY_FIRMWARE := $(TINY_BUILD)/micropython

# `make test` builds these before it runs python_tests (test_inmemory.py).
TEST_FIRMWARES += firmware-small firmware-minimal firmware-tiny
TEST_ENV += UWS_FIRMWARE_SMALL=$(SMALL_FIRMWARE) UWS_FIRMWARE_MINIMAL=$(MINIMAL_FIRMWARE) \
	UWS_FIRMWARE_TINY=$(TINY_FIRMWARE)

.PHONY: firmware-small firmware-minimal firmware-tiny

firmware-small: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/ports/unix -j$(JOBS) VARIANT_DIR=$(ROOT)/boards/uws_unix_small \
		USER_C_MODULES=$(ROOT) BUILD=$(SMALL_BUILD)
	@echo $(SMALL_FIRMWARE)

firmware-minimal: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/ports/unix -j$(JOBS) VARIANT=minimal \
		USER_C_MODULES=$(ROOT) BUILD=$(MINIMAL_BUILD)
	@echo $(MINIMAL_FIRMWARE)

firmware-tiny: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/ports/unix -j$(JOBS) VARIANT_DIR=$(ROOT)/boards/uws_unix \
		USER_C_MODULES=$(ROOT) BUILD=$(TINY_BUILD) UWS_PROFILE=tiny
	@echo $(TINY_FIRMWARE)
