# uwebsocket for MicroPython's CMake ports (esp32, rp2, ...), included by
# py/usermod.cmake when the firmware is built with
# USER_C_MODULES=<this repository>. The same job as cmodule.mk does for the
# make ports: build the Rust core with cargo for the chip's Rust target,
# generate its C header into the build folder, compile the shim and link
# the static library.
#
# Settings (CMake variables, -D on the command line; UWS_RUST_TARGET and
# UWS_CARGO are also read from the environment):
#   UWS_RUST_TARGET  Rust target triple, or "host" for the machine's own
#                    (a build for the machine itself, as in tools/cmake_check).
#                    Chosen from the chip by default:
#                      esp32 port, IDF_TARGET
#                        esp32c2, esp32c3   riscv32imc-unknown-none-elf
#                        esp32c6, esp32h2   riscv32imac-unknown-none-elf
#                        esp32, esp32s2,    xtensa-esp32-none-elf,
#                        esp32s3            xtensa-esp32s2-none-elf,
#                                           xtensa-esp32s3-none-elf
#                          (Xtensa: Espressif's Rust toolchain, installed
#                          with `espup install`; cargo is then called as
#                          `cargo +esp`, see UWS_CARGO)
#                      rp2 port, PICO_PLATFORM
#                        rp2040             thumbv6m-none-eabi
#                        rp2350(-arm-s)     thumbv8m.main-none-eabi (the
#                                           pico-sdk compiles C with
#                                           -mfloat-abi=softfp, whose calls
#                                           pass floats like the soft-float
#                                           ABI: a hard-float (eabihf)
#                                           archive would not link)
#                        rp2350-riscv       riscv32imac-unknown-none-elf
#   UWS_CARGO        cargo command, a CMake list (default: cargo; for the
#                    Xtensa targets "cargo;+esp")
#   UWS_MAX_SIZE     default maximum message size in bytes (default 65536)
#   UWS_PROFILE      what the module builds in: full (default), server,
#                    client, nodeflate or tiny (see cmodule.mk; a board can set the
#                    MICROPY_PY_UWEBSOCKET_* flags in mpconfigboard.h instead)

set(UWS_DIR ${CMAKE_CURRENT_LIST_DIR})

# add_dependencies() on an INTERFACE library (the module waits for cargo).
if(CMAKE_VERSION VERSION_LESS 3.19)
    message(FATAL_ERROR "uwebsocket: needs CMake 3.19 or newer (this is ${CMAKE_VERSION})")
endif()

# --- Rust target: follows the chip, overridable --------------------------
if(NOT UWS_RUST_TARGET AND DEFINED ENV{UWS_RUST_TARGET})
    set(UWS_RUST_TARGET $ENV{UWS_RUST_TARGET})
endif()

if(NOT UWS_RUST_TARGET)
    if(IDF_TARGET)
        if(IDF_TARGET STREQUAL "esp32c2" OR IDF_TARGET STREQUAL "esp32c3")
            set(UWS_RUST_TARGET riscv32imc-unknown-none-elf)
        elseif(IDF_TARGET STREQUAL "esp32c6" OR IDF_TARGET STREQUAL "esp32h2")
            set(UWS_RUST_TARGET riscv32imac-unknown-none-elf)
        elseif(IDF_TARGET STREQUAL "esp32" OR IDF_TARGET STREQUAL "esp32s2" OR IDF_TARGET STREQUAL "esp32s3")
            set(UWS_RUST_TARGET xtensa-${IDF_TARGET}-none-elf)
        endif()
        set(UWS_CHIP "IDF_TARGET ${IDF_TARGET}")
    elseif(PICO_PLATFORM)
        if(PICO_PLATFORM STREQUAL "rp2040")
            set(UWS_RUST_TARGET thumbv6m-none-eabi)
        elseif(PICO_PLATFORM MATCHES "^rp2350(-arm-s|-arm-ns)?$")
            set(UWS_RUST_TARGET thumbv8m.main-none-eabi)
        elseif(PICO_PLATFORM STREQUAL "rp2350-riscv")
            set(UWS_RUST_TARGET riscv32imac-unknown-none-elf)
        endif()
        set(UWS_CHIP "PICO_PLATFORM ${PICO_PLATFORM}")
    else()
        set(UWS_CHIP "neither IDF_TARGET (esp32 port) nor PICO_PLATFORM (rp2 port) is set")
    endif()
    if(NOT UWS_RUST_TARGET)
        message(FATAL_ERROR
            "uwebsocket: cannot tell the Rust target for this build (${UWS_CHIP}). "
            "Pass the Rust target triple the chip's C code matches, e.g. "
            "-DUWS_RUST_TARGET=thumbv7em-none-eabihf, or -DUWS_RUST_TARGET=host "
            "for the build machine itself.")
    endif()
