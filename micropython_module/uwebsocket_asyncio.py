"""asyncio for uwebsocket: serve many clients in one event loop, or connect
as a client, with the protocol done by the uwebsocket C module.

    import asyncio
    import uwebsocket_asyncio as wsa

    async def echo(ws):
        async for message in ws:      # str (text) or bytes (binary)
            await ws.send(message)

    async def main():
        await wsa.serve(echo, "0.0.0.0", 8080)
        await asyncio.Event().wait()  # serve forever

    asyncio.run(main())

One port can serve a page and WebSockets: pass http=handler, called with
each plain HTTP request (a uwebsocket.Request) and returning
(status, body) or (status, body, content_type).
"""
import asyncio
from asyncio import core
import select

import uwebsocket

if not hasattr(uwebsocket, "WebSocket"):
    # The port's own websocket module answered the name (it does on ports
    # that build it in): uwebsocket is installed as a native .mpy there.
    import uwebsocket_native as uwebsocket

ConnectionClosed = uwebsocket.ConnectionClosed
HandshakeError = uwebsocket.HandshakeError


async def _readable(stream):
    yield core._io_queue.queue_read(stream)


_read_ahead_poll = select.poll()


def _read_ahead(ws):
    # Whether the WebSocket holds frames it read ahead: a non-blocking recv()
    # returns None after a burst of control frames with more of them, or a
    # message, still there, and the socket itself may have nothing more to
    # say. The WebSocket's own poll knows; waiting on the socket would not
    # end. (The event loop waits on the socket, not the WebSocket: an object
    # without a descriptor would have it poll every millisecond.)
    _read_ahead_poll.register(ws, select.POLLIN)
    try:
        return bool(_read_ahead_poll.poll(0))
    finally:
        _read_ahead_poll.unregister(ws)


async def _writable(stream):
    yield core._io_queue.queue_write(stream)


class WebSocket:
    """A uwebsocket.WebSocket on a non-blocking stream, with awaitable
    methods. Iterating over it yields messages until the connection closes."""

    # Seconds a peer may take nothing we send before it is dropped.
    write_timeout = 10

    def __init__(self, ws):
        self.ws = ws
        self._drainer = None
        self._writing = None
        # None where the firmware leaves keepalive out
        # (MICROPY_PY_UWEBSOCKET_KEEPALIVE=0, UWS_PROFILE=tiny).
        self._keepalive = getattr(ws, "keepalive", None)
        ws.setblocking(False)

    @property
    def path(self):
        return self.ws.path

    @property
    def headers(self):
        return self.ws.headers

    @property
    def subprotocol(self):
        return self.ws.subprotocol

    @property
    def compression(self):
        return self.ws.compression

    @property
    def closed(self):
        return self.ws.closed

    @property
    def close_code(self):
        return self.ws.close_code

    @property
    def close_reason(self):
        return self.ws.close_reason

    def keepalive(self, interval, timeout=None):
        """Ping after `interval` seconds of silence; close with 1011 when no
        answer comes within `timeout` (default: interval)."""
        if self._keepalive is None:
            raise NotImplementedError(_NO_KEEPALIVE)
        self._keepalive(interval, timeout or interval)

    async def _wait(self):
        # Wait until the stream is readable, or until the keepalive check
        # is due (recv() runs it before reading).
        if _read_ahead(self.ws):
            await asyncio.sleep(0)
            return
        due = self._keepalive() if self._keepalive else None
        if due is None:
            await _readable(self.ws.stream)
            return
        try:
            await asyncio.wait_for_ms(_readable(self.ws.stream), due)
        except asyncio.TimeoutError:
            pass

    async def recv(self):
        """The next message: str for text, bytes for binary."""
        ws = self.ws
        while True:
            message = ws.recv()
            if message is not None:
                return message
            await self._wait()

    async def recv_into(self, buf):
        """Copy the next message (or its next part: see .more) into buf."""
        while True:
            n = self.ws.recv_into(buf)
            if n is not None:
                return n
            await self._wait()

    @property
    def more(self):
        return self.ws.more

    async def drain(self):
        """Wait until everything sent so far is written to the socket. A
        peer that takes nothing for write_timeout seconds is dropped (the
        connection is closed with 1011, ConnectionClosed raised)."""
        if not self.ws.flush():
            return
        # One task at a time waits for the socket to take more (a send and
        # a broadcast's background drain may both want to).
        if self._writing is None:
            self._writing = asyncio.Lock()
        async with self._writing:
            try:
                await asyncio.wait_for(self._flush(), self.write_timeout)
            except asyncio.TimeoutError:
                self._abort()
                raise ConnectionClosed(1011, "peer stopped reading")

    def _abort(self):
        try:
            self.ws.close(1011, "not reading")
        except Exception:
            pass

    async def _drain_in_background(self):
        try:
            await self.drain()
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._drainer = None

    async def _flush(self):
        while self.ws.flush():
            await _writable(self.ws.stream)

    async def send(self, data, fin=True):
        """Send a message (or a fragment, fin=False). The event loop runs on
        while a slow peer's socket is full: this waits, not the loop. What
        broadcasts queued for this peer goes out first."""
        await self.drain()
        self.ws.send(data, fin=fin)
        await self.drain()

    async def ping(self, data=b""):
        self.ws.ping(data)
        await self.drain()

    # Seconds close() waits for the peer's Close.
    close_timeout = 2

    async def close(self, code=1000, reason=""):
        """Send our Close and wait (close_timeout at most) for the peer's
        answer, so that close_code and close_reason report it (§7.1.2)."""
        ws = self.ws
        if not ws.closed:
            try:
                await self.drain()
                ws.close(code, reason, wait=True)
                await asyncio.wait_for(self._closing(), self.close_timeout)
            except (ConnectionClosed, OSError, asyncio.TimeoutError):
                pass
        ws.close(code, reason)

    async def _closing(self):
        # Our Close goes out, then messages are dropped until the peer's
        # Close ends the connection (recv() raises ConnectionClosed).
        await self.drain()
        while not self.ws.closed:
            if self.ws.recv() is None:
                await self._wait()

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration

    async def __aenter__(self):
        return self

    async def __aexit__(self, exc_type, exc, tb):
        if not self.ws.closed:
            self.ws.close(1000 if exc is None else 1011)


