# Every way a connection ends, and what the script sees: one exception,
# ConnectionClosed(code, reason), raised by the call that met the end, and
# close_code/close_reason that agree with it from then on (reason a str,
# "" when the peer gave none); after the end every call says the same and a
# second close() does nothing (RFC 6455 section 7.1.5 and 7.4).
import io

import errno

import uwebsocket
from wsframe import (run, KEY, OP_BINARY, OP_CLOSE, OP_TEXT, Duplex, check, close_payload, frame)


def stream_view_ended(ws):
    """The byte-stream view ends like a socket: end of file on reads,
    OSError(ENOTCONN) on a write."""
    check(ws.read(1), b"", "read() after the end")
    check(ws.readinto(bytearray(4)), 0, "readinto() after the end")
    try:
        ws.write(b"late")
    except OSError as e:
        check(e.errno, errno.ENOTCONN, "write() after the end: ENOTCONN")
    else:
        raise AssertionError("write() after the end did not raise")


def ended(stream, code, max_size=65536, server_side=True):
    """recv() on stream must end the connection with code; the state and
    every later call must agree. Returns the exception."""
    ws = uwebsocket.WebSocket(stream, server_side, max_size=max_size)
    try:
        ws.recv()
    except uwebsocket.ConnectionClosed as e:
        error = e
    else:
        raise AssertionError("recv() returned instead of ending with %d" % code)
    check(error.code, code, "exception's code")
    check(type(error.reason), str, "exception's reason type")
    check((ws.closed, ws.close_code, ws.close_reason), (True, code, error.reason), "state after %d" % code)
    for name, call in (("recv", ws.recv), ("recv_into", lambda: ws.recv_into(bytearray(8))),
                       ("send", lambda: ws.send("late")), ("ping", ws.ping),
                       ):
        try:
            call()
        except uwebsocket.ConnectionClosed as e:
            check(e.code, code, name + " after the end")
        else:
            raise AssertionError("%s after the end did not raise" % name)
    stream_view_ended(ws)
    check(ws.close(), None, "second close()")
    check(ws.flush(), 0, "flush() after the end")
    check(ws.keepalive(1, 1), None, "keepalive() after the end")
    check((ws.closed, ws.close_code, ws.close_reason), (True, code, error.reason), "state unchanged")
    return error


def test_end_of_stream_is_1006():
    ended(Duplex(frame(OP_TEXT, b"part", fin=False, key=KEY)), 1006)


class Reset(io.IOBase):
    """A stream whose reads fail as a reset TCP connection does."""

    def readinto(self, buf):
        raise OSError(104)  # ECONNRESET

    def write(self, buf):
        raise OSError(32)  # EPIPE

    def ioctl(self, request, arg):
        return 0


def test_reset_is_1006_at_the_first_recv():
    ended(Reset(), 1006)


def test_protocol_error_is_1002():
    ended(Duplex(frame(OP_TEXT, b"unmasked")), 1002)


def test_bad_utf8_is_1007():
    ended(Duplex(frame(OP_TEXT, b"\xff\xfe", key=KEY)), 1007)


def test_over_max_size_is_1009():
    ended(Duplex(frame(OP_BINARY, b"x" * 101, key=KEY)), 1009, max_size=100)


def test_peer_close_with_and_without_reason():
    e = ended(Duplex(frame(OP_CLOSE, close_payload(4001, b"bye"), key=KEY)), 4001)
    check(e.reason, "bye", "peer's reason")
    e = ended(Duplex(frame(OP_CLOSE, close_payload(1000), key=KEY)), 1000)
    check(e.reason, "", "no reason")
    e = ended(Duplex(frame(OP_CLOSE, b"", key=KEY)), 1005)
    check(e.reason, "", "empty Close")


def test_local_close_then_every_call():
    # The connection's close code is the one in the first Close received
    # (section 7.1.5): here the peer's answer, 1000.
    stream = Duplex(frame(OP_CLOSE, close_payload(1000), key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    ws.close(1001, "going")
    check((ws.closed, ws.close_code), (True, 1000), "after close()")
    check(type(ws.close_reason), str, "reason type")
    try:
        ws.send("late")
    except uwebsocket.ConnectionClosed as e:
        check(e.code, 1000, "send after close()")
    else:
        raise AssertionError("send after close() did not raise")
    stream_view_ended(ws)
    check(ws.close(), None, "second close()")


run(globals())
