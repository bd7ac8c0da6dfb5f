"""Public names the other tests do not reach against a real peer: the
stream protocol (read, readinto, write), the context manager, Request(raw),
keepalive() called directly, read_request(max_head=...), and the asyncio
helper as a client (handshake errors, async with, recv_into) and as a
server refusing plain HTTP. Peers are CPython's websockets and raw sockets
on loopback."""
import socket

import pytest

from clients import peers
from clients.peers import RawServer, WebsocketsServer, echo
from conftest import ECHO, run_mp, wait_log
from wsraw import Response as RawResponse, upgrade_request

ETIMEDOUT = 110


def mp(code, *args):
    status, out = run_mp(code, *args, timeout=30)
    assert status == 0, out
    return out.splitlines()



def answers_to(srv, requests):
    """The server's whole answer to each request, each on its own
    connection, read until it closes."""
    answers = []
    for request in requests:
        with socket.create_connection((srv.host, srv.port), timeout=10) as sock:
            sock.sendall(request)
            raw = b""
            try:
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    raw += chunk
            except ConnectionResetError:
                pass
            answers.append(RawResponse(raw))
    return answers

def test_read_readinto_write_and_the_context_manager():
    got = []

    def handler(ws):
        ws.send(b"abcde")
        ws.send(b"fgh")
        for message in ws:
            got.append(message)

    with WebsocketsServer(handler) as srv:
        lines = mp(
            "import uwebsocket\n"
            "with uwebsocket.connect(%r, timeout=10) as ws:\n"
            "    print(ws.read(3))\n"
            "    buf = bytearray(5)\n"  # a blocking readinto fills the buffer, as a socket's does
            "    print(ws.readinto(buf), bytes(buf))\n"
            "    print(ws.write(b'xyz'), ws.write(b'12345', 2))\n"
            "print(ws.closed, ws.close_code, ws.close_reason)\n" % srv.url())
    # Payload bytes across message boundaries; each write one binary message;
    # leaving the block closed with 1000, which the server answered.
    assert lines == ["b'abc'", "5 b'defgh'", "3 2", "True 1000 "], lines
    assert got == [b"xyz", b"12"]
    assert srv.closes == [(1000, "")]


def test_request_parses_a_head_read_by_other_means():
    lines = mp(
        "import uwebsocket\n"
        "r = uwebsocket.Request(b'GET /a?b=1 HTTP/1.1\\r\\nHost: h\\r\\nUpgrade: websocket\\r\\n"
        "Connection: Upgrade\\r\\nX-Tag: a\\r\\nX-Tag: b\\r\\n\\r\\n')\n"
        "print(r.method, r.path, r.upgrade, r.headers['x-tag'], r.headers['host'])\n"
        "r = uwebsocket.Request(b'POST /form HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n')\n"
        "print(r.method, r.path, r.upgrade)\n")
    assert lines == ["GET /a?b=1 True a, b h", "POST /form False"], lines


def test_keepalive_called_directly_pings_when_due():
    pings = []

    def handler(ws):
        # websockets answers pings by itself; it tells us of none, so the
        # peer's view is the script's: a pong came back (no 1011 later).
        for message in ws:
            ws.send(message)

    with WebsocketsServer(handler) as srv:
        lines = mp(
            "import time, uwebsocket\n"
            "ws = uwebsocket.connect(%r, timeout=10)\n"
            "print(ws.keepalive())\n"                       # off: None
            "due = ws.keepalive(0.3, 2)\n"
            "print(0 < due <= 300)\n"
            "time.sleep(0.4)\n"
            "due = ws.keepalive()\n"                        # the ping goes out now
            "print(0 < due <= 2000)\n"
            "ws.send('after')\n"
            "print(ws.recv())\n"                            # the pong is absorbed on the way
            "print(ws.keepalive(0))\n"                      # off again
            "ws.close()\n"
            "print(ws.close_code)\n" % srv.url())
    assert lines == ["None", "True", "True", "after", "None", "1000"], lines
    assert srv.closes == [(1000, "")]


def test_read_request_max_head_refuses_a_longer_head(mp_server, tmp_path):
    script = tmp_path / "server.py"
    script.write_text(
        "import socket, sys, uwebsocket\n"
        "srv = socket.socket()\n"
        "srv.bind(socket.getaddrinfo(sys.argv[1], int(sys.argv[2]))[0][-1])\n"
        "srv.listen(2)\n"
        "for _ in range(2):\n"
        "    sock, _ = srv.accept()\n"
        "    try:\n"
        "        r = uwebsocket.read_request(sock, max_head=200, timeout=5)\n"
        "        print('request', r.path)\n"
        "        uwebsocket.respond(sock, 200, b'ok', content_type='text/plain')\n"
        "    except uwebsocket.HandshakeError as e:\n"
        "        print('refused', e.status, e.message)\n")
    srv = mp_server(script)
    answers = answers_to(srv, [b"GET /short HTTP/1.1\r\nHost: h\r\n\r\n",
                               upgrade_request(extra=[("X-Pad", "a" * 200)])])
    assert answers[0].status == 200 and answers[0].rest == b"ok"
    assert answers[1].status_line == "HTTP/1.1 431 Request Header Fields Too Large", answers[1].raw
    wait_log(srv, "request /short")
    assert wait_log(srv, "refused 431 ") == "refused 431 request header fields too large", srv.read_output()


