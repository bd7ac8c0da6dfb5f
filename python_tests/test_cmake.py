"""The CMake path (micropython.cmake, for the esp32 and rp2 ports), checked
through tools/cmake_check: MicroPython's own py/usermod.cmake includes our
micropython.cmake, and a stub program is linked against the `usermod`
target and run. No CMake port can be built here (no ESP-IDF, no pico-sdk),
so the Rust target each chip gets is checked at configure time, and the core
is cross-built for one of them.

The build folders live in UWS_BUILD_DIR (cargo's output is kept between
runs; CMake's cache is not)."""
import os
import shutil
import subprocess

import pytest

from conftest import ROOT

CHECK = ROOT / "tools" / "cmake_check"


def build_root():
    return os.path.join(os.environ.get("UWS_BUILD_DIR") or str(ROOT / "build"), "cmake-check")


def micropython_dir():
    return os.environ.get("UWS_MICROPY_DIR") or str(ROOT / "build" / "micropython")


def fresh(name):
    """A build folder for one configuration: CMake's state removed, cargo's
    output kept."""
    path = os.path.join(build_root(), name)
    os.makedirs(path, exist_ok=True)
    for entry in os.listdir(path):
        if entry != "uwebsocket-cargo":
            full = os.path.join(path, entry)
            if os.path.isdir(full):
                shutil.rmtree(full)
            else:
                os.remove(full)
    return path


def run(argv, env=None, timeout=900):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, timeout=timeout)
    return proc.returncode, proc.stdout.decode(errors="replace")


def configure(name, *defines, env=None):
    build = fresh(name)
    argv = ["cmake", "-S", str(CHECK), "-B", build, "-DMICROPY_DIR=" + micropython_dir(),
            "-DUSER_C_MODULES=" + str(ROOT), *defines]
    code, out = run(argv, env=env)
    return build, code, out


@pytest.fixture(scope="module", autouse=True)
def need_cmake():
    if shutil.which("cmake") is None:
        pytest.fail("cmake is missing: `make deps-test` installs it")


def test_host_build_links_and_runs():
    build, code, out = configure("host", "-DUWS_RUST_TARGET=host")
    assert code == 0, out
    assert "Found User C Module(s): usermod_uwebsocket" in out, out
    assert "uwebsocket: Rust target host" in out, out
    # What a port hands to its qstr scan and compiler.
    sources = [line for line in out.splitlines() if "MICROPY_SOURCE_USERMOD=" in line]
    assert sources and str(ROOT / "micropython_module" / "moduwebsocket.c") in sources[0], out
    assert os.path.join(build, "uwebsocket", "uwebsocket_core.h") in sources[0], out
    includes = [line for line in out.splitlines() if "MICROPY_INC_USERMOD=" in line]
    assert includes and os.path.join(build, "uwebsocket") in includes[0], out

    code, out = run(["nice", "cmake", "--build", build, "--", "-j2"])
    assert code == 0, out
    code, out = run([os.path.join(build, "uws_cmake_stub")])
    assert code == 0 and "accept key OK" in out, out

    # A second build leaves the archive alone: nothing is relinked.
    lib = os.path.join(build, "uwebsocket", "libuwebsocket.a")
    stamp = os.stat(lib).st_mtime_ns
    code, out = run(["cmake", "--build", build])
    assert code == 0, out
    assert os.stat(lib).st_mtime_ns == stamp
    assert "Linking" not in out, out


CHIPS = [
    ("-DIDF_TARGET=esp32c3", "riscv32imc-unknown-none-elf"),
    ("-DIDF_TARGET=esp32c2", "riscv32imc-unknown-none-elf"),
    ("-DIDF_TARGET=esp32c6", "riscv32imac-unknown-none-elf"),
    ("-DIDF_TARGET=esp32", "xtensa-esp32-none-elf"),
    ("-DIDF_TARGET=esp32s3", "xtensa-esp32s3-none-elf"),
    ("-DPICO_PLATFORM=rp2040", "thumbv6m-none-eabi"),
    ("-DPICO_PLATFORM=rp2350", "thumbv8m.main-none-eabi"),
    ("-DPICO_PLATFORM=rp2350-arm-s", "thumbv8m.main-none-eabi"),
    ("-DPICO_PLATFORM=rp2350-riscv", "riscv32imac-unknown-none-elf"),
]


@pytest.mark.parametrize("define,target", CHIPS, ids=[d.split("=")[1] for d, _ in CHIPS])
def test_target_follows_chip(define, target):
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", define)
    assert code == 0, out
    assert "uwebsocket: Rust target %s\n" % target in out, out


def test_target_override():
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", "-DIDF_TARGET=esp32c3",
                             "-DUWS_RUST_TARGET=thumbv7em-none-eabihf")
    assert code == 0, out
    assert "uwebsocket: Rust target thumbv7em-none-eabihf\n" in out, out
    env = dict(os.environ, UWS_RUST_TARGET="riscv32imac-unknown-none-elf")
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", "-DPICO_PLATFORM=rp2040", env=env)
    assert code == 0, out
    assert "uwebsocket: Rust target riscv32imac-unknown-none-elf\n" in out, out


