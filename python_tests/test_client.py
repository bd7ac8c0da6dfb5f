"""uwebsocket.connect() and uwebsocket.client() on the unix port, against
real servers on loopback: CPython's websockets, Tornado, and a raw socket
that checks what the client puts on the wire."""
import base64
import errno
import socket

import pytest
from websockets.exceptions import ConnectionClosed

from clients import peers
from clients.peers import RawServer, TornadoServer, WebsocketsServer, echo, run_session
from conftest import EXAMPLES, refused_port, run_mp

LENGTH_CLASSES = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20]


def echo_steps(sizes):
    return ["max_size=%d" % (2 << 20)] + ["echo=%d" % n for n in sizes]


def drain(ws):
    """Read until the connection closes, whatever the close code."""
    try:
        for _ in ws:
            pass
    except ConnectionClosed:
        pass


def assert_no_handler_errors(srv):
    assert not srv.errors, srv.errors


def test_every_length_class_echoes_through_websockets_server():
    with WebsocketsServer(echo) as srv:
        code, lines = run_session(srv.url(), *echo_steps(LENGTH_CLASSES), "close=1000,done")
    assert code == 0, lines
    # websockets answers a Close with its code and reason.
    assert lines == ["open None"] + ["echo %d ok" % n for n in LENGTH_CLASSES] + ["closed 1000 done"]
    assert srv.closes == [(1000, "done")]
    assert_no_handler_errors(srv)


def test_path_query_subprotocol_and_extra_headers_reach_the_server():
    seen = {}

    def record(ws):
        seen["path"] = ws.request.path
        seen["headers"] = ws.request.headers
        seen["subprotocol"] = ws.subprotocol
        ws.send("hello")
        drain(ws)

    with WebsocketsServer(record, subprotocols=["chat.v2", "chat.v3"]) as srv:
        code, lines = run_session(
            srv.url("/feed/ticks?symbol=abc&depth=2#fragment-not-sent"),
            "sub=chat.v1,chat.v2", "header=Authorization:Bearer s3cr3t",
            "header=Cookie:session=42; theme=dark", "origin=http://device.local", "recv",
            "close=4003,seen")
    assert code == 0, lines
    assert lines == ["open chat.v2", "recv text 5 'hello'", "closed 4003 seen"]
    assert srv.closes == [(4003, "seen")]
    assert seen["path"] == "/feed/ticks?symbol=abc&depth=2"
    assert seen["subprotocol"] == "chat.v2"
    headers = seen["headers"]
    assert headers["Host"] == "127.0.0.1:%d" % srv.port
    assert headers["Authorization"] == "Bearer s3cr3t"
    assert headers["Cookie"] == "session=42; theme=dark"
    assert headers["Origin"] == "http://device.local"
    assert headers["Sec-WebSocket-Protocol"] == "chat.v1, chat.v2"
    assert_no_handler_errors(srv)


def test_fragmented_messages_from_the_server_arrive_whole():
    def send_fragments(ws):
        ws.send(["frag", "mented ", "t\u00e9xt"])
        ws.send([b"\x00\x01", b"", b"\x02" * 200])
        ws.close(1000, "sent")

    with WebsocketsServer(send_fragments) as srv:
        code, lines = run_session(srv.url(), "until_close")
    assert code == 0, lines
    assert lines == ["open None", "recv text 15 'fragmented t\\xe9xt'",
                     "recv bytes 202 " + repr(b"\x00\x01" + b"\x02" * 200)[:57] + "...",
                     "peer closed 1000 sent"]
    # The client answers a Close with its code alone.
    assert srv.closes == [(1000, "")]
    assert_no_handler_errors(srv)


def test_pings_from_the_server_are_answered_while_receiving():
    def ping_then_report(ws):
        assert ws.recv(timeout=10) == "ready"
        answers = [ws.ping(b"are you there %d" % i).wait(10) for i in range(3)]
        ws.send("pongs %s" % answers)

    with WebsocketsServer(ping_then_report) as srv:
        code, lines = run_session(srv.url(), "text=ready", "recv", "close=1000,")
    assert code == 0, lines
    assert lines[1:] == ["recv text 24 'pongs [True, True, True]'", "closed 1000 "]
    assert srv.closes == [(1000, "")]
    assert_no_handler_errors(srv)


def test_close_from_the_server_with_code_and_reason():
    seen = []

    def close_first(ws):
        ws.close(4001, "server says bye")
        seen.append(ws.close_code)

    with WebsocketsServer(close_first) as srv:
        code, lines = run_session(srv.url(), "until_close")
        srv.wait_idle()
    assert code == 0, lines
    assert lines == ["open None", "peer closed 4001 server says bye"]
    # The client echoed the code (RFC 6455 §5.5.1): the close handshake completed.
    assert seen == [4001]
    assert srv.closes == [(4001, "")]


