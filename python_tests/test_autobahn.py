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

Compression, cases 12.* and 13.* (permessage-deflate: real data, each
window size, context takeover on and off, the offers and answers of both
roles), every case OK, against the blocking server and the client (the
poll and asyncio servers share their message path and are left to the
1-10 run). By default every subgroup with its messages up to 16 KiB
(cases .1-.7, .11 and .12: 108 of the 216): the others send a thousand
messages of 32-128 KiB each through both sides' compressors and take
most of an hour on two cores; UWS_AUTOBAHN_COMPRESSION=all runs all 216.
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

from conftest import ECHO, EXAMPLES, NATMOD_DIR, SERVER_LIB, firmware, micropython_path

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


COMPRESSION_SUBGROUPS = ["12.%d" % i for i in range(1, 6)] + ["13.%d" % i for i in range(1, 8)]
if os.environ.get("UWS_AUTOBAHN_COMPRESSION") == "all":
    COMPRESSION_CASES = ["%s.%d" % (g, n) for g in COMPRESSION_SUBGROUPS for n in range(1, 19)]
else:
    COMPRESSION_CASES = ["%s.%d" % (g, n) for g in COMPRESSION_SUBGROUPS for n in (1, 2, 3, 4, 5, 6, 7, 11, 12)]
COMPRESSION_PEERS = ("client", "server-blocking")


@pytest.mark.parametrize("peer", sorted(PEERS))
def test_autobahn_cases_1_to_10(peer, tmp_path, capsys):
    check_run(peer, tmp_path, capsys, cases=None, count=301, timeout=900)


@pytest.mark.parametrize("peer", COMPRESSION_PEERS)
def test_autobahn_compression_cases_12_and_13(peer, tmp_path, capsys):
    check_run(peer, tmp_path, capsys, cases=",".join(COMPRESSION_CASES), count=len(COMPRESSION_CASES),
              timeout=3600 if len(COMPRESSION_CASES) == 216 else 1200)


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
        env=dict(os.environ, MICROPYPATH=micropython_path(SERVER_LIB)))
    summary = run.stdout.decode(errors="replace")
    counts = re.findall(r"^autobahn %s: .*$" % mode, summary, re.M)
    with capsys.disabled():
        print("\n%s%s: %s" % ("natmod " if NATMOD_DIR else "", peer, counts[-1] if counts else "no counts"))
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