# The asyncio helper, uwebsocket_asyncio.

ASYNC_CLIENT = (
    "import asyncio, uwebsocket, uwebsocket_asyncio as wsa\n"
    "async def main(url):\n"
    "    try:\n"
    "        ws = await wsa.connect(url, timeout=1)\n"
    "    except wsa.HandshakeError as e:\n"
    "        print('HandshakeError', e.status, e.message)\n"
    "    except OSError as e:\n"
    "        print('OSError', e.errno)\n"
    "    else:\n"
    "        print('open')\n"
    "asyncio.run(main(%r))\n")


def test_asyncio_connect_refused_by_the_server():
    def refuse(connection, request):
        return connection.respond(403, "no entry\n")

    with WebsocketsServer(echo, process_request=refuse) as srv:
        assert mp(ASYNC_CLIENT % srv.url()) == ["HandshakeError 403 HTTP/1.1 403 Forbidden"]


def test_asyncio_connect_bad_response_and_timeout():
    def garbage(conn):
        peers.read_head(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")

    def silent(conn):
        peers.read_head(conn)
        try:
            conn.recv(1)  # until the client gives up
        except OSError:
            pass

    with RawServer(garbage) as srv:
        [line] = mp(ASYNC_CLIENT % srv.url())
    assert line.startswith("HandshakeError 0 malformed HTTP"), line
    with RawServer(silent) as srv:
        assert mp(ASYNC_CLIENT % srv.url()) == ["OSError %d" % ETIMEDOUT]


def test_asyncio_async_with_and_recv_into():
    def handler(ws):
        ws.send(b"0123456789")
        ws.send("héllo")
        for message in ws:
            ws.send(message)

    with WebsocketsServer(handler) as srv:
        lines = mp(
            "import asyncio, uwebsocket_asyncio as wsa\n"
            "async def main(url):\n"
            "    async with await wsa.connect(url, timeout=10) as ws:\n"
            "        buf = bytearray(4)\n"
            "        parts = []\n"
            "        while True:\n"
            "            n = await ws.recv_into(buf)\n"
            "            parts.append(bytes(buf[:n]))\n"
            "            if not ws.more:\n"
            "                break\n"
            "        print(parts)\n"
            "        buf = bytearray(16)\n"
            "        n = await ws.recv_into(buf)\n"
            "        print(n, ws.more, bytes(buf[:n]).decode())\n"
            "        await ws.send('echo me')\n"
            "        print(await ws.recv())\n"
            "    print(ws.closed, ws.close_code)\n"
            "asyncio.run(main(%r))\n" % srv.url())
    assert lines == ["[b'0123', b'4567', b'89']", "6 False héllo", "echo me", "True 1000"], lines
    assert srv.closes == [(1000, "")]


def test_asyncio_close_reports_the_peers_answer():
    with WebsocketsServer(echo) as srv:
        lines = mp(
            "import asyncio, uwebsocket_asyncio as wsa\n"
            "async def main(url):\n"
            "    ws = await wsa.connect(url, timeout=10)\n"
            "    await ws.close(4000, 'bye')\n"
            "    print(ws.close_code, ws.close_reason)\n"
            "asyncio.run(main(%r))\n" % srv.url())
    assert srv.closes == [(4000, "bye")]
    # websockets answers with the code and reason it received.
    assert lines == ["4000 bye"], lines


def test_asyncio_server_refuses_plain_http_and_bad_upgrades(mp_server):
    srv = mp_server(ECHO, "--mode", "asyncio")
    answers = answers_to(srv, [b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
                               upgrade_request(replace={"Sec-WebSocket-Version": "8", "Origin": None})])
    plain, version = answers
    # Without http=, a WebSocket-only endpoint says what it wants.
    assert plain.status_line == "HTTP/1.1 426 Upgrade Required", plain.raw
    assert plain.header("Upgrade") == "websocket" and plain.rest == b"WebSocket only\n", plain.raw
    assert version.status_line == "HTTP/1.1 426 Upgrade Required", version.raw
    assert version.header("Sec-WebSocket-Version") == "13", version.raw
    assert version.rest == b"Sec-WebSocket-Version must be 13", version.raw
