# Every public function and method of uwebsocket called with wrong types and
# out-of-range values. Arguments are checked before anything goes on the
# wire: a refused call writes nothing.
import uwebsocket
from harness import (KEY, OP_BINARY, OP_CLOSE, OP_TEXT, REQUEST, RESPONSE, ConnectionClosed, Hostile, client_frames,
                     eq, frame, parse, raises, run, ws_over)

NOT_STREAMS = {"int": 42, "none": None, "list": [], "object": object(), "str": "ws", "bytes": b"GET",
               "type": Hostile, "module": uwebsocket}

GENERATED = {}


def not_stream(label, call):
    def each(name, value):
        GENERATED["%s_%s" % (label, name)] = lambda: raises(TypeError, call, value)
    for name, value in NOT_STREAMS.items():
        each(name, value)


def respond(s):
    return uwebsocket.respond(s, 200, b"hi")


def client(s):
    return uwebsocket.client(s, "ws://h/")


not_stream("accept", uwebsocket.accept)
not_stream("read_request", uwebsocket.read_request)
not_stream("respond", respond)
not_stream("client", client)
not_stream("websocket", uwebsocket.WebSocket)


def refused_silently(exc, call, data=REQUEST, **kw):
    """call(stream, **kw) must raise exc and write nothing."""
    def case():
        stream = Hostile(data)
        raises(exc, call, stream, **kw)
        eq(bytes(stream.out), b"", "bytes written")
    return case


ACCEPT_BAD = {
    "max_size_negative": (ValueError, {"max_size": -1}),
    "max_size_str": (TypeError, {"max_size": "1"}),
    "max_head_zero": (ValueError, {"max_head": 0}),
    "max_head_negative": (ValueError, {"max_head": -5}),
    "subprotocols_str": (TypeError, {"subprotocols": "chat"}),
    "subprotocols_int_item": (TypeError, {"subprotocols": [1]}),
    "subprotocols_int": (TypeError, {"subprotocols": 5}),
    "subprotocols_space": (ValueError, {"subprotocols": ["a b"]}),
    "subprotocols_crlf": (ValueError, {"subprotocols": ["a\r\nX: y"]}),
    "origins_int": (TypeError, {"origins": 5}),
    "origins_str": (TypeError, {"origins": "http://h"}),
    "headers_int": (TypeError, {"headers": 5}),
    "headers_crlf_value": (ValueError, {"headers": {"X-A": "1\r\nX-B: 2"}}),
    "headers_colon_name": (ValueError, {"headers": {"X:A": "1"}}),
    "headers_not_pairs": (TypeError, {"headers": [1]}),
    "headers_short_pair": ((ValueError, TypeError), {"headers": [("a",)]}),
    "headers_int_value": (TypeError, {"headers": {"X-A": 1}}),
    "request_int": (TypeError, {"request": 5}),
    "request_bytes": (TypeError, {"request": REQUEST}),
    "unknown_keyword": (TypeError, {"bogus": 1}),
}
for _name, (_exc, _kw) in ACCEPT_BAD.items():
    GENERATED["accept_" + _name] = refused_silently(_exc, uwebsocket.accept, **_kw)
# The same settings with a request read beforehand.
for _name in ("max_size_negative", "subprotocols_str", "headers_crlf_value"):
    def _with_request(exc=ACCEPT_BAD[_name][0], kw=ACCEPT_BAD[_name][1]):
        req = uwebsocket.Request(REQUEST)
        stream = Hostile()
        raises(exc, uwebsocket.accept, stream, request=req, **kw)
        eq(bytes(stream.out), b"", "bytes written")
    GENERATED["accept_request_" + _name] = _with_request

READ_REQUEST_BAD = {
    "max_head_zero": (ValueError, {"max_head": 0}),
    "max_head_negative": (ValueError, {"max_head": -1}),
    "max_head_str": (TypeError, {"max_head": "x"}),
    "timeout_str": (TypeError, {"timeout": "x"}),
    "timeout_negative": (ValueError, {"timeout": -1}),
}
for _name, (_exc, _kw) in READ_REQUEST_BAD.items():
    GENERATED["read_request_" + _name] = refused_silently(_exc, uwebsocket.read_request, **_kw)
GENERATED["accept_timeout_negative"] = refused_silently(ValueError, uwebsocket.accept, timeout=-1)
GENERATED["accept_timeout_str"] = refused_silently(TypeError, uwebsocket.accept, timeout="1")


