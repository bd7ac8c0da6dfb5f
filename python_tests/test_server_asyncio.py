"""Many clients in one event loop: examples/chat_server.py (the asyncio
helper uwebsocket_asyncio, frozen into the firmware) with 100 clients at
once, a client that stops reading, and keepalive against a silent peer."""
import asyncio
import socket
import time

from websockets.asyncio.client import connect

from conftest import EXAMPLES
from conftest import ECHO, wait_log
from test_server_protocol import frame
from wsraw import BINARY, CLOSE, PING, PONG, TEXT, RawClient, upgrade_request

CHAT = EXAMPLES / "chat_server.py"
TIMEOUT = 60


async def open_all(url, count):
    clients = []
    # A few handshakes in flight at once: the server's listen backlog is 5.
    for start in range(0, count, 4):
        clients += await asyncio.gather(*(
            connect(url, open_timeout=TIMEOUT, ping_interval=None, max_size=None)
            for _ in range(min(4, count - start))))
    return clients


async def chat_100(url):
    clients = await open_all(url, 100)
    try:
        senders = clients[:5]
        expected = []
        for round_ in range(3):
            for i, ws in enumerate(senders):
                message = "client %d says %d: %s" % (i, round_, "é" * (i * 40))
                expected.append(message)
                await ws.send(message)
            await ws.send(b"\x00binary\xff%d" % round_)
            expected.append(b"\x00binary\xff%d" % round_)

        async def receive_all(ws):
            return [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in expected]

        received = await asyncio.gather(*(receive_all(ws) for ws in clients))
        for got in received:
            # Per sender, in the order sent; every message intact.
            assert sorted(got, key=repr) == sorted(expected, key=repr)
            for i in range(5):
                mine = [m for m in got if isinstance(m, str) and m.startswith("client %d " % i)]
                assert mine == [m for m in expected if isinstance(m, str) and m.startswith("client %d " % i)]
    finally:
        await asyncio.gather(*(ws.close() for ws in clients))


def test_chat_server_with_100_clients(mp_server):
    srv = mp_server(CHAT)
    asyncio.run(asyncio.wait_for(chat_100("ws://%s:%d/" % (srv.host, srv.port)), TIMEOUT * 2))
    assert srv.poll() is None, srv.read_output()


def stalled_client(host, port):
    """A client that completes its handshake, then reads nothing more (with
    a small receive buffer, so the server's backlog for it grows fast)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect((host, port))
    sock.sendall(upgrade_request(replace={"Origin": None}))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


async def flood_past_a_stalled_client(url):
    async with connect(url, ping_interval=None, max_size=None) as ws, \
            connect(url, ping_interval=None, max_size=None, max_queue=None) as watcher:
        payload = bytes(range(256)) * 128  # 32 KiB
        slowest = 0.0
        for i in range(200):  # 6.4 MB in all: more than any socket buffer holds
            start = time.monotonic()
            await ws.send(payload + b"%d" % i)
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == payload + b"%d" % i
            slowest = max(slowest, time.monotonic() - start)
        # The loop was never blocked: a ping on another connection is
        # answered at once (the watcher gets the broadcasts too).
        start = time.monotonic()
        await asyncio.wait_for(await watcher.ping(), TIMEOUT)
        return slowest, time.monotonic() - start


def test_a_client_that_stops_reading_holds_up_no_one(mp_server):
    srv = mp_server(CHAT)
    stalled = stalled_client(srv.host, srv.port)
    try:
        slowest, pong = asyncio.run(flood_past_a_stalled_client("ws://%s:%d/" % (srv.host, srv.port)))
        # Blocking on the stalled client would cost the write timeout (10 s).
        assert slowest < 3, slowest
        assert pong < 3, pong
        # The stalled client was dropped, not queued for without end: after
        # what the socket buffers held, its connection ends.
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                if not stalled.recv(1 << 20):
                    break
            except ConnectionResetError:
                break
        else:
            raise AssertionError("the stalled client was never dropped")
    finally:
        stalled.close()
    assert srv.poll() is None, srv.read_output()


def test_keepalive_closes_a_silent_peer_with_1011(mp_server):
    srv = mp_server(ECHO, "--mode", "asyncio", "--keepalive", "0.5,0.5")
    client = RawClient(srv.host, srv.port)
    try:
        start = time.monotonic()
        fin, rsv, opcode, payload = client.read_frame()
        assert (opcode, fin) == (PING, True)
        # We never answer: the server gives up after the timeout.
        fin, rsv, opcode, payload = client.read_frame()
        assert opcode == CLOSE and payload[:2] == (1011).to_bytes(2, "big"), payload
        assert 0.8 < time.monotonic() - start < 5
    finally:
        client.close()
    wait_log(srv, "closed 1011")


def test_keepalive_keeps_an_answering_peer(mp_server):
    # The peer answers every ping with its Pong: the pings keep coming, on
    # schedule, and the connection stays open past many timeouts.
    srv = mp_server(ECHO, "--mode", "asyncio", "--keepalive", "0.3,0.3")
    client = RawClient(srv.host, srv.port)
    try:
        pings = 0
        start = time.monotonic()
        while time.monotonic() - start < 2.5:
            fin, rsv, opcode, payload = client.read_frame()
            assert opcode == PING, (opcode, payload)
            pings += 1
            client.send(frame(PONG, payload))
        # One ping per 0.3 s of silence: about 8 in 2.5 s.
        assert 3 <= pings <= 12, pings
        client.send(frame(TEXT, b"still here"))
        while True:
            fin, rsv, opcode, payload = client.read_frame()
            if opcode != PING:
                break
            client.send(frame(PONG, payload))
        assert (opcode, payload) == (TEXT, b"still here")
    finally:
        client.close()
    assert "closed 1011" not in srv.read_output()


def test_a_stalled_sender_is_dropped_cleanly(mp_server):
    # The stalled client sends but reads nothing: its copies of the
    # broadcasts back up, and its handler's awaited send("ack") then waits
    # for the same socket as the background drain of the broadcasts. It
    # must end with 1011 after the write timeout, with no error inside the
    # server, which serves the next client.
    srv = mp_server(ECHO, "--mode", "asyncio", "--ack")
    stalled = stalled_client(srv.host, srv.port)
    stalled.settimeout(2)
    payload = bytes(range(256)) * 256  # 64 KiB
    try:
        for i in range(200):
            try:
                stalled.sendall(frame(BINARY, payload + b"%d" % i))
            except OSError:  # the server stopped reading it (timeout), or dropped it
                break
        wait_log(srv, "closed 1011", timeout=30)
    finally:
        stalled.close()

    async def next_client():
        async with connect("ws://%s:%d/" % (srv.host, srv.port), ping_interval=None) as ws:
            await ws.send("hello")
            return sorted([await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(2)])

    assert asyncio.run(next_client()) == ["ack", "hello"]
    out = srv.read_output()
    assert "Traceback" not in out and "error" not in out, out