def broadcast(clients, message):
    """Send `message` to every WebSocket in `clients` without waiting for
    any of them: none holds up another or the caller. What a full socket
    does not take is written on in the background; a client that stopped
    reading is closed (1011) when its backlog passes the high-water mark
    (16 KiB) or it takes nothing for write_timeout seconds, never skipped
    silently. Returns the clients it could not reach."""
    failed = []
    for ws in clients:
        try:
            ws.ws.send(message)
        except (ConnectionClosed, OSError):
            ws._abort()
            failed.append(ws)
            continue
        if ws.ws.flush() and ws._drainer is None:
            ws._drainer = asyncio.create_task(ws._drain_in_background())
    return failed


async def _read_head(stream, max_head):
    head = b""
    while True:
        line = await stream.readline()
        if not line:
            raise OSError("connection closed during the handshake")
        head += line
        if len(head) > max_head:
            return None
        if line == b"\r\n" or line == b"\n":
            return head


_NO_KEEPALIVE = "keepalive is not built in (MICROPY_PY_UWEBSOCKET_KEEPALIVE)"
_NO_HTTP = "http= needs the HTTP helpers built in (MICROPY_PY_UWEBSOCKET_HTTP)"


def _answer(sock, status, body, **options):
    """An HTTP answer, then the socket closed; without the HTTP helpers
    built in (MICROPY_PY_UWEBSOCKET_HTTP=0), only the close."""
    respond = getattr(uwebsocket, "respond", None)
    if respond is None:
        sock.close()
    else:
        respond(sock, status, body, **options)


async def _respond(sock, http, request):
    if http is None:
        # A WebSocket-only endpoint: tell plain HTTP clients what it wants.
        _answer(sock, 426, b"WebSocket only\n", content_type="text/plain", headers={"Upgrade": "websocket"})
        return
    answer = http(request)
    if hasattr(answer, "send"):  # a coroutine: await it
        answer = await answer
    if answer is None:
        answer = (404, b"Not Found\n", "text/plain")
    uwebsocket.respond(sock, answer[0], answer[1], content_type=answer[2] if len(answer) > 2 else None)


async def serve(handler, host="0.0.0.0", port=80, *, http=None, head_timeout=10,
                max_head=4096, ping_interval=None, ping_timeout=None, backlog=5, **accept_options):
    """Start a server; `handler(ws)` runs as a task for each WebSocket.
    Options go to uwebsocket.accept (subprotocols, origins, headers,
    max_size, compression and its options). A client that does not finish its handshake within
    head_timeout seconds is dropped. Returns the asyncio Server."""
    # What the firmware leaves out is refused now, not at the first client.
    if http is not None and not hasattr(uwebsocket, "respond"):
        raise ValueError(_NO_HTTP)
    if ping_interval and not hasattr(uwebsocket.WebSocket, "keepalive"):
        raise ValueError(_NO_KEEPALIVE)

    async def connected(stream, _writer):
        sock = stream.s
        try:
            head = await asyncio.wait_for(_read_head(stream, max_head), head_timeout)
            if head is None:
                _answer(sock, 431, b"Request header fields too large\n", content_type="text/plain")
                return
            request = uwebsocket.Request(head)
            if not request.upgrade:
                await _respond(sock, http, request)
                return
            ws = WebSocket(uwebsocket.accept(sock, request=request, max_head=max_head, **accept_options))
        except HandshakeError as e:
            if e.status == 400 and not getattr(sock, "closed", False):
                _close_quietly(sock, 400)
            return
        except (asyncio.TimeoutError, OSError):
            _close_quietly(sock)
            return
        if ping_interval:
            ws.keepalive(ping_interval, ping_timeout)
        try:
            await handler(ws)
        except ConnectionClosed:
            pass
        except OSError:
            pass
        finally:
            if not ws.closed:
                try:
                    ws.ws.close(1000)
                except Exception:
                    ws.ws.stream.close()

    return await asyncio.start_server(connected, host, port, backlog)


def _close_quietly(sock, status=None):
    try:
        if status:
            _answer(sock, status, b"Bad request\n", content_type="text/plain")
        else:
            sock.close()
    except OSError:
        pass


async def connect(url, **options):
    """Connect as a client (ws:// or wss://); options as uwebsocket.connect.
    The handshake itself blocks, bounded by timeout=."""
    return WebSocket(uwebsocket.connect(url, **options))
