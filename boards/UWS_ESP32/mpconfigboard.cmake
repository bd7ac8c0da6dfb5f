# uwebsocket on a classic ESP32 (Xtensa LX6): MicroPython's ESP32_GENERIC
# board with the uwebsocket module. Built from MicroPython's ports/esp32 with
#   make BOARD_DIR=<repository>/boards/UWS_ESP32 USER_C_MODULES=<repository>
# (see boards/README.md). The Rust core is built for xtensa-esp32-none-elf
# with Espressif's Rust toolchain (`espup install`).
set(IDF_TARGET esp32)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
)

# The module, when USER_C_MODULES is not given: this repository.
if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
endif()

# The port's frozen modules plus uwebsocket's Python part.
set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)
