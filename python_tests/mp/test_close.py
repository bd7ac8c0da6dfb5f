# The closing handshake (RFC 6455 sections 5.5.1, 7.1 and 7.4): a peer's
# Close is answered with its code and reported as ConnectionClosed, codes
# the RFC forbids on the wire fail the connection with 1002, a local
# close() sends its code and reason, and end of stream is 1006.
import uwebsocket
from wsframe import run, KEY, OP_CLOSE, OP_TEXT, Duplex, check, close_payload, expect_closed, frame


def peer_closes(payload, code, reason, answer_code, server_side=True):
    """The peer sends Close(payload): recv() raises ConnectionClosed(code,
    reason) (reason None: the core's own message, not checked) and a Close
    carrying answer_code has been written."""
    stream = Duplex(frame(OP_CLOSE, payload, key=KEY if server_side else None))
    ws = uwebsocket.WebSocket(stream, server_side)
    e = expect_closed(ws.recv, code)
    if reason is not None:
        check(e.reason, reason, "reason")
    ((fin, rsv, opcode, answer, masked),) = stream.frames()
    check((fin, opcode, answer[:2]), (True, OP_CLOSE, answer_code.to_bytes(2, "big")), "answer to Close %r" % payload)
    check(masked, not server_side, "answer masked")
    check(stream.closed, True, "stream closed")
    check(ws.closed, True, "ws.closed")
    check(ws.close_code, code, "ws.close_code")
    # Once closed, every call says so with the same code.
    expect_closed(ws.recv, code)
    expect_closed(lambda: ws.send("late"), code)


def test_valid_codes():
    for server_side in (True, False):
        peer_closes(close_payload(1000, b"bye"), 1000, "bye", 1000, server_side)
        peer_closes(close_payload(1001), 1001, "", 1001, server_side)
    for code in (1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        peer_closes(close_payload(code, b"why"), code, "why", code)
    # A UTF-8 reason up to the 123 bytes a control frame leaves for it.
    reason = b"\xc3\xa9".decode() * 61 + "x"  # é: no \u escapes on ports without unicode
    peer_closes(close_payload(1000, reason.encode()), 1000, reason, 1000)
    # No code at all is reported as 1005 (section 7.1.5) and answered.
    peer_closes(b"", 1005, "", 1000)


def test_invalid_codes():
    # Codes never sent on the wire (section 7.4.1), unassigned ones (as Autobahn 7.9.x), and a
    # 1-byte payload: the connection fails with 1002.
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        peer_closes(close_payload(code), 1002, None, 1002)
    peer_closes(b"\x03", 1002, None, 1002)


def test_local_close():
    stream = Duplex(frame(OP_CLOSE, close_payload(1001), key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    ws.close(1001, "going away")
    check([(opcode, payload) for fin, rsv, opcode, payload, masked in stream.frames()],
          [(OP_CLOSE, close_payload(1001, b"going away"))], "close frame sent")
    check((ws.closed, ws.close_code, stream.closed), (True, 1001, True), "after close()")
    ws.close()  # a second close() does nothing
    check(stream.frames(), [], "nothing more written")
    expect_closed(lambda: ws.send("x"), 1001)


def test_close_as_client():
    stream = Duplex(frame(OP_CLOSE, close_payload(1000)))
    ws = uwebsocket.WebSocket(stream, False)
    ws.close(4001, "done")
    ((fin, rsv, opcode, payload, masked),) = stream.frames()
    check((opcode, payload, masked), (OP_CLOSE, close_payload(4001, b"done"), True), "client close frame")


def test_close_without_answer():
    # The peer is gone before answering: close() still returns.
    stream = Duplex()
    ws = uwebsocket.WebSocket(stream, True)
    ws.close()
    check([(opcode, payload) for fin, rsv, opcode, payload, masked in stream.frames()],
          [(OP_CLOSE, close_payload(1000))], "default close frame")
    check(stream.closed, True, "stream closed")


def test_close_waiting_for_the_answer_without_blocking():
    # Non-blocking, close(wait=True) sends our Close and keeps the stream
    # open: the peer's answer then ends the connection at the next recv()
    # with its code and reason (what an event loop waits for).
    answer = frame(OP_CLOSE, close_payload(4000, b"bye"), key=KEY)
    stream = Duplex(answer)
    ws = uwebsocket.WebSocket(stream, True)
    ws.setblocking(False)
    ws.close(4000, "bye", wait=True)
    check((ws.closed, stream.closed, ws.close_code), (False, False, None), "open for the answer")
    check([(opcode, payload) for fin, rsv, opcode, payload, masked in stream.frames()],
          [(OP_CLOSE, close_payload(4000, b"bye"))], "our Close")
    e = expect_closed(ws.recv, 4000)
    check((e.args, ws.closed, stream.closed, ws.close_reason), ((4000, "bye"), True, True, "bye"), "answered")
    check(stream.frames(), [], "nothing more sent")
    # No answer: a second close() closes the stream, with our code.
    stream = Duplex()
    ws = uwebsocket.WebSocket(stream, True)
    ws.setblocking(False)
    ws.close(4001, wait=True)
    check(ws.recv(), None, "nothing yet")
    ws.close()
    check((ws.closed, stream.closed, ws.close_code, ws.close_reason), (True, True, 4001, ""), "given up")
    # Without wait, a non-blocking close() closes the stream at once.
    stream = Duplex()
    ws = uwebsocket.WebSocket(stream, True)
    ws.setblocking(False)
    ws.close()
    check((ws.closed, stream.closed), (True, True), "closed at once")


def test_invalid_local_close():
    ws = uwebsocket.WebSocket(Duplex(), True)
    for code, reason in ((1005, ""), (999, ""), (70000, ""), (1000, "r" * 124)):
        try:
            ws.close(code, reason)
        except ValueError:
            continue
        raise AssertionError("close(%d, %d-byte reason) accepted" % (code, len(reason)))


def test_end_of_stream():
    stream = Duplex(frame(OP_TEXT, b"partial message", fin=False, key=KEY))
    ws = uwebsocket.WebSocket(stream, True)
    e = expect_closed(ws.recv, 1006)
    check(stream.frames(), [], "nothing written to a lost connection")
    check(e.code, 1006, "code")


run(globals())
