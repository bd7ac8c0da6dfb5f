# Included by MicroPython's make ports (py/py.mk) when built with
# USER_C_MODULES=<this repository>. USERMOD_DIR is only valid while this
# file is parsed: keep it in a variable of our own.
UWS_MODULE_DIR := $(USERMOD_DIR)
include $(UWS_MODULE_DIR)/../cmodule.mk
