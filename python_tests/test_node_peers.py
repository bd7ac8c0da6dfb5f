"""permessage-deflate against Node's `ws` (Debian's node-ws, installed by
`make deps-test`), as Node applications run it, in both roles: python_tests/
node/peer.js as a client of examples/echo_server.py, and as a server for
python_tests/clients/session.py. Each side says what was agreed: Node's
ws.extensions, the offer its server received, our ws.compression."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from clients.peers import run_session
from conftest import EXAMPLES, Process, wait_listening, wait_log

PEER = Path(__file__).resolve().parent / "node" / "peer.js"
# Debian's node modules (node-ws), for a node that does not look there itself.
NODE_ENV = dict(os.environ, NODE_PATH="/usr/share/nodejs")
MESSAGES = 7  # what peer.js sends


def node():
    path = shutil.which("node") or shutil.which("nodejs")
    assert path, "node is not installed (make deps-test installs node-ws, which brings it)"
    return path


def test_node_client_against_our_server(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    proc = subprocess.run([node(), str(PEER), "client", "ws://127.0.0.1:%d/" % srv.port], env=NODE_ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    lines = proc.stdout.decode(errors="replace").splitlines()
    assert proc.returncode == 0, lines
    # Node offers client_max_window_bits: our server asks for 2^11 both ways.
    assert lines[0] == "extensions permessage-deflate; server_max_window_bits=11; client_max_window_bits=11", lines
    # Our server answers the Close with its code (RFC 6455 section 5.5.1).
    assert lines[1:] == ["echo %d ok" % n for n in range(MESSAGES)] + ["closed 1000 "], lines


@pytest.mark.parametrize("options", [[], ["deflate=client_no_context_takeover=1,server_max_window_bits=9"]],
                         ids=["defaults", "small-window-no-takeover"])
def test_our_client_against_node_server(tmp_path, options):
    proc = Process([node(), str(PEER), "server"], tmp_path / "node.log", env=NODE_ENV)
    try:
        port = wait_listening(proc)
        steps = ["max_size=2097152", "compression", "echo=0", "echo=100", "echo=5000", "echo=70000",
                 "close=1000,done"]
        code, lines = run_session("ws://127.0.0.1:%d/" % port, *options, *steps)
        assert code == 0, lines
        agreed = [line for line in lines if line.startswith("compression ")]
        assert lines[-5:] == ["echo 0 ok", "echo 100 ok", "echo 5000 ok", "echo 70000 ok", "closed 1000 done"], lines
        wait_log(proc, "closed ")  # Node's close event comes once the TCP connection ends
        log = proc.read_output().splitlines()
    finally:
        proc.stop()
    offer = next(line for line in log if line.startswith("offer "))
    extensions = next(line for line in log if line.startswith("extensions "))
    assert offer.startswith("offer permessage-deflate"), log
    assert extensions.startswith("extensions permessage-deflate"), log
    # What Node agreed is what our client says was agreed.
    assert agreed == ["compression " + extensions[len("extensions "):]], (agreed, log)
    if options:
        assert "client_no_context_takeover" in extensions and "server_max_window_bits=9" in extensions, log
    assert "closed 1000 done" in log, log
