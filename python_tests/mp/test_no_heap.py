# Sending and recv_into() use no heap at all, in either role and at any
# size: each call below runs with the heap locked, where any allocation
# (even one freed before the call returns) raises MemoryError. The frames
# written are then read back and checked.
import gc
import io
import micropython

import uwebsocket
from wsframe import run, KEY, OP_BINARY, OP_CONT, OP_PING, OP_TEXT, check, frame, parse

SIZES = [0, 1, 125, 126, 242, 243, 300, 1024, 4100]


def sizes():
    # A 64-bit length where the board has the memory for one.
    gc.collect()
    return SIZES + [70000] if gc.mem_free() > 400000 else SIZES


def locked(call, what):
    """call() with the heap locked; the MemoryError of an allocation is
    turned into a failure naming it."""
    micropython.heap_lock()
    try:
        call()
        ok = True
    except MemoryError:
        ok = False
    micropython.heap_unlock()
    if not ok:
        raise AssertionError(what + " allocated from the heap")


def stream_of(n):
    # Grown beforehand: the stream itself must not allocate either.
    stream = io.BytesIO()
    stream.write(bytes(n))
    stream.seek(0)
    return stream


def sends(server_side):
    for size in sizes():
        payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
        stream = stream_of(3 * size + 64)
        ws = uwebsocket.WebSocket(stream, server_side)
        half = memoryview(payload)[: size // 2]
        locked(lambda: ws.send(payload), "send(%d bytes)" % size)
        locked(lambda: ws.send(half), "send(memoryview)")
        written = stream.tell()
        frames = parse(stream.getvalue()[:written])
        masked = not server_side
        check(frames, [(True, 0, OP_BINARY, payload, masked), (True, 0, OP_BINARY, payload[: size // 2], masked)],
              "%d bytes, server_side=%r" % (size, server_side))


def test_send_server_role():
    sends(True)


def test_send_client_role():
    sends(False)


def test_masking_keys_differ():
    # Drawn without the heap, still fresh for every frame (§5.3).
    stream = stream_of(7 * 40)
    ws = uwebsocket.WebSocket(stream, False)
    one = b"k"
    for _ in range(40):
        locked(lambda: ws.send(one), "send(1 byte)")
    data = stream.getvalue()
    keys = set(bytes(data[i * 7 + 2:i * 7 + 6]) for i in range(40))
    check(len(keys), 40, "distinct masking keys in 40 frames")


def test_text_fragments_and_ping():
    for server_side in (True, False):
        stream = stream_of(600)
        ws = uwebsocket.WebSocket(stream, server_side)
        text = "x" * 200
        rest = "y" * 300
        locked(lambda: ws.send(text, False), "send(text, False)")
        locked(lambda: ws.send(rest), "send(text)")
        locked(lambda: ws.ping(b"p"), "ping()")
        frames = parse(stream.getvalue()[: stream.tell()])
        masked = not server_side
        check(frames, [(False, 0, OP_TEXT, b"x" * 200, masked), (True, 0, OP_CONT, b"y" * 300, masked),
                       (True, 0, OP_PING, b"p", masked)], "server_side=%r" % server_side)


def test_recv_into():
    for size in sizes():
        payload = bytes((i * 5 + 1) & 0xFF for i in range(size))
        ws = uwebsocket.WebSocket(io.BytesIO(frame(OP_BINARY, payload, key=KEY) * 2), True, max_size=size + 1)
        buf = bytearray(size)
        for i in range(2):
            buf[:] = bytes(size)
            locked(lambda: ws.recv_into(buf), "recv_into(%d bytes)" % size)
            check(bytes(buf), payload, "%d bytes, message %d" % (size, i))


run(globals())
