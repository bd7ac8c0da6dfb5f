"""Non-blocking WebSockets on one select.poll loop (servers/echo.py --mode poll):
recv() returns None until a whole message is there, partial frames are
kept across calls, and one slow client never holds up another."""
import select
import socket
import threading

from websockets.sync.client import connect as sync_connect

from conftest import ECHO, wait_log
from test_server_protocol import BINARY, TEXT, RawClient, frame
from wsraw import PING, client_frame

# One select.poll loop; a small send buffer, so that big messages meet a
# full socket and send() queues.
POLL_FLAGS = ("--mode", "poll", "--sndbuf", 8192, "--max-size", 8 << 20, "--timeout", 5)
TIMEOUT = 10


def test_a_frame_trickling_in_byte_by_byte_holds_up_no_one(mp_server):
    srv = mp_server(ECHO, *POLL_FLAGS)
    slow = RawClient(srv.host, srv.port)
    slow.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    message = "é" * 300  # a 16-bit length, text split inside characters
    wire = frame(TEXT, message.encode())
    # One byte of the slow frame, then a whole round trip of another
    # client, in turn: each echo proves the loop served the fast client
    # while the slow frame was incomplete, whatever the machine's speed.
    with sync_connect("ws://%s:%d/" % (srv.host, srv.port), open_timeout=TIMEOUT) as ws:
        for i in range(len(wire) - 1):
            slow.sock.sendall(wire[i:i + 1])
            ws.send(b"quick %d" % i)
            assert ws.recv(timeout=TIMEOUT) == b"quick %d" % i
        # Nothing is echoed from a frame that is not whole.
        assert select.select([slow.sock], [], [], 0)[0] == [], "an echo before the frame was whole"
        slow.sock.sendall(wire[-1:])
        fin, rsv, opcode, payload = slow.read_frame()
        assert (fin, opcode) == (True, TEXT)
        assert payload.decode() == message
        # The fast client is still served after it.
        ws.send("after")
        assert ws.recv(timeout=TIMEOUT) == "after"
    slow.close()


def test_small_messages_in_one_segment_each_come_back(mp_server):
    # All three arrive in one read; the server takes one message per POLLIN,
    # so poll must keep reporting the WebSocket while the other two wait in
    # it (the socket itself has nothing more to say).
    srv = mp_server(ECHO, *POLL_FLAGS)
    client = RawClient(srv.host, srv.port)
    try:
        client.send(frame(TEXT, b"first"), frame(BINARY, b"second"), frame(TEXT, b"third"))
        assert client.read_frame()[2:] == (TEXT, b"first")
        assert client.read_frame()[2:] == (BINARY, b"second")
        assert client.read_frame()[2:] == (TEXT, b"third")
    finally:
        client.close()


def test_several_messages_in_one_segment_and_big_ones(mp_server):
    srv = mp_server(ECHO, *POLL_FLAGS)
    client = RawClient(srv.host, srv.port)
    try:
        # Three messages in one send: each comes back on its own.
        client.send(frame(BINARY, b"one"), frame(TEXT, b"two"), frame(BINARY, b"\x00" * 70000))
        assert client.read_frame()[2:] == (BINARY, b"one")
        assert client.read_frame()[2:] == (TEXT, b"two")
        assert client.read_frame()[2:] == (BINARY, b"\x00" * 70000)
        # 512 KiB echoed: far more than the server's socket buffer takes in
        # one go, so its send() queues and poll(POLLOUT) drains the rest.
        big = bytes(range(256)) * 2048
        client.send(frame(BINARY, big))
        assert client.read_frame()[2:] == (BINARY, big)
        wait_log(srv, "queued")
    finally:
        client.close()


def test_a_client_flooding_pings_holds_up_no_one(mp_server):
    # One client sends Pings as fast as its socket takes them and never
    # reads a Pong; each non-blocking recv() on it handles a bounded number
    # of them, so the loop still serves another client's round trips.
    srv = mp_server(ECHO, *POLL_FLAGS)
    flooder = RawClient(srv.host, srv.port)
    flooder.sock.settimeout(0.5)
    pings = client_frame(PING, b"p" * 20) * 2000
    stop = threading.Event()
    sent = [0]

    def flood():
        while not stop.is_set():
            try:
                sent[0] += flooder.sock.send(pings)
            except socket.timeout:
                pass
            except OSError:
                return

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        with sync_connect("ws://%s:%d/" % (srv.host, srv.port), open_timeout=TIMEOUT) as ws:
            for i in range(20):
                ws.send(b"served %d" % i)
                assert ws.recv(timeout=TIMEOUT) == b"served %d" % i
        assert sent[0] > 1 << 20, "the flood sent only %d bytes" % sent[0]
    finally:
        stop.set()
        thread.join(timeout=TIMEOUT)
        flooder.close()
