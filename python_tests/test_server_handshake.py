"""uwebsocket.accept, read_request and respond on the unix port, driven by
a raw CPython socket (requests no real client would send) and by CPython's
websockets client (a peer we did not write).

The bad requests go to python_tests/servers/echo.py with HANDSHAKE_FLAGS, which set
every accept() option: subprotocols "chat" and "superchat", the one origin
http://good.example, max_head 1024, a 2 s read timeout. After each refusal
the same server process must serve a good client."""
import base64
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect as sync_connect

from conftest import ECHO, HANDSHAKE_FLAGS, SERVERS, wait_log  # noqa: F401
from wsraw import GOOD_ORIGIN, KEY, Response, accept_key, parse_frames, upgrade_request

MAX_HEAD = 1024  # the max_head of HANDSHAKE_FLAGS
RESPONSE_TIMEOUT = 10.0


def exchange(host, port, data, until_eof=True):
    """Send `data`, read the answer. With until_eof, read until the server
    closes (a reset after a complete answer is recorded, not raised: a
    server that refuses a head it did not read to the end closes with
    unread bytes, which the kernel turns into a reset); else until the end
    of the response head. Returns (Response, socket or None)."""
    sock = socket.create_connection((host, port), timeout=RESPONSE_TIMEOUT)
    sock.sendall(data)
    raw, reset = b"", False
    try:
        while until_eof or b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            if not chunk:
                break
            raw += chunk
    except ConnectionResetError:
        reset = True
    if until_eof:
        sock.close()
        sock = None
    return Response(raw, reset), sock


def assert_serves_good_client(srv, path="/after"):
    with sync_connect("ws://%s:%d%s" % (srv.host, srv.port, path), origin=GOOD_ORIGIN,
                      open_timeout=RESPONSE_TIMEOUT) as ws:
        seen = json.loads(ws.recv(timeout=RESPONSE_TIMEOUT))
        assert seen["path"] == path
        ws.send("still serving")
        assert ws.recv(timeout=RESPONSE_TIMEOUT) == "still serving"


