# Fragmented messages (RFC 6455 section 5.4): reassembly in both roles,
# a Ping between fragments answered at once with a Pong carrying its
# payload (section 5.5.2), UTF-8 split across fragments, fragments read
# one byte at a time, and fragmented sending.
import uwebsocket
from wsframe import (run, KEY, OP_BINARY, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Duplex, check, frame)


def peer_key(server_side):
    return KEY if server_side else None


def fragmented_text_with_ping(server_side, chunk):
    key = peer_key(server_side)
    euro = b"\xe2\x82\xac"  # €, 3 bytes split across the fragments
    stream = Duplex(
        frame(OP_TEXT, b"price: " + euro[:1], fin=False, key=key),
        frame(OP_PING, b"are you there?", key=key),
        frame(OP_CONT, euro[1:2], fin=False, key=key),
        frame(OP_CONT, euro[2:] + b"42", key=key),
        chunk=chunk,
    )
    ws = uwebsocket.WebSocket(stream, server_side)
    check(ws.recv(), "price: " + euro.decode() + "42", "reassembled text")
    ((fin, rsv, opcode, payload, masked),) = stream.frames()
    check((fin, rsv, opcode, payload), (True, 0, OP_PONG, b"are you there?"), "pong")
    check(masked, not server_side, "pong masked")


def test_exact_pong_bytes():
    stream = Duplex(frame(OP_BINARY, b"a", fin=False, key=KEY),
                    frame(OP_PING, b"hi", key=KEY),
                    frame(OP_CONT, b"b", key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    check(ws.recv(), b"ab", "binary reassembled")
    # A server's frames go out unmasked: the exact bytes are known.
    check(bytes(stream.sent), b"\x8a\x02hi", "pong bytes")


def fragmented_binary(server_side):
    key = peer_key(server_side)
    parts = [bytes([i]) * (i * 40) for i in range(1, 5)]
    frames = [frame(OP_BINARY if i == 0 else OP_CONT, p, fin=i == len(parts) - 1, key=key)
              for i, p in enumerate(parts)]
    frames.append(frame(OP_BINARY, b"next", key=key))
    stream = Duplex(*frames)
    ws = uwebsocket.WebSocket(stream, server_side)
    check(ws.recv(), b"".join(parts), "reassembled binary")
    check(ws.recv(), b"next", "message after a fragmented one")
    check(stream.frames(), [], "nothing written")


def empty_fragments(server_side):
    key = peer_key(server_side)
    stream = Duplex(frame(OP_TEXT, b"", fin=False, key=key), frame(OP_CONT, b"", fin=False, key=key),
                    frame(OP_CONT, b"", key=key))
    check(uwebsocket.WebSocket(stream, server_side).recv(), "", "empty fragmented text")


def send_fragments(server_side):
    stream = Duplex()
    ws = uwebsocket.WebSocket(stream, server_side)
    ws.send("hel", fin=False)
    ws.send("lo", fin=False)
    ws.send("!")
    ws.send(b"\x00\x01", fin=False)
    ws.send(b"\x02")
    got = [(fin, opcode, payload, masked) for fin, rsv, opcode, payload, masked in stream.frames()]
    masked = not server_side
    check(got, [(False, OP_TEXT, b"hel", masked), (False, OP_CONT, b"lo", masked), (True, OP_CONT, b"!", masked),
                (False, OP_BINARY, b"\x00\x01", masked), (True, OP_CONT, b"\x02", masked)], "fragments sent")


def test_send_other_type_mid_message():
    ws = uwebsocket.WebSocket(Duplex(), True)
    ws.send("a", fin=False)
    try:
        ws.send(b"b")
    except ValueError:
        return
    raise AssertionError("binary send inside a text message accepted")


def test_fragmented_text_with_ping():
    for server_side in (True, False):
        for chunk in (0, 1):
            fragmented_text_with_ping(server_side, chunk)


def test_fragmented_binary():
    for server_side in (True, False):
        fragmented_binary(server_side)


def test_empty_fragments():
    for server_side in (True, False):
        empty_fragments(server_side)


def test_send_fragments():
    for server_side in (True, False):
        send_fragments(server_side)


run(globals())
