"""The in-memory tests (python_tests/mp/test_*.py) on emulated
microcontrollers: MicroPython's qemu port with the module on a Cortex-M3
(MPS2_AN385) and a RISC-V core (VIRT_RV32), the firmware built beforehand
by `make qemu-firmware`. Each script runs once in a fresh QEMU (all its
test_* functions, whatever each one does); each function is its own
pytest item, judged by the `PASS name` line the script printed."""
import sys

import pytest

from conftest import ROOT
from test_inmemory import CASES

sys.path.insert(0, str(ROOT / "tools"))
import qemu_run  # noqa: E402

_runs = {}


def run_once(board, script):
    if (board, script) not in _runs:
        _runs[board, script] = qemu_run.run(board, script)
    return _runs[board, script]


@pytest.mark.parametrize("board", sorted(qemu_run.BOARDS))
def test_firmware_built(board):
    assert qemu_run.missing_firmware(board) is None, qemu_run.missing_firmware(board)


@pytest.mark.parametrize("script,name", CASES, ids=["%s::%s" % (s.stem, n) for s, n in CASES])
@pytest.mark.parametrize("board", sorted(qemu_run.BOARDS))
def test_on_board(board, script, name):
    problem = qemu_run.missing_firmware(board)
    if problem:
        pytest.fail(problem)
    code, out = run_once(board, script)
    assert "PASS " + name in out.splitlines(), out
