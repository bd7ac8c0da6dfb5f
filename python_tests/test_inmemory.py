"""The in-memory tests (python_tests/mp/test_*.py: frames built byte by
byte, no network) on the unix firmware. test_qemu.py runs the same scripts
on emulated microcontrollers."""
import pytest

from conftest import MP_SCRIPTS, run_mp

SCRIPTS = sorted(MP_SCRIPTS.glob("test_*.py"))


def passed(code, out):
    lines = out.strip().splitlines()
    return code == 0 and bool(lines) and lines[-1] == "OK"


def test_scripts_found():
    assert len(SCRIPTS) >= 5, SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_on_unix(script):
    code, out = run_mp(script)
    assert passed(code, out), out