@pytest.mark.parametrize("defines", [(), ("-DIDF_TARGET=esp32p4",), ("-DPICO_PLATFORM=rp9999",)],
                         ids=["no-chip", "esp32p4", "unknown-pico"])
def test_unknown_chip_is_an_error(defines):
    env = {k: v for k, v in os.environ.items() if k != "UWS_RUST_TARGET"}
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", *defines, env=env)
    assert code != 0, out
    assert "uwebsocket: cannot tell the Rust target" in out, out
    assert "UWS_RUST_TARGET" in out, out


PROFILES = {
    "full": [],
    "server": ["MICROPY_PY_UWEBSOCKET_CLIENT=0"],
    "client": ["MICROPY_PY_UWEBSOCKET_SERVER=0"],
    "nodeflate": ["MICROPY_PY_UWEBSOCKET_DEFLATE=0"],
    "tiny": ["MICROPY_PY_UWEBSOCKET_CLIENT=0", "MICROPY_PY_UWEBSOCKET_HTTP=0", "MICROPY_PY_UWEBSOCKET_KEEPALIVE=0",
             "MICROPY_PY_UWEBSOCKET_DEFLATE=0"],
}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_profile_sets_its_flags(profile):
    """-DUWS_PROFILE=... sets the same flags as UWS_PROFILE in cmodule.mk
    (test_profiles.py compiles the shim with each set)."""
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", "-DIDF_TARGET=esp32c3", "-DUWS_PROFILE=" + profile)
    assert code == 0, out
    line = [line for line in out.splitlines() if "UWS_DEFINITIONS=" in line]
    assert line, out
    flags = [f for f in line[0].split("UWS_DEFINITIONS=", 1)[1].split(";") if f.startswith("MICROPY_PY_UWEBSOCKET_")]
    assert flags == PROFILES[profile], out


def test_unknown_profile_is_an_error():
    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", "-DIDF_TARGET=esp32c3", "-DUWS_PROFILE=smallest")
    assert code != 0, out
    assert "UWS_PROFILE must be full, server, client, nodeflate or tiny" in out, out


def test_cross_builds_core_for_esp32c3():
    """The cargo command micropython.cmake writes, run for the ESP32-C3's
    target: a RISC-V archive and the header land in the build folder."""
    build, code, out = configure("esp32c3", "-DIDF_TARGET=esp32c3")
    assert code == 0, out
    code, out = run(["nice", "cmake", "--build", build, "--target", "uwebsocket_core"])
    assert code == 0, out
    assert os.path.isfile(os.path.join(build, "uwebsocket", "uwebsocket_core.h"))
    with open(os.path.join(build, "uwebsocket", "libuwebsocket.a"), "rb") as f:
        data = f.read()
    assert data.startswith(b"!<arch>\n")
    elf = data.find(b"\x7fELF")
    assert elf > 0, "no object in the archive"
    # ELF32, little endian, e_machine EM_RISCV (243).
    assert data[elf + 4] == 1 and data[elf + 5] == 1
    assert int.from_bytes(data[elf + 18:elf + 20], "little") == 243


ESP32_BOARDS = [("UWS_ESP32", "esp32", "xtensa-esp32-none-elf"),
                ("UWS_ESP32_C3", "esp32c3", "riscv32imc-unknown-none-elf")]


@pytest.mark.parametrize("board,idf_target,rust_target", ESP32_BOARDS, ids=[b[0] for b in ESP32_BOARDS])
def test_esp32_board(board, idf_target, rust_target):
    """The board folders for the ESP32 port (BOARD_DIR=...): read as the
    port reads them, every file they name exists, the module is enabled,
    and the chip they set gets the Rust target it needs."""
    port_dir = os.path.join(micropython_dir(), "ports", "esp32")
    code, out = run(["cmake", "-DBOARD_DIR=" + str(ROOT / "boards" / board), "-DPORT_DIR=" + port_dir,
                     "-P", str(CHECK / "esp32_board.cmake")])
    assert code == 0, out
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert values.get("IDF_TARGET") == idf_target, out
    assert os.path.realpath(values["USER_C_MODULES"]) == os.path.realpath(str(ROOT)), out
    # The board's manifest: the port's own, and the module's Python part.
    manifest = values["MICROPY_FROZEN_MANIFEST"]
    text = open(manifest).read()
    for line in text.splitlines():
        if line.startswith("include(") and "$(" not in line:
            included = os.path.join(os.path.dirname(manifest), line.split('"')[1])
            assert os.path.isfile(included), included
    assert "$(PORT_DIR)/boards/manifest.py" in text
    assert os.path.isfile(os.path.join(port_dir, "boards", "manifest.py"))

    _, code, out = configure("chip", "-DUWS_CHECK_CONFIGURE_ONLY=ON", "-DIDF_TARGET=" + idf_target)
    assert code == 0, out
    assert "uwebsocket: Rust target %s\n" % rust_target in out, out
