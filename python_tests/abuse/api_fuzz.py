# A fuzzer at the Python API: from a seed, random sequences of calls on
# WebSockets (both roles) over hostile in-memory streams fed with random and
# mutated frames: valid, truncated, bad opcodes, huge lengths, pings,
# closes, fragments; streams that lie about counts, return None or 0, raise,
# or call back into the WebSocket.
#
#   micropython api_fuzz.py SEED SECONDS [ITERATIONS]
#
# Iteration i runs from seed SEED + i and prints "iter <seed>" first, so
# the driver (test_api_fuzz.py) can name the seed of a crash; rerun it with
# `api_fuzz.py <seed> 0 1`. An exception outside the contract's kinds is
# printed as "FINDING <seed> ..." (and the run goes on). Ends with
# "execs <n>".
import random
import sys
import time

import uwebsocket
from harness import (EAGAIN, ECONNRESET, EPIPE, ETIMEDOUT, KEY, ConnectionClosed, Hostile, NoIoctl, close_payload,
                     frame)

# What a call may raise under the contract, given hostile streams and
# random arguments.
ALLOWED = (ConnectionClosed, OSError, ValueError, TypeError, RuntimeError, MemoryError, uwebsocket.HandshakeError)


def rbytes(r, n):
    return bytes(r.getrandbits(8) for _ in range(n))


def random_frame(r, masked):
    key = KEY if masked else None
    if r.getrandbits(4) == 0:
        key = None if masked else KEY  # the wrong masking for the role
    kind = r.getrandbits(4)
    if kind < 4:
        op = r.choice((1, 2))
        payload = "h\u00e9" * r.getrandbits(3) if op == 1 and r.getrandbits(1) else rbytes(r, r.choice((0, 1, 5, 125, 126, 300)))
        return frame(op, payload, fin=bool(r.getrandbits(2)), key=key)
    if kind < 6:
        return frame(0, rbytes(r, r.getrandbits(5)), fin=bool(r.getrandbits(1)), key=key)
    if kind == 6:
        return frame(9, rbytes(r, r.choice((0, 4, 125, 126))), key=key)
    if kind == 7:
        return frame(10, rbytes(r, r.getrandbits(3)), key=key)
    if kind == 8:
        code = r.choice((1000, 1001, 1002, 1005, 1006, 999, 3000, 4999, 5000, 0))
        body = b"" if r.getrandbits(2) == 0 else close_payload(code, r.choice((b"", b"bye", b"\xff", b"x" * 124)))
        return frame(8, body, key=key)
    if kind == 9:
        return frame(r.choice((3, 4, 5, 6, 7, 11, 12, 13, 14, 15)), rbytes(r, 3), key=key)
    if kind == 10:
        # A length far beyond anything sent.
        return frame(2, rbytes(r, 4), key=key, length=r.choice((126, 65535, 65536, 1 << 31, (1 << 63) - 1, 1 << 63)))
    if kind == 11:
        return frame(r.choice((1, 2)), b"x", key=key, rsv=r.choice((1, 2, 4, 7)))
    if kind == 12:
        return frame(1, rbytes(r, r.getrandbits(3)), key=key)  # text, mostly bad UTF-8
    f = frame(r.choice((1, 2, 9)), rbytes(r, r.getrandbits(6)), key=key)
    return f[:r.getrandbits(6) % (len(f) + 1)]  # truncated


def mutate(r, data):
    data = bytearray(data)
    for _ in range(r.getrandbits(2)):
        if not data:
            break
        i = r.getrandbits(16) % len(data)
        how = r.getrandbits(2)
        if how == 0:
            data[i] = r.getrandbits(8)
        elif how == 1:
            data[i] ^= 1 << r.getrandbits(3)
        elif how == 2:
            data = data[:i] + data[i + r.getrandbits(3):]
        else:
            data = data[:i] + rbytes(r, r.getrandbits(3)) + data[i:]
    return bytes(data)


def incoming(r, masked):
    parts = [random_frame(r, masked) for _ in range(r.getrandbits(3) + 1)]
    data = b"".join(parts)
    if r.getrandbits(2) == 0:
        data = mutate(r, data)
    return data


