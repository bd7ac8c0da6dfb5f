"""The peers uwebsocket's client talks to in the tests, run by CPython on
loopback, and the way to run the MicroPython client scripts next to them.

- WebsocketsServer: a CPython `websockets` server (sync API) in a thread,
  with TLS when given an ssl.SSLContext.
- TornadoServer: Tornado's WebSocketHandler echoing every message, in a thread.
- RawServer: a plain listening socket in a thread; each connection is handed
  to a function of the test's, which can answer anything at all.
- run_session(): runs clients/session.py (MicroPython) and returns its lines.

Every server listens on a port picked by the kernel, accepts for a bounded
time and is shut down when its `with` block ends.
"""
import asyncio
import base64
import hashlib
import socket
import struct
import subprocess
import tempfile
import threading
from pathlib import Path

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.sync.server import serve as ws_serve

CLIENTS = Path(__file__).resolve().parent
SESSION = CLIENTS / "session.py"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def run_client(script, *args, timeout=60, heapsize="8M"):
    """Run a MicroPython client script to completion with a heap big enough
    for megabyte messages (the unix port's default is 2 MiB); returns
    (exit code, output). Stopped by its process group at the timeout."""
    from conftest import Process, firmware  # the tests' path has conftest on it

    argv = [firmware(), "-X", "heapsize=" + heapsize, str(script), *map(str, args)]
    with tempfile.TemporaryDirectory() as tmp:
        proc = Process(argv, Path(tmp) / "client.log")
        try:
            proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            out = proc.read_output()
            proc.stop()
            raise AssertionError("%s timed out after %s s:\n%s" % (script, timeout, out))
        out = proc.read_output()
        return proc.stop(), out


def run_session(url, *options_and_steps, timeout=60):
    """Run clients/session.py; returns (exit code, output lines)."""
    code, out = run_client(SESSION, url, *options_and_steps, timeout=timeout)
    return code, out.splitlines()


class WebsocketsServer:
    """`with WebsocketsServer(handler, **serve_options) as srv:` serves
    ws://127.0.0.1:srv.port (wss:// with ssl=context). The handler gets each
    websockets ServerConnection; exceptions it raises are kept in
    srv.errors so a test can fail on them."""

    def __init__(self, handler, host="127.0.0.1", port=0, **options):
        self.handler = handler
        self.errors = []
        options.setdefault("max_size", None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        self.server = ws_serve(self._handle, sock=sock, **options)
        self.host = host
        self.port = self.server.socket.getsockname()[1]
        self.scheme = "wss" if options.get("ssl") else "ws"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _handle(self, ws):
        try:
            self.handler(ws)
        except Exception as e:  # reported by the test, not lost in a thread
            self.errors.append(e)
            raise

    def url(self, path="/", host=None):
        host = host or self.host
        if ":" in host:
            host = "[%s]" % host
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)


def echo(ws):
    """Echo every message back as it came (text as text, binary as binary)."""
    for message in ws:
        ws.send(message)


class TornadoServer:
    """Tornado's own WebSocketHandler echoing messages, on an IOLoop of its
    own thread. `with TornadoServer() as srv:` serves srv.url()."""

    def __init__(self, max_message_size=16 << 20):
        self.max_message_size = max_message_size
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.port = None
        self.closes = []

    def _run(self):
        closes = self.closes

        class Echo(tornado.websocket.WebSocketHandler):
            def on_message(self, message):
                self.write_message(message, binary=isinstance(message, bytes))

            def on_close(self):
                closes.append((self.close_code, self.close_reason))

        async def main():
            app = tornado.web.Application(
                [(r"/.*", Echo)], websocket_max_message_size=self.max_message_size)
            sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
            self.port = sockets[0].getsockname()[1]
            server = tornado.httpserver.HTTPServer(app)
            server.add_sockets(sockets)
            self.stop = asyncio.Event()
            self.loop = asyncio.get_running_loop()
            self.ready.set()
            await self.stop.wait()
            server.stop()

        asyncio.run(main())

    def url(self, path="/"):
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    def __enter__(self):
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("Tornado server did not start")
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


class RawServer:
    """A listening socket on loopback; each accepted connection goes to
    `behaviour(conn)` in its own thread, with a read timeout so nothing the
    test does can hang. What behaviour returns lands in srv.results;
    exceptions in srv.errors."""

    def __init__(self, behaviour, host="127.0.0.1", timeout=10.0):
        self.behaviour = behaviour
        self.timeout = timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.results, self.errors, self.conns = [], [], []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def url(self, path="/", scheme="ws"):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d%s" % (scheme, host, self.port, path)

    def _accept_loop(self):
        workers = []
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(self.timeout)
            self.conns.append(conn)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)
        for worker in workers:
            worker.join(self.timeout + 1)

    def _serve(self, conn):
        try:
            self.results.append(self.behaviour(conn))
        except Exception as e:
            self.errors.append(e)
        finally:
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(self.timeout + 5)
        self.sock.close()


# Raw HTTP and framing, for servers that answer exactly what a test says.

def read_head(conn, limit=8192):
    """Read an HTTP head byte by byte (frames may follow it); returns
    (request line, {lower-case name: value})."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = conn.recv(1)
        if not byte:
            raise ConnectionError("peer closed during the request head: %r" % data)
        data += byte
        if len(data) > limit:
            raise ValueError("request head too long")
    lines = data.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def switching_protocols(key, *extra_lines):
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Accept: %s" % key, *extra_lines]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def handshake(conn, *extra_lines):
    """Read the client's request and answer 101 with the right key."""
    request_line, headers = read_head(conn)
    conn.sendall(switching_protocols(accept_key(headers["sec-websocket-key"]), *extra_lines))
    return request_line, headers


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_frame(conn):
    """One frame: (fin, opcode, mask key or None, unmasked payload)."""
    b0, b1 = recv_exact(conn, 2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", recv_exact(conn, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", recv_exact(conn, 8))[0]
    key = recv_exact(conn, 4) if b1 & 0x80 else None
    payload = recv_exact(conn, length)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bool(b0 & 0x80), b0 & 0x0F, key, payload


def frame(opcode, payload=b"", fin=True, mask_key=None):
    """A frame as a server would send it (unmasked) unless mask_key is given."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask_key else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask_key:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
        head += mask_key
    return head + payload


def close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode()


def parse_close(payload):
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode()
