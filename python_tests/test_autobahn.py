"""The Autobahn TestSuite, cases 1.* to 10.*, strictly (runner:
python_tests/autobahn.py, with failByDrop on): every case must end OK but
the three the suite reports without judging, which must end OK or
INFORMATIONAL: 7.1.6 (a Close queued behind a large message) and
7.13.1-2 (close codes beyond the range the RFC defines, refused with 1002).
NON-STRICT, UNIMPLEMENTED or FAILED anywhere fails the test.

Server mode, wstest's fuzzing client against: examples/echo_server.py (the
README's blocking server), the select.poll mode and the asyncio mode
(uwebsocket_asyncio) of servers/echo.py, all with the message limit raised
to the suite's 16 MiB. Client mode: wstest's fuzzing server drives
clients/autobahn_client.py. The counts of each run are printed.

Compression, cases 12.* and 13.* (permessage-deflate: messages of every
size from real data, each window size, context takeover on and off, the
offers and answers of both roles): 216 cases, every one OK, against the
blocking server and the client (each run takes minutes; the poll and
asyncio servers share their message path and are left to the 1-10 run).
All of it runs on examples/echo_server.py and clients/autobahn_client.py
as they are: compression is on by default."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ECHO, EXAMPLES, SERVER_LIB, firmware

TESTS = Path(__file__).resolve().parent
RUNNER = TESTS / "autobahn.py"
INFORMATIONAL = ("7.1.6", "7.13.1", "7.13.2")
LIMIT = 16 << 20  # cases 9.1.6 and 9.2.6 send 16 MiB messages
# A 64 MiB heap holds a 16 MiB message while it is echoed.
PEERS = {
    "server-blocking": ("-c \"import sys; sys.path.insert(0, '%s'); from echo_server import serve; "
                        "serve('{host}', {port}, max_size=%d)\"" % (EXAMPLES, LIMIT)),
    "server-poll": "%s --mode poll --max-size %d --timeout 10 {host} {port}" % (ECHO, LIMIT),
    "server-asyncio": "%s --mode asyncio --max-size %d {host} {port}" % (ECHO, LIMIT),
    "client": "%s/clients/autobahn_client.py {url} {agent}" % TESTS,
}


COMPRESSION_CASES = "12.*,13.*"
COMPRESSION_PEERS = ("client", "server-blocking")


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_autobahn_cases_1_to_10(peer, tmp_path, capsys):
    check_run(peer, tmp_path, capsys, cases=None, count=301, timeout=900)


@pytest.mark.parametrize("peer", COMPRESSION_PEERS)
def test_autobahn_compression_cases_12_and_13(peer, tmp_path, capsys):
    check_run(peer, tmp_path, capsys, cases=COMPRESSION_CASES, count=216, timeout=1500)


def check_run(peer, tmp_path, capsys, cases, count, timeout):
    assert shutil.which("wstest"), "wstest is missing: tools/install_autobahn.sh installs it"
    mode = peer.split("-")[0]
    cmd = "%s -X heapsize=64M %s" % (firmware(), PEERS[peer])
    outdir = tmp_path / ("autobahn-" + peer)
    run = subprocess.run(
        [sys.executable, str(RUNNER), mode, "--cmd", cmd, "--outdir", str(outdir),
         "--informational", ",".join(INFORMATIONAL), "--timeout", str(timeout)]
        + (["--cases", cases] if cases else []),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout + 100,
        env=dict(os.environ, MICROPYPATH="%s:.frozen" % SERVER_LIB))
    summary = run.stdout.decode(errors="replace")
    counts = re.findall(r"^autobahn %s: .*$" % mode, summary, re.M)
    with capsys.disabled():
        print("\n%s: %s" % (peer, counts[-1] if counts else "no counts"))
    assert (outdir / "index.json").exists(), summary
    reports = json.loads((outdir / "index.json").read_text())
    assert len(reports) == 1, summary
    index = next(iter(reports.values()))
    assert len(index) == count, summary
    wrong = {case: (r["behavior"], r["behaviorClose"]) for case, r in index.items()
             if not ({r["behavior"], r["behaviorClose"]} <= {"OK"}
                     or case in INFORMATIONAL and {r["behavior"], r["behaviorClose"]} <= {"OK", "INFORMATIONAL"})}
    assert not wrong, wrong
    assert run.returncode == 0, summary
