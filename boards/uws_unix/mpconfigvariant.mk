# uwebsocket's unix test firmware: asyncio frozen, TLS via the system's
# mbedTLS (MicroPython's own mbedtls submodule is not in the source
# package), no btree (its submodule is absent too).
FROZEN_MANIFEST ?= $(VARIANT_DIR)/manifest.py
MICROPY_SSL_AXTLS = 0
MICROPY_SSL_MBEDTLS = 1
MICROPY_PY_BTREE = 0
