"""Every blocking path has a bound: close() on a silent peer, send() to a
stream that takes nothing, the handshake's read, connect(). Each test runs
MicroPython under a deadline (a hang fails it) and checks what the call
ended with, not only when."""
import base64
import hashlib
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import ABUSE_SCRIPTS, firmware_of, firmware_params, sanitizer_report
from wsraw import CLOSE, parse_close, parse_frames

ETIMEDOUT = 110
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

PRELUDE = """
import sys, time, socket, uwebsocket
sys.path.insert(0, %r)
from harness import Hostile, REQUEST, frame

def measure(fn):
    t = time.ticks_ms()
    try:
        r = fn()
        out = "ok"
    except uwebsocket.ConnectionClosed as e:
        out = "ConnectionClosed %%d" %% e.code
    except OSError as e:
        out = "OSError %%d" %% e.args[0]
    except Exception as e:
        out = "%%s %%s" %% (type(e).__name__, e)
    print("RESULT", out, time.ticks_diff(time.ticks_ms(), t))
""" % str(ABUSE_SCRIPTS)

pytestmark = pytest.mark.parametrize("kind", firmware_params())


def run_code(kind, code, timeout):
    path, env = firmware_of(kind)
    proc = subprocess.Popen([path, "-c", PRELUDE + code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError("hang: no end within %d s:\n%s" % (timeout, out.decode(errors="replace")[-2000:]))
    out = out.decode(errors="replace")
    report = sanitizer_report(out)
    assert report is None, report
    assert proc.returncode == 0, "exit %d:\n%s" % (proc.returncode, out[-2000:])
    return out


def results(out):
    """[(outcome, ms)] from the RESULT lines."""
    found = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            outcome, _, ms = line[7:].rpartition(" ")
            found.append((outcome, int(ms)))
    assert found, out
    return found


class Peer:
    """A CPython peer on loopback that does one thing to each connection:
    'server_silent' answers the handshake then says nothing; 'tcp_silent'
    accepts and says nothing; 'client_silent' (connects to MicroPython)
    sends a handshake, reads the 101, then says nothing."""

    def __init__(self, mode, port=None):
        self.mode = mode
        self.conns = []
        self.received = b""  # what came after the handshake
        self.eof = threading.Event()
        self.stop = threading.Event()
        if mode in ("server_silent", "tcp_silent"):
            self.listener = socket.socket()
            self.listener.bind(("127.0.0.1", 0))
            self.listener.listen(4)
            self.port = self.listener.getsockname()[1]
            target = self.serve
        else:
            self.listener = None
            self.port = port
            target = self.client
        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.mode == "server_silent":
                conn.settimeout(10)
                head = b""
                while b"\r\n\r\n" not in head:
                    data = conn.recv(1024)
                    if not data:
                        break
                    head += data
                key = [line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:")]
                if key:
                    accept = base64.b64encode(hashlib.sha1(key[0] + GUID).digest())
                    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.watch(conn)

    def client(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            return
        self.conns.append(conn)
        if self.mode == "client_silent":
            conn.sendall(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.watch(conn)

    def watch(self, conn):
        # Read (and drop) what comes, to see the end of the stream.
        conn.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data = conn.recv(4096)
                if not data:
                    self.eof.set()
                    return
                self.received += data
            except socket.timeout:
                continue
            except OSError:
                self.eof.set()
                return

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for conn in self.conns:
            conn.close()
        if self.listener:
            self.listener.close()


# close() waits 2 s for the peer's Close (README, "Waiting"); a little
# less for the clock's granularity.
CLOSE_WAIT_MS = 1900


def closes_sent(p, masked):
    """[(code, reason)] of the Close frames the peer received: the only
    frames a silent peer's connection carries."""
    assert p.eof.wait(5)
    received = p.received
    if p.mode == "client_silent":  # the server's 101 comes first
        head, _, received = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
    frames, rest = parse_frames(received)
    assert rest == b"", rest
    assert all((f[3] is not None) == masked for f in frames), frames
    assert [f[2] for f in frames] == [CLOSE], frames
    return [parse_close(f[4]) for f in frames]


@pytest.fixture
def peer():
    peers = []

    def make(mode, port=None):
        p = Peer(mode, port)
        peers.append(p)
        return p
    yield make
    for p in peers:
        p.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = """
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(socket.getaddrinfo("127.0.0.1", %d)[0][-1])
srv.listen(1)
sock, _ = srv.accept()
"""


# --- close() ---------------------------------------------------------------

def test_close_silent_server_blocking_no_timeout(kind, peer):
    # Client role on a blocking socket without a timeout: close() waits at
    # most 2 s for the peer's Close, then closes the socket.
    p = peer("server_silent")
    out = run_code(kind, """
ws = uwebsocket.connect("ws://127.0.0.1:%d/")
measure(lambda: ws.close())
print("STATE", ws.closed, ws.close_code)
""" % p.port, timeout=30)
    [(outcome, ms)] = results(out)
    # It waited for the answer to its Close, and gave up at the bound.
    assert outcome == "ok" and CLOSE_WAIT_MS <= ms <= 3000, (outcome, ms)
    assert "STATE True 1000" in out, out
    assert p.eof.wait(5), "the peer never saw the socket close"
    assert closes_sent(p, masked=True) == [(1000, "")]


def test_close_silent_client_server_role(kind, peer):
    port = free_port()
    p = peer("client_silent", port)
    out = run_code(kind, SERVE % port + """
ws = uwebsocket.accept(sock)
measure(lambda: ws.close(1001))
print("STATE", ws.closed, ws.close_code)
""", timeout=30)
    [(outcome, ms)] = results(out)
    assert outcome == "ok" and CLOSE_WAIT_MS <= ms <= 3000, (outcome, ms)
    assert "STATE True 1001" in out, out
    assert p.eof.wait(5), "the peer never saw the socket close"
    assert closes_sent(p, masked=False) == [(1001, "")]


def test_readme_server_quiet_client(kind, peer):
    # The README's server pattern: a client that completes the handshake
    # and goes quiet; the socket's timeout ends recv() with OSError, which
    # leaves the `with` block: __exit__ closes (bounded) and never crashes.
    port = free_port()
    p = peer("client_silent", port)
    out = run_code(kind, SERVE % port + """
sock.settimeout(1)
ws = uwebsocket.accept(sock)
def serve():
    with ws:
        while True:
            ws.send(ws.recv())
measure(serve)
print("STATE", ws.closed)
""", timeout=30)
    [(outcome, ms)] = results(out)
    # The socket's 1 s timeout, then __exit__'s close() waiting for an
    # answer to its Close 1000.
    assert outcome == "OSError %d" % ETIMEDOUT and 1000 + CLOSE_WAIT_MS <= ms <= 4500, (outcome, ms)
    assert "STATE True" in out, out
    assert closes_sent(p, masked=False) == [(1000, "")]


def test_close_silent_stream_in_memory(kind):
    # A stream that never has anything (None forever): close() returns
    # within the bound.
    out = run_code(kind, """
s = Hostile(forever_reads="none")
ws = uwebsocket.WebSocket(s, True)
measure(lambda: ws.close())
print("STATE", ws.closed, s.closed)
""", timeout=30)
    [(outcome, ms)] = results(out)
    # A read that says "nothing now" (None) is not waited on: no lower bound.
    assert outcome == "ok" and ms <= 3000, (outcome, ms)
    assert "STATE True True" in out, out


# --- send() to a stream that takes nothing ---------------------------------

@pytest.mark.parametrize("stuck", ["zero", "none"])
def test_send_stuck_stream_nothing_sent(kind, stuck):
    # No byte of the frame went out: OSError(ETIMEDOUT) after 10 s, and the
    # connection stays usable.
    out = run_code(kind, """
s = Hostile(forever_writes=%r)
ws = uwebsocket.WebSocket(s, True)
measure(lambda: ws.send(b"x" * 100))
print("STATE", ws.closed)
s.forever_writes = None
measure(lambda: ws.send(b"y"))
""" % stuck, timeout=40)
    (outcome, ms), (after, _) = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and 9000 <= ms <= 13000, (outcome, ms)
    assert "STATE False" in out, out
    assert after == "ok", after


def test_send_stuck_stream_part_sent(kind):
    # Part of the frame went out: the connection cannot continue (1006).
    out = run_code(kind, """
s = Hostile(writes=[("take", 3, 3)], forever_writes="zero")
ws = uwebsocket.WebSocket(s, True)
measure(lambda: ws.send(b"x" * 100))
print("STATE", ws.closed, ws.close_code)
""", timeout=40)
    [(outcome, ms)] = results(out)
    assert outcome == "ConnectionClosed 1006" and ms <= 13000, (outcome, ms)
    assert "STATE True 1006" in out, out


def test_send_stuck_stream_nonblocking_queues(kind):
    out = run_code(kind, """
s = Hostile(forever_writes="zero")
ws = uwebsocket.WebSocket(s, True)
ws.setblocking(False)
measure(lambda: ws.send(b"x" * 100))
print("WAITING", ws.flush())
""", timeout=20)
    [(outcome, ms)] = results(out)
    assert outcome == "ok" and ms <= 1000, (outcome, ms)
    assert "WAITING 0" not in out and "WAITING" in out, out


def test_nonblocking_queue_drained_a_byte_at_a_time_keeps_frames_whole_and_in_order(kind):
    # The queue skips what went out rather than moving the rest up, and
    # reclaims that room when a frame no longer fits after what waits:
    # frames queued while part of the queue has gone out, drained by a
    # stream that takes one byte a call, arrive whole and in order.
    out = run_code(kind, """
s = Hostile(forever_writes="none")
ws = uwebsocket.WebSocket(s, True)
ws.setblocking(False)
sent = []
for i in range(12):
    data = bytes([65 + i]) * (200 * i + 1)
    ws.send(data)
    sent.append(data)
    s.writes = [("take", 1, 1)] * (50 + 40 * i)
    ws.flush()
print("WAITING", ws.flush())
s.writes = []
s.forever_writes = ("take", 1, 1)
print("LEFT", ws.flush())
print("SAME", bytes(s.out) == b"".join(frame(2, d) for d in sent), len(s.out))
ws.send(b"after")
print("AFTER", bytes(s.out).endswith(frame(2, b"after")), ws.closed)
""", timeout=60)
    waiting = int(out.split("WAITING ")[1].split()[0])
    assert waiting > 1000, out
    assert "LEFT 0" in out and "SAME True" in out and "AFTER True False" in out, out


class LatePeer:
    """A TCP peer with a small receive buffer that reads nothing until told
    (`signal`: the device opens a second connection) or until `delay`
    seconds pass; then reads to the end. `.received`: all it read."""

    def __init__(self, signal=False, delay=0.0):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(2)
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.received = None
        self.signal, self.delay = signal, delay
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.listener.accept()
        if self.signal:
            self.listener.accept()[0].close()
        time.sleep(self.delay)
        conn.settimeout(10)
        data = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        conn.close()
        self.received = data

    def payloads(self):
        self.thread.join(15)
        self.listener.close()
        frames, rest = parse_frames(self.received)
        assert rest == b""
        return [p for *_, p in frames]


NONBLOCKING_SOCKET = """
import micropython
addr = socket.getaddrinfo("127.0.0.1", %d)[0][-1]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUF", 7), 4096)  # Linux numbers
s.connect(addr)
ws = uwebsocket.WebSocket(s, True)
ws.setblocking(False)

def locked_send(data):
    outcome = "ok"
    micropython.heap_lock()
    try:
        ws.send(data)
    except MemoryError:
        outcome = "MemoryError"
    except Exception as e:
        outcome = e
    micropython.heap_unlock()
    print("OUTCOME", outcome, "CLOSED", ws.closed)

def drain():
    for _ in range(1000):
        if ws.flush() == 0:
            break
        time.sleep_ms(10)

def end():
    drain()
    ws.send(b"end")
    drain()
    print("DRAINED", ws.flush())
    s.close()
"""


def test_send_nonblocking_without_memory_to_queue_keeps_the_connection(kind):
    # Bytes wait in the queue, so the next frame would be queued whole.
    # With no heap for it (locked), the message is refused before any of
    # it is queued, the connection goes on, and once the peer reads, every
    # earlier message arrives whole and the refused one not at all.
    peer = LatePeer(signal=True)
    out = run_code(kind, NONBLOCKING_SOCKET % peer.port + """
sent = 0
while ws.flush() == 0 and sent < 20000:
    ws.send(b"m" * 1000)
    sent += 1
print("SENT", sent, "WAITING", ws.flush())
locked_send(b"b" * 3000)
socket.socket().connect(addr)
end()
""", timeout=60)
    sent = int(out.split("SENT ")[1].split()[0])
    assert 0 < sent < 20000 and "WAITING 0" not in out, out
    assert "OUTCOME MemoryError CLOSED False" in out, out
    assert "DRAINED 0" in out, out
    assert peer.payloads() == [b"m" * 1000] * sent + [b"end"]


def test_send_nonblocking_without_memory_for_the_rest_waits(kind):
    # Nothing waits; the socket takes part of a 64 KiB frame and there is
    # no heap (locked) to queue the rest: it goes out the blocking way, as
    # the peer reads, and the connection goes on.
    peer = LatePeer(delay=0.5)
    out = run_code(kind, NONBLOCKING_SOCKET % peer.port + """
big = bytes(range(256)) * 256
locked_send(big)
end()
""", timeout=60)
    assert "OUTCOME ok CLOSED False" in out, out
    assert "DRAINED 0" in out, out
    assert peer.payloads() == [bytes(range(256)) * 256, b"end"]


# --- the handshake's read --------------------------------------------------

@pytest.mark.parametrize("call", ["accept", "read_request"])
def test_handshake_deadline_silent_client(kind, peer, call):
    port = free_port()
    p = peer("tcp_silent_client", port)
    out = run_code(kind, SERVE % port + """
measure(lambda: uwebsocket.%s(sock, timeout=1))
""" % call, timeout=30)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and ms <= 2500, (outcome, ms)
    assert p.eof.wait(5), "the socket was not closed"


def test_handshake_default_deadline(kind, peer):
    # No timeout given: 10 s.
    port = free_port()
    p = peer("tcp_silent_client", port)
    out = run_code(kind, SERVE % port + """
measure(lambda: uwebsocket.accept(sock))
""", timeout=40)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and 9000 <= ms <= 13000, (outcome, ms)
    assert p.eof.wait(5)


def test_handshake_nonblocking_socket(kind, peer):
    port = free_port()
    p = peer("tcp_silent_client", port)
    out = run_code(kind, SERVE % port + """
sock.setblocking(False)
measure(lambda: uwebsocket.accept(sock, timeout=1))
""", timeout=30)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and ms <= 2500, (outcome, ms)


@pytest.mark.parametrize("call", ["accept", "read_request", "client"])
def test_handshake_eagain_forever(kind, call):
    # A stream that reports "nothing now" for ever (EAGAIN / None).
    args = "s, \"ws://h/\", timeout=1" if call == "client" else "s, timeout=1"
    out = run_code(kind, """
s = Hostile(forever_reads="none")
measure(lambda: uwebsocket.%s(%s))
""" % (call, args), timeout=30)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and ms <= 2500, (outcome, ms)


# --- connect() -------------------------------------------------------------

def test_connect_timeout_silent_server(kind, peer):
    p = peer("tcp_silent")
    out = run_code(kind, """
measure(lambda: uwebsocket.connect("ws://127.0.0.1:%d/", timeout=1))
""" % p.port, timeout=30)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and ms <= 2500, (outcome, ms)
    assert p.eof.wait(5), "the socket was not closed"


def test_connect_default_timeout_silent_server(kind, peer):
    # timeout=None: the handshake is bounded by 10 s.
    p = peer("tcp_silent")
    out = run_code(kind, """
measure(lambda: uwebsocket.connect("ws://127.0.0.1:%d/"))
""" % p.port, timeout=40)
    [(outcome, ms)] = results(out)
    assert outcome == "OSError %d" % ETIMEDOUT and 9000 <= ms <= 13000, (outcome, ms)
