"""The README's promises, each proved against a peer that does exactly what
the promise is about:

1. Whatever ends a connection, recv() raises one exception: a TCP reset
   surfaces at once as ConnectionClosed(1006), with closed, close_code and
   close_reason set (the in-memory side: mp/test_ending.py).
2. close_code and close_reason say how it ended, always in agreement with
   the exception (mp/test_ending.py: drop, 1002, 1007, 1009, peer close).
3. keepalive(interval, timeout) keeps its schedule on a blocking socket
   without a timeout: a silent peer receives pings and the connection ends
   with 1011 after `timeout`.
4. wss:// verifies the server's certificate unless told otherwise.
5. The fragments of a fragmented send() do not wait on Nagle's algorithm.
6. The README's server example runs as written.
"""
import re
import socket
import ssl
import struct
import threading
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from clients.certs import make_certs
from clients.peers import RawServer, WebsocketsServer, echo, run_client, run_session
from conftest import ECHO, ROOT, wait_log
from wsraw import (CLOSE, CONT, PING, PONG, TEXT, RawClient, Reader, client_frame, close_payload, frame,
                   parse_close, read_frame, serve_handshake)

TIMEOUT = 10.0


def mp_lines(code, timeout=60):
    """Run MicroPython code as a client script; (exit code, output lines)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "client.py"
        script.write_text(code)
        status, out = run_client(script, timeout=timeout)
    return status, out.splitlines()


# 1. A reset ends the connection at the first recv().

def test_first_recv_after_a_reset_raises_connection_closed_1006():
    def reset_after_handshake(conn):
        serve_handshake(conn)
        conn.sendall(frame(TEXT, b"before the reset"))
        # The client says it has the message (a reset may discard what it
        # has not read yet), and is then in or about to enter recv().
        assert read_frame(conn)[3] == b"got it"
        # SO_LINGER with a zero timeout: close() sends RST, not FIN.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with RawServer(reset_after_handshake) as srv:
        status, lines = mp_lines(
            "import time, uwebsocket\n"
            "ws = uwebsocket.connect(%r, timeout=10)\n"
            "print('recv', ws.recv())\n"
            "ws.send('got it')\n"
            "try:\n"
            "    ws.recv()\n"
            "    print('no exception')\n"
            "except uwebsocket.ConnectionClosed as e:\n"
            "    print('ConnectionClosed', e.code, type(e.reason).__name__)\n"
            "    print('state', ws.closed, ws.close_code, ws.close_reason == e.reason)\n"
            "except Exception as e:\n"
            "    print('other', type(e).__name__, e, ws.closed)\n"
            "for name, call in (('send', lambda: ws.send('x')), ('recv', ws.recv), ('ping', ws.ping)):\n"
            "    try:\n"
            "        call()\n"
            "        print(name, 'returned')\n"
            "    except uwebsocket.ConnectionClosed as e:\n"
            "        print(name, 'ConnectionClosed', e.code)\n"
            "print('second close', ws.close())\n" % srv.url())
    assert status == 0, lines
    assert lines == ["recv before the reset", "ConnectionClosed 1006 str", "state True 1006 True",
                     "send ConnectionClosed 1006", "recv ConnectionClosed 1006", "ping ConnectionClosed 1006",
                     "second close None"], lines


def test_server_side_reset_ends_as_1006_in_the_log(mp_server):
    srv = mp_server(ECHO, "--timeout", "none")
    client = RawClient(srv.host, srv.port)
    client.send(client_frame(TEXT, b"one"))
    assert client.read_frame() == (True, 0, TEXT, b"one")
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    # ConnectionClosed(1006) from recv(), and ws.close_code agrees.
    line = wait_log(srv, "closed ")
    assert re.fullmatch(r"closed 1006 \[.*\] 1006 \[.*\]", line), srv.read_output()
    assert "connection error" not in srv.read_output()


# 3. Keepalive on a blocking socket with no timeout.

def test_keepalive_pings_a_silent_peer_and_ends_with_1011_without_a_socket_timeout(mp_server):
    interval, timeout = 0.4, 1.0
    srv = mp_server(ECHO, "--timeout", "none", "--keepalive", "%s,%s" % (interval, timeout))
    client = RawClient(srv.host, srv.port)
    start = time.monotonic()
    pings, close = [], None
    client.sock.settimeout(TIMEOUT)
    try:
        while close is None:
            fin, rsv, opcode, payload = client.read_frame()
            at = time.monotonic() - start
            if opcode == PING:
                pings.append(at)  # never answered
            elif opcode == CLOSE:
                close = (at, parse_close(payload)[0])
            else:
                raise AssertionError("unexpected frame %r" % ((fin, rsv, opcode, payload),))
    finally:
        client.close()
    assert pings, "no ping reached the silent peer"
    # The first ping after about `interval` of silence (generous bounds).
    assert interval * 0.5 <= pings[0] <= interval + 2, pings
    at, code = close
    assert code == 1011, close
    # Ended `timeout` after the unanswered ping, not at a socket timeout.
    assert pings[0] + timeout * 0.5 <= at <= pings[0] + timeout + 3, (pings, close)
    assert re.match(r"closed 1011 ", wait_log(srv, "closed ")), srv.read_output()


def test_keepalive_keeps_an_answering_peer_on_a_blocking_socket(mp_server):
    srv = mp_server(ECHO, "--timeout", "none", "--keepalive", "0.3,0.6")
    # websockets answers pings by itself; its own pings are off.
    client = RawClient(srv.host, srv.port)
    client.sock.settimeout(TIMEOUT)
    try:
        # Six pings in a row, each answered: each answer kept the connection
        # open past another timeout, and the next ping came on schedule.
        for _ in range(6):
            fin, rsv, opcode, payload = client.read_frame()
            assert (fin, opcode) == (True, PING), (opcode, payload)
            client.send(client_frame(PONG, payload))
        client.send(client_frame(TEXT, b"still here"))
        while True:
            fin, rsv, opcode, payload = client.read_frame()
            if opcode != PING:
                break
            client.send(client_frame(PONG, payload))
        assert (opcode, payload) == (TEXT, b"still here")
        client.send(client_frame(CLOSE, close_payload(1000, "done")))
        assert client.read_close() == (1000, "")
    finally:
        client.close()
    assert wait_log(srv, "closed ") == "closed 1000 [done] 1000 [done]"


# 4. TLS verifies unless told not to.

def tls_server(certs):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    return WebsocketsServer(echo, ssl=ctx)


def test_wss_without_a_ca_does_not_connect_unverified(tmp_path):
    certs = make_certs(tmp_path)
    with tls_server(certs) as srv:
        code, lines = run_session(srv.url(host="localhost"), "echo=1")
    assert code == 1, lines
    assert len(lines) == 1 and lines[0].startswith(("raised HandshakeError", "raised OSError")), lines
    assert re.search(r"certif|verif", lines[0], re.I), lines


def test_wss_with_the_ca_and_with_insecure(tmp_path):
    certs = make_certs(tmp_path)
    with tls_server(certs) as srv:
        verified = run_session(srv.url(host="localhost"), "ca=%s" % certs["ca"], "echo=1", "close=1000,")
        unverified = run_session(srv.url(host="localhost"), "insecure=1", "echo=1", "close=1000,")
    for code, lines in (verified, unverified):
        assert code == 0, lines
        assert lines == ["open None", "echo 1 ok", "closed 1000 "], lines


# 5. Fragments and Nagle.

def test_fragmented_echoes_do_not_wait_on_nagle():
    """20 messages of three fragments each, echoed by a raw CPython peer
    (TCP_NODELAY left off on both sides). A fragment held back by Nagle's
    algorithm until the peer's delayed ACK costs about 40 ms; 20 of them
    would take 800 ms."""
    chunks = []

    def echo_whole_messages(conn):
        serve_handshake(conn)
        reader = Reader(conn)
        for _ in range(20):
            parts = []
            while True:
                fin, rsv, opcode, key, payload = reader.next_frame()
                parts.append(payload)
                if fin:
                    break
            conn.sendall(frame(TEXT, b"".join(parts)))
        chunks.extend(reader.chunks)
        reader.next_frame()  # the client's Close
        conn.sendall(frame(CLOSE, b"\x03\xe8"))

    with RawServer(echo_whole_messages) as srv:
        status, lines = mp_lines(
            "import time, uwebsocket\n"
            "ws = uwebsocket.connect(%r, timeout=10)\n"
            "start = time.ticks_ms()\n"
            "for i in range(20):\n"
            "    ws.send('a', fin=False)\n"
            "    ws.send('b', fin=False)\n"
            "    ws.send('c%%d' %% i)\n"
            "    assert ws.recv() == 'abc%%d' %% i\n"
            "print('ms', time.ticks_diff(time.ticks_ms(), start))\n"
            "ws.close()\n" % srv.url())
        assert status == 0, lines
    ms = int(lines[-1].split()[1])
    print("20 three-fragment echoes: %d ms; peer's reads: %d for 60 fragments" % (ms, len(chunks)))
    assert ms < 20 * 40 / 4, (ms, chunks)


# 6. The README's server example.

def readme_server_example():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Server"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    # Loopback and a port the kernel picks (servers/lib/socket.py announces
    # it), a 2 s timeout instead of the example's longer one: nothing else
    # of the example changes.
    code, n = re.subn(r'getaddrinfo\("0\.0\.0\.0", \d+\)', 'getaddrinfo("127.0.0.1", 0)', code)
    assert n == 1, code
    code = re.sub(r"settimeout\(\d+\)", "settimeout(2)", code)
    return code


def test_readme_server_example_survives_quiet_and_vanishing_clients(mp_server, tmp_path):
    script = tmp_path / "readme_server.py"
    script.write_text(readme_server_example())
    srv = mp_server(script)
    url = "ws://%s:%d/" % (srv.host, srv.port)
    # A client that goes quiet past the socket timeout.
    with sync_connect(url, subprotocols=["chat"], open_timeout=TIMEOUT, ping_interval=None) as quiet:
        quiet.send("hello")
        assert quiet.recv(timeout=TIMEOUT) == "hello"
        # The server's socket timeout ends its recv(); leaving `with ws:`
        # closes with 1000.
        with pytest.raises(ConnectionClosed) as closed:
            quiet.recv(timeout=TIMEOUT)
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1000, "")
    assert wait_log(srv, "timed out:").startswith("timed out: [Errno 110]"), srv.read_output()
    # A client that resets the connection.
    raw = RawClient(srv.host, srv.port)
    raw.send(client_frame(TEXT, b"x"))
    raw.read_frame()
    raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    # A client that stops in the middle of a frame.
    raw = RawClient(srv.host, srv.port)
    raw.send(client_frame(TEXT, b"y" * 100)[:20])
    raw.close()
    # Still serving.
    with sync_connect(url, subprotocols=["chat"], open_timeout=TIMEOUT) as ws:
        ws.send("still serving")
        assert ws.recv(timeout=TIMEOUT) == "still serving"
    assert srv.poll() is None, srv.read_output()
    assert "Traceback" not in srv.read_output(), srv.read_output()
