# Streams that lie, fail or call back: counts too large, negative, None, 0,
# short reads and writes, an exception at every call, and stream methods
# that call into the WebSocket they serve.
import uwebsocket
from harness import (EAGAIN, ECONNRESET, EIO, EPIPE, ETIMEDOUT, KEY, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG,
                     OP_TEXT, REQUEST, RESPONSE, ConnectionClosed, Hostile, NoIoctl, close_payload, closed_as, eq, errno_of,
                     frame, parse, raises, raises_closed, run, ws_over)

GENERATED = {}
MSG = frame(OP_BINARY, b"hello world", key=KEY)
TEXT = frame(OP_TEXT, "h\u00e9llo", key=KEY)
BIG = frame(OP_BINARY, b"0123456789" * 100, key=KEY)


# --- reads that report impossible counts ----------------------------------

def lying_read(count_of, data=MSG, op="recv"):
    def case():
        ws, stream = ws_over(data, reads=[lambda s, buf: s._copy(buf) and count_of(len(buf))])
        if op == "recv":
            raises_closed(1006, ws.recv)
        else:
            raises_closed(1006, ws.recv_into, bytearray(64))
        closed_as(ws, 1006)
        eq(stream.closed, True, "stream closed")
        raises_closed(1006, ws.recv)
    return case


LIES = {"len_plus_1": lambda n: n + 1, "len_plus_1000": lambda n: n + 1000, "huge": lambda n: 1 << 40,
        "word": lambda n: (1 << 63) - 1, "minus_1": lambda n: -1, "minus_100": lambda n: -100,
        "minus_huge": lambda n: -(1 << 40)}
for _name, _lie in LIES.items():
    GENERATED["read_lie_%s_recv" % _name] = lying_read(_lie)
    GENERATED["read_lie_%s_recv_into" % _name] = lying_read(_lie, op="recv_into")
    GENERATED["read_lie_%s_big" % _name] = lying_read(_lie, BIG)


def lying_read_later(count_of):
    # A lie on a payload read (the header came honestly first).
    def case():
        ws, stream = ws_over(BIG, reads=[None, lambda s, buf: s._copy(buf) and count_of(len(buf))], chunk=4)
        raises_closed(1006, ws.recv)
        closed_as(ws, 1006)
        eq(stream.closed, True, "stream closed")
    return case


for _name, _lie in LIES.items():
    GENERATED["read_lie_%s_payload" % _name] = lying_read_later(_lie)


def handshake_lie(count_of, call):
    def case():
        stream = Hostile(REQUEST if call != "client" else RESPONSE,
                         reads=[lambda s, buf: s._copy(buf) and count_of(len(buf))])
        if call == "accept":
            e = raises(OSError, uwebsocket.accept, stream)
        elif call == "read_request":
            e = raises(OSError, uwebsocket.read_request, stream)
        else:
            e = raises(OSError, uwebsocket.client, stream, "ws://h/")
        # A count over the buffer is EIO; a negative one is the stream's own
        # error number (io.IOBase reads -N as errno N).
        if count_of(8) >= 0:
            eq(errno_of(e), EIO, "errno")
    return case


for _name in ("len_plus_1", "huge", "minus_1", "minus_huge"):
    for _call in ("accept", "read_request", "client"):
        GENERATED["handshake_read_lie_%s_%s" % (_name, _call)] = handshake_lie(LIES[_name], _call)


def case_read_wrong_type():
    ws, stream = ws_over(MSG, reads=[lambda s, buf: "abc"])
    raises((TypeError, ConnectionClosed), ws.recv)


def case_read_float():
    ws, stream = ws_over(MSG, reads=[lambda s, buf: 1.5])
    raises((TypeError, ConnectionClosed), ws.recv)


# --- None, 0, short reads --------------------------------------------------

def case_read_none_then_data():
    ws, stream = ws_over(MSG, reads=["none", "none"])
    eq(ws.recv(), None, "recv() with nothing now")
    eq(ws.recv(), None, "again")
    eq(ws.recv(), b"hello world", "then the message")
    eq(ws.closed, False, "closed")


def case_read_none_mid_message():
    ws, stream = ws_over(BIG, reads=[None, None, "none", None, "none"], chunk=7)
    got = None
    for _ in range(1000):
        got = ws.recv()
        if got is not None:
            break
    eq(got, b"0123456789" * 100, "message")


def case_recv_into_none_mid_message():
    ws, stream = ws_over(BIG, reads=[None, None, "none", None, "none"], chunk=7)
    buf = bytearray(2000)
    total = 0
    for _ in range(1000):
        n = ws.recv_into(memoryview(buf)[total:])
        if n is None:
            continue
        total += n
        if not ws.more:
            break
    eq(bytes(buf[:total]), b"0123456789" * 100, "message")