def respond_bad(exc, *args, **kw):
    def case():
        stream = Hostile()
        raises(exc, uwebsocket.respond, stream, *args, **kw)
        eq(bytes(stream.out), b"", "bytes written")
    return case


GENERATED["respond_status_99"] = respond_bad(ValueError, 99)
GENERATED["respond_status_1000"] = respond_bad(ValueError, 1000)
GENERATED["respond_status_negative"] = respond_bad(ValueError, -200)
GENERATED["respond_status_str"] = respond_bad(TypeError, "200")
GENERATED["respond_body_int"] = respond_bad(TypeError, 200, 5)
GENERATED["respond_content_type_crlf"] = respond_bad(ValueError, 200, b"", content_type="a\r\nX: y")
GENERATED["respond_content_type_int"] = respond_bad(TypeError, 200, b"", content_type=5)
GENERATED["respond_headers_crlf"] = respond_bad(ValueError, 200, b"", headers={"A": "b\nc"})
GENERATED["respond_headers_int"] = respond_bad(TypeError, 200, b"", headers=7)


def case_respond_ok():
    stream = Hostile()
    eq(uwebsocket.respond(stream, 404, "nope", content_type="text/plain", headers=[("X-A", "1")]), None, "respond")
    out = bytes(stream.out)
    assert out.startswith(b"HTTP/1.1 404 Not Found\r\n"), out
    assert out.endswith(b"\r\n\r\nnope"), out
    eq(stream.closed, True, "stream closed")


def client_bad(exc, url="ws://h/", **kw):
    def case():
        stream = Hostile(RESPONSE)
        raises(exc, uwebsocket.client, stream, url, **kw)
        eq(bytes(stream.out), b"", "bytes written")
    return case


GENERATED["client_url_int"] = client_bad(TypeError, 42)
GENERATED["client_url_none"] = client_bad(TypeError, None)
GENERATED["client_url_http"] = client_bad(ValueError, "http://h/")
GENERATED["client_url_empty_host"] = client_bad(ValueError, "ws:///x")
GENERATED["client_url_port_0"] = client_bad(ValueError, "ws://h:0/")
GENERATED["client_url_port_big"] = client_bad(ValueError, "ws://h:99999999999999999999/")
GENERATED["client_url_port_letters"] = client_bad(ValueError, "ws://h:8a/")
GENERATED["client_url_ipv6_open"] = client_bad(ValueError, "ws://[::1/")
GENERATED["client_url_userinfo_bad_escape"] = client_bad(ValueError, "ws://u%zz@h/")
GENERATED["client_max_size_negative"] = client_bad(ValueError, max_size=-1)
GENERATED["client_max_head_zero"] = client_bad(ValueError, max_head=0)
GENERATED["client_subprotocols_str"] = client_bad(TypeError, subprotocols="v1")
GENERATED["client_headers_crlf"] = client_bad(ValueError, headers={"A": "1\r\n"})
GENERATED["client_origin_crlf"] = client_bad(ValueError, origin="http://h\r\nX: 1")
GENERATED["client_origin_int"] = client_bad(TypeError, origin=5)
GENERATED["client_timeout_str"] = client_bad(TypeError, timeout="x")
GENERATED["client_timeout_negative"] = client_bad(ValueError, timeout=-1)
GENERATED["client_url_crlf_path"] = client_bad(ValueError, "ws://h/a\r\nX: 1")


def case_client_no_url():
    raises(TypeError, uwebsocket.client, Hostile(RESPONSE))


def connect_bad(exc, *args, **kw):
    return lambda: raises(exc, uwebsocket.connect, *args, **kw)


GENERATED["connect_no_args"] = connect_bad(TypeError)
GENERATED["connect_int"] = connect_bad(TypeError, 42)
GENERATED["connect_two_positional"] = connect_bad(TypeError, "ws://h/", 1)
GENERATED["connect_http"] = connect_bad(ValueError, "http://127.0.0.1/")
GENERATED["connect_no_host"] = connect_bad(ValueError, "ws://")
GENERATED["connect_port_big"] = connect_bad(ValueError, "ws://127.0.0.1:65536/")
GENERATED["connect_max_size_negative"] = connect_bad(ValueError, "ws://127.0.0.1:1/", max_size=-1)
GENERATED["connect_timeout_str"] = connect_bad(TypeError, "ws://127.0.0.1:1/", timeout="x")
GENERATED["connect_refused"] = connect_bad(OSError, "ws://127.0.0.1:1/", timeout=2)


