"""Client round trip: a uwebsocket client on the unix port sends 16-byte
messages to a CPython `websockets` echo server over loopback, one in flight
at a time, over ws:// and over wss:// (certificate made here, verified).

    build/venv/bin/python benches/client_rtt.py FIRMWARE
"""
import json
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from procs import ROOT  # noqa: F401  (puts python_tests on sys.path)
from clients.certs import make_certs
from clients.peers import WebsocketsServer, echo

MESSAGES = 2000
SCRIPT = Path(__file__).resolve().parent / "rtt_client.py"


def measure(firmware, url, ca=None):
    argv = [firmware, str(SCRIPT), url, str(MESSAGES)] + ([str(ca)] if ca else [])
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if out.returncode:
        raise RuntimeError("%s failed:\n%s" % (" ".join(argv), out.stdout.decode(errors="replace")))
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def run(firmware):
    results = []
    with tempfile.TemporaryDirectory(prefix="uws-rtt-") as folder:
        certs = make_certs(folder)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs["cert"], certs["key"])
        for scheme, options, ca in (("ws", {}, None), ("wss", {"ssl": ctx}, certs["ca"])):
            with WebsocketsServer(echo, **options) as srv:
                # The name the certificate was made for (verification on).
                rtt = measure(firmware, srv.url("/", host="localhost" if ca else None), ca)
            results.append(dict(case="client_rtt", impl="uwebsocket", size=16, scheme=scheme, **rtt))
    return results


if __name__ == "__main__":
    for result in run(sys.argv[1]):
        print(json.dumps(result))