def case_read_zero_is_eof():
    ws, stream = ws_over(MSG, reads=["zero"])
    raises_closed(1006, ws.recv)
    closed_as(ws, 1006)
    eq(stream.closed, True, "stream closed")


def case_read_zero_mid_frame():
    ws, stream = ws_over(BIG, reads=[None, None, "zero"], chunk=5)
    raises_closed(1006, ws.recv)
    closed_as(ws, 1006)


def short_reads(chunk, data, want):
    def case():
        ws, stream = ws_over(data, chunk=chunk)
        eq(ws.recv(), want, "message")
    return case


for _chunk in (1, 2, 3, 5, 13):
    GENERATED["short_reads_%d_binary" % _chunk] = short_reads(_chunk, BIG, b"0123456789" * 100)
    GENERATED["short_reads_%d_text" % _chunk] = short_reads(_chunk, TEXT, "h\u00e9llo")


# --- read exceptions -------------------------------------------------------

def case_read_reset():
    ws, stream = ws_over(MSG, reads=[OSError(ECONNRESET)])
    e = raises_closed(1006, ws.recv)
    assert isinstance(e.reason, str), e.reason
    closed_as(ws, 1006, e.reason)
    eq(stream.closed, True, "stream closed")


def case_read_timeout_keeps_connection():
    ws, stream = ws_over(MSG, reads=[OSError(ETIMEDOUT)])
    e = raises(OSError, ws.recv)
    eq(errno_of(e), ETIMEDOUT, "errno")
    eq(ws.closed, False, "closed")
    eq(ws.recv(), b"hello world", "then the message")


def case_read_timeout_mid_message():
    ws, stream = ws_over(BIG, reads=[None, None, OSError(ETIMEDOUT)], chunk=9)
    raises(OSError, ws.recv)
    eq(ws.closed, False, "closed")
    eq(ws.recv(), b"0123456789" * 100, "then the message")


def case_read_eagain_is_none():
    ws, stream = ws_over(MSG, reads=[OSError(EAGAIN)])
    eq(ws.recv(), None, "recv()")
    eq(ws.recv(), b"hello world", "then the message")


def case_read_value_error():
    ws, stream = ws_over(MSG, reads=[ValueError("odd")])
    raises((ValueError, ConnectionClosed), ws.recv)


def case_read_keyboard_interrupt():
    ws, stream = ws_over(MSG, reads=[KeyboardInterrupt()])
    try:
        ws.recv()
    except KeyboardInterrupt:
        return
    except BaseException as e:
        raise AssertionError("KeyboardInterrupt became %r" % (e,))
    raise AssertionError("KeyboardInterrupt swallowed")


def case_read_system_exit():
    ws, stream = ws_over(MSG, reads=[SystemExit(3)])
    try:
        ws.recv()
    except SystemExit:
        return
    raise AssertionError("SystemExit swallowed")


def base_exception_in_close(exc_type, where):
    # close() waits for the peer's Close and then closes the stream: a
    # KeyboardInterrupt there must reach the script.
    def case():
        if where == "read":
            ws, stream = ws_over(reads=[exc_type()])
        elif where == "write":
            ws, stream = ws_over(writes=[exc_type()])
        else:
            ws, stream = ws_over(frame(OP_CLOSE, close_payload(1000), key=KEY))
            stream.ioctl_actions = [exc_type()]
        try:
            ws.close()
        except exc_type:
            return
        raise AssertionError("%s swallowed by close()" % exc_type.__name__)
    return case


for _where in ("read", "write", "ioctl"):
    GENERATED["close_keyboard_interrupt_in_%s" % _where] = base_exception_in_close(KeyboardInterrupt, _where)
    GENERATED["close_system_exit_in_%s" % _where] = base_exception_in_close(SystemExit, _where)


def case_exit_keyboard_interrupt_in_write():
    ws, stream = ws_over(writes=[KeyboardInterrupt()])
    try:
        with ws:
            pass
    except KeyboardInterrupt:
        return
    raise AssertionError("KeyboardInterrupt swallowed by __exit__")


def interrupt_in_write(size, server_side):
    # The user's interrupt inside a stream's write: how much of the frame
    # went out is unknown, so nothing more may follow it.
    def case():
        ws, stream = ws_over(writes=[KeyboardInterrupt()], server_side=server_side)
        raises(KeyboardInterrupt, ws.send, b"x" * size)
        closed_as(ws, 1006, "write interrupted within a frame")
        eq(stream.closed, True, "stream closed")
        raises_closed(1006, ws.send, b"next")
        ws.close()
        eq(bytes(stream.out), b"", "bytes written")
    return case


