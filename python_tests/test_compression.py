"""permessage-deflate (RFC 7692) against CPython websockets on loopback,
in both roles: compression both ways with each window size 8 to 15 and
with no context takeover either way, checked by what each side says was
agreed (the peer's Sec-WebSocket-Extensions headers, our ws.compression)
and by messages echoed whole, text and binary, small and large.

Our server: python_tests/servers/echo.py (blocking) with --compression
and --hello (its first message tells ws.compression), and
examples/echo_server.py with the defaults. Our client:
python_tests/clients/session.py against a websockets server."""
import json

import pytest
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory, ServerPerMessageDeflateFactory
from websockets.sync.client import connect as sync_connect

from clients.peers import WebsocketsServer, run_session
from conftest import ECHO, EXAMPLES

TIMEOUT = 10.0
BITS = list(range(8, 16))


def peer_bits(bits):
    """zlib cannot compress with a 2^8 window (websockets allows 9 to 15 for
    its own compressor): the peer compresses with 9 where we use 8."""
    return max(bits, 9)
TELEMETRY = json.dumps({"type": "reading", "temperature": 21.43, "humidity": 40.5, "uptime": 12345,
                        "free": 2051520, "used": 21312})


def noise(n, seed=1):
    """Bytes that do not compress."""
    import random

    return random.Random(seed).randbytes(n)


# Small and large, compressible and not, text and binary: large ones go
# out in several frames, and over a window of any size.
MESSAGES = [TELEMETRY, "", "x", "é" * 3000, noise(5000), bytes(range(256)) * 300, TELEMETRY * 50]


def extension_header(headers):
    return headers.get("Sec-WebSocket-Extensions")


def echo_all(ws):
    for message in MESSAGES:
        ws.send(message)
        assert ws.recv(timeout=TIMEOUT) == message


def server_compression(ws):
    """Our server's ws.compression, from its --hello message."""
    return json.loads(ws.recv(timeout=TIMEOUT))["compression"]


@pytest.fixture
def deflate_echo(mp_server):
    """echo.py allowing every window size and telling what it agreed."""
    return mp_server(ECHO, "--compression", "server_max_window_bits=15,client_max_window_bits=15", "--hello",
                     "--max-size", 1 << 20, "--timeout", 10)


@pytest.mark.parametrize("bits", BITS)
def test_websockets_client_each_window_size(deflate_echo, bits):
    offer = ClientPerMessageDeflateFactory(server_max_window_bits=bits, client_max_window_bits=peer_bits(bits))
    url = "ws://127.0.0.1:%d/" % deflate_echo.port
    with sync_connect(url, compression=None, extensions=[offer], max_size=None, open_timeout=TIMEOUT) as ws:
        answer = extension_header(ws.response.headers)
        assert answer == "permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d" % (
            bits, peer_bits(bits))
        assert server_compression(ws) == answer
        echo_all(ws)


def test_websockets_client_no_context_takeover_both_ways(deflate_echo):
    offer = ClientPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True,
                                           server_max_window_bits=10)
    url = "ws://127.0.0.1:%d/" % deflate_echo.port
    with sync_connect(url, compression=None, extensions=[offer], max_size=None, open_timeout=TIMEOUT) as ws:
        answer = extension_header(ws.response.headers)
        assert "server_no_context_takeover" in answer and "client_no_context_takeover" in answer, answer
        ours = server_compression(ws)
        assert "server_no_context_takeover; client_no_context_takeover" in ours
        assert "server_max_window_bits=10" in ours
        for _ in range(3):  # each message on a fresh context
            echo_all(ws)


def test_default_server_and_websockets_defaults(mp_server):
    """examples/echo_server.py as it is and websockets as it is: compression
    is on, with 2^11 windows both ways (the server asks the client for it)."""
    srv = mp_server(EXAMPLES / "echo_server.py")
    with sync_connect("ws://127.0.0.1:%d/" % srv.port, max_size=None, open_timeout=TIMEOUT) as ws:
        answer = extension_header(ws.response.headers)
        assert answer == "permessage-deflate; server_max_window_bits=11; client_max_window_bits=11", answer
        echo_all(ws)


