"""Process and port helpers for the benchmarks: the test suite's own
(python_tests/conftest.py), so servers are started, awaited and stopped the
same way everywhere: each in its own process group, stopped by its id,
on loopback only."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python_tests"))

from conftest import Process, free_port, wait_port  # noqa: E402,F401