for _size in (10, 1000, 70000):
    GENERATED["interrupt_in_write_%d_server" % _size] = interrupt_in_write(_size, True)
    GENERATED["interrupt_in_write_%d_client" % _size] = interrupt_in_write(_size, False)


# --- writes that lie -------------------------------------------------------

def lying_write(ret, op):
    def case():
        ws, stream = ws_over(writes=[ret])
        if op == "send":
            raises_closed(1006, ws.send, b"x" * 300)
        elif op == "send_small":
            raises_closed(1006, ws.send, "hi")
        elif op == "ping":
            raises_closed(1006, ws.ping, b"p")
        else:
            # The byte-stream view fails like a socket's write.
            raises(OSError, ws.write, b"abc")
        closed_as(ws, 1006)
        eq(stream.closed, True, "stream closed")
        raises_closed(1006, ws.send, b"again")
    return case


for _name, _ret in (("plus_1", lambda n: n + 1), ("huge", lambda n: 1 << 40), ("minus_1", lambda n: -1),
                    ("minus_huge", lambda n: -(1 << 40))):
    for _op in ("send", "send_small", "ping", "write"):
        GENERATED["write_lie_%s_%s" % (_name, _op)] = lying_write(lambda s, buf, r=_ret: s.out.extend(buf) or r(len(buf)), _op)


def case_write_lie_in_close():
    ws, stream = ws_over(writes=[lambda s, buf: len(buf) + 7])
    try:
        ws.close()
    except ConnectionClosed:
        pass
    eq(ws.closed, True, "closed")
    eq(stream.closed, True, "stream closed")


def case_write_lie_in_pong():
    ws, stream = ws_over(frame(OP_PING, b"p", key=KEY) + MSG, writes=[lambda s, buf: -1])
    raises_closed(1006, ws.recv)
    closed_as(ws, 1006)


def case_write_wrong_type():
    ws, stream = ws_over(writes=[lambda s, buf: "abc"])
    raises((TypeError, ConnectionClosed), ws.send, b"x")


def short_writes(take):
    def case():
        def one(s, buf):
            s.out.extend(bytes(buf)[:take])
            return min(take, len(buf))
        ws, stream = ws_over(forever_writes=one)
        ws.send(b"x" * 1000)
        ws.send("t\u00e9")
        ws.ping(b"p")
        eq([(op, p) for fin, op, p in parse(stream.out)],
           [(OP_BINARY, b"x" * 1000), (1, "t\u00e9".encode()), (OP_PING, b"p")], "frames")
    return case


for _take in (1, 2, 3, 7, 100):
    GENERATED["short_writes_%d" % _take] = short_writes(_take)


def case_write_none_nonblocking_queues():
    ws, stream = ws_over(forever_writes="none")
    ws.setblocking(False)
    ws.send(b"abc")
    waiting = ws.flush()
    assert waiting > 0, waiting
    stream.forever_writes = None
    eq(ws.flush(), 0, "flush() once the stream takes")
    eq(parse(stream.out), [(True, OP_BINARY, b"abc")], "frames")


def case_write_zero_nonblocking_queues():
    ws, stream = ws_over(forever_writes="zero")
    ws.setblocking(False)
    ws.send(b"abc")
    assert ws.flush() > 0
    stream.forever_writes = None
    eq(ws.flush(), 0, "flush()")
    eq(parse(stream.out), [(True, OP_BINARY, b"abc")], "frames")


def case_write_eagain_nonblocking_partial():
    ws, stream = ws_over(writes=[("take", 3, 3)], forever_writes=OSError(EAGAIN))
    ws.setblocking(False)
    ws.send(b"x" * 50)
    assert ws.flush() > 0
    stream.forever_writes = None
    eq(ws.flush(), 0, "flush()")
    ws.send(b"y")
    eq(parse(stream.out), [(True, OP_BINARY, b"x" * 50), (True, OP_BINARY, b"y")], "frames")


def write_fails_midway(exc):
    # The stream takes part of a frame, then fails: the connection is
    # failed (1006), and nothing more goes out (no header inside a half
    # frame).
    def case():
        ws, stream = ws_over(writes=[("take", 5, 5), exc])
        raises_closed(1006, ws.send, b"x" * 40)
        closed_as(ws, 1006)
        n = len(stream.out)
        raises_closed(1006, ws.send, b"next")
        eq(len(stream.out), n, "bytes written after the failure")
    return case