endif()

if(NOT UWS_CARGO AND DEFINED ENV{UWS_CARGO})
    separate_arguments(UWS_CARGO UNIX_COMMAND "$ENV{UWS_CARGO}")
endif()
if(NOT UWS_CARGO)
    find_program(UWS_CARGO_EXECUTABLE cargo HINTS "$ENV{CARGO_HOME}/bin" "$ENV{HOME}/.cargo/bin")
    if(NOT UWS_CARGO_EXECUTABLE)
        message(FATAL_ERROR "uwebsocket: cargo not found; install Rust (rustup) or set UWS_CARGO")
    endif()
    set(UWS_CARGO ${UWS_CARGO_EXECUTABLE})
    if(UWS_RUST_TARGET MATCHES "^xtensa-")
        # Espressif's toolchain, as `espup install` names it.
        list(APPEND UWS_CARGO +esp)
    endif()
endif()

message(STATUS "uwebsocket: Rust target ${UWS_RUST_TARGET}")

# --- Build the core --------------------------------------------------------
set(UWS_GEN_DIR ${CMAKE_BINARY_DIR}/uwebsocket)
set(UWS_TARGET_DIR ${CMAKE_BINARY_DIR}/uwebsocket-cargo)
set(UWS_HEADER ${UWS_GEN_DIR}/uwebsocket_core.h)
set(UWS_LIB ${UWS_GEN_DIR}/libuwebsocket.a)
if(UWS_RUST_TARGET STREQUAL "host")
    set(UWS_TARGET_ARGS)
    set(UWS_CARGO_LIB ${UWS_TARGET_DIR}/release/libuwebsocket.a)
else()
    set(UWS_TARGET_ARGS --target ${UWS_RUST_TARGET})
    if(UWS_RUST_TARGET MATCHES "^xtensa-")
        # Tier-3 targets ship no prebuilt `core`: cargo builds it from the
        # rust-src component espup installs.
        list(APPEND UWS_TARGET_ARGS -Zbuild-std=core)
    endif()
    set(UWS_CARGO_LIB ${UWS_TARGET_DIR}/${UWS_RUST_TARGET}/release/libuwebsocket.a)
endif()

# rustc emits .ARM.exidx/.ARM.extab even with panic = "abort", and linker
# scripts of bare-metal ports may not place them: drop them.
if(UWS_RUST_TARGET MATCHES "^thumb")
    if(NOT CMAKE_OBJCOPY)
        message(FATAL_ERROR "uwebsocket: CMAKE_OBJCOPY is not set (needed for ${UWS_RUST_TARGET})")
    endif()
    set(UWS_COPY_LIB ${CMAKE_OBJCOPY} --remove-section=.ARM.exidx* --remove-section=.ARM.extab*
        ${UWS_CARGO_LIB} ${UWS_LIB}.new)
else()
    set(UWS_COPY_LIB ${CMAKE_COMMAND} -E copy ${UWS_CARGO_LIB} ${UWS_LIB}.new)
endif()

