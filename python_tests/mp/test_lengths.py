# Every payload length class of RFC 6455 section 5.2 (7-bit, 16-bit and
# 64-bit lengths, at their edges), both roles: a server decodes masked
# frames and sends unmasked ones, a client the other way round.
import gc
import io

import uwebsocket
from wsframe import run, KEY, OP_BINARY, OP_TEXT, Duplex, Repeat, check, frame, header

BLOCK = bytes(range(256))
LENGTHS = (0, 1, 125, 126, 127, 65535, 65536)


def expected(length):
    data = bytearray(length)
    Repeat(BLOCK, length).read_at(0, data)
    return data


def matches(data):
    """data is BLOCK repeated, checked a slice at a time (little garbage)."""
    for pos in range(0, len(data), 256):
        if data[pos:pos + 256] != BLOCK[:len(data) - pos]:
            return False
    return True


def incoming(length, server_side, opcode=OP_BINARY):
    """One frame as its peer sends it: masked towards a server."""
    key = KEY if server_side else None
    return header(opcode, length, key=key), Repeat(BLOCK, length, key)


def receive(length, server_side):
    ws = uwebsocket.WebSocket(Duplex(*incoming(length, server_side)), server_side)
    msg = ws.recv()
    check(type(msg), bytes, "binary message type")
    check(len(msg), length, "length")
    if not matches(msg):
        raise AssertionError("payload of %d bytes differs" % length)


def receive_text(length, server_side):
    text = ("ab" * (length // 2 + 1))[:length]
    key = KEY if server_side else None
    ws = uwebsocket.WebSocket(Duplex(frame(OP_TEXT, text, key=key)), server_side)
    check(ws.recv(), text, "text of %d bytes" % length)


class FrameCheck(io.IOBase):
    """A transport that checks one sent frame as it is written and keeps
    only its header: the frame is header + BLOCK repeated (masked with the
    client's key from the header). A copy of a 64 KiB frame would not fit
    next to its payload in a small heap."""

    def __init__(self, head_len):
        self.head = bytearray()
        self.head_len = head_len
        self.pattern = None
        self.payload_len = 0
        self.differs = False
        self.expected = bytearray(256)

    def write(self, buf):
        data = memoryview(buf)
        pos = min(len(data), self.head_len - len(self.head))
        self.head.extend(data[:pos])
        if self.pattern is None and len(self.head) == self.head_len:
            key = bytes(self.head[-4:]) if self.head[1] & 0x80 else None
            self.pattern = Repeat(BLOCK, 1 << 62, key)
        while pos < len(data):
            n = min(256, len(data) - pos)
            self.pattern.read_at(self.payload_len, memoryview(self.expected)[:n])
            self.differs |= bytes(data[pos:pos + n]) != self.expected[:n]
            self.payload_len += n
            pos += n
        return len(data)

    def ioctl(self, request, arg):
        return 0


def send(length, server_side):
    head_len = len(header(OP_BINARY, length, key=None if server_side else KEY))
    stream = FrameCheck(head_len)
    ws = uwebsocket.WebSocket(stream, server_side)
    ws.send(expected(length))
    key = None if server_side else bytes(stream.head[-4:])
    check(bytes(stream.head), header(OP_BINARY, length, key=key), "header of %d bytes" % length)
    check(stream.payload_len, length, "payload length")
    check(stream.differs, False, "payload of %d bytes differs" % length)


def test_receive_and_send_every_length():
    for server_side in (True, False):
        for length in LENGTHS:
            receive(length, server_side)
            gc.collect()
            send(length, server_side)
            gc.collect()


def test_receive_text():
    for server_side in (True, False):
        for length in (0, 125, 126, 300):
            receive_text(length, server_side)


run(globals())
