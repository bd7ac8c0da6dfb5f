"""The API abuse suite's side on MicroPython: hostile streams, and a runner
that prints one line per case so a crash is pinned on the case that was
running (test_api_abuse.py reads the lines).

    micropython <cases>.py --list          the case names, one a line
    micropython <cases>.py [--after NAME]  run them (those after NAME)

Per case: "BEGIN name", then "PASS name" or "FAIL name: why". A case
passes when it returns; it fails on an AssertionError or on an exception
it did not expect. A process that dies between BEGIN and PASS crashed in
that case."""
import io
import sys

import uwebsocket
from uwebsocket import ConnectionClosed

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
KEY = b"\x37\xfa\x21\x3d"
EAGAIN, ETIMEDOUT, ECONNRESET, EPIPE, EIO = 11, 110, 104, 32, 5
MP_STREAM_CLOSE = 4
MP_STREAM_POLL = 3
POLL_RD = 1
POLL_WR = 4


def frame(opcode, payload=b"", fin=True, key=None, rsv=0, length=None):
    """A frame (RFC 6455 section 5.2); key=KEY for client-to-server frames.
    length= writes a header that lies about the payload's length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | rsv << 4 | opcode])
    bit = 0x80 if key else 0
    if n < 126:
        head.append(bit | n)
    elif n < 65536:
        head.append(bit | 126)
        head.extend(n.to_bytes(2, "big"))
    else:
        head.append(bit | 127)
        head.extend(n.to_bytes(8, "big"))
    if key:
        head.extend(key)
        payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return bytes(head) + payload


def close_payload(code, reason=b""):
    return code.to_bytes(2, "big") + reason


def parse(data):
    """Frames in bytes written by a WebSocket: [(fin, opcode, payload)].
    Raises ValueError when the bytes do not end on a frame boundary."""
    frames = []
    pos = 0
    data = bytes(data)
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError("half a header")
        b0, b1 = data[pos], data[pos + 1]
        n = b1 & 0x7F
        pos += 2
        if n == 126:
            n = int.from_bytes(data[pos:pos + 2], "big")
            pos += 2
        elif n == 127:
            n = int.from_bytes(data[pos:pos + 8], "big")
            pos += 8
        key = None
        if b1 & 0x80:
            key = data[pos:pos + 4]
            pos += 4
        if pos + n > len(data):
            raise ValueError("half a frame")
        payload = data[pos:pos + n]
        if key:
            payload = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
        pos += n
        frames.append((bool(b0 & 0x80), b0 & 0x0F, payload))
    return frames


REQUEST = (b"GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: chat\r\n\r\n")
RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


class Base(io.IOBase):
    """A stream a test scripts call by call. `data` is what reads give (at
    most `chunk` bytes a read when chunk > 0), then end of stream. `reads`
    and `writes` are per-call actions, used up one per call (then normal):
      None     normal: copy / take the bytes
      "none"   return None (nothing now)
      "zero"   return 0
      int      copy / take normally, but return this count (a lie)
      ("take", k, ret)  write only: keep k bytes, return ret
      an exception (instance) to raise
      a callable f(stream, buf) -> result (re-entry, custom lies)
    `forever_reads` / `forever_writes`: the action once the lists are used."""

    def __init__(self, data=b"", reads=(), writes=(), chunk=0, forever_reads=None, forever_writes=None):
        self.data = bytes(data)
        self.pos = 0
        self.reads = list(reads)
        self.writes = list(writes)
        self.forever_reads = forever_reads
        self.forever_writes = forever_writes
        self.chunk = chunk
        self.out = bytearray()
        self.closed = False
        self.n_reads = 0
        self.n_writes = 0
        self.blocking = True

    def feed(self, data):
        self.data = self.data[self.pos:] + data
        self.pos = 0

    def _copy(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        if self.chunk:
            n = min(n, self.chunk)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def readinto(self, buf):
        self.n_reads += 1
        act = self.reads.pop(0) if self.reads else self.forever_reads
        if act is None:
            if not self.blocking and self.pos >= len(self.data):
                return None  # a non-blocking socket with nothing now
            return self._copy(buf)
        if act == "none":
            return None
        if act == "zero":
            return 0
        if isinstance(act, int):
            self._copy(buf)
            return act
        if isinstance(act, BaseException):
            raise act
        return act(self, buf)

    def write(self, buf):
        self.n_writes += 1
        act = self.writes.pop(0) if self.writes else self.forever_writes
        if act is None:
            self.out.extend(buf)
            return len(buf)
        if act == "none":
            return None
        if act == "zero":
            return 0
        if isinstance(act, int):
            self.out.extend(buf)
            return act
        if isinstance(act, tuple):
            self.out.extend(bytes(buf)[:act[1]])
            return act[2]
        if isinstance(act, BaseException):
            raise act
        return act(self, buf)

    def setblocking(self, flag):
        self.blocking = flag


class Hostile(Base):
    ioctl_actions = None

    def ioctl(self, request, arg):
        if self.ioctl_actions:
            act = self.ioctl_actions.pop(0)
            if isinstance(act, BaseException):
                raise act
            if act is not None:
                return act(self, request, arg)
        if request == MP_STREAM_CLOSE:
            self.closed = True
            return 0
        if request == MP_STREAM_POLL:
            # Reads and writes never wait: always ready.
            return arg & (POLL_RD | POLL_WR)
        return 0


class NoIoctl(Base):
    """A stream with readinto and write only."""


def ws_over(data=b"", server_side=True, **kw):
    max_size = kw.pop("max_size", 65536)
    cls = kw.pop("cls", Hostile)
    stream = cls(data, **kw)
    return uwebsocket.WebSocket(stream, server_side, max_size=max_size), stream


def client_frames(*frames):
    """Frames as a client sends them (masked): what a server-side ws reads."""
    return b"".join(frame(op, p, key=KEY) for op, p in frames)


def raises(exc, call, *args, **kw):
    """call(*args, **kw) must raise exc (a type or a tuple); returns it."""
    try:
        result = call(*args, **kw)
    except exc as e:
        return e
    except Exception as e:
        raise AssertionError("%s raised %s(%s), expected %s" % (name_of(call), type(e).__name__, e, exc_names(exc)))
    raise AssertionError("%s returned %r, expected %s" % (name_of(call), result, exc_names(exc)))


def raises_closed(code, call, *args, **kw):
    e = raises(ConnectionClosed, call, *args, **kw)
    if e.code != code:
        raise AssertionError("ConnectionClosed(%r, %r), expected code %d" % (e.code, e.reason, code))
    return e


def errno_of(e):
    return e.errno if hasattr(e, "errno") else e.args[0] if e.args else None


def name_of(call):
    return getattr(call, "__name__", None) or repr(call)


def exc_names(exc):
    if isinstance(exc, tuple):
        return "/".join(t.__name__ for t in exc)
    return exc.__name__


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, expected %r" % (what, got, want))


def closed_as(ws, code, reason=None):
    """The WebSocket reports a finished connection with this code, and a
    str reason (never None once closed)."""
    eq(ws.closed, True, "ws.closed")
    eq(ws.close_code, code, "ws.close_code")
    if not isinstance(ws.close_reason, str):
        raise AssertionError("ws.close_reason is %r, expected a str" % (ws.close_reason,))
    if reason is not None:
        eq(ws.close_reason, reason, "ws.close_reason")


def run(cases):
    """Run the case_* functions in `cases` (a module's globals) plus the
    generated ones in cases["GENERATED"], in name order."""
    table = {}
    for name, value in cases.items():
        if name.startswith("case_"):
            table[name[5:]] = value
    for name, value in cases.get("GENERATED", {}).items():
        table[name] = value
    names = sorted(table)
    argv = sys.argv[1:]
    if argv and argv[0] == "--list":
        for name in names:
            print(name)
        return
    after = argv[1] if len(argv) > 1 and argv[0] == "--after" else None
    for name in names:
        if after is not None and name <= after:
            continue
        print("BEGIN", name)
        try:
            table[name]()
        except AssertionError as e:
            print("FAIL %s: %s" % (name, e))
            continue
        except Exception as e:
            print("FAIL %s: unexpected %s: %s" % (name, type(e).__name__, e))
            continue
        print("PASS", name)
    print("END")
