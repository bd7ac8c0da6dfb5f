# Failing the connection (RFC 6455 section 7.1.7): invalid UTF-8 (1007),
# messages over max_size (1009) and protocol violations (1002). Each is
# raised as ConnectionClosed with its code, after a Close with that code
# has been written and the stream closed.
import uwebsocket
from wsframe import (run, KEY, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Duplex, Repeat, check,
                     close_payload, expect_closed, frame, header)


def fails(frames, code, server_side=True, max_size=65536, chunk=0):
    stream = Duplex(*frames, chunk=chunk)
    ws = uwebsocket.WebSocket(stream, server_side, max_size=max_size)
    expect_closed(ws.recv, code)
    written = stream.frames()
    check([(opcode, payload[:2]) for fin, rsv, opcode, payload, masked in written],
          [(OP_CLOSE, code.to_bytes(2, "big"))], "Close written")
    check(stream.closed, True, "stream closed")
    check(ws.close_code, code, "ws.close_code")


def test_utf8():
    bad = (
        b"\xff",                      # never valid
        b"\xc3\x28",                  # broken 2-byte sequence
        b"\xc0\xaf",                  # overlong
        b"\xed\xa0\x80",              # UTF-16 surrogate
        b"\xf4\x90\x80\x80",          # beyond U+10FFFF
        b"ok \xe2\x82",               # truncated at the end of the message
    )
    for server_side in (True, False):
        key = KEY if server_side else None
        for payload in bad:
            fails([frame(OP_TEXT, payload, key=key)], 1007, server_side)
        # Fragments: valid on their own, invalid together or cut short.
        fails([frame(OP_TEXT, b"\xe2\x82", fin=False, key=key), frame(OP_CONT, b"(", key=key)], 1007, server_side)
        fails([frame(OP_TEXT, b"abc\xe2", fin=False, key=key), frame(OP_CONT, b"\x82", key=key)], 1007, server_side)
    # Caught in the first fragment, before the message ends.
    fails([frame(OP_TEXT, b"\xff", fin=False, key=KEY)], 1007)
    # Invalid UTF-8 in a Close reason.
    fails([frame(OP_CLOSE, close_payload(1000, b"\xc3"), key=KEY)], 1007)
    # Binary messages carry any bytes.
    stream = Duplex(frame(OP_BINARY, b"\xff\xc0", key=KEY))
    check(uwebsocket.WebSocket(stream, True).recv(), b"\xff\xc0", "binary is not UTF-8 checked")


def test_limits():
    fails([frame(OP_BINARY, b"x" * 1001, key=KEY)], 1009, max_size=1000)
    fails([frame(OP_TEXT, b"x" * 1001, key=KEY)], 1009, max_size=1000)
    # The sum of the fragments counts.
    fails([frame(OP_BINARY, b"x" * 600, fin=False, key=KEY), frame(OP_CONT, b"x" * 401, key=KEY)], 1009,
          max_size=1000)
    # A 64-bit length far beyond memory fails at the header, reading nothing more.
    fails([header(OP_BINARY, 1 << 40, key=KEY), Repeat(b"\0" * 4, 16)], 1009)
    # Exactly max_size passes.
    stream = Duplex(frame(OP_BINARY, b"x" * 1000, key=KEY))
    check(len(uwebsocket.WebSocket(stream, True, max_size=1000).recv()), 1000, "max_size message")


def test_protocol():
    for opcode in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF):
        fails([frame(opcode, b"", key=KEY)], 1002)
    for rsv in (1, 2, 4):
        fails([frame(OP_TEXT, b"x", key=KEY, rsv=rsv)], 1002)
    fails([frame(OP_TEXT, b"x")], 1002)                              # unmasked, to a server
    fails([frame(OP_TEXT, b"x", key=KEY)], 1002, server_side=False)  # masked, to a client
    fails([frame(OP_CONT, b"x", key=KEY)], 1002)                     # continuation of nothing
    fails([frame(OP_TEXT, b"x", fin=False, key=KEY), frame(OP_BINARY, b"y", key=KEY)], 1002)
    fails([frame(OP_PING, b"x" * 126, key=KEY)], 1002)               # control over 125 bytes
    fails([frame(OP_PING, b"x", fin=False, key=KEY)], 1002)          # fragmented control
    # The same, with every byte arriving alone.
    fails([frame(5, b"abc", key=KEY)], 1002, chunk=1)


run(globals())
