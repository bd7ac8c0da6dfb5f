"""The in-memory tests (python_tests/mp/test_*.py: frames built byte by
byte, no network) on the unix firmware and on a small board's
configuration (boards/uws_unix_small: no floats, sockets, TLS or unicode
strings), one pytest item per test_* function of each script: the script
runs the function named on its command line. test_qemu.py runs the same
scripts on emulated microcontrollers."""
import os
import re
import subprocess

import pytest

from conftest import MP_SCRIPTS, run_mp

SCRIPTS = sorted(MP_SCRIPTS.glob("test_*.py"))


def functions(script):
    """The test_* functions a script defines (wsframe.run runs them)."""
    return re.findall(r"^def (test_\w+)\(\):", script.read_text(), re.M)


CASES = [(script, name) for script in SCRIPTS for name in functions(script)]


def test_scripts_found():
    assert len(SCRIPTS) >= 5, SCRIPTS
    for script in SCRIPTS:
        assert functions(script), "%s defines no test_* function" % script.name


@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s.stem, n) for s, n in CASES])
def test_on_unix(script, name):
    code, out = run_mp(script, name)
    assert code == 0 and out.strip().splitlines()[-2:] == ["PASS " + name, "OK"], out


def small_firmware(variable):
    path = os.environ.get(variable)
    if not path:
        pytest.skip("%s is not set (make test sets it)" % variable)
    assert os.access(path, os.X_OK), "%s=%s is not an executable" % (variable, path)
    return path


def run_small(argv, cwd=None):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60, cwd=cwd)
    return proc.returncode, proc.stdout.decode(errors="replace")


@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s.stem, n) for s, n in CASES])
def test_on_small_board(script, name):
    firmware = small_firmware("UWS_FIRMWARE_SMALL")
    code, out = run_small([firmware, script.name, name], cwd=script.parent)
    assert code == 0 and out.strip().splitlines()[-2:] == ["PASS " + name, "OK"], out


def test_small_board_has_no_floats_sockets_or_tls():
    """The configuration really lacks what the module must do without."""
    firmware = small_firmware("UWS_FIRMWARE_SMALL")
    probe = ("for m in ('socket', 'ssl', 'tls'):\n"
             "    try:\n        __import__(m); print('has', m)\n    except ImportError:\n        pass\n"
             "try:\n    float\n    print('has float')\nexcept NameError:\n    pass\n"
             "import uwebsocket\nprint(sorted(n for n in dir(uwebsocket) if not n.startswith('_')))\n")
    code, out = run_small([firmware, "-c", probe])
    assert code == 0 and "has" not in out, out
    assert "'WebSocket'" in out and "'accept'" in out, out


def test_stock_minimal_variant_imports_the_module():
    """The unix port's own minimal variant built with the module (no io
    module there for the tests' streams): it imports, and what needs a
    socket says so."""
    firmware = small_firmware("UWS_FIRMWARE_MINIMAL")
    code, out = run_small([firmware, "-c",
                           "import uwebsocket\n"
                           "try:\n    uwebsocket.connect('ws://127.0.0.1:9/')\n"
                           "except Exception as e:\n    print(type(e))\n"
                           "print(uwebsocket.WebSocket)\n"])
    assert code == 0, out
    assert out.split() == ["<class", "'ImportError'>", "<class", "'WebSocket'>"], out
