"""The Autobahn TestSuite, cases 1.* to 10.*, in both modes (runner:
python_tests/autobahn.py). Server mode: wstest's fuzzing client drives
examples/echo_server.py (through servers/autobahn_echo.py, which raises the
message limit to the suite's 16 MiB). Client mode: wstest's fuzzing server
drives clients/autobahn_client.py. Every case must end OK, NON-STRICT or
INFORMATIONAL, none FAILED; the counts are printed."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import firmware, free_port

TESTS = Path(__file__).resolve().parent
RUNNER = TESTS / "autobahn.py"
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}
# 16 MiB messages (9.*) are held while echoed: a 64 MiB heap is ample.
PEERS = {
    "server": ("servers/autobahn_echo.py {host} {port}", lambda: ["--port", str(free_port())]),
    "client": ("clients/autobahn_client.py {url} {agent}", lambda: []),
}


@pytest.mark.parametrize("mode", ["server", "client"])
def test_autobahn_cases_1_to_10(mode, tmp_path):
    assert shutil.which("wstest"), "wstest is missing: tools/install_autobahn.sh installs it"
    script, options = PEERS[mode]
    cmd = "%s -X heapsize=64M %s/%s" % (firmware(), TESTS, script)
    outdir = tmp_path / ("autobahn-" + mode)
    run = subprocess.run(
        [sys.executable, str(RUNNER), mode, "--cmd", cmd, *options(), "--outdir", str(outdir),
         "--timeout", "900"],
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
