# Reads an ESP32 board folder of this repository the way MicroPython's
# ports/esp32/CMakeLists.txt does (its mpconfigboard.cmake, from the port's
# folder) and prints what the port would get from it, checking that every
# file it names exists. Used by python_tests/test_cmake.py:
#   cmake -DBOARD_DIR=<board> -DPORT_DIR=<micropython>/ports/esp32 -P esp32_board.cmake
if(NOT BOARD_DIR OR NOT PORT_DIR)
    message(FATAL_ERROR "set BOARD_DIR and PORT_DIR")
endif()
foreach(file mpconfigboard.cmake mpconfigboard.h)
    if(NOT EXISTS ${BOARD_DIR}/${file})
        message(FATAL_ERROR "${BOARD_DIR}/${file} is missing")
    endif()
endforeach()

# The port includes the board file from its own folder: relative paths in
# SDKCONFIG_DEFAULTS are relative to it.
set(CMAKE_CURRENT_SOURCE_DIR ${PORT_DIR})
include(${BOARD_DIR}/mpconfigboard.cmake)

foreach(fragment ${SDKCONFIG_DEFAULTS})
    if(NOT IS_ABSOLUTE ${fragment})
        set(fragment ${PORT_DIR}/${fragment})
    endif()
    if(NOT EXISTS ${fragment})
        message(FATAL_ERROR "sdkconfig fragment ${fragment} does not exist")
    endif()
endforeach()
if(NOT EXISTS ${USER_C_MODULES}/micropython.cmake)
    message(FATAL_ERROR "USER_C_MODULES=${USER_C_MODULES} has no micropython.cmake")
endif()
if(MICROPY_FROZEN_MANIFEST AND NOT EXISTS ${MICROPY_FROZEN_MANIFEST})
    message(FATAL_ERROR "frozen manifest ${MICROPY_FROZEN_MANIFEST} does not exist")
endif()
message("IDF_TARGET=${IDF_TARGET}")
message("USER_C_MODULES=${USER_C_MODULES}")
message("MICROPY_FROZEN_MANIFEST=${MICROPY_FROZEN_MANIFEST}")