def case_websocket_max_size_negative():
    raises(ValueError, uwebsocket.WebSocket, Hostile(), True, max_size=-1)


def case_websocket_max_size_str():
    raises(TypeError, uwebsocket.WebSocket, Hostile(), True, max_size="x")


def case_websocket_no_args():
    raises(TypeError, uwebsocket.WebSocket)


def case_websocket_unknown_keyword():
    raises(TypeError, uwebsocket.WebSocket, Hostile(), bogus=1)


REQUEST_BAD = {"empty": b"", "garbage": b"\x00\xff\r\n\r\n", "no_end": b"GET / HTTP/1.1\r\nHost: h\r\n",
               "http10_garbage": b"GET\r\n\r\n", "nul_in_name": b"GET / HTTP/1.1\r\nA\x00: b\r\n\r\n"}
for _name, _raw in REQUEST_BAD.items():
    GENERATED["request_" + _name] = (lambda raw=_raw: raises(uwebsocket.HandshakeError, uwebsocket.Request, raw))
GENERATED["request_int"] = lambda: raises(TypeError, uwebsocket.Request, 42)
GENERATED["request_none"] = lambda: raises(TypeError, uwebsocket.Request, None)
GENERATED["request_no_args"] = lambda: raises(TypeError, uwebsocket.Request)
GENERATED["request_two_args"] = lambda: raises(TypeError, uwebsocket.Request, REQUEST, REQUEST)


def case_request_attributes():
    req = uwebsocket.Request(REQUEST)
    eq(req.method, "GET", "method")
    eq(req.path, "/chat?x=1", "path")
    eq(req.upgrade, True, "upgrade")
    eq(req.headers["sec-websocket-protocol"], "chat", "headers")
    eq(req.raw, REQUEST, "raw")
    raises(AttributeError, getattr, req, "bogus")
    raises((AttributeError, TypeError), setattr, req, "path", "/x")


