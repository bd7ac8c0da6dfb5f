"""The README's main job: the echo server, driven by CPython's websockets
client (a peer we did not write) over a real loopback socket."""
import asyncio

import pytest
import websockets
from websockets.sync.client import connect as sync_connect

from conftest import EXAMPLES

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]


async def echo_all(url, sizes):
    async with websockets.connect(url, max_size=None) as ws:
        for n in sizes:
            for data in (bytes(i % 256 for i in range(n)), ("é" * (n // 2))):
                await ws.send(data)
                back = await asyncio.wait_for(ws.recv(), 10)
                assert type(back) is type(data) and back == data, n
        await ws.close(1000, "done")
        return ws.close_code


def test_every_length_class_round_trips(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    code = asyncio.run(echo_all("ws://%s:%d/" % (srv.host, srv.port), SIZES))
    assert code == 1000


def test_sync_client_text_binary_and_ping(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    with sync_connect("ws://%s:%d/chat" % (srv.host, srv.port)) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\xff")
        assert ws.recv(timeout=5) == b"\x00\xff"
        # Pings are answered by the module, without the script's help.
        assert ws.ping(b"p").wait(5)


def test_server_keeps_serving_after_a_client(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    for i in range(3):
        with sync_connect("ws://%s:%d/" % (srv.host, srv.port)) as ws:
            ws.send("round %d" % i)
            assert ws.recv(timeout=5) == "round %d" % i
