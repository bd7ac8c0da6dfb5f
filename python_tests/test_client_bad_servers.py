"""Servers that get the protocol wrong, played by a raw socket: every one
must end in a clear exception on the client, never a hang (each client run
is bounded, and the client's own timeout is what ends the silent ones)."""
import errno

import pytest

from clients import peers
from clients.peers import RawServer, run_session

TIMEOUT_STEPS = ("timeout=1",)


def answer(response):
    """A server that reads the request and answers `response(key)`."""
    def behaviour(conn):
        _, headers = peers.read_head(conn)
        conn.sendall(response(headers.get("sec-websocket-key", "")))
        wait_for_eof(conn)
        return headers
    return behaviour


def wait_for_eof(conn):
    """Keep the connection open until the client drops it."""
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def http(status_line, *header_lines, body=b""):
    return ("\r\n".join((status_line,) + header_lines) + "\r\n\r\n").encode() + body


def run_against(behaviour, *steps):
    with RawServer(behaviour) as srv:
        code, lines = run_session(srv.url("/bad"), *TIMEOUT_STEPS, *steps, timeout=30)
    assert not srv.errors, srv.errors
    assert code == 1, lines
    return lines[-1], srv.results


@pytest.mark.parametrize("status_line", [
    "HTTP/1.1 403 Forbidden",
    "HTTP/1.1 200 OK",
    "HTTP/1.1 301 Moved Permanently",
    "HTTP/1.0 503 Service Unavailable",
])
def test_non_101_status_raises_with_the_status_line(status_line):
    status = int(status_line.split()[1])
    last, _ = run_against(answer(lambda key: http(
        status_line, "Content-Length: 9", "Location: /elsewhere", body=b"go away\r\n")))
    assert last == "raised HandshakeError %d %s" % (status, status_line)


def test_wrong_accept_key():
    last, _ = run_against(answer(lambda key: peers.switching_protocols(
        peers.accept_key(key + "x"))))
    assert last.startswith("raised HandshakeError 101 "), last
    assert "accept" in last.lower(), last