def read_action(r, holder):
    k = r.getrandbits(5)
    if k < 18:
        return None
    if k == 18:
        return "none"
    if k == 19:
        return "zero"
    if k == 20:
        return OSError(r.choice((EAGAIN, ETIMEDOUT, ECONNRESET)))
    if k == 21:
        return r.choice((-1, 1 << 40, 70000))
    if k == 22:
        return lambda s, buf: s._copy(buf) + r.choice((1, 1000))
    if k == 23:
        return ValueError("stream")
    if k == 24:
        return lambda s, buf: reenter(r, holder) or s._copy(buf)
    return None


def write_action(r, holder):
    k = r.getrandbits(5)
    if k < 20:
        return None
    if k == 20:
        return "none"
    if k == 21:
        return "zero"
    if k == 22:
        return OSError(r.choice((EAGAIN, EPIPE, ETIMEDOUT)))
    if k == 23:
        return r.choice((-1, 1 << 40))
    if k == 24:
        n = r.getrandbits(3)
        return ("take", n, n)
    if k == 25:
        return lambda s, buf: s.out.extend(buf) or len(buf) + 1
    if k == 26:
        return lambda s, buf: reenter(r, holder) or (s.out.extend(buf) or len(buf))
    return None


def reenter(r, holder):
    if not holder:
        return None
    try:
        call(r, holder[0], depth=1)
    except ALLOWED:
        pass
    return None


def call(r, ws, depth=0):
    k = r.getrandbits(4)
    if k < 4:
        return ws.recv()
    if k == 4:
        return ws.recv_into(bytearray(r.choice((0, 1, 7, 64, 2000))))
    if k == 5:
        return ws.send(r.choice((b"", b"x" * 300, "t\u00e9", bytearray(5), memoryview(b"abc"), 5)),
                       r.getrandbits(2) != 0)
    if k == 6:
        return ws.ping(rbytes(r, r.choice((0, 3, 125, 126))))
    if k == 7:
        return ws.close(r.choice((1000, 1001, 3000, 1005, 0)), r.choice(("", "bye")))
    if k == 8:
        return ws.flush()
    if k == 9:
        return ws.setblocking(bool(r.getrandbits(1)))
    if k == 10:
        return ws.keepalive(r.choice((0, 0.001, 1, -1)), r.choice((0.001, 1)))
    if k == 11:
        return ws.read(r.choice((1, 10, 100)))
    if k == 12:
        return ws.write(b"w" * r.getrandbits(4))
    if k == 13:
        return (ws.closed, ws.close_code, ws.close_reason, ws.more, ws.text, ws.path, ws.subprotocol)
    if k == 14 and depth == 0:
        with ws:
            if r.getrandbits(1):
                raise ValueError("in with")
        return None
    return ws.recv()


def one(seed):
    r = random.Random(seed) if hasattr(random, "Random") else None
    if r is None:
        random.seed(seed)
        r = random
    server = bool(r.getrandbits(1))
    holder = []
    n_reads = r.getrandbits(4)
    reads = [read_action(r, holder) for _ in range(n_reads)]
    writes = [write_action(r, holder) for _ in range(r.getrandbits(3))]
    cls = NoIoctl if r.getrandbits(4) == 0 else Hostile
    data = incoming(r, server)
    how = r.getrandbits(3)
    try:
        if how == 0:
            stream = cls(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" + data,
                         reads=reads, writes=writes, chunk=r.choice((0, 1, 3, 50)))
            ws = uwebsocket.accept(stream, max_size=r.choice((0, 10, 65536)))
        else:
            stream = cls(data, reads=reads, writes=writes, chunk=r.choice((0, 1, 2, 7, 100)))
            ws = uwebsocket.WebSocket(stream, server, max_size=r.choice((0, 5, 300, 65536)))
    except ALLOWED:
        return
    holder.append(ws)
    for _ in range(r.getrandbits(4) + 1):
        try:
            call(r, ws)
        except ALLOWED:
            pass
    try:
        ws.close()
    except ALLOWED:
        pass


def main():
    seed = int(sys.argv[1])
    seconds = float(sys.argv[2])
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 62
    start = time.ticks_ms()
    execs = 0
    while execs < limit and (seconds <= 0 or time.ticks_diff(time.ticks_ms(), start) < seconds * 1000):
        s = seed + execs
        print("iter", s)
        try:
            one(s)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            print("FINDING", s, type(e).__name__, e)
        execs += 1
    print("execs", execs)


main()
