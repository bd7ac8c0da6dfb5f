"""examples/dashboard.py on the unix port, driven by CPython websockets
clients as a script would drive it: one shared state broadcast to every
client, readings once a second, bad input answered without harm to anyone,
and the page served over plain HTTP on the same port."""
import asyncio
import os
import http.client
import json
import shutil

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from conftest import EXAMPLES, SERVER_LIB, Process, firmware, wait_listening

DASHBOARD = EXAMPLES / "dashboard.py"
MAX_MESSAGE = 4096  # dashboard.py's MAX_MESSAGE


def api_url(srv):
    return "ws://%s:%d/ws" % (srv.host, srv.port)


async def next_message(ws, kind, timeout=5.0):
    """The next message of type `kind`, skipping the others (readings come
    in between everything)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        message = json.loads(await asyncio.wait_for(ws.recv(), max(left, 0.01)))
        if message["type"] == kind:
            return message


async def state_where(ws, timeout=5.0, **expected):
    """The first state message matching `expected`; earlier ones are
    intermediate states (other clients coming and going)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        state = await next_message(ws, "state", max(left, 0.01))
        if all(state[k] == v for k, v in expected.items()):
            return state


async def connect_all(url, n, already=0):
    """n more clients, each past its first state and seeing all connected."""
    clients = [await connect(url) for _ in range(n)]
    for ws in clients:
        await state_where(ws, clients=already + n)
    return clients


def http_get(srv, path, method="GET"):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        conn.close()


@pytest.fixture
def dashboard(mp_server):
    return mp_server(DASHBOARD)


def test_new_client_gets_state_at_once(dashboard):
    async def scenario():
        async with connect(api_url(dashboard)) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert first == {"type": "state", "light": False, "brightness": 100, "clients": 1}

    asyncio.run(scenario())


def test_light_is_broadcast_to_every_client_sender_included(dashboard):
    async def scenario():
        clients = await connect_all(api_url(dashboard), 3)
        for light in (True, False, True):
            await clients[1].send(json.dumps({"light": light}))
            for ws in clients:
                state = await next_message(ws, "state")
                assert state == {"type": "state", "light": light, "brightness": 100, "clients": 3}
        for ws in clients:
            await ws.close()

    asyncio.run(scenario())


def test_brightness_and_both_at_once(dashboard):
    async def scenario():
        a, b = await connect_all(api_url(dashboard), 2)
        for change, light, brightness in (({"brightness": 40}, False, 40),
                                          ({"brightness": 0}, False, 0),
                                          ({"light": True, "brightness": 100}, True, 100),
                                          ({"brightness": 7}, True, 7)):
            await a.send(json.dumps(change))
            for ws in (a, b):
                state = await next_message(ws, "state")
                assert (state["light"], state["brightness"]) == (light, brightness), change
        await a.close()
        await b.close()

    asyncio.run(scenario())


def test_a_new_client_gets_the_current_state(dashboard):
    async def scenario():
        async with connect(api_url(dashboard)) as a:
            await next_message(a, "state")
            await a.send('{"light": true, "brightness": 17}')
            await state_where(a, light=True, brightness=17)
            async with connect(api_url(dashboard)) as b:
                first = json.loads(await asyncio.wait_for(b.recv(), 2))
                assert first == {"type": "state", "light": True, "brightness": 17, "clients": 2}

    asyncio.run(scenario())


def test_readings_arrive_about_once_a_second_and_change(dashboard):
    async def scenario():
        async with connect(api_url(dashboard)) as ws:
            return [await next_message(ws, "reading", 10) for _ in range(5)]

    readings = asyncio.run(scenario())
    # Each reading carries the device's uptime in whole seconds: one a
    # second means each is a second or two (a late tick) after the one
    # before, never the same second (a flood) and never a gap (a stall).
    steps = [after["uptime"] - before["uptime"] for before, after in zip(readings, readings[1:])]
    assert all(1 <= step <= 2 for step in steps), steps
    assert 4 <= sum(steps) <= 6, steps
    for before, after in zip(readings, readings[1:]):
        assert after["temperature"] != before["temperature"]
    for reading in readings:
        assert set(reading) == {"type", "temperature", "uptime", "free", "used"}
        assert 10 < reading["temperature"] < 35
        assert reading["free"] > 0 and reading["used"] > 0