def case_request_non_utf8():
    # Either refused as malformed, or the bytes kept as bytes.
    for raw, attr in ((b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", "path"),
                      (b"GET / HTTP/1.1\r\nHost: \xfe\r\n\r\n", "host")):
        try:
            req = uwebsocket.Request(raw)
        except uwebsocket.HandshakeError as e:
            eq(e.status, 400, "status")
            continue
        value = req.path if attr == "path" else req.headers["host"]
        assert isinstance(value, (str, bytes)), value


# --- WebSocket methods ---------------------------------------------------

def open_ws(data=b""):
    return ws_over(data)


def method_bad(exc, method, *args, **kw):
    """ws.<method>(*args) raises exc and writes nothing; the WebSocket stays open."""
    def case():
        ws, stream = open_ws()
        raises(exc, getattr(ws, method), *args, **kw)
        eq(bytes(stream.out), b"", "bytes written")
        eq(ws.closed, False, "ws.closed")
    return case


BAD_CALLS = {
    "send_int": (TypeError, "send", 123),
    "send_none": (TypeError, "send", None),
    "send_list": (TypeError, "send", [1, 2]),
    "send_no_args": (TypeError, "send"),
    "send_three_args": (TypeError, "send", b"x", 1, 2),
    "recv_into_bytes": (TypeError, "recv_into", b"x"),
    "recv_into_str": (TypeError, "recv_into", "x"),
    "recv_into_none": (TypeError, "recv_into", None),
    "recv_into_int": (TypeError, "recv_into", 5),
    "recv_args": (TypeError, "recv", 1),
    "ping_126": (ValueError, "ping", b"x" * 126),
    "ping_huge": (ValueError, "ping", bytes(100000)),
    "ping_int": (TypeError, "ping", 5),
    "ping_two_args": (TypeError, "ping", b"a", b"b"),
    "close_str": (TypeError, "close", "a"),
    "close_reason_int": (TypeError, "close", 1000, 5),
    "close_reason_124": (ValueError, "close", 1000, "x" * 124),
    "close_reason_124_utf8": (ValueError, "close", 1000, "\u00e9" * 62),
    "close_float": (TypeError, "close", 1000.0),
    "close_huge": ((ValueError, OverflowError), "close", 1 << 70),
    "keepalive_negative": (ValueError, "keepalive", -1),
    "keepalive_timeout_negative": (ValueError, "keepalive", 1, -1),
    "keepalive_huge": (ValueError, "keepalive", 1e30),
    "keepalive_timeout_huge": (ValueError, "keepalive", 1, 1e30),
    "keepalive_nan": (ValueError, "keepalive", float("nan")),
    "keepalive_inf": (ValueError, "keepalive", float("inf")),
    "keepalive_neg_inf": (ValueError, "keepalive", float("-inf")),
    "keepalive_str": (TypeError, "keepalive", "a"),
    "keepalive_none_timeout_str": (TypeError, "keepalive", 1, "a"),
    "write_int": (TypeError, "write", 5),
    "write_none": (TypeError, "write", None),
    "readinto_bytes": (TypeError, "readinto", b"abc"),
    "flush_args": (TypeError, "flush", 1),
    "setblocking_no_args": (TypeError, "setblocking"),
}
for _code in (-1, 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535, 65536):
    BAD_CALLS["close_code_%d" % _code] = (ValueError, "close", _code)
for _name, _spec in BAD_CALLS.items():
    GENERATED["ws_" + _name] = method_bad(_spec[0], _spec[1], *_spec[2:])


def good_close(code, reason=""):
    def case():
        ws, stream = open_ws(client_frames((OP_CLOSE, close_payload(code))))
        eq(ws.close(code, reason), None, "close")
        frames = parse(stream.out)
        eq(frames[0][1], OP_CLOSE, "first frame's opcode")
        eq(frames[0][2], code.to_bytes(2, "big") + reason.encode(), "Close payload")
        eq(ws.closed, True, "ws.closed")
        eq(ws.close_code, code, "ws.close_code")
    return case


def close_payload(code, reason=b""):
    return code.to_bytes(2, "big") + reason


for _code in (1000, 1001, 1003, 1007, 1014, 3000, 4999):
    GENERATED["ws_close_code_ok_%d" % _code] = good_close(_code)
GENERATED["ws_close_reason_123"] = good_close(1000, "x" * 123)


def case_ws_recv_into_empty_buffer():
    ws, stream = open_ws(client_frames((OP_BINARY, b"abc")))
    try:
        n = ws.recv_into(bytearray(0))
    except ValueError:
        return
    eq(n, 0, "recv_into(bytearray(0))")
    buf = bytearray(8)
    eq(ws.recv_into(buf), 3, "then")
    eq(bytes(buf[:3]), b"abc", "payload")


def case_ws_recv_into_memoryview_slice():
    ws, stream = open_ws(client_frames((OP_BINARY, b"abcdef")))
    buf = bytearray(10)
    eq(ws.recv_into(memoryview(buf)[2:5]), 3, "count")
    eq(ws.more, True, "more")
    eq(bytes(buf), b"\0\0abc\0\0\0\0\0", "only the slice written")


def case_ws_send_kinds():
    ws, stream = open_ws()
    ws.send("t")
    ws.send(b"b")
    ws.send(bytearray(b"ba"))
    ws.send(memoryview(b"xmv")[1:])
    ws.send(data="k")
    ws.send(b"f", False)
    ws.send(b"g", fin=True)
    got = [(op, p) for fin, op, p in parse(stream.out)]
    eq(got, [(OP_TEXT, b"t"), (2, b"b"), (2, b"ba"), (2, b"mv"), (OP_TEXT, b"k"), (2, b"f"), (0, b"g")], "frames")


def case_ws_send_fragment_type_mix():
    ws, stream = open_ws()
    ws.send("a", fin=False)
    raises(ValueError, ws.send, b"b")
    ws.send("c")
    got = [(fin, op, p) for fin, op, p in parse(stream.out)]
    eq(got, [(False, OP_TEXT, b"a"), (True, 0, b"c")], "frames")


def case_ws_ping_125():
    ws, stream = open_ws()
    ws.ping(b"x" * 125)
    ws.ping()
    ws.ping("s")
    eq([(op, p) for fin, op, p in parse(stream.out)], [(9, b"x" * 125), (9, b""), (9, b"s")], "pings")


def case_ws_keepalive_values():
    ws, stream = open_ws()
    eq(ws.keepalive(0), None, "keepalive(0)")
    due = ws.keepalive(5, 2)
    assert isinstance(due, int) and 0 <= due <= 5000, due
    due = ws.keepalive(0.5)
    assert isinstance(due, int) and 0 <= due <= 500, due
    eq(ws.keepalive(0), None, "off again")


def case_ws_flush_nothing():
    ws, stream = open_ws()
    eq(ws.flush(), 0, "flush()")


def case_ws_setblocking():
    ws, stream = open_ws()
    ws.setblocking(False)
    eq(stream.blocking, False, "stream's mode")
    eq(ws.recv(), None, "recv() with nothing")
    ws.setblocking(True)
    eq(stream.blocking, True, "stream's mode")


def case_ws_attributes_wrapped():
    ws, stream = open_ws()
    for name, want in (("path", None), ("headers", None), ("subprotocol", None), ("more", False),
                       ("closed", False), ("close_code", None), ("close_reason", None)):
        eq(getattr(ws, name), want, name)
    assert ws.stream is stream
    raises(AttributeError, getattr, ws, "bogus")
    raises((AttributeError, TypeError), setattr, ws, "closed", True)
    raises((AttributeError, TypeError), setattr, ws, "close_code", 1)
    eq(ws.closed, False, "ws.closed after a refused store")


def case_ws_attributes_accepted():
    stream = Hostile(REQUEST)
    ws = uwebsocket.accept(stream, subprotocols=["chat"])
    eq(ws.path, "/chat?x=1", "path")
    eq(ws.subprotocol, "chat", "subprotocol")
    eq(ws.headers["host"], "h", "headers")
    eq(ws.closed, False, "closed")


def case_ws_enter_returns_self():
    ws, stream = open_ws()
    assert ws.__enter__() is ws


def case_ws_with_block_closes():
    ws, stream = open_ws(client_frames((OP_CLOSE, close_payload(1000))))
    with ws:
        pass
    eq(stream.closed, True, "stream closed")
    eq(parse(stream.out)[0][1], OP_CLOSE, "Close sent")
    eq(ws.close_code, 1000, "close_code")


def case_ws_with_block_silent_peer():
    # The peer never answers our Close: end of stream after it.
    ws, stream = open_ws()
    with ws:
        pass
    eq(stream.closed, True, "stream closed")
    eq(ws.closed, True, "ws.closed")


def case_ws_with_block_exception():
    ws, stream = open_ws()
    try:
        with ws:
            raise OSError(ETIMEDOUT_)
    except OSError as e:
        eq(e.args[0], ETIMEDOUT_, "the block's exception")
    eq(stream.closed, True, "stream closed")


ETIMEDOUT_ = 110


def case_ws_exit_direct():
    ws, stream = open_ws()
    eq(ws.__exit__(None, None, None), None, "__exit__")
    eq(stream.closed, True, "stream closed")
    eq(ws.__exit__(None, None, None), None, "__exit__ again")


def case_ws_exit_wrong_arity():
    ws, stream = open_ws()
    raises(TypeError, ws.__exit__)
    raises(TypeError, ws.__exit__, 1, 2, 3, 4)


def case_ws_read_write_stream_api():
    ws, stream = open_ws(client_frames((OP_BINARY, b"hello"), (OP_TEXT, b"x")))
    eq(ws.write(b"abc"), 3, "write")
    eq(parse(stream.out), [(True, OP_BINARY, b"abc")], "write sends one binary message")
    eq(ws.read(3), b"hel", "read(3)")
    buf = bytearray(4)
    n = ws.readinto(buf)
    # Bytes run on across message boundaries (a byte stream).
    eq(bytes(buf[:n]), b"lox"[:n], "readinto")


def case_ws_methods_on_wrong_self():
    raises(TypeError, uwebsocket.WebSocket.recv, object())
    raises(TypeError, uwebsocket.WebSocket.send, 42, b"x")
    raises(TypeError, uwebsocket.WebSocket.close, "x")
    raises(TypeError, uwebsocket.WebSocket.__exit__, None, None, None, None)


def case_exceptions_constructible():
    e = uwebsocket.ConnectionClosed(1000, "bye")
    eq((e.code, e.reason), (1000, "bye"), "ConnectionClosed")
    e = uwebsocket.ConnectionClosed()
    eq((e.code, e.reason), (None, None), "ConnectionClosed()")
    e = uwebsocket.HandshakeError(400, "bad")
    eq((e.status, e.message), (400, "bad"), "HandshakeError")
    assert issubclass(uwebsocket.ConnectionClosed, Exception)


run(globals())