GENERATED["write_fails_midway_epipe"] = write_fails_midway(OSError(EPIPE))
GENERATED["write_fails_midway_reset"] = write_fails_midway(OSError(ECONNRESET))
GENERATED["write_fails_midway_value_error"] = write_fails_midway(ValueError("x"))


def case_write_timeout_midway_blocking():
    ws, stream = ws_over(writes=[("take", 5, 5), OSError(ETIMEDOUT)])
    raises_closed(1006, ws.send, b"x" * 40)
    n = len(stream.out)
    raises_closed(1006, ws.send, b"next")
    eq(len(stream.out), n, "bytes written after the failure")


def case_write_timeout_before_frame_keeps_connection():
    ws, stream = ws_over(writes=[OSError(ETIMEDOUT)])
    e = raises(OSError, ws.send, b"x" * 40)
    eq(errno_of(e), ETIMEDOUT, "errno")
    eq(ws.closed, False, "closed")
    ws.send(b"y")
    eq(parse(stream.out), [(True, OP_BINARY, b"y")], "frames")


def fragment_never_sent(exc, size, modes):
    # A fragment of which not a byte went out does not count: a first one
    # leaves no message begun (the next send is a whole message, not a
    # continuation of nothing), a last one leaves its message open (§5.4).
    # (A write timeout leaves a connection usable in blocking mode only: in
    # non-blocking mode any stream error but EAGAIN fails it.)
    def case():
        for mode in modes:
            ws, stream = ws_over(writes=[exc])
            if mode == "nonblocking":
                ws.setblocking(False)
            raises(type(exc), ws.send, b"p" * size, False)
            eq(ws.closed, False, "closed after a first fragment never sent")
            ws.send(b"whole")
            ws.send(b"a" * size, False)
            stream.writes = [exc]
            raises(type(exc), ws.send, b"b" * size)
            eq(ws.closed, False, "closed after a last fragment never sent")
            raises(ValueError, ws.send, "text while the binary message is open")
            ws.send(b"c")
            eq(parse(stream.out), [(True, OP_BINARY, b"whole"), (False, OP_BINARY, b"a" * size),
                                   (True, OP_CONT, b"c")], "frames (%s)" % mode)
    return case


for _size in (3, 5000):
    GENERATED["fragment_never_sent_timeout_%d" % _size] = fragment_never_sent(OSError(ETIMEDOUT), _size, ("blocking",))
    GENERATED["fragment_never_sent_value_error_%d" % _size] = fragment_never_sent(ValueError("x"), _size,
                                                                                 ("blocking", "nonblocking"))


def case_pongs_and_pings_over_the_queue_mark():
    # A peer that sends Pings and never reads cannot grow the queue past
    # its mark: Pongs are left out there (§5.5.3: only the latest Ping
    # needs one), and a script's ping() is refused like send().
    pings = frame(OP_PING, b"p" * 125, key=KEY) * 400
    ws, stream = ws_over(pings, forever_writes="none")
    ws.setblocking(False)
    for _ in range(1000):
        if ws.recv() is None and stream.pos >= len(pings):
            break
    waiting = ws.flush()
    assert 16384 <= waiting < 16384 + 200, waiting
    e = raises(OSError, ws.ping, b"x")
    eq(errno_of(e), EAGAIN, "errno")
    eq(ws.closed, False, "closed")
    stream.forever_writes = None
    eq(ws.flush(), 0, "flush() once the stream takes")
    ws.ping(b"x")
    frames = parse(stream.out)
    eq(set(f[1] for f in frames), {OP_PONG, OP_PING}, "opcodes")
    eq(frames[-1], (True, OP_PING, b"x"), "the ping")


class Endless:
    """forever_reads: `unit` over and over (a peer that never stops
    sending), cut wherever the reader's buffer ends; `reads` counts calls."""

    def __init__(self, unit):
        self.unit = unit
        self.at = 0
        self.reads = 0

    def __call__(self, stream, buf):
        self.reads += 1
        n = len(buf)
        for i in range(n):
            buf[i] = self.unit[self.at]
            self.at = (self.at + 1) % len(self.unit)
        return n


def flood(unit, op, writes=None):
    # A non-blocking call returns (None, or what it has) after a bounded
    # amount of work even while the peer never stops sending control frames
    # or empty messages: a poll loop's other connections get their turn.
    endless = Endless(unit)
    ws, stream = ws_over(forever_reads=endless, forever_writes=writes)
    ws.setblocking(False)
    for _ in range(3):
        reads = endless.reads
        if op == "recv":
            eq(ws.recv(), None, "recv()")
        elif op == "recv_into":
            eq(ws.recv_into(bytearray(10)), None, "recv_into()")
        elif op == "read":
            eq(ws.read(10), None, "read()")
        else:
            eq(ws.readinto(bytearray(10)), None, "readinto()")
        assert endless.reads - reads < 200, "%d stream reads in one call" % (endless.reads - reads)
    eq(ws.closed, False, "closed")
    ws.flush()


