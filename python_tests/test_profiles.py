"""Every build profile of the shim (the MICROPY_PY_UWEBSOCKET_* flags at the
top of micropython_module/moduwebsocket.c) compiles without a warning, with
the unix port's own flags (-Wall -Wextra -Werror ...) against the headers
of the unix build `make test` made, and a combination that cannot work
stops the build with a message that says why. The firmwares built with
the profiles are measured by `make size`. The smallest profile (tiny)
also runs: a unix firmware built with it serves WebSockets through the
frozen asyncio helper, which does without what the profile leaves out."""
import asyncio
import os
import socket
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from conftest import SERVER_LIB, Process, micropython_path, wait_listening

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


TINY_SERVER = """
import asyncio, sys
import uwebsocket
import uwebsocket_asyncio as uwa

names = ("accept", "Request", "WebSocket", "connect", "client", "respond", "read_request")
print("NAMES", [n for n in names if hasattr(uwebsocket, n)], hasattr(uwebsocket.WebSocket, "keepalive"))
for options in ({"http": lambda request: None}, {"ping_interval": 5}):
    try:
        asyncio.run(uwa.serve(None, "127.0.0.1", 0, **options))
        print("REFUSED nothing")
    except ValueError as e:
        print("REFUSED", e)

async def echo(ws):
    try:
        ws.keepalive(5)
    except NotImplementedError as e:
        print("KEEPALIVE", e)
    while True:
        await ws.send(await ws.recv())

async def main():
    await uwa.serve(echo, sys.argv[1], int(sys.argv[2]))
    await asyncio.sleep(60)

asyncio.run(main())
"""


def tiny_firmware():
    path = os.environ.get("UWS_FIRMWARE_TINY")
    if not path:
        pytest.skip("UWS_FIRMWARE_TINY is not set (make test sets it)")
    assert os.access(path, os.X_OK), "UWS_FIRMWARE_TINY=%s is not an executable" % path
    return path


async def echo_after_a_pause(url):
    async with connect(url, open_timeout=10, ping_interval=None) as ws:
        # The server's recv() waits first (no keepalive to time the wait).
        await asyncio.sleep(0.3)
        for message in ("hello", b"\x00\xff" * 3000):
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), 10) == message


def test_tiny_profile_serves_through_the_asyncio_helper(tmp_path):
    """UWS_PROFILE=tiny on the unix port: no client, HTTP helpers or
    keepalive. The asyncio helper refuses at serve() what needs them, waits
    for messages without keepalive, and answers a plain HTTP request by
    closing (there is no respond() to answer with); the server goes on."""
    script = tmp_path / "tiny_server.py"
    script.write_text(TINY_SERVER)
    env = dict(os.environ, MICROPYPATH=micropython_path(SERVER_LIB))
    proc = Process([tiny_firmware(), str(script), "127.0.0.1", "0"], tmp_path / "tiny.log", env=env)
    try:
        port = wait_listening(proc)
        url = "ws://127.0.0.1:%d/" % port
        asyncio.run(echo_after_a_pause(url))

        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert plain.recv(100) == b""
        plain.close()

        asyncio.run(echo_after_a_pause(url))
        assert proc.poll() is None
        out = proc.read_output()
    finally:
        proc.stop()
    assert "NAMES ['accept', 'Request', 'WebSocket'] False" in out, out
    assert "REFUSED http= needs the HTTP helpers built in (MICROPY_PY_UWEBSOCKET_HTTP)" in out, out
    assert "REFUSED keepalive is not built in (MICROPY_PY_UWEBSOCKET_KEEPALIVE)" in out, out
    assert "KEEPALIVE keepalive is not built in" in out, out
    assert "Traceback" not in out, out