@pytest.mark.parametrize("response", [
    lambda key: http("HTTP/1.1 101 Switching Protocols", "Connection: Upgrade",
                     "Sec-WebSocket-Accept: " + peers.accept_key(key)),
    lambda key: http("HTTP/1.1 101 Switching Protocols", "Upgrade: h2c", "Connection: Upgrade",
                     "Sec-WebSocket-Accept: " + peers.accept_key(key)),
    lambda key: http("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                     "Sec-WebSocket-Accept: " + peers.accept_key(key)),
], ids=["no-upgrade", "other-upgrade", "no-connection"])
def test_101_without_a_websocket_upgrade(response):
    last, _ = run_against(answer(response))
    assert last.startswith("raised HandshakeError 101 "), last


def test_subprotocol_not_offered():
    last, results = run_against(answer(lambda key: peers.switching_protocols(
        peers.accept_key(key), "Sec-WebSocket-Protocol: mqtt")), "sub=chat,json")
    assert results[0]["sec-websocket-protocol"] == "chat, json"
    assert last.startswith("raised HandshakeError 101 "), last
    assert "subprotocol" in last.lower(), last


def test_subprotocol_when_none_was_offered():
    last, results = run_against(answer(lambda key: peers.switching_protocols(
        peers.accept_key(key), "Sec-WebSocket-Protocol: chat")))
    assert "sec-websocket-protocol" not in results[0]
    assert last.startswith("raised HandshakeError 101 "), last


def test_extension_not_offered():
    # The client offers no extension, so a server choosing one must be refused
    # (RFC 6455 §4.1, item 5 of the client's checks).
    last, _ = run_against(answer(lambda key: peers.switching_protocols(
        peers.accept_key(key), "Sec-WebSocket-Extensions: permessage-deflate")))
    assert last.startswith("raised HandshakeError 101 "), last


def test_masked_frame_from_the_server_fails_with_1002():
    def send_masked(conn):
        peers.handshake(conn)
        conn.sendall(peers.frame(0x1, b"hidden", mask_key=b"\x01\x02\x03\x04"))
        _, opcode, key, payload = peers.read_frame(conn)
        return opcode, key is not None, peers.parse_close(payload)[0]

    last, results = run_against(send_masked, "recv")
    assert last.startswith("raised ConnectionClosed 1002"), last
    # The client told the server why, in a masked Close frame.
    assert results == [(0x8, True, 1002)]


def test_response_head_too_long():
    last, _ = run_against(answer(lambda key: http(
        "HTTP/1.1 101 Switching Protocols", *["X-Filler-%d: %s" % (i, "y" * 60) for i in range(100)])))
    assert last == "raised HandshakeError 0 response head too long", last


def test_garbage_instead_of_http():
    last, _ = run_against(answer(lambda key: b"SSH-2.0-OpenSSH_9.2\r\n\r\n"))
    assert last.startswith("raised HandshakeError 0 malformed HTTP"), last


def test_server_hangs_up_during_the_handshake():
    def hang_up(conn):
        peers.read_head(conn)
        conn.sendall(b"HTTP/1.1 101 Switching")

    last, _ = run_against(hang_up)
    assert last == "raised OSError %d" % errno.ECONNRESET, last


def test_server_silent_during_the_handshake_times_out():
    def silent(conn):
        wait_for_eof(conn)

    last, _ = run_against(silent)
    assert last == "raised OSError %d" % errno.ETIMEDOUT, last


def test_server_silent_during_the_tls_handshake_times_out():
    def silent(conn):
        wait_for_eof(conn)

    with RawServer(silent) as srv:
        code, lines = run_session(srv.url(scheme="wss"), "insecure=1", *TIMEOUT_STEPS, timeout=30)
    assert code == 1, lines
    assert lines[-1] == "raised OSError %d" % errno.ETIMEDOUT, lines


def test_server_silent_after_the_handshake_times_out():
    def silent_after_handshake(conn):
        peers.handshake(conn)
        wait_for_eof(conn)

    last, _ = run_against(silent_after_handshake, "recv")
    assert last == "raised OSError %d" % errno.ETIMEDOUT, last


def test_server_stops_in_the_middle_of_a_frame():
    def stop_mid_frame(conn):
        peers.handshake(conn)
        conn.sendall(peers.frame(0x2, b"z" * 100)[:40])
        wait_for_eof(conn)

    last, _ = run_against(stop_mid_frame, "recv")
    assert last == "raised OSError %d" % errno.ETIMEDOUT, last


def test_server_drops_the_connection_after_the_handshake():
    def drop(conn):
        peers.handshake(conn)
        conn.sendall(peers.frame(0x1, b"last words"))

    with RawServer(drop) as srv:
        code, lines = run_session(srv.url(), *TIMEOUT_STEPS, "recv", "recv", timeout=30)
    assert code == 1, lines
    assert lines[1] == "recv text 10 'last words'"
    assert lines[-1].startswith("raised ConnectionClosed 1006"), lines


def test_frame_right_behind_the_101_is_not_lost():
    # A server may send its first frame in the same segment as its answer.
    def hurried(conn):
        _, headers = peers.read_head(conn)
        conn.sendall(peers.switching_protocols(peers.accept_key(headers["sec-websocket-key"]))
                     + peers.frame(0x1, b"first") + peers.frame(0x8, peers.close_payload(1000, "")))
        return peers.read_frame(conn)[1]

    with RawServer(hurried) as srv:
        code, lines = run_session(srv.url(), *TIMEOUT_STEPS, "until_close", timeout=30)
    assert code == 0, lines
    assert lines == ["open None", "recv text 5 'first'", "peer closed 1000 "]
    assert srv.results == [0x8]