for _op in ("recv", "recv_into", "read", "readinto"):
    for _name, _unit, _writes in (("pings", frame(OP_PING, b"p" * 20, key=KEY), None),
                                  ("pings_queue_full", frame(OP_PING, b"p" * 20, key=KEY), "none"),
                                  ("pongs", frame(OP_PONG, b"", key=KEY), None)):
        GENERATED["nonblocking_%s_under_endless_%s" % (_op, _name)] = (lambda u, o, w: lambda: flood(u, o, w))(_unit, _op, _writes)
GENERATED["nonblocking_read_under_endless_empty_messages"] = lambda: flood(frame(OP_BINARY, b"", key=KEY), "read")
GENERATED["nonblocking_readinto_under_endless_empty_messages"] = lambda: flood(frame(OP_TEXT, b"", key=KEY), "readinto")


def case_flush_exception_after_a_partial_write_loses_nothing():
    # flush() writes the queue in several stream calls; when a later call
    # raises something other than OSError, what the earlier calls took is
    # off the queue already: the next flush() neither repeats nor skips it.
    ws, stream = ws_over(writes=["none"])
    ws.setblocking(False)
    ws.send(b"a" * 300)
    stream.writes = [("take", 7, 7), ("take", 5, 5), ValueError("stream broke")]
    raises(ValueError, ws.flush)
    eq(len(stream.out), 12, "bytes out")
    eq(ws.flush(), 0, "flush() once the stream takes")
    eq(parse(bytes(stream.out)), [(True, OP_BINARY, b"a" * 300)], "frames")
    ws.send(b"next")
    eq(parse(bytes(stream.out))[-1], (True, OP_BINARY, b"next"), "the next message")


def case_subclasses_of_native_streams_are_refused():
    # Such a class inherits the native type's C stream functions, which
    # would run on the Python object (a crash before): refused at once.
    import io

    class Memory(io.BytesIO):
        pass

    for make in (lambda s: uwebsocket.WebSocket(s, True), uwebsocket.accept, lambda s: uwebsocket.client(s, "ws://h/")):
        raises(TypeError, make, Memory(REQUEST))
    try:
        import socket
    except ImportError:
        return

    class Sock(socket.socket):
        pass

    raises(TypeError, uwebsocket.WebSocket, Sock(), True)


def case_bytesio_out_of_memory_within_a_frame():
    # A BytesIO with room for a frame's header but no memory for the rest.
    # Nothing of the frame out (it went in one write): the connection goes
    # on. Part of it out: the connection is over (1006), whether the send
    # raises the MemoryError or ConnectionClosed.
    import io
    import micropython

    for size in (100, 300, 5000, 70000):
        stream = io.BytesIO()
        stream.write(bytes(64))
        stream.seek(0)
        ws = uwebsocket.WebSocket(stream, True)
        send, data = ws.send, b"x" * size
        expected = (MemoryError, ConnectionClosed)  # nothing to allocate while the heap is locked
        raised = None
        micropython.heap_lock()
        try:
            send(data)
        except expected as e:
            raised = e
        finally:
            micropython.heap_unlock()
        if raised is None:
            continue  # the BytesIO found room: nothing to check
        if stream.tell() == 0:
            eq(isinstance(raised, MemoryError), True, "MemoryError with nothing out")
            eq(ws.closed, False, "ws.closed with nothing out")
            ws.send(b"next")
            eq(parse(stream.getvalue()[:6]), [(True, OP_BINARY, b"next")], "the next message")
            continue
        if isinstance(raised, ConnectionClosed):
            eq(raised.code, 1006, "code")
        closed_as(ws, 1006)
        raises_closed(1006, ws.send, b"next")
        ws.close()
        eq(stream.tell() < 64, True, "bytes written after the header")


def case_write_fails_midway_pong():
    ws, stream = ws_over(frame(OP_PING, b"p" * 50, key=KEY) + MSG, writes=[("take", 3, 3), OSError(EPIPE)])
    raises_closed(1006, ws.recv)
    n = len(stream.out)
    raises_closed(1006, ws.send, b"z")
    eq(len(stream.out), n, "bytes written after the failure")


