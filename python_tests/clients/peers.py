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
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
from websockets.sync.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

CLIENTS = Path(__file__).resolve().parent
SESSION = CLIENTS / "session.py"


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
    srv.errors so a test can fail on them, and the close code and reason
    each connection ended with in srv.closes."""

    def __init__(self, handler, host="127.0.0.1", port=0, **options):
        self.handler = handler
        self.errors = []
        # (close_code, close_reason) the server saw, one per connection
        # whose handler returned.
        self.closes = []
        options.setdefault("max_size", None)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        self.server = ws_serve(self._handle, sock=sock, **options)
        self.host = host
        self.port = self.server.socket.getsockname()[1]
        self.scheme = "wss" if options.get("ssl") else "ws"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._running = 0
        self._idle = threading.Condition()

    def wait_idle(self, timeout=10.0):
        """Wait until no connection's handler is running. A client that has
        ended says nothing of the server's thread, which may still be
        finishing its close handshake: srv.closes and what handlers record
        are complete after this (the end of a with block waits too)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._running == 0, timeout), \
                "a handler still runs after %.0f s" % timeout

    def _handle(self, ws):
        with self._idle:
            self._running += 1
        try:
            self._serve_one(ws)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _serve_one(self, ws):
        try:
            self.handler(ws)
        except ConnectionClosed:
            # The client closed with a code other than 1000 or 1001 (the
            # handler's iteration raises then): recorded below like any close.
            pass
        except Exception as e:  # reported by the test, not lost in a thread
            self.errors.append(e)
            raise
        # What the server does after a handler anyway: close with 1000 unless
        # the connection already ended; then the code and reason it got.
        ws.close()
        self.closes.append((ws.close_code, ws.close_reason))

    def url(self, path="/", host=None):
        host = host or self.host
        if ":" in host:
            host = "[%s]" % host
        return "%s://%s:%d%s" % (self.scheme, host, self.port, path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, 10.0)
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


# Raw HTTP and framing, for servers that answer exactly what a test says:
# from the tests' one frame and handshake module.
from wsraw import (accept_key, close_payload, frame, parse_close, read_frame, read_head,  # noqa: E402,F401
                   recv_exact, serve_handshake as handshake, switching_protocols)
