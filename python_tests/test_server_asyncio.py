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
from wsraw import BINARY, CLOSE, PING, PONG, TEXT, RawClient, client_frame, close_payload, parse_close, parse_frames, upgrade_request

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


FLOOD = [bytes(range(256)) * 128 + b"%d" % i for i in range(200)]  # 32 KiB each, 6.4 MB in all
WRITE_TIMEOUT = 10  # uwebsocket_asyncio.WebSocket.write_timeout


async def flood_past_a_stalled_client(url):
    async with connect(url, ping_interval=None, max_size=None) as ws, \
            connect(url, ping_interval=None, max_size=None, max_queue=None) as watcher:
        slowest = 0.0
        for message in FLOOD:  # more than any socket buffer holds
            start = time.monotonic()
            await ws.send(message)
            assert await asyncio.wait_for(ws.recv(), TIMEOUT) == message
            slowest = max(slowest, time.monotonic() - start)
        # The loop was never blocked: a ping on another connection is
        # answered, after every broadcast, each once and in order.
        await asyncio.wait_for(await watcher.ping(), TIMEOUT)
        seen = [await asyncio.wait_for(watcher.recv(), TIMEOUT) for _ in FLOOD]
        assert seen == FLOOD
        return slowest


def read_to_the_end(sock):
    """Everything a socket receives until the peer closes it."""
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def test_a_client_that_stops_reading_holds_up_no_one(mp_server):
    srv = mp_server(CHAT)
    stalled = stalled_client(srv.host, srv.port)
    try:
        slowest = asyncio.run(flood_past_a_stalled_client("ws://%s:%d/" % (srv.host, srv.port)))
        # A send that waited for the stalled client would have taken the
        # whole write timeout: a bound far above any loaded machine's
        # round trip, not a window.
        assert slowest < WRITE_TIMEOUT * 0.8, slowest
        # The stalled client was dropped, never skipped: what it got is the
        # broadcasts from the first, in order, with nothing missing between
        # them; then at most a Close 1011 and a cut-off frame, then the end.
        frames, _ = parse_frames(read_to_the_end(stalled))
    finally:
        stalled.close()
    data = [f for f in frames if f[2] != CLOSE]
    closes = [f for f in frames if f[2] == CLOSE]
    assert [f[4] for f in data] == FLOOD[:len(data)]
    assert all(f[2] == BINARY for f in data)
    assert frames[len(data):] == closes
    assert [parse_close(f[4])[0] for f in closes] in ([], [1011])
    assert srv.poll() is None, srv.read_output()


def test_keepalive_closes_a_silent_peer_with_1011(mp_server):
    interval, timeout = 0.5, 0.5
    srv = mp_server(ECHO, "--mode", "asyncio", "--keepalive", "%s,%s" % (interval, timeout))
    client = RawClient(srv.host, srv.port)
    try:
        fin, rsv, opcode, payload = client.read_frame()
        assert (opcode, fin) == (PING, True)
        pinged = time.monotonic()
        # We never answer: the server gives up, and not before the timeout
        # has run from its ping (the bound above is only the outer one).
        fin, rsv, opcode, payload = client.read_frame()
        waited = time.monotonic() - pinged
        assert (fin, opcode) == (True, CLOSE), (opcode, payload)
        assert parse_close(payload) == (1011, "keepalive timeout")
        assert waited >= timeout * 0.8, waited
        client.assert_closed_by_server()
    finally:
        client.close()
    assert wait_log(srv, "closed ") == "closed 1011 [keepalive timeout] 1011 [keepalive timeout]"


def test_keepalive_keeps_an_answering_peer(mp_server):
    # The peer answers every ping with its Pong: the pings keep coming, on
    # schedule, and the connection stays open past many timeouts.
    srv = mp_server(ECHO, "--mode", "asyncio", "--keepalive", "0.3,0.3")
    client = RawClient(srv.host, srv.port)
    try:
        # Eight pings in a row, each answered: each answer kept the
        # connection open past another timeout, and the next ping came.
        for _ in range(8):
            fin, rsv, opcode, payload = client.read_frame()
            assert (fin, opcode) == (True, PING), (opcode, payload)
            client.send(frame(PONG, payload))
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


def test_a_message_after_a_burst_of_pings_is_not_left_waiting(mp_server):
    # Pings and then a message (or a Close) in one write, then silence: a
    # non-blocking recv() returns None after a burst of control frames with
    # the rest read ahead, where the socket has nothing more to report; the
    # asyncio helper must take it from there instead of waiting on the
    # socket for ever.
    srv = mp_server(ECHO, "--mode", "asyncio")
    for count in (15, 16, 17, 40):
        client = RawClient(srv.host, srv.port)
        try:
            pings = b"".join(client_frame(PING, b"p%d" % i) for i in range(count))
            client.send(pings + client_frame(TEXT, b"after %d pings" % count))
            frames = [client.read_frame() for _ in range(count + 1)]
            assert [f[2] for f in frames[:count]] == [PONG] * count
            assert frames[count][2:] == (TEXT, b"after %d pings" % count)
            client.send(pings + client_frame(CLOSE, close_payload(1000)))
            for _ in range(count):
                assert client.read_frame()[2] == PONG
            assert client.read_close() == (1000, "")
        finally:
            client.close()