def test_offer_without_client_window_bits(mp_server):
    """A plain `permessage-deflate` offer (Firefox's) lets the client use a
    32 KiB window: declined by a server that wants 2^11 (the default), taken
    by one that allows 15."""
    offer = ClientPerMessageDeflateFactory(client_max_window_bits=None)
    for server_bits, agreed in ((11, False), (15, True)):
        srv = mp_server(ECHO, "--compression", "client_max_window_bits=%d" % server_bits, "--hello")
        url = "ws://127.0.0.1:%d/" % srv.port
        with sync_connect(url, compression=None, extensions=[offer], open_timeout=TIMEOUT) as ws:
            assert (extension_header(ws.response.headers) is not None) == agreed
            assert (server_compression(ws) is not None) == agreed
            echo_all(ws)


def test_compression_none_declines(mp_server):
    srv = mp_server(ECHO, "--compression", "none", "--hello")
    with sync_connect("ws://127.0.0.1:%d/" % srv.port, open_timeout=TIMEOUT) as ws:
        assert extension_header(ws.response.headers) is None
        assert server_compression(ws) is None
        echo_all(ws)


class Recorder:
    """A websockets server handler: the extension headers of each
    connection, then echo."""

    def __init__(self):
        self.seen = []

    def __call__(self, ws):
        self.seen.append((extension_header(ws.request.headers), extension_header(ws.response.headers)))
        for message in ws:
            ws.send(message)


ECHO_STEPS = ["max_size=2097152", "echo=0", "echo=100", "echo=5000", "echo=70000", "close=1000,done"]
ECHO_LINES = ["echo 0 ok", "echo 100 ok", "echo 5000 ok", "echo 70000 ok", "closed 1000 done"]


@pytest.mark.parametrize("bits", BITS)
def test_our_client_each_window_size(bits):
    recorder = Recorder()
    with WebsocketsServer(recorder, compression=None, extensions=[ServerPerMessageDeflateFactory()]) as srv:
        code, lines = run_session(srv.url(), "deflate=server_max_window_bits=%d,client_max_window_bits=%d"
                                  % (peer_bits(bits), bits), "compression", *ECHO_STEPS)
    assert code == 0, lines
    agreed = "permessage-deflate; server_max_window_bits=%d; client_max_window_bits=%d" % (peer_bits(bits), bits)
    assert lines == ["open None", "compression " + agreed] + ECHO_LINES
    offer, answer = recorder.seen[0]
    assert offer.startswith("permessage-deflate") and answer.startswith("permessage-deflate"), (offer, answer)
    if peer_bits(bits) < 15:  # 15 is what no parameter means
        assert "server_max_window_bits=%d" % peer_bits(bits) in offer, offer
        assert "server_max_window_bits=%d" % peer_bits(bits) in answer, answer


def test_our_client_no_context_takeover_both_ways():
    recorder = Recorder()
    with WebsocketsServer(recorder, compression=None, extensions=[ServerPerMessageDeflateFactory()]) as srv:
        code, lines = run_session(srv.url(), "deflate=server_no_context_takeover=1,client_no_context_takeover=1",
                                  "compression", *ECHO_STEPS)
    assert code == 0, lines
    assert lines[1].startswith("compression permessage-deflate; server_no_context_takeover; "
                               "client_no_context_takeover"), lines
    assert lines[2:] == ECHO_LINES
    offer, answer = recorder.seen[0]
    assert "server_no_context_takeover" in offer and "client_no_context_takeover" in offer, offer
    assert "server_no_context_takeover" in answer and "client_no_context_takeover" in answer, answer


def test_our_client_defaults_against_websockets_defaults():
    recorder = Recorder()
    with WebsocketsServer(recorder) as srv:
        code, lines = run_session(srv.url(), "compression", *ECHO_STEPS)
    assert code == 0, lines
    assert lines[1].startswith("compression permessage-deflate"), lines
    assert lines[2:] == ECHO_LINES
    offer, answer = recorder.seen[0]
    assert offer.startswith("permessage-deflate") and answer.startswith("permessage-deflate"), (offer, answer)


def test_our_client_compression_none():
    recorder = Recorder()
    with WebsocketsServer(recorder) as srv:
        code, lines = run_session(srv.url(), "deflate=none", "compression", *ECHO_STEPS)
    assert code == 0, lines
    assert lines == ["open None", "compression None"] + ECHO_LINES
    assert recorder.seen == [(None, None)]
