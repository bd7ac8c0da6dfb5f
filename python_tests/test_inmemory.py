"""The in-memory tests (python_tests/mp/test_*.py: frames built byte by
byte, no network) on the unix firmware, one pytest item per test_*
function of each script: the script runs the function named on its command
line. test_qemu.py runs the same scripts on emulated microcontrollers."""
import re

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
