# Keepalive (RFC 6455 section 5.5.2: a Ping may serve as a keepalive) as a
# script on any board drives it: whole seconds work where the port has no
# floats; keepalive() says how many ms until the next check, sends the Ping
# when it is due, and fails the connection with 1011 when no answer comes.
import uwebsocket
from wsframe import run, OP_CLOSE, OP_PING, Duplex, check, close_payload


def test_schedule_and_arguments():
    ws = uwebsocket.WebSocket(Duplex(), True)
    check(ws.keepalive(), None, "off by default")
    due = ws.keepalive(2)
    check(0 < due <= 2000, True, "first check within the interval (%r ms)" % due)
    check(ws.keepalive(0), None, "0 turns it off")
    for bad in (-1, 10 ** 7):
        try:
            ws.keepalive(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("keepalive(%r) did not raise ValueError" % bad)
    for bad in ("1", b"1", None, []):
        try:
            ws.keepalive(bad)
        except TypeError:
            pass
        else:
            raise AssertionError("keepalive(%r) did not raise TypeError" % (bad,))
    check(ws.keepalive(), None, "a refused setting changes nothing")


def test_ping_then_1011():
    stream = Duplex()
    ws = uwebsocket.WebSocket(stream, True)
    due = ws.keepalive(1, 1)
    # Poll until the Ping goes out: then the wait jumps up to the timeout.
    while True:
        now = ws.keepalive()
        if now > due:
            break
        due = now
    check(stream.frames(), [(True, 0, OP_PING, b"", False)], "one Ping when due")
    try:
        while True:
            ws.keepalive()
    except uwebsocket.ConnectionClosed as e:
        check(e.args, (1011, "keepalive timeout"), "no answer within the timeout")
    check((ws.closed, ws.close_code, ws.close_reason), (True, 1011, "keepalive timeout"), "state after")
    check(stream.frames(), [(True, 0, OP_CLOSE, close_payload(1011, b"keepalive timeout"), False)], "Close 1011 sent")
    check(ws.keepalive(), None, "keepalive() after the end")


run(globals())
