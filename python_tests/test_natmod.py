"""uwebsocket as a native .mpy (make natmod), on firmware with nothing of
it built in.

`make test` runs the in-memory, echo, abuse and Autobahn server tests a
second time on the unix firmware without the module (make firmware-plain),
with UWS_NATMOD_DIR naming the x64 .mpy's folder (see conftest.py); the
first test below makes sure that run really imported the .mpy. The others
run in the main pass: the name the .mpy is installed under, and the
in-memory tests on the emulated boards' plain firmwares with the armv7m and
rv32imc .mpy files loaded into RAM (tools/natmod_load.py)."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import NATMOD_DIR, ROOT, firmware, run_mp
from test_inmemory import CASES

sys.path.insert(0, str(ROOT / "tools"))
import natmod_load  # noqa: E402

MAIN_PASS = pytest.mark.skipif(bool(NATMOD_DIR), reason="runs in the main pass (UWS_NATMOD_DIR unset)")


def built(path):
    if not path.is_file():
        pytest.fail("%s is missing: build it with `make natmod`" % path)
    return path


@pytest.mark.skipif(not NATMOD_DIR, reason="the natmod pass of make test sets UWS_NATMOD_DIR")
def test_natmod_pass_imports_the_mpy():
    code, out = run_mp("import uwebsocket, uwebsocket_asyncio\n"
                       "print(uwebsocket.__file__)\nprint(uwebsocket_asyncio.uwebsocket is uwebsocket)\n")
    lines = out.split()
    assert code == 0 and lines[0].endswith("/uwebsocket.mpy") and lines[1] == "True", out


# The name the .mpy is installed under (package-<arch>.json): on firmware
# whose `import uwebsocket` answers with something else (here the module
# built in; on esp32, rp2 and the unix port MicroPython's own websocket),
# importing uwebsocket_native once makes `import uwebsocket` give the .mpy
# everywhere, the asyncio helper's own import included.
TAKEOVER = """\
import uwebsocket
before = uwebsocket
import uwebsocket_native
import uwebsocket
print(uwebsocket is uwebsocket_native, before is not uwebsocket_native)
import uwebsocket_asyncio
print(uwebsocket_asyncio.uwebsocket is uwebsocket_native)
ws = uwebsocket.WebSocket(__import__('io').BytesIO())
print(type(ws).__name__, uwebsocket.ConnectionClosed.__name__)
"""


@MAIN_PASS
def test_installed_name_takes_over_uwebsocket(tmp_path):
    shutil.copy(built(natmod_load.natmod_dir() / "x64" / "uwebsocket.mpy"), tmp_path / "uwebsocket_native.mpy")
    env = dict(os.environ, MICROPYPATH="%s:.frozen" % tmp_path)
    out = subprocess.run([firmware(), "-c", TAKEOVER], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=60, env=env).stdout.decode(errors="replace")
    assert out.split() == ["True", "True", "True", "WebSocket", "ConnectionClosed"], out


def test_release_packages_name_their_files():
    """Every package-<arch>.json installs uwebsocket_native.mpy and the two
    helpers from files `make natmod` puts in build/natmod/release."""
    import json
    release = natmod_load.natmod_dir() / "release"
    for arch in ("x64", "armv6m", "armv7m", "armv7emsp", "rv32imc"):
        package = json.loads((ROOT / "micropython_module" / "natmod" / ("package-%s.json" % arch)).read_text())
        dests = sorted(dest for dest, _ in package["urls"])
        assert dests == ["uwebsocket_asyncio.mpy", "uwebsocket_native.mpy", "uwebsocket_transport.mpy"], package
        for _, source in package["urls"]:
            built(release / source)


# Every script once per board and architecture, all in one QEMU session
# (the .mpy is sent once), each in a namespace of its own; test_qemu.py runs
# the same scripts on the firmwares with the module built in.
BOARDS = [("MPS2_AN385", "armv7m"), ("VIRT_RV32", "rv32imc")]
_sessions = {}


def natmod_files(arch):
    return [natmod_load.natmod_dir() / arch / "uwebsocket.mpy"] + [
        natmod_load.natmod_dir() / "py" / (name + ".mpy") for name in natmod_load.PY_HELPERS]


def session(board, arch, scripts):
    if (board, arch) not in _sessions:
        problem = natmod_load.missing(board, natmod_files(arch))
        if problem:
            pytest.fail(problem)
        # One boot per script: in one long session the module's code and
        # what earlier scripts leave alive split the heap, and a later
        # script's 64 KiB message found no block to fit (a property of the
        # session, not of the script).
        _sessions[board, arch] = {}
        for script in scripts:
            _sessions[board, arch].update(natmod_load.run_scripts(board, [script], natmod_files(arch)))
    return _sessions[board, arch]


SCRIPTS = sorted({script for script, _ in CASES})


@MAIN_PASS
@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s.stem, n) for s, n in CASES])
@pytest.mark.parametrize("board,arch", BOARDS, ids=["%s-%s" % b for b in BOARDS])
def test_on_board(board, arch, script, name):
    out = session(board, arch, SCRIPTS)[script]
    assert "PASS " + name in out.splitlines(), out


# keepalive() and timeouts take float seconds on a port with floats, also
# from a .mpy built without float support (armv7m, rv32imc): the port's own
# arithmetic converts them, and out-of-range values are refused alike.
FLOAT_SECONDS = """\
import io, uwebsocket
ws = uwebsocket.WebSocket(io.BytesIO())
print('due', ws.keepalive(1.5, 0.25))
for bad in (-0.5, float('nan'), float('inf'), 1e7):
    try:
        ws.keepalive(bad)
        print('accepted', bad)
    except ValueError:
        print('refused')
"""


@MAIN_PASS
@pytest.mark.parametrize("board,arch", BOARDS, ids=["%s-%s" % b for b in BOARDS])
def test_float_seconds_on_board(board, arch, tmp_path):
    script = tmp_path / "float_seconds.py"
    script.write_text(FLOAT_SECONDS)
    code, out = natmod_load.run(board, script, natmod_files(arch))
    words = out.split()[-6:]
    # 1.5 s from now, less the ms the port's clock (a counter on this
    # port, which has none) moved meanwhile.
    assert words[0] == "due" and 1400 <= int(words[1]) <= 1500, out
    assert words[2:] == ["refused"] * 4, out
