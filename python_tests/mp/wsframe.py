"""Frames built byte by byte, and an in-memory duplex stream, for the
in-memory tests of uwebsocket. Pure Python that runs on any MicroPython:
the unix port finds this file next to the tests; the emulated boards
(boards/uws_qemu) have it frozen in, since they have no filesystem."""
import io

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10

# The client's masking key in every frame the tests build: any key will do,
# and a fixed one keeps failures reproducible.
KEY = b"\x37\xfa\x21\x3d"


def header(opcode, length, fin=True, key=None, rsv=0):
    """A frame header (RFC 6455 section 5.2): 7-bit, 16-bit or 64-bit
    length, masked when key is given."""
    mask_bit = 0x80 if key else 0
    head = bytearray([(0x80 if fin else 0) | rsv << 4 | opcode])
    if length < 126:
        head.append(mask_bit | length)
    elif length < 65536:
        head.append(mask_bit | 126)
        head.extend(length.to_bytes(2, "big"))
    else:
        head.append(mask_bit | 127)
        head.extend(length.to_bytes(8, "big"))
    if key:
        head.extend(key)
    return bytes(head)


def mask(data, key, offset=0):
    """data XOR the key, the key's phase starting at offset."""
    out = bytearray(data)
    for i in range(len(out)):
        out[i] ^= key[(offset + i) & 3]
    return bytes(out)


def frame(opcode, payload=b"", fin=True, key=None, rsv=0):
    """A whole frame: key=KEY for client-to-server frames."""
    if isinstance(payload, str):
        payload = payload.encode()
    body = mask(payload, key) if key else payload
    return header(opcode, len(payload), fin, key, rsv) + body


def close_payload(code, reason=b""):
    return code.to_bytes(2, "big") + reason


def parse(data):
    """Split bytes written by a WebSocket into frames: a list of
    (fin, rsv, opcode, payload unmasked, masked?)."""
    frames = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        length = b1 & 0x7F
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos:pos + 8], "big")
            pos += 8
        key = None
        if b1 & 0x80:
            key = data[pos:pos + 4]
            pos += 4
        payload = bytes(data[pos:pos + length])
        if len(payload) != length:
            raise ValueError("truncated frame")
        pos += length
        if key:
            payload = mask(payload, key)
        frames.append((bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload, key is not None))
    return frames


class Repeat:
    """length bytes of block repeated, XOR a masking key when given: a large
    payload read lazily, so the emulated boards' heap holds only the
    message itself. len(block) must be a multiple of 4."""

    def __init__(self, block, length, key=None):
        self.block = mask(block, key) if key else block
        self.length = length

    def __len__(self):
        return self.length

    def read_at(self, pos, buf):
        n = min(len(buf), self.length - pos)
        done = 0
        while done < n:
            phase = (pos + done) % len(self.block)
            k = min(n - done, len(self.block) - phase)
            buf[done:done + k] = self.block[phase:phase + k]
            done += k
        return n


class Duplex(io.IOBase):
    """The WebSocket's transport in a test: reads give the parts passed in
    (bytes, or Repeat), one after another, at most `chunk` bytes a read
    (like a socket), then end of stream (or, after setblocking(False),
    "nothing now": the peer went quiet). Writes are kept (.sent), in a
    buffer of `capacity` bytes made up front: growing one while a large
    message is in memory too would not fit a small heap."""

    def __init__(self, *parts, chunk=0, capacity=0):
        self.parts = list(parts)
        self.pos = 0
        self.chunk = chunk
        self.out = bytearray(capacity)
        self.out_len = 0
        self.closed = False
        self.blocking = True

    def setblocking(self, flag):
        self.blocking = flag

    def readinto(self, buf):
        while self.parts and self.pos == len(self.parts[0]):
            self.parts.pop(0)
            self.pos = 0
        if not self.parts:
            return 0 if self.blocking else None
        part = self.parts[0]
        want = min(len(buf), self.chunk) if self.chunk else len(buf)
        if isinstance(part, Repeat):
            n = part.read_at(self.pos, memoryview(buf)[:want])
        else:
            n = min(want, len(part) - self.pos)
            buf[:n] = part[self.pos:self.pos + n]
        self.pos += n
        return n

    def write(self, buf):
        n = len(buf)
        fits = min(n, len(self.out) - self.out_len)
        self.out[self.out_len:self.out_len + fits] = memoryview(buf)[:fits]
        if fits < n:
            self.out.extend(memoryview(buf)[fits:])
        self.out_len += n
        return n

    def ioctl(self, request, arg):
        if request == 4:  # MP_STREAM_CLOSE
            self.closed = True
            return 0
        if request == 3:  # MP_STREAM_POLL: always readable and writable (reads never wait)
            return arg & 5
        return -22  # EINVAL: no other request

    @property
    def sent(self):
        return memoryview(self.out)[:self.out_len]

    def frames(self):
        """The frames written since the last call, parsed."""
        frames = parse(self.sent)
        self.out_len = 0
        return frames


def expect_closed(call, code):
    """call() must raise ConnectionClosed with this code; returns it."""
    import uwebsocket

    try:
        call()
    except uwebsocket.ConnectionClosed as e:
        if e.code != code:
            raise AssertionError("closed with %r, expected %d" % (e.code, code))
        return e
    raise AssertionError("no ConnectionClosed(%d)" % code)


def check(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))


def run(namespace):
    """Run a script's test_* functions: those named on the command line
    (the unix port), else all of them (the emulated boards), each one
    whatever the others did. Prints `PASS name` or `FAIL name` and the
    traceback for each, then `OK` when all passed; exits 1 otherwise."""
    import sys

    names = sorted(n for n in namespace if n.startswith("test_"))
    wanted = sys.argv[1:] if len(getattr(sys, "argv", ())) > 1 else names
    failed = 0
    for name in wanted:
        try:
            namespace[name]()
        except Exception as e:
            failed += 1
            print("FAIL", name)
            sys.print_exception(e)
        else:
            print("PASS", name)
    if failed:
        raise SystemExit(1)
    print("OK")
