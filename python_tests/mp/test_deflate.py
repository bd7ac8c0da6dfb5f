# permessage-deflate (RFC 7692) on frames built byte by byte: the
# examples of section 7.2.3, a decompression bomb past max_size (1009),
# RSV1 where it does not belong (1002), corrupt data (1007), recv_into in
# pieces, fragments with a ping between, and what send() writes. The
# compressed payloads are written here with a fixed-Huffman bit writer,
# so no deflate module is needed on the board.
import uwebsocket
from wsframe import (run, KEY, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, Duplex, check,
                     expect_closed, frame)

RSV1 = 4
HELLO = b"\xf2\x48\xcd\xc9\xc9\x07\x00"  # "Hello", section 7.2.3.1


class Bits:
    """A DEFLATE bit stream (RFC 1951 section 3.1.1): values LSB first,
    Huffman codes MSB first."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, count):
        self.acc |= value << self.n
        self.n += count
        while self.n >= 8:
            self.out.append(self.acc & 255)
            self.acc >>= 8
            self.n -= 8

    def code(self, code, length):
        rev = 0
        for i in range(length):
            rev = (rev << 1) | ((code >> i) & 1)
        self.put(rev, length)

    def literal(self, byte):
        if byte < 144:
            self.code(0x30 + byte, 8)
        else:
            self.code(0x190 + byte - 144, 9)

    def flushed(self):
        """End the block and sync-flush as a permessage-deflate sender
        does, without the final 00 00 ff ff (section 7.2.1)."""
        self.code(0, 7)  # end of block
        self.put(0, 3)   # the empty stored block's header
        if self.n:
            self.put(0, 8 - self.n)
        return bytes(self.out)


def compressed(data, runs=0):
    """One fixed-Huffman block: data as literals, then `runs` copies of 258
    bytes at distance 1 (each 12 bits: the bomb's brick)."""
    b = Bits()
    b.put(0, 1)  # not the final block
    b.put(1, 2)  # fixed Huffman codes
    for byte in data:
        b.literal(byte)
    for _ in range(runs):
        b.code(0xC5, 8)  # length code 285: 258 bytes
        b.code(0, 5)     # distance code 0: 1 byte back
    return b.flushed()


def ws_for(frames, server_side=True, max_size=65536, **options):
    stream = Duplex(*frames)
    ws = uwebsocket.WebSocket(stream, server_side, max_size=max_size, compression="deflate", **options)
    return stream, ws


def fails(frames, code, compression="deflate", max_size=65536, call=None):
    stream = Duplex(*frames)
    ws = uwebsocket.WebSocket(stream, True, max_size=max_size, compression=compression)
    expect_closed(call(ws) if call else ws.recv, code)
    written = stream.frames()
    check([(opcode, payload[:2]) for fin, rsv, opcode, payload, masked in written],
          [(OP_CLOSE, code.to_bytes(2, "big"))], "Close written")
    check(stream.closed, True, "stream closed")


def test_rfc_examples():
    for server_side in (True, False):
        key = KEY if server_side else None
        stream, ws = ws_for([
            frame(OP_TEXT, HELLO, key=key, rsv=RSV1),
            # 7.2.3.2: the second "Hello" refers to the first one's window.
            frame(OP_TEXT, b"\xf2\x00\x11\x00\x00", key=key, rsv=RSV1),
            # 7.2.3.3: one compressed message in two fragments.
            frame(OP_TEXT, HELLO[:3], fin=False, key=key, rsv=RSV1),
            frame(OP_CONT, HELLO[3:], key=key),
            # 7.2.3.4: a stored block; 7.2.3.5: BFINAL set.
            frame(OP_TEXT, b"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", key=key, rsv=RSV1),
            frame(OP_BINARY, b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00", key=key, rsv=RSV1),
            # Uncompressed messages still pass as they are.
            frame(OP_TEXT, "plain", key=key),
        ], server_side)
        check([ws.recv() for _ in range(6)], ["Hello", "Hello", "Hello", "Hello", b"Hello", "plain"], "messages")
        check(ws.compression, "permessage-deflate; server_max_window_bits=11; client_max_window_bits=11",
              "ws.compression")
    check(uwebsocket.WebSocket(Duplex(), True).compression, None, "off by default on a wrapped stream")


def test_bomb_past_max_size():
    bomb = compressed(b"\0", runs=1000)  # 1,630 bytes that inflate to 258,001
    check(len(bomb) < 1700, True, "bomb is small")
    for how in ("recv", "recv_into"):
        buf = bytearray(64)
        call = (lambda ws: ws.recv) if how == "recv" else (lambda ws: lambda: [ws.recv_into(buf) for _ in range(100)])
        fails([frame(OP_BINARY, bomb, key=KEY, rsv=RSV1)], 1009, max_size=1000, call=call)
    # Within the limit it inflates whole.
    stream, ws = ws_for([frame(OP_BINARY, compressed(b"\0", runs=7), key=KEY, rsv=RSV1)], max_size=1807)
    check(ws.recv(), bytes(1807), "inflated to the limit")


def test_rsv1_refused():
    # On a control frame, on a continuation, and without the extension.
    fails([frame(OP_PING, b"p", key=KEY, rsv=RSV1)], 1002)
    fails([frame(OP_TEXT, HELLO[:3], fin=False, key=KEY, rsv=RSV1), frame(OP_CONT, HELLO[3:], key=KEY, rsv=RSV1)],
          1002)
    fails([frame(OP_TEXT, HELLO, key=KEY, rsv=RSV1)], 1002, compression=None)
    # RSV2 and RSV3 mean nothing under permessage-deflate either.
    fails([frame(OP_TEXT, HELLO, key=KEY, rsv=2)], 1002)


def test_corrupt_data():
    # Block type 11 is reserved (RFC 1951 section 3.2.3).
    fails([frame(OP_BINARY, b"\x07\x00", key=KEY, rsv=RSV1)], 1007)
    # A stored block whose length and its complement disagree.
    fails([frame(OP_BINARY, b"\x00\x05\x00\x00\x00Hello", key=KEY, rsv=RSV1)], 1007)
    # Cut short: a stored block announces 5 bytes, 2 come.
    fails([frame(OP_BINARY, b"\x00\x05\x00\xfa\xffHe", key=KEY, rsv=RSV1)], 1007)
    # Text that inflates to invalid UTF-8.
    fails([frame(OP_TEXT, compressed(b"ok \xff"), key=KEY, rsv=RSV1)], 1007)


def test_recv_into_pieces():
    payload = bytes(range(256)) + bytes(44)
    stream, ws = ws_for([frame(OP_BINARY, compressed(payload), key=KEY, rsv=RSV1),
                         frame(OP_TEXT, HELLO, key=KEY, rsv=RSV1)])
    buf = bytearray(128)
    got = []
    while True:
        n = ws.recv_into(buf)
        got.append((bytes(buf[:n]), ws.more))
        if not ws.more:
            break
    check(got, [(payload[:128], True), (payload[128:256], True), (payload[256:], False)], "pieces")
    check((ws.recv_into(buf), bytes(buf[:5]), ws.more, ws.text), (5, b"Hello", False, True), "next message")


def test_stream_read():
    stream, ws = ws_for([frame(OP_BINARY, compressed(b"abcdef"), key=KEY, rsv=RSV1),
                         frame(OP_BINARY, HELLO, key=KEY, rsv=RSV1)])
    check(ws.read(4), b"abcd", "read()")
    buf = bytearray(7)
    check((ws.readinto(buf), bytes(buf)), (7, b"efHello"), "readinto() across messages")


def test_fragments_with_ping():
    data = compressed(b"fragmented " * 20)
    third = len(data) // 3
    stream, ws = ws_for([frame(OP_TEXT, data[:third], fin=False, key=KEY, rsv=RSV1),
                         frame(OP_PING, b"p", key=KEY),
                         frame(OP_CONT, data[third:2 * third], fin=False, key=KEY),
                         frame(OP_PING, b"q", key=KEY),
                         frame(OP_CONT, data[2 * third:], key=KEY)])
    check(ws.recv(), "fragmented " * 20, "message")
    check([(opcode, payload, rsv) for fin, rsv, opcode, payload, masked in stream.frames()],
          [(OP_PONG, b"p", 0), (OP_PONG, b"q", 0)], "pongs uncompressed")


def noise(n):
    """n bytes that do not compress (a linear congruential generator)."""
    out = bytearray(n)
    x = 12345
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = x >> 16 & 255
    return bytes(out)


def roundtrip(written, **options):
    """Frames one WebSocket wrote, read by a peer that agreed on the same."""
    frames = []
    for fin, rsv, opcode, payload, masked in written:
        frames.append(frame(opcode, payload, fin=fin, key=KEY if masked else None, rsv=rsv))
    peer_server = written[0][4]
    peer = uwebsocket.WebSocket(Duplex(*frames), peer_server, compression="deflate", **options)
    return peer


def test_send():
    for server_side in (True, False):
        stream, ws = ws_for([], server_side)
        ws.send("Hello, compressed world. " * 40)
        ws.send(b"tiny")                     # under compress_min_size: as it is
        ws.send(b"piece one, ", fin=False)   # one compressed message in fragments
        ws.send(b"piece two, " * 100, fin=False)
        ws.send(b"piece three")
        ws.ping(b"x" * 40)
        ws.send(noise(1500))                 # incompressible: several frames
        written = stream.frames()
        check([(rsv, opcode) for fin, rsv, opcode, payload, masked in written[:6]],
              [(RSV1, OP_TEXT), (0, OP_BINARY), (RSV1, OP_BINARY), (0, OP_CONT), (0, OP_CONT), (0, OP_PING)],
              "RSV1 on the first frame of compressed messages only")
        check(all(masked != server_side for fin, rsv, opcode, payload, masked in written), True, "masking")
        check(len(written[0][3]) < 100, True, "compressed")
        check(len(written) > 7 and written[6][:3] == (False, RSV1, OP_BINARY), True, "large message fragmented")
        peer = roundtrip(written)
        check(peer.recv(), "Hello, compressed world. " * 40, "text")
        check(peer.recv(), b"tiny", "small")
        check(peer.recv(), b"piece one, " + b"piece two, " * 100 + b"piece three", "fragments")
        check(peer.recv(), noise(1500), "large")


def test_context_takeover():
    message = b"telemetry {'t': 21.5, 'h': 40}"
    for keep in (True, False):
        stream, ws = ws_for([], True, server_no_context_takeover=not keep, compress_min_size=0)
        ws.send(message)
        ws.send(message)
        first, second = [payload for fin, rsv, opcode, payload, masked in stream.frames()]
        check(first == second, not keep, "second message refers to the first: %r" % keep)
        peer = roundtrip([(True, RSV1, OP_BINARY, first, True), (True, RSV1, OP_BINARY, second, True)],
                         server_no_context_takeover=not keep)
        check([peer.recv(), peer.recv()], [message, message], "peer reads both")
        check("server_no_context_takeover" in ws.compression, not keep, "ws.compression")


def test_bad_arguments():
    for options, error in (({"compression": "gzip"}, ValueError), ({"compression": 1}, ValueError),
                           ({"server_max_window_bits": 7}, ValueError),
                           ({"client_max_window_bits": 16}, ValueError),
                           ({"client_max_window_bits": "9"}, TypeError),
                           ({"compress_min_size": -1}, ValueError)):
        options.setdefault("compression", "deflate")
        stream = Duplex()
        try:
            uwebsocket.WebSocket(stream, True, **options)
        except error:
            pass
        else:
            raise AssertionError("%r accepted" % options)
        check(len(stream.sent), 0, "nothing written")


def test_other_type_while_fragmented():
    stream, ws = ws_for([], True)
    ws.send(b"abc", fin=False)
    try:
        ws.send("text")
    except ValueError:
        pass
    else:
        raise AssertionError("text accepted inside a binary message")
    ws.send(b"def")
    peer = roundtrip(stream.frames())
    check(peer.recv(), b"abcdef", "message intact")


run(globals())