async def next_count(ws):
    return (await next_message(ws, "state"))["clients"]


def test_client_count_follows_clients_coming_and_going(dashboard):
    # Every arrival and departure is one state message to everyone left,
    # in order: the count a watcher sees goes 1, 2, 3, 2, 1 and nothing
    # in between (no state is skipped over while waiting for a number).
    async def scenario():
        url = api_url(dashboard)
        async with connect(url) as a:
            seen = [await next_count(a)]
            b = await connect(url)
            seen.append(await next_count(a))
            assert await next_count(b) == 2
            c = await connect(url)
            seen.append(await next_count(a))
            assert [await next_count(b), await next_count(c)] == [3, 3]
            await b.close()
            seen.append(await next_count(a))
            assert await next_count(c) == 2
            # A client that vanishes without a closing handshake counts too.
            c.transport.abort()
            seen.append(await next_count(a))
            return seen

    assert asyncio.run(scenario()) == [1, 2, 3, 2, 1]


BAD_MESSAGES = [
    ("not json", "not JSON"),
    ("[1, 2]", "expected an object"),
    ('"light"', "expected an object"),
    ("{}", "expected an object"),
    ('{"colour": "red"}', "unknown key: colour"),
    ('{"light": true, "mode": 1}', "unknown key: mode"),
    ('{"light": 1}', "light must be true or false"),
    ('{"light": "on"}', "light must be true or false"),
    ('{"light": null}', "light must be true or false"),
    ('{"brightness": -1}', "brightness must be an integer from 0 to 100"),
    ('{"brightness": 101}', "brightness must be an integer from 0 to 100"),
    ('{"brightness": 40.5}', "brightness must be an integer from 0 to 100"),
    ('{"brightness": "40"}', "brightness must be an integer from 0 to 100"),
    ('{"brightness": true}', "brightness must be an integer from 0 to 100"),
    ('{"light": true, "brightness": 500}', "brightness must be an integer from 0 to 100"),
    (b'{"light": true}', "send JSON as a text message"),
]


@pytest.mark.parametrize("message,error", BAD_MESSAGES, ids=[repr(m)[:30] for m, _ in BAD_MESSAGES])
def test_bad_input_is_answered_with_an_error_and_changes_nothing(dashboard, message, error):
    async def scenario():
        sender, other = await connect_all(api_url(dashboard), 2)
        await sender.send(message)
        answer = await next_message(sender, "error")
        assert set(answer) == {"type", "error"} and answer["error"].startswith(error), answer
        # Both still connected, nothing applied (not even half of a message):
        # the next valid change is the first state anyone sees.
        await sender.send('{"brightness": 55}')
        for ws in (sender, other):
            assert await next_message(ws, "state") == {
                "type": "state", "light": False, "brightness": 55, "clients": 2}
        await sender.close()
        await other.close()

    asyncio.run(scenario())


def test_oversized_message_closes_with_1009_and_the_others_carry_on(dashboard):
    async def scenario():
        url = api_url(dashboard)
        big, other = await connect_all(url, 2)
        await big.send(json.dumps({"light": True, "pad": "x" * (1 << 20)}))
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(big.recv(), 5)
        assert (big.close_code, big.close_reason) == (1009, "message exceeds the size limit")
        await state_where(other, clients=1, light=False)
        await other.send('{"light": true}')
        await state_where(other, light=True)
        # A message just under the limit is still read (and refused as JSON).
        await other.send('{"light": true, "x": "%s"}' % ("x" * (MAX_MESSAGE - 40)))
        assert (await next_message(other, "error"))["error"] == "unknown key: x"
        async with connect(url) as again:
            await state_where(again, clients=2, light=True)
        await other.close()

    asyncio.run(scenario())


