# recv_into(buf): a message copied into the caller's buffer, in pieces
# when it is longer (.more True until its last piece), .text telling its
# type; control frames between fragments handled on the way.
import uwebsocket
from wsframe import run, KEY, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Duplex, check, frame


def pieces(ws, buf):
    """Read one message with recv_into: [(bytes, more), ...]."""
    got = []
    while True:
        n = ws.recv_into(buf)
        got.append((bytes(buf[:n]), ws.more))
        if not ws.more:
            return got


def longer_than_buffer(server_side, chunk):
    key = KEY if server_side else None
    payload = bytes(range(256)) + bytes(44)
    stream = Duplex(frame(OP_BINARY, payload, key=key), frame(OP_TEXT, "after", key=key), chunk=chunk)
    ws = uwebsocket.WebSocket(stream, server_side)
    buf = bytearray(128)
    check(pieces(ws, buf), [(payload[:128], True), (payload[128:256], True), (payload[256:], False)], "pieces")
    check(ws.text, False, "binary message")
    check(pieces(ws, buf), [(b"after", False)], "next message")
    check(ws.text, True, "text message")


def test_exact_fit_and_empty():
    stream = Duplex(frame(OP_BINARY, b"12345678", key=KEY), frame(OP_BINARY, b"", key=KEY),
                    frame(OP_BINARY, b"z", key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    buf = bytearray(8)
    check(ws.recv_into(buf), 8, "exact fit")
    check(ws.more, False, "nothing more in an exactly fitting message")
    check(ws.recv_into(buf), 0, "empty message")
    check(ws.more, False, "empty message has no more")
    check((ws.recv_into(memoryview(buf)[4:]), bytes(buf[4:5])), (1, b"z"), "into a memoryview")


def test_fragments_with_ping():
    stream = Duplex(frame(OP_TEXT, b"h\xc3\xa9", fin=False, key=KEY), frame(OP_PING, b"p", key=KEY),
                    frame(OP_CONT, "llo", key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    buf = bytearray(4)
    got = pieces(ws, buf)
    check(b"".join(piece for piece, more in got), b"h\xc3\xa9llo", "text across fragments")
    check(got[-1][1], False, "last piece")
    check(bytes(stream.sent), b"\x8a\x01p", "pong written between fragments")


def test_mixing_with_recv():
    stream = Duplex(frame(OP_BINARY, b"abcdef", key=KEY), frame(OP_BINARY, b"whole", key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    buf = bytearray(4)
    check(ws.recv_into(buf), 4, "first piece")
    check(ws.more, True, "more to come")
    check(ws.recv_into(buf), 2, "rest")
    check(ws.recv(), b"whole", "recv() after recv_into()")


def test_longer_than_buffer():
    for server_side in (True, False):
        for chunk in (0, 1, 5):
            longer_than_buffer(server_side, chunk)


run(globals())
