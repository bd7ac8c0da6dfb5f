import errno
# Every method and attribute of a WebSocket after its connection ended, for
# each way a connection ends. A closed WebSocket raises ConnectionClosed with
# its close_code from recv/recv_into/send/ping (read/readinto give end of
# file, write OSError(ENOTCONN), as a socket does); a second close()
# does nothing; flush() returns 0; keepalive() returns None; setblocking()
# leaves the stream alone.
from harness import (ECONNRESET, EPIPE, KEY, OP_BINARY, OP_CLOSE, OP_TEXT, ConnectionClosed, Hostile, NoIoctl,
                     close_payload, closed_as, eq, frame, raises, raises_closed, run, ws_over)


def local_close():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(1000), key=KEY))
    ws.close()
    return ws, stream, 1000, ""


def local_close_reason():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(4000, b"done"), key=KEY))
    ws.close(4000, "done")
    return ws, stream, 4000, None


def local_close_silent_peer():
    ws, stream = ws_over()
    ws.close(1001)
    return ws, stream, 1001, None


def peer_close():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(1001, b"bye"), key=KEY))
    e = raises_closed(1001, ws.recv)
    eq(e.reason, "bye", "exception's reason")
    return ws, stream, 1001, "bye"


def peer_close_empty():
    ws, stream = ws_over(frame(OP_CLOSE, b"", key=KEY))
    e = raises_closed(1005, ws.recv)
    return ws, stream, 1005, ""


def protocol_error():
    ws, stream = ws_over(frame(5, b"", key=KEY))
    e = raises_closed(1002, ws.recv)
    return ws, stream, 1002, e.reason


def bad_utf8():
    ws, stream = ws_over(frame(OP_TEXT, b"\xff", key=KEY))
    e = raises_closed(1007, ws.recv)
    return ws, stream, 1007, e.reason


def too_big():
    ws, stream = ws_over(frame(OP_BINARY, b"x" * 101, key=KEY), max_size=100)
    e = raises_closed(1009, ws.recv)
    return ws, stream, 1009, e.reason


def eof():
    ws, stream = ws_over(b"")
    e = raises_closed(1006, ws.recv)
    return ws, stream, 1006, e.reason


def eof_mid_frame():
    ws, stream = ws_over(frame(OP_BINARY, b"abcdef", key=KEY)[:5])
    e = raises_closed(1006, ws.recv)
    return ws, stream, 1006, e.reason


def reset_on_read():
    ws, stream = ws_over(reads=[OSError(ECONNRESET)])
    e = raises_closed(1006, ws.recv)
    return ws, stream, 1006, e.reason


def broken_pipe_on_write():
    ws, stream = ws_over(writes=[OSError(EPIPE)])
    e = raises_closed(1006, ws.send, b"x")
    return ws, stream, 1006, e.reason


def with_block():
    ws, stream = ws_over(frame(OP_CLOSE, close_payload(1000), key=KEY))
    with ws:
        pass
    return ws, stream, 1000, ""


def no_ioctl_protocol_error():
    ws, stream = ws_over(frame(5, b"", key=KEY), cls=NoIoctl)
    e = raises_closed(1002, ws.recv)
    return ws, stream, 1002, e.reason


WAYS = {
    "local_close": local_close, "local_close_reason": local_close_reason,
    "local_close_silent_peer": local_close_silent_peer, "peer_close": peer_close,
    "peer_close_empty": peer_close_empty, "protocol_error": protocol_error, "bad_utf8": bad_utf8,
    "too_big": too_big, "eof": eof, "eof_mid_frame": eof_mid_frame, "reset_on_read": reset_on_read,
    "broken_pipe_on_write": broken_pipe_on_write, "with_block": with_block,
    "no_ioctl_protocol_error": no_ioctl_protocol_error,
}


def state(ws, stream, code, reason):
    closed_as(ws, code, reason)
    if hasattr(stream, "ioctl"):
        eq(stream.closed, True, "stream closed")


def op_recv(ws, stream, code, reason):
    raises_closed(code, ws.recv)


def op_recv_into(ws, stream, code, reason):
    raises_closed(code, ws.recv_into, bytearray(10))


def op_send(ws, stream, code, reason):
    n = len(stream.out)
    raises_closed(code, ws.send, b"x")
    raises_closed(code, ws.send, "x")
    eq(len(stream.out), n, "bytes written")


def op_ping(ws, stream, code, reason):
    n = len(stream.out)
    raises_closed(code, ws.ping, b"x")
    eq(len(stream.out), n, "bytes written")


# The byte-stream view ends like a socket: end of file, then OSError(ENOTCONN)
# for a write.
def op_read(ws, stream, code, reason):
    eq(ws.read(10), b"", "read() after the end")


def op_readinto(ws, stream, code, reason):
    eq(ws.readinto(bytearray(10)), 0, "readinto() after the end")


def op_write(ws, stream, code, reason):
    n = len(stream.out)
    try:
        ws.write(b"x")
    except OSError as e:
        eq(e.errno, errno.ENOTCONN, "write() after the end: ENOTCONN")
    else:
        raise AssertionError("write() after the end did not raise")
    eq(len(stream.out), n, "bytes written")


def op_close_again(ws, stream, code, reason):
    n = len(stream.out)
    reads = stream.n_reads
    eq(ws.close(), None, "close()")
    eq(ws.close(1001, "again"), None, "close(1001)")
    eq(len(stream.out), n, "bytes written")
    eq(stream.n_reads, reads, "reads")
    eq(ws.close_code, code, "close_code unchanged")


def op_flush(ws, stream, code, reason):
    eq(ws.flush(), 0, "flush()")


def op_keepalive(ws, stream, code, reason):
    eq(ws.keepalive(), None, "keepalive()")
    eq(ws.keepalive(1, 1), None, "keepalive(1, 1)")


def op_setblocking(ws, stream, code, reason):
    stream.blocking = "untouched"
    eq(ws.setblocking(False), None, "setblocking(False)")
    eq(ws.setblocking(True), None, "setblocking(True)")
    eq(stream.blocking, "untouched", "the stream's mode")


def op_with(ws, stream, code, reason):
    n = len(stream.out)
    with ws:
        pass
    eq(len(stream.out), n, "bytes written")


def op_exception_matches(ws, stream, code, reason):
    e = raises_closed(code, ws.recv)
    eq(e.reason, ws.close_reason, "exception's reason vs close_reason")


OPS = {
    "state": state, "recv": op_recv, "recv_into": op_recv_into, "send": op_send, "ping": op_ping,
    "read": op_read, "readinto": op_readinto, "write": op_write, "close_again": op_close_again,
    "flush": op_flush, "keepalive": op_keepalive, "setblocking": op_setblocking, "with": op_with,
    "exception_matches": op_exception_matches,
}

GENERATED = {}


def make(way, op):
    def case():
        ws, stream, code, reason = way()
        op(ws, stream, code, reason)
    return case


for _way_name, _way in WAYS.items():
    for _op_name, _op in OPS.items():
        GENERATED["%s__%s" % (_way_name, _op_name)] = make(_way, _op)

run(globals())
