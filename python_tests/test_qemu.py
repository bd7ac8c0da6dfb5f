"""The in-memory tests (python_tests/mp/test_*.py) on emulated
microcontrollers: MicroPython's qemu port with the module on a Cortex-M3
(MPS2_AN385) and a RISC-V core (VIRT_RV32), the firmware built beforehand
by `make qemu-firmware`. Each script runs in a fresh QEMU."""
import sys

import pytest

from conftest import ROOT
from test_inmemory import SCRIPTS, passed

sys.path.insert(0, str(ROOT / "tools"))
import qemu_run  # noqa: E402


@pytest.mark.parametrize("board", sorted(qemu_run.BOARDS))
def test_firmware_built(board):
    assert qemu_run.missing_firmware(board) is None, qemu_run.missing_firmware(board)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
@pytest.mark.parametrize("board", sorted(qemu_run.BOARDS))
def test_on_board(board, script):
    problem = qemu_run.missing_firmware(board)
    if problem:
        pytest.fail(problem)
    code, out = qemu_run.run(board, script)
    assert passed(code, out), out