def case_write_fails_midway_nonblocking():
    ws, stream = ws_over(writes=[("take", 5, 5), OSError(EPIPE)])
    ws.setblocking(False)
    raises_closed(1006, ws.send, b"x" * 40)
    closed_as(ws, 1006)


def case_native_stream_raising_eagain_is_waited_for():
    # A WebSocket over a non-blocking WebSocket that is over its queue
    # limit: the inner send raises OSError(EAGAIN) from a native stream's
    # write. Nothing of the outer frame is out, so the outer send waits and
    # retries (as for a stream that returns EAGAIN) instead of failing.
    inner, stream = ws_over(writes=["none"] * 4)
    inner.setblocking(False)
    inner.send(b"q" * 20000)
    outer = uwebsocket.WebSocket(inner, True)
    outer.send(b"hello")
    eq(outer.closed, False, "outer closed")
    inner.setblocking(True)
    outer.send(b"again")
    frames = parse(bytes(stream.out))
    eq(frames[0], (True, OP_BINARY, b"q" * 20000), "the queued inner message")
    eq([f[2] for f in frames[1:]], [b"\x82\x05hello", b"\x82\x05again"], "outer frames, one per inner message")


def case_writes_all_prefix_of_frames():
    # After any failure the bytes out are whole frames plus at most one
    # unfinished frame at the end.
    for k in range(1, 12):
        ws, stream = ws_over(writes=[None, ("take", k, k), OSError(EPIPE)])
        ws.send(b"a" * 10)
        try:
            ws.send(b"b" * 10)
            ws.send(b"c" * 10)
        except ConnectionClosed:
            pass
        for extra in (b"d", b"e"):
            try:
                ws.send(extra)
            except ConnectionClosed:
                pass
        data = bytes(stream.out)
        frames = parse(data[:12])
        eq(frames, [(True, OP_BINARY, b"a" * 10)], "first frame")
        eq(len(data), 12 + k, "bytes out after a failure at %d" % k)


# --- no ioctl --------------------------------------------------------------

def case_no_ioctl_protocol_error():
    ws, stream = ws_over(frame(5, b"", key=KEY), cls=NoIoctl)
    raises_closed(1002, ws.recv)
    closed_as(ws, 1002)


def case_no_ioctl_bad_utf8():
    ws, stream = ws_over(frame(OP_TEXT, b"\xff", key=KEY), cls=NoIoctl)
    raises_closed(1007, ws.recv)


def case_no_ioctl_close():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(1000), key=KEY), cls=NoIoctl)
    try:
        ws.close()
    except AttributeError as e:
        raise AssertionError("close() on a stream without ioctl: %r" % e)
    eq(ws.closed, True, "closed")


def case_no_ioctl_eof():
    ws, stream = ws_over(b"", cls=NoIoctl)
    raises_closed(1006, ws.recv)


def case_no_ioctl_accept_refusal():
    stream = NoIoctl(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    raises(uwebsocket.HandshakeError, uwebsocket.accept, stream)


def case_ioctl_raises_on_close():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(1000), key=KEY))
    stream.ioctl_actions = [OSError(EIO)] * 4
    try:
        ws.close()
    except OSError:
        pass
    eq(ws.closed, True, "closed")


def case_ioctl_lies_on_poll():
    ws, stream = ws_over(MSG)
    stream.ioctl_actions = [lambda s, r, a: 0xFFFFFFFF] * 4
    import select
    p = select.poll()
    p.register(ws, select.POLLIN)
    p.poll(0)
    eq(ws.recv(), b"hello world", "message")


# --- an exception at every call ---------------------------------------------

SCENARIO_IN = frame(OP_TEXT, "one", key=KEY) + frame(OP_PING, b"p", key=KEY) + \
    frame(OP_BINARY, b"two" * 50, fin=False, key=KEY) + frame(0, b"!", key=KEY) + \
    frame(OP_CLOSE, close_payload(1000), key=KEY)


def scenario(ws):
    got = [ws.recv()]
    ws.send(b"x" * 300)
    ws.ping(b"q")
    buf = bytearray(400)
    got.append(ws.recv_into(buf))
    ws.send("y")
    try:
        ws.recv()
    except ConnectionClosed as e:
        got.append(e.code)
    ws.close()
    return got


ALLOWED = (ConnectionClosed, OSError, ValueError, MemoryError)


def fail_at(k, exc, on):
    def case():
        reads = [None] * k + [exc] if on == "read" else []
        writes = [None] * k + [exc] if on == "write" else []
        ws, stream = ws_over(SCENARIO_IN, reads=reads, writes=writes, chunk=3)
        try:
            scenario(ws)
        except ALLOWED:
            pass
        # Whatever happened, the object stays usable: each call gives a
        # result or a clean exception.
        for call in (ws.recv, lambda: ws.send(b"z"), lambda: ws.ping(), ws.flush, ws.close, lambda: ws.closed):
            try:
                call()
            except ALLOWED:
                pass
        eq(ws.closed, True, "closed after close()")
    return case


