# uwebsocket on an ESP32-C3 (RISC-V RV32IMC): MicroPython's
# ESP32_GENERIC_C3 board with the uwebsocket module. Built from
# MicroPython's ports/esp32 with
#   make BOARD_DIR=<repository>/boards/UWS_ESP32_C3 USER_C_MODULES=<repository>
# (see boards/README.md). The Rust core is built for
# riscv32imc-unknown-none-elf, an upstream Rust target.
set(IDF_TARGET esp32c3)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.ble
    boards/ESP32_GENERIC_C3/sdkconfig.c3usb
)

# The module, when USER_C_MODULES is not given: this repository.
if(NOT USER_C_MODULES)
    get_filename_component(USER_C_MODULES ${CMAKE_CURRENT_LIST_DIR}/../.. ABSOLUTE)
endif()

# The port's frozen modules plus uwebsocket's Python part.
set(MICROPY_FROZEN_MANIFEST ${CMAKE_CURRENT_LIST_DIR}/manifest.py)