# (id, request, status line, headers the answer must carry)
BAD_REQUESTS = [
    ("post", upgrade_request(method="POST"), "HTTP/1.1 405 Method Not Allowed", {"Allow": "GET"}),
    ("head", upgrade_request(method="HEAD"), "HTTP/1.1 405 Method Not Allowed", {"Allow": "GET"}),
    ("http-1.0", upgrade_request(version="HTTP/1.0"), "HTTP/1.1 400 Bad Request", {}),
    ("no-host", upgrade_request(replace={"Host": None}), "HTTP/1.1 400 Bad Request", {}),
    ("two-hosts", upgrade_request(extra=[("Host", "other")]), "HTTP/1.1 400 Bad Request", {}),
    ("no-upgrade", upgrade_request(replace={"Upgrade": None}), "HTTP/1.1 426 Upgrade Required",
     {"Upgrade": "websocket"}),
    ("upgrade-h2c", upgrade_request(replace={"Upgrade": "h2c"}), "HTTP/1.1 426 Upgrade Required",
     {"Upgrade": "websocket"}),
    ("no-connection", upgrade_request(replace={"Connection": None}), "HTTP/1.1 426 Upgrade Required",
     {"Upgrade": "websocket"}),
    ("connection-keep-alive", upgrade_request(replace={"Connection": "keep-alive"}),
     "HTTP/1.1 426 Upgrade Required", {"Upgrade": "websocket"}),
    ("no-version", upgrade_request(replace={"Sec-WebSocket-Version": None}), "HTTP/1.1 426 Upgrade Required",
     {"Sec-WebSocket-Version": "13", "Upgrade": "websocket"}),
    ("version-8", upgrade_request(replace={"Sec-WebSocket-Version": "8"}), "HTTP/1.1 426 Upgrade Required",
     {"Sec-WebSocket-Version": "13", "Upgrade": "websocket"}),
    ("no-key", upgrade_request(replace={"Sec-WebSocket-Key": None}), "HTTP/1.1 400 Bad Request", {}),
    ("key-15-bytes", upgrade_request(replace={"Sec-WebSocket-Key": base64.b64encode(bytes(15)).decode()}),
     "HTTP/1.1 400 Bad Request", {}),
    ("key-17-bytes", upgrade_request(replace={"Sec-WebSocket-Key": base64.b64encode(bytes(17)).decode()}),
     "HTTP/1.1 400 Bad Request", {}),
    ("key-not-base64", upgrade_request(replace={"Sec-WebSocket-Key": "!" * 22 + "=="}),
     "HTTP/1.1 400 Bad Request", {}),
    ("two-keys", upgrade_request(extra=[("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]),
     "HTTP/1.1 400 Bad Request", {}),
    ("foreign-origin", upgrade_request(replace={"Origin": "http://evil.example"}), "HTTP/1.1 403 Forbidden", {}),
    ("no-origin", upgrade_request(replace={"Origin": None}), "HTTP/1.1 403 Forbidden", {}),
    ("head-over-max-head", upgrade_request(extra=[("X-Pad", "a" * (2 * MAX_HEAD))]),
     "HTTP/1.1 431 Request Header Fields Too Large", {}),
    ("too-many-fields", upgrade_request(extra=[("X-%d" % i, "1") for i in range(40)]),
     "HTTP/1.1 431 Request Header Fields Too Large", {}),
    ("http-0.9", b"GET /\r\n\r\n", "HTTP/1.1 400 Bad Request", {}),
    ("garbage", bytes(range(1, 256)) + b"\r\n\r\n", "HTTP/1.1 400 Bad Request", {}),
    ("space-in-field-name", upgrade_request(extra=[("X Bad", "1")]), "HTTP/1.1 400 Bad Request", {}),
]


@pytest.mark.parametrize("request_bytes, status_line, required",
                         [row[1:] for row in BAD_REQUESTS], ids=[row[0] for row in BAD_REQUESTS])
def test_bad_request_gets_its_http_error_then_the_server_goes_on(mp_server, request_bytes, status_line, required):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    resp, _ = exchange(srv.host, srv.port, request_bytes)
    assert resp.status_line == status_line, resp.raw
    for name, value in required.items():
        assert resp.header(name) == value, (name, resp.raw)
    assert resp.header("Content-Type") == "text/plain"
    assert int(resp.header("Content-Length")) == len(resp.rest) > 0, resp.raw
    # The server closes after its answer, and says so; a 426 also keeps the
    # "upgrade" option that its Upgrade field requires (RFC 7230 §6.7).
    assert "close" in resp.tokens("Connection")
    if " 426 " in status_line:
        assert "upgrade" in resp.tokens("Connection")
    assert resp.header("Sec-WebSocket-Accept") is None
    # The script gets the status it answered with, and the body says to the
    # client what HandshakeError.message says to the script.
    line = wait_log(srv, "refused %s " % status_line.split()[1])
    message = line.split(" ", 2)[2]
    assert message and resp.rest.decode() == message, (line, resp.raw)
    assert_serves_good_client(srv)


def test_over_long_head_is_answered_after_reading_no_more_than_max_head(mp_server):
    # A client that keeps sending header bytes must not make the device
    # buffer them: the answer comes while most of the head is unsent.
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    sock = socket.create_connection((srv.host, srv.port), timeout=RESPONSE_TIMEOUT)
    with sock:
        sock.sendall(upgrade_request()[:-2] + b"X-Pad: " + b"a" * (MAX_HEAD + 10))
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer
    assert_serves_good_client(srv)


# Requests that differ from the usual shape but are valid.
GOOD_VARIANTS = [
    ("connection-token-list", upgrade_request(replace={"Connection": "keep-alive, Upgrade"})),
    ("upgrade-mixed-case", upgrade_request(replace={"Upgrade": "WebSocket", "Connection": "upgrade"})),
    ("origin-case", upgrade_request(replace={"Origin": "HTTP://GOOD.EXAMPLE"})),
    ("lower-case-names", upgrade_request().decode().replace("Sec-WebSocket-Key", "sec-websocket-key").encode()),
    ("head-just-under-max-head", upgrade_request(extra=[("X-Pad", "a" * (MAX_HEAD - len(upgrade_request()) - 9))])),
]


@pytest.mark.parametrize("request_bytes", [row[1] for row in GOOD_VARIANTS], ids=[row[0] for row in GOOD_VARIANTS])
def test_valid_request_variants_are_accepted(mp_server, request_bytes):
    assert len(request_bytes) <= MAX_HEAD
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    resp, sock = exchange(srv.host, srv.port, request_bytes, until_eof=False)
    with sock:
        assert resp.status_line == "HTTP/1.1 101 Switching Protocols", resp.raw
        assert resp.tokens("Upgrade") == {"websocket"}
        assert resp.tokens("Connection") == {"upgrade"}
        assert resp.header("Sec-WebSocket-Accept") == accept_key(KEY)
        assert resp.header("Sec-WebSocket-Protocol") is None


def test_client_that_hangs_up_mid_request_is_dropped(mp_server):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    with socket.create_connection((srv.host, srv.port), timeout=RESPONSE_TIMEOUT) as sock:
        sock.sendall(upgrade_request()[:40])
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(4096) == b""
    wait_log(srv, "handshake error")
    assert_serves_good_client(srv)


def test_tls_client_hello_without_end_of_head_does_not_hold_the_server(mp_server):
    # What a browser sends to a ws:// port it thinks is wss://: no CRLFCRLF,
    # and the client then waits. The server's read timeout ends it.
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    hello = b"\x16\x03\x01\x00\xf4\x01\x00\x00\xf0\x03\x03" + bytes(range(64))
    with socket.create_connection((srv.host, srv.port), timeout=RESPONSE_TIMEOUT) as sock:
        sock.sendall(hello)
        assert_serves_good_client(srv)
        try:
            leftover = sock.recv(4096)
        except ConnectionResetError:
            leftover = b""
        # Nothing at all is answered to a client that stalls: no 101, no
        # HTTP error either; the server's read timeout (2 s) ends it.
        assert leftover == b"", leftover
    wait_log(srv, "handshake error 110")


@pytest.mark.parametrize("offered, chosen", [
    (["superchat", "chat"], "chat"),   # the server's preference wins over the client's order
    (["chat", "superchat"], "chat"),
    (["superchat"], "superchat"),
    (["v2.other", "superchat"], "superchat"),
    (["other"], None),                 # nothing in common: no header, the client decides
    (None, None),
])
def test_subprotocol_negotiation(mp_server, offered, chosen):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    with sync_connect("ws://%s:%d/" % (srv.host, srv.port), origin=GOOD_ORIGIN, subprotocols=offered,
                      open_timeout=RESPONSE_TIMEOUT) as ws:
        assert ws.subprotocol == chosen
        assert ws.response.headers.get_all("Sec-WebSocket-Protocol") == ([chosen] if chosen else [])
        seen = json.loads(ws.recv(timeout=RESPONSE_TIMEOUT))
    assert seen["subprotocol"] == chosen


def test_subprotocols_offered_in_several_fields(mp_server):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    request = upgrade_request(extra=[("Sec-WebSocket-Protocol", "v1, superchat"),
                                     ("Sec-WebSocket-Protocol", "chat")])
    resp, sock = exchange(srv.host, srv.port, request, until_eof=False)
    with sock:
        assert resp.status_line == "HTTP/1.1 101 Switching Protocols", resp.raw
        assert resp.header("Sec-WebSocket-Protocol") == "chat"


def test_script_sees_path_query_and_headers(mp_server):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    path = "/rooms/kitchen?lamp=2&mode=on%20off"
    with sync_connect("ws://%s:%d%s" % (srv.host, srv.port, path), origin=GOOD_ORIGIN,
                      additional_headers={"X-Device": "Lamp 2", "Authorization": "Bearer t0k3n"},
                      open_timeout=RESPONSE_TIMEOUT) as ws:
        seen = json.loads(ws.recv(timeout=RESPONSE_TIMEOUT))
        key = ws.request.headers["Sec-WebSocket-Key"]
    assert seen["path"] == path
    headers = seen["headers"]
    # Names come lower-case, values as sent.
    assert headers["x-device"] == "Lamp 2"
    assert headers["authorization"] == "Bearer t0k3n"
    assert headers["host"] == "%s:%d" % (srv.host, srv.port)
    assert headers["origin"] == GOOD_ORIGIN
    assert headers["sec-websocket-key"] == key
    assert all(name == name.lower() for name in headers)


def test_repeated_and_non_utf8_header_values(mp_server):
    srv = mp_server(ECHO, *HANDSHAKE_FLAGS)
    request = upgrade_request(target="/x", extra=[("X-Tag", "a"), ("X-Tag", "b"), ("X-Raw", "\xff")])
    resp, sock = exchange(srv.host, srv.port, request, until_eof=False)
    with sock:
        assert resp.status_line == "HTTP/1.1 101 Switching Protocols", resp.raw
        data = resp.rest
        while not parse_frames(data)[0]:
            data += sock.recv(65536)
    seen = json.loads(parse_frames(data)[0][0][4])
    # RFC 9110 §5.3: repeated fields combine into one comma list.
    assert seen["headers"]["x-tag"] == "a, b"
    # A value that is not UTF-8 comes as bytes (the server sends its repr).
    assert seen["headers"]["x-raw"] == "b'\\xff'"


# One port for a page and a WebSocket: read_request, then respond or accept.

def test_page_and_websocket_on_one_port(mp_server):
    srv = mp_server(ECHO, "--http")
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=RESPONSE_TIMEOUT)
    conn.request("GET", "/")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    assert (resp.status, resp.reason) == (200, "OK")
    assert resp.getheader("Content-Type") == "text/html"
    assert resp.getheader("Cache-Control") == "no-store"
    assert resp.getheader("Connection") == "close"
    assert int(resp.getheader("Content-Length")) == len(body)
    assert body.startswith(b"<!doctype html>")

    with sync_connect("ws://%s:%d/ws" % (srv.host, srv.port), open_timeout=RESPONSE_TIMEOUT) as ws:
        ws.send("over the same port")
        assert ws.recv(timeout=RESPONSE_TIMEOUT) == "over the same port"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=RESPONSE_TIMEOUT) == b"\x00\x01"

    with urllib.request.urlopen("http://%s:%d/" % (srv.host, srv.port), timeout=RESPONSE_TIMEOUT) as page:
        assert page.status == 200 and page.read() == body
    wait_log(srv, "request GET /ws True")
    wait_log(srv, "request GET / False")


def test_one_port_answers_404_and_refuses_a_plain_get_of_the_socket(mp_server):
    srv = mp_server(ECHO, "--http")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen("http://%s:%d/nothing?here" % (srv.host, srv.port), timeout=RESPONSE_TIMEOUT)
    assert missing.value.code == 404
    assert missing.value.headers["Content-Type"] == "text/plain"
    assert missing.value.read() == b"no such page: /nothing?here"

    # A plain GET of the WebSocket path: accept(request=...) answers 426.
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=RESPONSE_TIMEOUT)
    conn.request("GET", "/ws")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 426
    assert resp.getheader("Upgrade") == "websocket"
    wait_log(srv, "refused 426")

    with sync_connect("ws://%s:%d/ws" % (srv.host, srv.port), open_timeout=RESPONSE_TIMEOUT) as ws:
        ws.send("after the refusals")
        assert ws.recv(timeout=RESPONSE_TIMEOUT) == "after the refusals"
