"""The Autobahn TestSuite in client mode: wstest's fuzzing server drives
clients/autobahn_client.py on the unix port through cases 1.* to 10.*;
every case must end OK, NON-STRICT or INFORMATIONAL, none FAILED."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import firmware

TESTS = Path(__file__).resolve().parent
RUNNER = TESTS / "autobahn.py"
CLIENT = TESTS / "clients" / "autobahn_client.py"
ACCEPTED = {"OK", "NON-STRICT", "INFORMATIONAL"}


def test_autobahn_fuzzingserver_cases_1_to_10(tmp_path):
    assert shutil.which("wstest"), "wstest is missing: tools/install_autobahn.sh installs it"
    outdir = tmp_path / "autobahn-client"
    # 16 MiB messages (9.*) are held twice at once: a 64 MiB heap is ample.
    cmd = "%s -X heapsize=64M %s {url} {agent}" % (firmware(), CLIENT)
    run = subprocess.run(
        [sys.executable, str(RUNNER), "client", "--cmd", cmd, "--outdir", str(outdir),
         "--timeout", "900"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1000)
    summary = run.stdout.decode(errors="replace")
    print(summary)
    index = json.loads((outdir / "index.json").read_text())["uwebsocket"]
    assert len(index) == 301, summary
    wrong = {case: (r["behavior"], r["behaviorClose"]) for case, r in index.items()
             if r["behavior"] not in ACCEPTED or r["behaviorClose"] not in ACCEPTED}
    assert not wrong, wrong
    assert run.returncode == 0, summary
