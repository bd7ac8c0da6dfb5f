"""uwebsocket servers against the clients people actually use: CPython's
websockets (sync and asyncio) and Tornado. Each client goes through the
same exchanges: every length class, text and binary, fragments, pings,
closes with a code and a reason from either side.

Messages go to examples/echo_server.py (up to 1 MiB a message), closes
started by the server to python_tests/servers/echo.py --close-on close-me (it
closes with 4000 "server closes" on the message "close-me")."""
import asyncio
import contextlib

import pytest
import tornado.websocket
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as sync_connect

from conftest import EXAMPLES
from conftest import ECHO, wait_log

ECHO_LIMIT = 1 << 20  # examples/echo_server.py's max_size
SIZES = [0, 1, 125, 126, 127, 65535, 65536, 65537, ECHO_LIMIT]
TIMEOUT = 10.0
TOO_BIG = "message exceeds the size limit"  # the reason of the 1009 (RFC 6455 §7.4.1)


def ECHOED(code):
    """What a client sees when the server answers its Close: the same code
    (RFC 6455 §5.5.1) and no reason."""
    return code, ""


def text_of(n):
    """A str of exactly n UTF-8 bytes, multi-byte characters included."""
    return "é" * (n // 2) + "a" * (n % 2)


def binary_of(n):
    return bytes(range(256)) * (n // 256) + bytes(range(n % 256))


class SyncClient:
    """websockets.sync, behind the same async interface as the others."""
    fragments = True

    def __init__(self):
        self.exit_stack = contextlib.ExitStack()

    async def connect(self, url):
        self.ws = self.exit_stack.enter_context(sync_connect(url, max_size=None, open_timeout=TIMEOUT))

    def dispose(self):
        self.exit_stack.close()

    async def send(self, data):
        self.ws.send(data)

    async def send_fragments(self, parts):
        self.ws.send(parts)

    async def recv(self):
        return self.ws.recv(timeout=TIMEOUT)

    async def ping(self, data):
        assert self.ws.ping(data).wait(TIMEOUT)

    async def close(self, code, reason):
        self.ws.close(code, reason)
        return self.ws.close_code, self.ws.close_reason

    async def closed_by_server(self):
        """The server's close code and reason, read as the next message."""
        with pytest.raises(ConnectionClosed) as closed:
            self.ws.recv(timeout=TIMEOUT)
        return closed.value.rcvd.code, closed.value.rcvd.reason

    async def send_refused(self, data):
        """Sends a message the server refuses; its close code and reason.
        The server may refuse on the frame header, so the close can arrive
        while this send is still writing."""
        try:
            self.ws.send(data)
        except ConnectionClosed as closed:
            return closed.rcvd.code, closed.rcvd.reason
        return await self.closed_by_server()


class AsyncClient:
    """websockets.asyncio."""
    fragments = True

    def dispose(self):
        pass

    async def connect(self, url):
        self.ws = await websockets.connect(url, max_size=None, open_timeout=TIMEOUT)

    async def send(self, data):
        await self.ws.send(data)

    async def send_fragments(self, parts):
        await self.ws.send(parts)

    async def recv(self):
        return await asyncio.wait_for(self.ws.recv(), TIMEOUT)

    async def ping(self, data):
        await asyncio.wait_for(await self.ws.ping(data), TIMEOUT)

    async def close(self, code, reason):
        await asyncio.wait_for(self.ws.close(code, reason), TIMEOUT)
        return self.ws.close_code, self.ws.close_reason

    async def closed_by_server(self):
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        return closed.value.rcvd.code, closed.value.rcvd.reason

    async def send_refused(self, data):
        try:
            await self.ws.send(data)
        except ConnectionClosed as closed:
            return closed.rcvd.code, closed.rcvd.reason
        return await self.closed_by_server()


class TornadoClient:
    """tornado.websocket; it cannot send a message in fragments."""
    fragments = False

    def dispose(self):
        pass

    async def connect(self, url):
        self.ws = await asyncio.wait_for(
            tornado.websocket.websocket_connect(url, max_message_size=64 << 20), TIMEOUT)
        self.pongs = asyncio.Queue()
        self.ws.on_pong = self.pongs.put_nowait

    async def send(self, data):
        await asyncio.wait_for(self.ws.write_message(data, binary=isinstance(data, bytes)), TIMEOUT)

    async def recv(self):
        return await asyncio.wait_for(self.ws.read_message(), TIMEOUT)

    async def ping(self, data):
        self.ws.ping(data)
        assert await asyncio.wait_for(self.pongs.get(), TIMEOUT) == data

    async def _until_closed(self):
        while await asyncio.wait_for(self.ws.read_message(), TIMEOUT) is not None:
            pass
        # Tornado says None for an empty reason.
        return self.ws.close_code, self.ws.close_reason or ""

    async def close(self, code, reason):
        self.ws.close(code, reason)
        return await self._until_closed()

    async def closed_by_server(self):
        return await self._until_closed()

    async def send_refused(self, data):
        try:
            await self.send(data)
        except tornado.websocket.WebSocketClosedError:
            pass
        return await self._until_closed()


# The reason each client puts in its answer to the server's Close:
# websockets echoes code and reason, Tornado the code alone.
ECHO_REASON = {"SyncClient": "server closes", "AsyncClient": "server closes", "TornadoClient": ""}

CLIENTS = {"websockets-sync": SyncClient, "websockets-asyncio": AsyncClient, "tornado": TornadoClient}


@pytest.fixture(params=list(CLIENTS))
def client(request):
    peer = CLIENTS[request.param]()
    yield peer
    peer.dispose()


@pytest.fixture
def echo(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    srv.url = "ws://%s:%d/" % (srv.host, srv.port)
    return srv


def server_saw(srv, code, reason):
    """examples/echo_server.py logs the ConnectionClosed that ended its
    connection: `closed: CODE REASON`."""
    line = wait_log(srv, "closed: ")
    assert line == "closed: %d %s" % (code, reason), srv.read_output()


def run(coro):
    return asyncio.run(coro)


def test_every_length_class_text_and_binary(client, echo):
    async def scenario():
        await client.connect(echo.url)
        for n in SIZES:
            for data in (text_of(n), binary_of(n)):
                await client.send(data)
                back = await client.recv()
                assert type(back) is type(data) and len(back) == len(data) and back == data, n
        return await client.close(1000, "")
    # The server answered the Close with its code (RFC 6455 §5.5.1).
    assert run(scenario()) == ECHOED(1000)
    server_saw(echo, 1000, "")


def test_message_over_the_limit_is_refused_with_1009(client, echo):
    async def scenario():
        await client.connect(echo.url)
        await client.send("small")
        assert await client.recv() == "small"
        return await client.send_refused(binary_of(ECHO_LIMIT + 1))
    assert run(scenario()) == (1009, TOO_BIG)
    server_saw(echo, 1009, TOO_BIG)


@pytest.mark.parametrize("client", [name for name, kind in CLIENTS.items() if kind.fragments], indirect=True)
def test_fragmented_messages(client, echo):
    async def scenario():
        await client.connect(echo.url)
        parts = [text_of(n) for n in (0, 1, 125, 126, 4000, 70000)]
        await client.send_fragments(parts)
        assert await client.recv() == "".join(parts)
        chunks = [binary_of(n) for n in range(0, 300, 7)] * 20
        await client.send_fragments(chunks)
        assert await client.recv() == b"".join(chunks)
        return await client.close(1000, "")
    assert run(scenario()) == ECHOED(1000)
    server_saw(echo, 1000, "")


def test_pings_are_answered_between_messages(client, echo):
    async def scenario():
        await client.connect(echo.url)
        await client.ping(b"")
        await client.ping(bytes(range(125)))
        await client.send("after pings")
        assert await client.recv() == "after pings"
        await client.ping(b"again")
        return await client.close(1001, "going away")
    assert run(scenario()) == ECHOED(1001)
    server_saw(echo, 1001, "going away")


def test_client_closes_with_code_and_reason(client, echo):
    async def scenario():
        await client.connect(echo.url)
        await client.send("bye soon")
        assert await client.recv() == "bye soon"
        return await client.close(3003, "client is done ✓")
    # The server sees code and reason, and answers with the code.
    assert run(scenario()) == ECHOED(3003)
    server_saw(echo, 3003, "client is done ✓")


def test_server_closes_with_code_and_reason(client, mp_server):
    srv = mp_server(ECHO, "--max-size", ECHO_LIMIT, "--close-on", "close-me")

    async def scenario():
        await client.connect("ws://%s:%d/" % (srv.host, srv.port))
        await client.send("close-me")
        return await client.closed_by_server()
    assert run(scenario()) == (4000, "server closes")
    # What the server's close() got back: the client's echo of its code.
    line = wait_log(srv, "server closed ")
    assert line == "server closed 4000 [%s]" % ECHO_REASON[type(client).__name__], srv.read_output()
