"""Every build profile of the shim (the MICROPY_PY_UWEBSOCKET_* flags at the
top of micropython_module/moduwebsocket.c) compiles without a warning, with
the unix port's own flags (-Wall -Wextra -Werror ...) against the headers
of the unix build `make test` made, and a combination that cannot work
stops the build with a message that says why. The firmwares built with
the profiles are measured by `make size`."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "micropython_module" / "moduwebsocket.c"

PROFILES = {
    "server": ["-DMICROPY_PY_UWEBSOCKET_CLIENT=0"],
    "client": ["-DMICROPY_PY_UWEBSOCKET_SERVER=0"],
    "server-without-http": ["-DMICROPY_PY_UWEBSOCKET_CLIENT=0", "-DMICROPY_PY_UWEBSOCKET_HTTP=0"],
    "no-keepalive": ["-DMICROPY_PY_UWEBSOCKET_KEEPALIVE=0"],
    "client-without-keepalive": ["-DMICROPY_PY_UWEBSOCKET_SERVER=0", "-DMICROPY_PY_UWEBSOCKET_KEEPALIVE=0"],
    "no-compression": ["-DMICROPY_PY_UWEBSOCKET_DEFLATE=0"],
    "server-without-compression": ["-DMICROPY_PY_UWEBSOCKET_CLIENT=0", "-DMICROPY_PY_UWEBSOCKET_DEFLATE=0"],
    "client-without-compression": ["-DMICROPY_PY_UWEBSOCKET_SERVER=0", "-DMICROPY_PY_UWEBSOCKET_DEFLATE=0"],
    "smallest-stack-buffer": ["-DMICROPY_PY_UWEBSOCKET_STACK_BUFFER=64"],
    # UWS_PROFILE=tiny: the server with nothing optional.
    "tiny": ["-DMICROPY_PY_UWEBSOCKET_CLIENT=0", "-DMICROPY_PY_UWEBSOCKET_HTTP=0", "-DMICROPY_PY_UWEBSOCKET_KEEPALIVE=0",
             "-DMICROPY_PY_UWEBSOCKET_DEFLATE=0"],
}
REFUSED = {
    "http-without-server": (["-DMICROPY_PY_UWEBSOCKET_SERVER=0", "-DMICROPY_PY_UWEBSOCKET_HTTP=1"],
                            "MICROPY_PY_UWEBSOCKET_HTTP needs MICROPY_PY_UWEBSOCKET_SERVER"),
    "nothing": (["-DMICROPY_PY_UWEBSOCKET_SERVER=0", "-DMICROPY_PY_UWEBSOCKET_CLIENT=0"],
                "build in MICROPY_PY_UWEBSOCKET_SERVER, MICROPY_PY_UWEBSOCKET_CLIENT or both"),
    "stack-buffer-too-small": (["-DMICROPY_PY_UWEBSOCKET_STACK_BUFFER=16"],
                               "MICROPY_PY_UWEBSOCKET_STACK_BUFFER must be at least 64 bytes"),
}


def compile_shim(flags, tmp_path):
    micropython = Path(os.environ.get("UWS_MICROPY_DIR", ""))
    unix_build = Path(os.environ.get("UWS_BUILD_DIR", "")) / "unix"
    if not (micropython / "py").is_dir() or not (unix_build / "genhdr" / "qstrdefs.generated.h").is_file():
        pytest.skip("UWS_MICROPY_DIR and a unix build in UWS_BUILD_DIR are needed (make test sets them)")
    argv = ["gcc", "-c", "-o", str(tmp_path / "shim.o"),
            "-I%s" % SHIM.parent, "-I%s" % (unix_build / "uwebsocket"), "-I.", "-I../..", "-I%s" % unix_build,
            "-I%s" % (ROOT / "boards" / "uws_unix"),
            "-DMICROPY_PY_SSL=1", "-DMICROPY_SSL_MBEDTLS=1", "-DMICROPY_PY_SOCKET=1", "-DMICROPY_ROM_TEXT_COMPRESSION=1",
            "-DUNIX", "-std=gnu99", "-Os", "-Wall", "-Werror", "-Wextra", "-Wno-unused-parameter", "-Wpointer-arith",
            "-Wdouble-promotion", "-Wfloat-conversion", *flags, str(SHIM)]
    proc = subprocess.run(argv, cwd=micropython / "ports" / "unix", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, timeout=120)
    return proc.returncode, proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("name", list(PROFILES))
def test_profile_compiles_without_warnings(name, tmp_path):
    code, out = compile_shim(PROFILES[name], tmp_path)
    assert code == 0 and not out.strip(), out


@pytest.mark.parametrize("name", list(REFUSED))
def test_impossible_profile_is_refused_with_a_reason(name, tmp_path):
    flags, message = REFUSED[name]
    code, out = compile_shim(flags, tmp_path)
    assert code != 0 and message in out, out