for _k in range(0, 24, 1):
    GENERATED["fail_read_%02d_reset" % _k] = fail_at(_k, OSError(ECONNRESET), "read")
    GENERATED["fail_read_%02d_memory" % _k] = fail_at(_k, MemoryError(), "read")
for _k in range(0, 8):
    GENERATED["fail_write_%02d_pipe" % _k] = fail_at(_k, OSError(EPIPE), "write")
    GENERATED["fail_write_%02d_value" % _k] = fail_at(_k, ValueError("x"), "write")
    GENERATED["fail_write_%02d_timeout" % _k] = fail_at(_k, OSError(ETIMEDOUT), "write")


# --- re-entry: a stream method that calls into the WebSocket it serves ----

INNER = {
    "recv": lambda ws: ws.recv(),
    "recv_into": lambda ws: ws.recv_into(bytearray(16)),
    "send": lambda ws: ws.send(b"inner"),
    "ping": lambda ws: ws.ping(b"i"),
    "close": lambda ws: ws.close(),
    "flush": lambda ws: ws.flush(),
    "setblocking": lambda ws: ws.setblocking(False),
    "keepalive": lambda ws: ws.keepalive(1),
    "read": lambda ws: ws.read(4),
    "write": lambda ws: ws.write(b"w"),
}

OUTER = {
    "recv": ("read", lambda ws: ws.recv()),
    "recv_into": ("read", lambda ws: ws.recv_into(bytearray(2000))),
    "read": ("read", lambda ws: ws.read(300)),
    "send": ("write", lambda ws: ws.send(b"outer" * 100)),
    "ping": ("write", lambda ws: ws.ping(b"o")),
    "close": ("write", lambda ws: ws.close()),
    "pong": ("write", lambda ws: ws.recv()),
    "close_ioctl": ("ioctl", lambda ws: ws.close()),
}


def reentry(outer_name, inner_name):
    def case():
        kind, outer = OUTER[outer_name]
        inner = INNER[inner_name]
        seen = []
        holder = []

        def call_back(s, buf):
            try:
                inner(holder[0])
            except RuntimeError:
                seen.append("RuntimeError")
            except Exception as e:
                seen.append(type(e).__name__)
            else:
                seen.append("returned")
            if kind == "read":
                return s._copy(buf)
            s.out.extend(buf)
            return len(buf)

        data = BIG + frame(OP_CLOSE, close_payload(1000), key=KEY)
        if outer_name == "pong":
            data = frame(OP_PING, b"p", key=KEY) + data
        if kind == "read":
            ws, stream = ws_over(data, reads=[None, call_back, call_back], chunk=40)
        elif kind == "write":
            ws, stream = ws_over(data, writes=[call_back])
        else:
            ws, stream = ws_over(data)

            def ioctl_back(s, request, arg):
                call_back(s, b"")
                if request == 4:
                    s.closed = True
                return 0
            stream.ioctl_actions = [ioctl_back] * 3
        holder.append(ws)
        try:
            outer(ws)
        except (ConnectionClosed, OSError, RuntimeError, ValueError):
            pass
        if not seen:
            raise AssertionError("the stream method was not called")
        eq(seen[0], "RuntimeError", "the re-entrant %s()" % inner_name)
        # Afterwards the WebSocket is consistent: each call ends cleanly.
        for call in (ws.recv, lambda: ws.send(b"z"), ws.flush, ws.close):
            try:
                call()
            except (ConnectionClosed, OSError, ValueError):
                pass
    return case


for _outer in OUTER:
    for _inner in INNER:
        GENERATED["reenter_%s_from_%s" % (_inner, _outer)] = reentry(_outer, _inner)


def case_reenter_accept_from_read():
    # accept() on the same stream from inside its own handshake read.
    stream = Hostile(REQUEST + REQUEST)
    seen = []

    def back(s, buf):
        try:
            uwebsocket.accept(s)
        except Exception as e:
            seen.append(type(e).__name__)
        return s._copy(buf)
    stream.reads = [back]
    try:
        uwebsocket.accept(stream)
    except (OSError, uwebsocket.HandshakeError):
        pass


# --- MemoryError while a message is handed over ---------------------------