def test_close_from_the_client_with_code_and_reason():
    seen = []

    def wait_for_close(ws):
        drain(ws)
        seen.append((ws.close_code, ws.close_reason))

    with WebsocketsServer(wait_for_close) as srv:
        code, lines = run_session(srv.url(), "text=one", "close=4002,client says bye")
        srv.wait_idle()
    assert code == 0, lines
    assert lines == ["open None", "closed 4002 client says bye"]
    assert seen == [(4002, "client says bye")] == srv.closes


def test_message_over_max_size_closes_with_1009():
    seen = []

    def send_big(ws):
        ws.send(b"x" * 2000)
        drain(ws)
        seen.append((ws.close_code, ws.close_reason))

    with WebsocketsServer(send_big) as srv:
        code, lines = run_session(srv.url(), "max_size=1000", "recv")
        srv.wait_idle()
    assert code == 1, lines
    assert lines[-1] == "raised ConnectionClosed 1009 message exceeds the size limit", lines
    assert seen == [(1009, "message exceeds the size limit")]


def test_ipv6_literal_in_brackets():
    seen = []

    def record(ws):
        seen.append(ws.request.headers["Host"])
        echo(ws)

    with WebsocketsServer(record, host="::1") as srv:
        code, lines = run_session(srv.url("/v6"), "echo=126", "close=1000,")
    assert code == 0, lines
    assert lines[1:] == ["echo 126 ok", "closed 1000 "]
    assert seen == ["[::1]:%d" % srv.port]
    assert srv.closes == [(1000, "")]


def test_host_name_is_resolved_by_getaddrinfo():
    with WebsocketsServer(echo) as srv:
        code, lines = run_session(srv.url(host="localhost"), "echo=10", "close=1000,")
    assert code == 0, lines
    assert lines[1:] == ["echo 10 ok", "closed 1000 "]
    assert srv.closes == [(1000, "")]


def test_socket_made_by_the_script_upgraded_with_client():
    with WebsocketsServer(echo) as srv:
        code, lines = run_session(srv.url("/own"), "own_socket=1", "echo=65536",
                                  "max_size=70000", "close=1000,mine")
    assert code == 0, lines
    assert lines == ["open None", "echo 65536 ok", "closed 1000 mine"]
    assert srv.closes == [(1000, "mine")]


def test_tornado_echo_server():
    with TornadoServer() as srv:
        code, lines = run_session(srv.url("/echo"), *echo_steps(LENGTH_CLASSES),
                                  "frag=one ,two ,three", "recv", "close=1000,done")
    assert code == 0, lines
    assert lines == (["open None"] + ["echo %d ok" % n for n in LENGTH_CLASSES]
                     + ["recv text 13 'one two three'", "closed 1000 "])
    assert srv.closes == [(1000, "done")]


def read_client_frames(conn):
    """Handshake, then read frames until the client's Close; answer it."""
    _, headers = peers.handshake(conn)
    frames = []
    while True:
        fin, opcode, key, payload = peers.read_frame(conn)
        frames.append((fin, opcode, key, payload))
        if opcode == 0x8:
            conn.sendall(peers.frame(0x8, payload))
            return headers, frames


def test_client_frames_are_masked_with_fresh_keys():
    with RawServer(read_client_frames) as srv:
        for _ in range(3):
            code, lines = run_session(srv.url(), "text=one", "text=one", "ping=p",
                                      "frag=a,b,c", "close=1000,bye")
            assert code == 0, lines
    assert not srv.errors, srv.errors
    keys, handshake_keys = [], []
    for headers, frames in srv.results:
        assert [f[1] for f in frames] == [0x1, 0x1, 0x9, 0x1, 0x0, 0x0, 0x8]
        assert [f[3] for f in frames][:2] == [b"one", b"one"]
        keys += [key for _, _, key, _ in frames]
        handshake_keys.append(headers["sec-websocket-key"])
        assert len(base64.b64decode(headers["sec-websocket-key"])) == 16
    assert all(key is not None for key in keys)
    assert len(set(keys)) == len(keys) == 21
    assert len(set(handshake_keys)) == 3


def capture_request(conn):
    request_line, headers = peers.read_head(conn)
    conn.sendall(peers.switching_protocols(peers.accept_key(headers["sec-websocket-key"])))
    return request_line, headers