def test_other_paths_are_closed_with_1008(dashboard):
    async def scenario():
        async with connect(api_url(dashboard)) as watcher:
            assert await next_count(watcher) == 1
            async with connect("ws://%s:%d/chat" % (dashboard.host, dashboard.port)) as ws:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                assert (ws.close_code, ws.close_reason) == (1008, "the API is on /ws")
            # Never counted: the next state the watcher sees is the next
            # client on /ws making two, not the refused one coming or going.
            async with connect(api_url(dashboard)) as again:
                assert await next_count(watcher) == 2
                assert await next_count(again) == 2

    asyncio.run(scenario())


def test_the_page_is_served_on_the_same_port(dashboard):
    status, content_type, body = http_get(dashboard, "/")
    assert status == 200 and content_type.startswith("text/html")
    assert body == (EXAMPLES / "dashboard.html").read_bytes()
    assert b"new WebSocket(" in body and b'"/ws"' in body
    # Self-contained: nothing fetched from elsewhere.
    assert b"http://" not in body and b"https://" not in body and b"<link" not in body
    # Refusals carry their status and a plain-text body saying why.
    assert http_get(dashboard, "/nope") == (404, "text/plain", b"Not Found\n")
    assert http_get(dashboard, "/", "POST") == (405, "text/plain", b"Method Not Allowed\n")


@pytest.mark.parametrize("where", ["current folder", "nowhere"])
def test_the_page_is_found_in_the_current_folder(tmp_path, where):
    # The script alone in a folder, as `mpremote run` leaves it: the page
    # is looked for in the current folder instead.
    alone = tmp_path / "script"
    alone.mkdir()
    shutil.copy(DASHBOARD, alone)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    if where == "current folder":
        shutil.copy(EXAMPLES / "dashboard.html", cwd)
    proc = Process(["sh", "-c", 'cd "$1" && exec "$2" "$3" 127.0.0.1 0', "sh",
                    str(cwd), firmware(), str(alone / "dashboard.py")],
                   tmp_path / "server.log", env=dict(os.environ, MICROPYPATH="%s:.frozen" % SERVER_LIB))
    try:
        proc.host, proc.port = "127.0.0.1", wait_listening(proc)
        status, _, body = http_get(proc, "/")
        if where == "current folder":
            assert status == 200 and b"new WebSocket(" in body
        else:
            assert status == 500 and b"dashboard.html" in body
            assert "not found" in proc.read_output()
    finally:
        proc.stop()


def test_heap_with_ten_clients(dashboard, capsys):
    """The heap the dashboard holds for 10 clients, and that none of it
    accumulates as clients come and go."""

    async def used_now(ws):
        # The second reading is collected after everything before it.
        await next_message(ws, "reading")
        return (await next_message(ws, "reading"))["used"]

    async def scenario():
        url = api_url(dashboard)
        async with connect(url) as probe:
            idle = await used_now(probe)
            busy, after = [], []
            for _ in range(3):
                clients = await connect_all(url, 9, already=1)
                busy.append(await used_now(probe))
                for ws in clients:
                    await ws.close()
                await state_where(probe, clients=1)
                after.append(await used_now(probe))
            return idle, busy, after

    idle, busy, after = asyncio.run(scenario())
    with capsys.disabled():
        print("\ndashboard heap in use: 1 client %d B, 10 clients %d B (%d B per extra client), "
              "after they left %s B" % (idle, busy[0], (busy[0] - idle) // 9, after))
    assert min(busy) > idle
    # The first round grows tables that stay grown (the event loop's, the
    # set of clients); later rounds must not add to them.
    assert max(after[1:]) - after[0] < 512, after