# cargo decides whether anything changed: the target below runs on every
# build, and the archive is replaced only when it differs, so a no-op build
# relinks nothing. It is one target that the module depends on, so cargo
# runs once, before anything that includes the header is compiled or
# scanned for qstrs. Only the staticlib is built: with the rlib beside it
# (Cargo.toml's crate-type, for the tests, fuzzers and benches) rustc skips
# LTO, and every string of `core` lands in the firmware (about 13 KiB more
# flash on Cortex-M).
add_custom_target(uwebsocket_core
    COMMAND ${CMAKE_COMMAND} -E echo "uwebsocket: cargo for ${UWS_RUST_TARGET}"
    COMMAND ${CMAKE_COMMAND} -E make_directory ${UWS_GEN_DIR}
    COMMAND ${CMAKE_COMMAND} -E env UWS_GEN_DIR=${UWS_GEN_DIR}
        ${UWS_CARGO} rustc --lib --crate-type staticlib --release --quiet
        --manifest-path ${UWS_DIR}/Cargo.toml --target-dir ${UWS_TARGET_DIR}
        ${UWS_TARGET_ARGS}
    COMMAND ${UWS_COPY_LIB}
    COMMAND ${CMAKE_COMMAND} -E copy_if_different ${UWS_LIB}.new ${UWS_LIB}
    COMMAND ${CMAKE_COMMAND} -E remove ${UWS_LIB}.new
    BYPRODUCTS ${UWS_LIB} ${UWS_HEADER}
    WORKING_DIRECTORY ${UWS_DIR}
    VERBATIM
)

# --- The module --------------------------------------------------------------
add_library(usermod_uwebsocket INTERFACE)

# The generated header is listed as a source too: MicroPython's qstr scan
# depends on every usermod source, so it waits for the header.
target_sources(usermod_uwebsocket INTERFACE
    ${UWS_DIR}/micropython_module/moduwebsocket.c
    ${UWS_HEADER}
)
target_include_directories(usermod_uwebsocket INTERFACE
    ${UWS_DIR}/micropython_module
    ${UWS_GEN_DIR}
)
if(UWS_MAX_SIZE)
    target_compile_definitions(usermod_uwebsocket INTERFACE
        MICROPY_PY_UWEBSOCKET_MAX_SIZE=${UWS_MAX_SIZE})
endif()
if(UWS_PROFILE STREQUAL "server")
    target_compile_definitions(usermod_uwebsocket INTERFACE MICROPY_PY_UWEBSOCKET_CLIENT=0)
elseif(UWS_PROFILE STREQUAL "client")
    target_compile_definitions(usermod_uwebsocket INTERFACE MICROPY_PY_UWEBSOCKET_SERVER=0)
elseif(UWS_PROFILE STREQUAL "nodeflate")
    target_compile_definitions(usermod_uwebsocket INTERFACE MICROPY_PY_UWEBSOCKET_DEFLATE=0)
elseif(UWS_PROFILE STREQUAL "tiny")
    target_compile_definitions(usermod_uwebsocket INTERFACE MICROPY_PY_UWEBSOCKET_CLIENT=0
        MICROPY_PY_UWEBSOCKET_HTTP=0 MICROPY_PY_UWEBSOCKET_KEEPALIVE=0 MICROPY_PY_UWEBSOCKET_DEFLATE=0)
elseif(UWS_PROFILE AND NOT UWS_PROFILE STREQUAL "full")
    message(FATAL_ERROR "uwebsocket: UWS_PROFILE must be full, server, client, nodeflate or tiny, not \"${UWS_PROFILE}\"")
endif()
# m first: the archive carries compiler_builtins, whose weak fmod & co
# would otherwise stand in for libm's.
target_link_libraries(usermod_uwebsocket INTERFACE m ${UWS_LIB})

add_dependencies(usermod_uwebsocket uwebsocket_core)
target_link_libraries(usermod INTERFACE usermod_uwebsocket)