def case_memory_error_at_hand_over_keeps_message():
    import micropython
    locked = []

    def lock_after(s, buf):
        n = s._copy(buf)
        if s.pos == len(s.data):
            micropython.heap_lock()
            locked.append(1)
        return n
    ws, stream = ws_over(frame(OP_BINARY, b"m" * 300, key=KEY), forever_reads=lock_after)
    try:
        got = ws.recv()
    except MemoryError:
        got = None
    finally:
        if locked:
            micropython.heap_unlock()
    if got is None:
        eq(ws.closed, False, "closed after the MemoryError")
        got = ws.recv()
    eq(got, b"m" * 300, "the message")


def case_memory_error_at_hand_over_text():
    import micropython
    locked = []

    def lock_after(s, buf):
        n = s._copy(buf)
        if s.pos == len(s.data):
            micropython.heap_lock()
            locked.append(1)
        return n
    ws, stream = ws_over(frame(OP_TEXT, "t\u00e9" * 40, key=KEY), forever_reads=lock_after)
    try:
        got = ws.recv()
    except MemoryError:
        got = None
    finally:
        if locked:
            micropython.heap_unlock()
    if got is None:
        got = ws.recv()
    eq(got, "t\u00e9" * 40, "the message")


# --- refused handshakes ----------------------------------------------------

def case_client_refusal_not_utf8():
    stream = Hostile(b"HTTP/1.1 403 \xff\xfe Forbidden\r\nContent-Length: 0\r\n\r\n")
    e = raises(uwebsocket.HandshakeError, uwebsocket.client, stream, "ws://h/")
    eq(e.status, 403, "status")


def case_client_refusal_binary_garbage():
    stream = Hostile(b"\xff\xfe\xfd\r\n\r\n")
    raises(uwebsocket.HandshakeError, uwebsocket.client, stream, "ws://h/")


def case_client_response_eof():
    stream = Hostile(b"HTTP/1.1 101 Switching")
    raises((OSError, uwebsocket.HandshakeError), uwebsocket.client, stream, "ws://h/")


def case_accept_request_eof():
    stream = Hostile(REQUEST[:30])
    raises((OSError, uwebsocket.HandshakeError), uwebsocket.accept, stream)


def case_accept_write_fails():
    stream = Hostile(REQUEST, writes=[OSError(EPIPE)])
    raises(OSError, uwebsocket.accept, stream)


def case_accept_write_lies():
    stream = Hostile(REQUEST, writes=[lambda s, buf: len(buf) + 5])
    raises((OSError, ConnectionClosed), uwebsocket.accept, stream)


def case_client_write_lies():
    stream = Hostile(RESPONSE, writes=[lambda s, buf: -3])
    raises((OSError, ConnectionClosed), uwebsocket.client, stream, "ws://h/")


def case_respond_write_lies():
    stream = Hostile(writes=[lambda s, buf: len(buf) * 2])
    raises((OSError, ConnectionClosed), uwebsocket.respond, stream, 200, b"x" * 100)




# --- the data's object resized while the queue is flushed -------------------

def resized_during_flush(op, server_side, size):
    # Non-blocking, a frame waiting in the queue: the next send() first
    # flushes it, through a write() that grows (moves) the very object being
    # sent and fills the heap with other data. The frame must carry the data
    # as it was or as it became, never the freed block's new contents.
    def case():
        victim = bytearray(b"A" * size)
        junk = []

        def first(s, buf):
            s.out.extend(bytes(buf)[:1])
            return 1

        def resize(s, buf):
            victim.extend(b"B" * 4096)
            for _ in range(20 if size <= 4096 else 2):
                junk.append(bytearray(b"\xee" * size))
            s.out.extend(buf)
            return len(buf)
        ws, stream = ws_over(b"", server_side=server_side, writes=[first, "zero", resize])
        ws.setblocking(False)
        ws.send(b"first")
        before = bytes(victim)
        if op == "send":
            ws.send(victim)
        elif op == "ping":
            ws.ping(victim)
        else:
            ws.write(victim)
        eq(ws.flush(), 0, "all written")
        frames = parse(stream.out)
        eq([p for _, _, p in frames][0], b"first", "the queued frame")
        eq(len(frames), 2, "frames")
        payload = frames[1][2]
        if payload != before and payload != bytes(victim):
            raise AssertionError("the frame carried %r..." % payload[:16])
    return case


for _op, _sizes in (("send", (100, 3000, 20000)), ("ping", (100,)), ("write", (100, 3000, 20000))):
    for _size in _sizes:
        for _side in (True, False):
            GENERATED["resized_during_flush_%s_%d_%s" % (_op, _size, "server" if _side else "client")] = \
                resized_during_flush(_op, _side, _size)


run(globals())
