# uwebsocket as a dynamic native module: one .mpy per architecture that
# `import uwebsocket` loads into stock MicroPython firmware (no firmware
# build), and the unix firmware without the module to test it on. Included
# by the top-level Makefile, which defines ROOT, BUILD_DIR, MICROPY_DIR,
# JOBS and VENV.
#
#   make deps-natmod     cross compilers, the Rust targets, mpy_ld's Python
#                        packages (tools/requirements.txt)
#   make natmod          build/natmod/<arch>/uwebsocket.mpy for every
#                        architecture, and the Python helpers as .mpy in
#                        build/natmod/py; the last lines printed are
#                        `natmod <arch> <path>` and `natmod py <path>`.
#                        build/natmod/release holds the same files under the
#                        names the package-<arch>.json files point to, ready
#                        to publish side by side.
#   make natmod-<arch>   one architecture
#   make firmware-plain  the unix test firmware without the module (nor the
#                        built-in `websocket`), in build/unix-plain; prints
#                        its path as the last line
#
# Settings: NATMOD_SRC, the C source of the module (default: the shim
# micropython_module/moduwebsocket.c).

NATMOD_ARCHS := x64 armv6m armv7m armv7emsp rv32imc
NATMOD_RUST_TARGETS := x86_64-unknown-none thumbv6m-none-eabi thumbv7m-none-eabi thumbv7em-none-eabihf \
	riscv32imc-unknown-none-elf
NATMOD_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
NATMOD_DIR := $(BUILD_DIR)/natmod
NATMOD_SRC ?= $(ROOT)/micropython_module/moduwebsocket.c
# The Python helpers, shipped beside uwebsocket.mpy as modules of their own
# (`import uwebsocket_asyncio`, as in firmware that freezes them): merged
# into uwebsocket.mpy their names would land in uwebsocket's namespace.
NATMOD_PY := uwebsocket_asyncio uwebsocket_transport
MPY_CROSS := $(MICROPY_DIR)/mpy-cross/build/mpy-cross

PLAIN_BUILD := $(BUILD_DIR)/unix-plain
PLAIN_FIRMWARE := $(PLAIN_BUILD)/micropython

# `make test` builds these, and after its main pass runs NATMOD_TEST: the
# in-memory, echo, abuse and Autobahn server tests again, on the firmware
# without the module, importing the x64 .mpy (see python_tests/conftest.py).
TEST_FIRMWARES += natmod firmware-plain qemu-natmod
NATMOD_TEST_FILES := test_natmod.py test_inmemory.py::test_on_unix test_echo.py test_api_abuse.py test_autobahn.py
NATMOD_TEST = UWS_FIRMWARE=$(PLAIN_FIRMWARE) UWS_NATMOD_DIR=$(NATMOD_DIR)/x64:$(NATMOD_DIR)/py \
	UWS_MICROPY_DIR=$(MICROPY_DIR) UWS_BUILD_DIR=$(BUILD_DIR) $(PYTHON) -m pytest -q -p no:cacheprovider \
	$(addprefix $(ROOT)/python_tests/,$(NATMOD_TEST_FILES)) -k "not test_autobahn or (cases_1_to_10 and server-blocking)"

.PHONY: deps-natmod natmod natmod-py natmod-release firmware-plain $(addprefix natmod-,$(NATMOD_ARCHS))

deps-test: deps-natmod

deps-natmod: deps-build
	@$(ROOT)/tools/apt_install.sh $(NATMOD_PACKAGES)
	@installed="$$(rustup target list --installed)"; \
	for target in $(NATMOD_RUST_TARGETS); do \
		echo "$$installed" | grep -qx "$$target" || rustup target add "$$target"; \
	done
	@$(ROOT)/tools/python_env.sh $(VENV)

.PHONY: natmod-mpy-cross
natmod-mpy-cross: deps-natmod
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null

# Each architecture builds in its own folder (objects, the generated
# header, mpy_ld's cache; cargo's folder, build/natmod/cargo, is shared)
# through a link to the natmod
# Makefile, which dynruntime.mk expects in the current directory. The
# sub-make and cargo decide what is out of date: always run them.
$(addprefix natmod-,$(NATMOD_ARCHS)): natmod-%: natmod-mpy-cross
	@mkdir -p $(NATMOD_DIR)/$*
	@ln -sfn $(ROOT)/micropython_module/natmod/Makefile $(NATMOD_DIR)/$*/Makefile
	@$(MAKE) -s -C $(NATMOD_DIR)/$* ARCH=$* MPY_DIR=$(MICROPY_DIR) PYTHON=$(PYTHON) NATMOD_SRC=$(NATMOD_SRC) \
		>$(NATMOD_DIR)/$*/build.log 2>&1 || { cat $(NATMOD_DIR)/$*/build.log; exit 1; }

natmod-py: natmod-mpy-cross
	@mkdir -p $(NATMOD_DIR)/py
	@for m in $(NATMOD_PY); do \
		$(MPY_CROSS) -o $(NATMOD_DIR)/py/$$m.mpy $(ROOT)/micropython_module/$$m.py || exit 1; \
	done

# What a release publishes: package-<arch>.json and the files their
# relative URLs name (mip fetches them from the folder the .json is in).
natmod-release: $(addprefix natmod-,$(NATMOD_ARCHS)) natmod-py
	@mkdir -p $(NATMOD_DIR)/release
	@for a in $(NATMOD_ARCHS); do \
		cp $(NATMOD_DIR)/$$a/uwebsocket.mpy $(NATMOD_DIR)/release/uwebsocket_native-$$a.mpy; \
		cp $(ROOT)/micropython_module/natmod/package-$$a.json $(NATMOD_DIR)/release/; \
	done
	@cp $(addprefix $(NATMOD_DIR)/py/,$(addsuffix .mpy,$(NATMOD_PY))) $(NATMOD_DIR)/release/

natmod: natmod-release
	@for a in $(NATMOD_ARCHS); do echo "natmod $$a $(NATMOD_DIR)/$$a/uwebsocket.mpy"; done
	@for m in $(NATMOD_PY); do echo "natmod py $(NATMOD_DIR)/py/$$m.mpy"; done

# The unix test firmware with nothing of uwebsocket built in
# (boards/uws_unix_plain): no user C module, asyncio frozen but not
# uwebsocket's helpers, and no built-in `websocket` (which `import
# uwebsocket` would otherwise return, whatever is on sys.path).
firmware-plain: deps-build
	@$(MAKE) -s -C $(MICROPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	@$(MAKE) -s -C $(MICROPY_DIR)/ports/unix -j$(JOBS) VARIANT_DIR=$(ROOT)/boards/uws_unix_plain BUILD=$(PLAIN_BUILD)
	@echo $(PLAIN_FIRMWARE)

.PHONY: natmod-clean
clean: natmod-clean
natmod-clean:
	rm -rf $(NATMOD_DIR) $(PLAIN_BUILD)
