# Heap exhaustion: run with `micropython -X heapsize=N` over a range of N
# (compiled with mpy-cross first, so that compiling it takes no heap), so that MemoryError strikes at every allocation point
# of the module in turn. Each step runs under several paddings (memory
# held while it runs) and must end in its correct result or an exception
# (MemoryError or the ConnectionClosed the shim turns one into); never a
# crash. Prints "step <name> <pad> ok|MemoryError|..." and "DONE".
import gc
import sys

import uwebsocket
from harness import (KEY, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, REQUEST, RESPONSE, ConnectionClosed, Hostile, frame,
                     parse, close_payload)

TEXT = "h\u00e9llo w\u00f6rld " * 8
BLOB = bytes(range(200)) * 3


def incoming():
    return (frame(OP_TEXT, TEXT, key=KEY) + frame(OP_PING, b"ping", key=KEY) +
            frame(OP_BINARY, BLOB[:300], fin=False, key=KEY) + frame(0, BLOB[300:], key=KEY) +
            frame(OP_BINARY, BLOB[:100], key=KEY) + frame(OP_CLOSE, close_payload(1000, b"bye"), key=KEY))


def step_server():
    stream = Hostile(REQUEST + incoming(), chunk=97)
    ws = uwebsocket.accept(stream, subprotocols=["chat"], headers={"X-A": "b"})
    assert ws.path == "/chat?x=1" and ws.subprotocol == "chat"
    assert ws.recv() == TEXT
    assert ws.recv() == BLOB
    buf = bytearray(64)
    n = ws.recv_into(buf)
    assert n == 64 and ws.more
    assert ws.recv_into(buf) == 36 and not ws.more
    ws.send(BLOB)
    ws.send("t" * 300)
    ws.ping(b"x")
    try:
        ws.recv()
        raise AssertionError("no close")
    except ConnectionClosed as e:
        pass
    ws.close()
    return ws


def step_read_request():
    stream = Hostile(REQUEST)
    req = uwebsocket.read_request(stream)
    assert req.upgrade
    ws = uwebsocket.accept(stream, request=req)
    ws.send(b"x")
    return ws


def step_request_object():
    req = uwebsocket.Request(REQUEST)
    assert req.headers["host"] == "h"
    return req


def step_respond():
    stream = Hostile()
    uwebsocket.respond(stream, 200, BLOB, headers=[("X-A", "1")])
    return stream


def step_client():
    # The accept key will not match (the key is random): a HandshakeError
    # is the correct end; the request and its parsing run all the same.
    stream = Hostile(RESPONSE + frame(OP_BINARY, b"srv"))
    try:
        ws = uwebsocket.client(stream, "ws://h:81/p?q", subprotocols=["a", "b"], headers={"X": "y"}, origin="http://o")
    except uwebsocket.HandshakeError:
        return None
    ws.recv()
    return ws


def step_client_sends():
    ws = uwebsocket.WebSocket(Hostile(frame(OP_TEXT, "abc") + frame(OP_PING, b"z")), False)
    ws.send(BLOB)
    ws.send("x" * 1000)
    ws.ping(b"p")
    assert ws.recv() == "abc"
    return ws


def step_nonblocking():
    stream = Hostile(forever_writes="none")
    ws = uwebsocket.WebSocket(stream, True)
    ws.setblocking(False)
    ws.send(BLOB)
    ws.send(b"y" * 1500)
    assert ws.flush() > 0
    stream.forever_writes = None
    assert ws.flush() == 0
    frames = parse(stream.out)
    assert len(frames) == 2, frames
    return ws


def step_big_message():
    ws = uwebsocket.WebSocket(Hostile(frame(OP_BINARY, b"m" * 8000, key=KEY), chunk=1000), True)
    assert len(ws.recv()) == 8000
    return ws


def step_errors():
    ws = uwebsocket.WebSocket(Hostile(frame(OP_TEXT, b"\xff", key=KEY)), True)
    try:
        ws.recv()
    except ConnectionClosed as e:
        assert e.code == 1007, e.code
    return ws


STEPS = [("server", step_server), ("read_request", step_read_request), ("request", step_request_object),
         ("respond", step_respond), ("client", step_client), ("client_sends", step_client_sends),
         ("nonblocking", step_nonblocking), ("big_message", step_big_message), ("errors", step_errors)]

PADS = (0, 64, 128, 256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144)

for name, step in STEPS:
    for pad in PADS:
        gc.collect()
        try:
            hold = bytearray(pad)
        except MemoryError:
            continue
        try:
            step()
            result = "ok"
        except MemoryError:
            result = "MemoryError"
        except ConnectionClosed as e:
            # A MemoryError met while receiving fails the connection.
            result = "ConnectionClosed %d" % e.code
        hold = None
        print("step", name, pad, result)
print("DONE")