def test_client_upgrades_a_stream_host_header_omits_default_ports():
    code_template = (
        "import socket, uwebsocket\n"
        "s = socket.socket()\n"
        "s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
        "ws = uwebsocket.client(s, %r)\n"
        "print(ws.path, ws.subprotocol)\n")
    urls = ["ws://device.local/a/b?x=1", "wss://device.local:443/", "ws://device.local:8080",
            "WS://Device.Local:80/?q"]
    with RawServer(capture_request) as srv:
        outs = [run_mp(code_template % (srv.port, url)) for url in urls]
    for code, out in outs:
        assert code == 0, out
    assert [out.split()[0] for _, out in outs] == ["/a/b?x=1", "/", "/", "/?q"]
    # Connections are served in threads: compare without order.
    request_lines = sorted(r[0] for r in srv.results)
    hosts = sorted(r[1]["host"] for r in srv.results)
    assert request_lines == sorted(["GET /a/b?x=1 HTTP/1.1", "GET / HTTP/1.1", "GET / HTTP/1.1",
                                    "GET /?q HTTP/1.1"])
    assert hosts == sorted(["device.local", "device.local", "device.local:8080", "Device.Local"])
    for _, headers in srv.results:
        assert headers["upgrade"].lower() == "websocket"
        assert "upgrade" in headers["connection"].lower()
        assert headers["sec-websocket-version"] == "13"


def test_names_go_to_getaddrinfo_with_default_port_80():
    seen = []

    def record(ws):
        seen.append(ws.request.headers["Host"])
        echo(ws)

    with WebsocketsServer(record) as srv:
        code, lines = run_session("ws://device.example/", "resolve=127.0.0.1:%d" % srv.port,
                                  "echo=5", "close=1000,")
    assert code == 0, lines
    assert lines == ["getaddrinfo device.example 80", "open None", "echo 5 ok", "closed 1000 "]
    assert seen == ["device.example"]
    assert srv.closes == [(1000, "")]


@pytest.mark.parametrize("url, error", [
    ("http://127.0.0.1/", "URL must start with ws:// or wss://"),
    ("ws://[::1/", "invalid IPv6 address in URL"),
    ("ws://127.0.0.1:99999/", "invalid port in URL"),
    ("ws://127.0.0.1:8x/", "invalid port in URL"),
    ("ws://:80/", "invalid host in URL"),
    ("ws://127.0.0.1/a b", "URL holds a space or control character"),
])
def test_invalid_urls_raise_value_error(url, error):
    code, out = run_mp("import uwebsocket\n"
                       "try:\n uwebsocket.connect(%r)\n"
                       "except ValueError as e:\n print('ValueError', e)\n" % url)
    assert code == 0, out
    assert out.strip() == "ValueError " + error


def test_connection_refused_is_an_os_error():
    with refused_port() as held:
        code, lines = run_session("ws://127.0.0.1:%d/" % held.getsockname()[1], "timeout=5")
    assert code == 1
    assert lines == ["raised OSError %d" % errno.ECONNREFUSED]


# The examples.

def test_example_client_sends_text_and_binary_and_closes():
    seen = []

    def record(ws):
        echo(ws)
        seen.append((ws.close_code, ws.close_reason))

    with WebsocketsServer(record) as srv:
        code, out = run_mp(EXAMPLES / "client.py", srv.url("/demo"))
        srv.wait_idle()
    assert code == 0, out
    assert "received text: 'Hello from MicroPython'" in out
    assert "received binary: b'\\x00\\x01\\x02\\xff'" in out
    assert out.splitlines()[-1] == "closed: 1000 done"
    assert seen == [(1000, "done")]


def test_public_stream_example_reports_a_bad_url():
    code, out = run_mp(EXAMPLES / "public_stream.py", "http://not-a-websocket-url/")
    assert code != 0
    assert "URL must start with ws:// or wss://" in out
    assert "Traceback" not in out


def test_asyncio_clients_echo_side_by_side():
    # uwebsocket_asyncio.connect: ten clients in one event loop, 40 messages
    # each, text and binary, up to 40 KB.
    with WebsocketsServer(echo) as srv:
        code, out = peers.run_client(peers.CLIENTS / "asyncio_client.py", srv.url("/"), 10, 40,
                                     timeout=120)
    lines = out.splitlines()
    assert code == 0, out
    # The helper's close() waits for the server's answer, which echoes our
    # code and reason.
    assert sorted(lines[:-1]) == sorted("client %d closed 1000 bye" % n for n in range(10)), out
    assert lines[-1] == "done", out
    assert srv.closes == [(1000, "bye")] * 10
    assert_no_handler_errors(srv)
