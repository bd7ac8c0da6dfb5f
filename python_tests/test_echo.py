"""The README's main job: the echo server, driven by CPython's websockets
client (a peer we did not write) over a real loopback socket."""
import asyncio
import time

import pytest
import websockets
from websockets.sync.client import connect as sync_connect

from conftest import EXAMPLES, wait_log


def closed_lines(srv, count):
    """The `closed: CODE REASON` lines examples/echo_server.py logs, one per
    connection, once there are `count` of them."""
    wait_log(srv, "closed: ")
    for _ in range(100):
        lines = [line for line in srv.read_output().splitlines() if line.startswith("closed: ")]
        if len(lines) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(srv.read_output())

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]


async def echo_all(url, sizes):
    async with websockets.connect(url, max_size=None) as ws:
        for n in sizes:
            for data in (bytes(i % 256 for i in range(n)), ("é" * (n // 2))):
                await ws.send(data)
                back = await asyncio.wait_for(ws.recv(), 10)
                assert type(back) is type(data) and back == data, n
        await ws.close(1000, "done")
        return ws.close_code, ws.close_reason


def test_every_length_class_round_trips(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    # The server saw our code and reason, and answered with the code alone.
    assert asyncio.run(echo_all("ws://%s:%d/" % (srv.host, srv.port), SIZES)) == (1000, "")
    assert closed_lines(srv, 1) == ["closed: 1000 done"]


def test_sync_client_text_binary_and_ping(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    with sync_connect("ws://%s:%d/chat" % (srv.host, srv.port)) as ws:
        ws.send("hello")
        assert ws.recv(timeout=5) == "hello"
        ws.send(b"\x00\xff")
        assert ws.recv(timeout=5) == b"\x00\xff"
        # Pings are answered by the module, without the script's help.
        assert ws.ping(b"p").wait(5)
    # Leaving the block closed with 1000 and no reason; the server answered.
    assert (ws.close_code, ws.close_reason) == (1000, "")
    assert closed_lines(srv, 1) == ["closed: 1000 "]


def test_server_keeps_serving_after_a_client(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    for i in range(3):
        with sync_connect("ws://%s:%d/" % (srv.host, srv.port)) as ws:
            ws.send("round %d" % i)
            assert ws.recv(timeout=5) == "round %d" % i
        assert (ws.close_code, ws.close_reason) == (1000, "")
    assert closed_lines(srv, 3) == ["closed: 1000 "] * 3
