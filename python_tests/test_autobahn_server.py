"""The Autobahn TestSuite in server mode: wstest's fuzzing client drives
examples/echo_server.py (through servers/autobahn_echo.py, which raises the
message limit to the suite's 16 MiB) on the unix port through cases 1.* to
10.*; every case must end OK, NON-STRICT or INFORMATIONAL, none FAILED."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import firmware, free_port

TESTS = Path(__file__).resolve().parent
RUNNER = TESTS / "autobahn.py"
SERVER = TESTS / "servers" / "autobahn_echo.py"
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def test_autobahn_fuzzingclient_cases_1_to_10(tmp_path):
    assert shutil.which("wstest"), "wstest is missing: tools/install_autobahn.sh installs it"
    outdir = tmp_path / "autobahn-server"
    # 16 MiB messages (9.*) are held while echoed: a 64 MiB heap is ample.
    cmd = "%s -X heapsize=64M %s {host} {port}" % (firmware(), SERVER)
    run = subprocess.run(
        [sys.executable, str(RUNNER), "server", "--cmd", cmd, "--port", str(free_port()),
         "--outdir", str(outdir), "--timeout", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1000)
    summary = run.stdout.decode(errors="replace")
    print(summary)
    reports = json.loads((outdir / "index.json").read_text())
    assert len(reports) == 1, summary
    index = next(iter(reports.values()))
    assert len(index) == 301, summary
    wrong = {case: (r["behavior"], r["behaviorClose"]) for case, r in index.items()
             if r["behavior"] not in ACCEPTED or r["behaviorClose"] not in ACCEPTED}
    assert not wrong, wrong
    assert run.returncode == 0, summary
