"""The server side of RFC 6455 after the handshake: what uwebsocket does
with frames a well-behaved client never sends, with closes from either
side, fragments, and peers that vanish or stall.

A raw CPython socket plays the client, so every bit of every frame is
ours to choose. The server is python_tests/servers/echo.py: an
echo server with a message limit, a 2 s read timeout per connection, and a
log line for how each connection ended."""
import socket
import struct
import time

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect as sync_connect

from conftest import EXAMPLES
from conftest import ECHO, wait_log
from test_server_handshake import upgrade_request
from wsraw import BINARY, CLOSE, CONT, PING, PONG, TEXT, RawClient, client_frame, close_payload

MAX_SIZE = 4096  # the message limit the echo server runs with here
TIMEOUT = 10.0

frame = client_frame  # a raw client's frames: masked unless masked=False


def assert_serves_next_client(srv):
    with sync_connect("ws://%s:%d/" % (srv.host, srv.port), open_timeout=TIMEOUT) as ws:
        ws.send("next client")
        assert ws.recv(timeout=TIMEOUT) == "next client"


@pytest.fixture
def server(mp_server):
    return mp_server(ECHO, "--max-size", MAX_SIZE, "--close-on", "close-me")


@pytest.fixture
def client(server):
    raw = RawClient(server.host, server.port)
    yield raw
    raw.close()


# (id, frames sent after the handshake, close code the server must answer with)
VIOLATIONS = [
    ("unmasked-text", [frame(TEXT, b"hi", masked=False)], 1002),
    ("unmasked-ping", [frame(PING, b"", masked=False)], 1002),
    ("reserved-opcode-3", [frame(0x3)], 1002),
    ("reserved-opcode-7", [frame(0x7, b"x")], 1002),
    ("reserved-control-opcode-11", [frame(0xB)], 1002),
    ("reserved-control-opcode-15", [frame(0xF, b"x")], 1002),
    ("rsv1", [frame(TEXT, b"hi", rsv=4)], 1002),
    ("rsv2", [frame(BINARY, b"hi", rsv=2)], 1002),
    ("rsv3", [frame(TEXT, b"hi", rsv=1)], 1002),
    ("rsv1-on-ping", [frame(PING, b"p", rsv=4)], 1002),
    ("fragmented-ping", [frame(PING, b"p", fin=False), frame(CONT, b"q")], 1002),
    ("fragmented-close", [frame(CLOSE, close_payload(1000), fin=False), frame(CONT, b"")], 1002),
    ("ping-126-bytes", [frame(PING, b"p" * 126)], 1002),
    ("pong-126-bytes", [frame(PONG, b"p" * 126)], 1002),
    ("close-126-bytes", [frame(CLOSE, close_payload(1000, b"r" * 124))], 1002),
    ("continuation-without-start", [frame(CONT, b"x")], 1002),
    ("unfinished-continuation-without-start", [frame(CONT, b"x", fin=False)], 1002),
    ("text-inside-fragmented-text", [frame(TEXT, b"a", fin=False), frame(TEXT, b"b")], 1002),
    ("binary-inside-fragmented-text", [frame(TEXT, b"a", fin=False), frame(BINARY, b"b")], 1002),
    ("text-inside-fragmented-binary", [frame(BINARY, b"a", fin=False), frame(TEXT, b"b", fin=False)], 1002),
    ("64-bit-length-msb-set", [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 63) + bytes(4)], 1002),
    ("over-max-size-one-frame", [frame(BINARY, bytes(MAX_SIZE + 1))], 1009),
    ("over-max-size-text-one-frame", [frame(TEXT, b"a" * (MAX_SIZE + 1))], 1009),
    ("over-max-size-announced-only", [bytes([0x82, 0xFF]) + struct.pack("!Q", 1 << 40) + bytes(4)], 1009),
    ("over-max-size-in-fragments",
     [frame(BINARY, bytes(MAX_SIZE // 2), fin=False), frame(CONT, bytes(MAX_SIZE // 2), fin=False),
      frame(CONT, b"!")], 1009),
    ("invalid-utf8-byte", [frame(TEXT, b"ok \xff")], 1007),
    ("utf8-surrogate", [frame(TEXT, b"\xed\xa0\x80")], 1007),
    ("utf8-overlong", [frame(TEXT, b"\xc0\xaf")], 1007),
    ("utf8-beyond-u10ffff", [frame(TEXT, b"\xf4\x90\x80\x80")], 1007),
    ("utf8-truncated-at-message-end", [frame(TEXT, b"ok \xe2\x82")], 1007),
    ("invalid-utf8-across-fragments", [frame(TEXT, b"\xce", fin=False), frame(CONT, b"A")], 1007),
    ("utf8-truncated-across-fragments",
     [frame(TEXT, b"ok \xe2", fin=False), frame(CONT, b"\x82", fin=False), frame(CONT, b"")], 1007),
    ("invalid-utf8-in-close-reason", [frame(CLOSE, close_payload(1000, b"bye \xff"))], 1007),
    ("close-payload-1-byte", [frame(CLOSE, b"\x03")], 1002),
] + [
    ("close-code-%d" % code, [frame(CLOSE, close_payload(code))], 1002)
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535)
]


@pytest.mark.parametrize("frames, code", [row[1:] for row in VIOLATIONS], ids=[row[0] for row in VIOLATIONS])
def test_protocol_violation_fails_the_connection_with_its_code(server, client, frames, code):
    client.send(*frames)
    got, reason = client.read_close()
    assert got == code, reason
    assert len(reason.encode()) <= 123
    client.assert_closed_by_server()
    wait_log(server, "closed %d " % code)
    assert_serves_next_client(server)


def test_failed_connection_ends_with_fin_not_reset(client):
    client.send(frame(TEXT, b"unmasked payload", masked=False))
    assert client.read_close()[0] == 1002
    client.assert_closed_by_server(reset_allowed=False)


def test_invalid_utf8_is_caught_before_the_message_ends(server, client):
    # §8.1: fail as soon as the text cannot be valid, not at the last
    # fragment: the server answers although the message never finishes.
    client.send(frame(TEXT, b"fine so far", fin=False), frame(CONT, b"\xff", fin=False))
    assert client.read_close()[0] == 1007
    client.assert_closed_by_server()


@pytest.mark.parametrize("size", [MAX_SIZE - 1, MAX_SIZE])
def test_messages_up_to_max_size_pass(client, size):
    client.send(frame(BINARY, bytes(range(256)) * (size // 256) + bytes(size % 256)))
    fin, _, opcode, payload = client.read_frame()
    assert (fin, opcode, len(payload)) == (True, BINARY, size)
    text = ("é" * (size // 2) + "a" * (size % 2)).encode()
    client.send(frame(TEXT, text[:1001], fin=False), frame(CONT, text[1001:]))
    assert client.read_frame() == (True, 0, TEXT, text)


VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999]


@pytest.mark.parametrize("code", VALID_CLOSE_CODES)
def test_client_close_code_is_echoed_and_seen_by_the_script(server, client, code):
    client.send(frame(CLOSE, close_payload(code, "bye ✓".encode())))
    assert client.read_close()[0] == code
    client.assert_closed_by_server()
    # The script's exception and ws.close_code/close_reason carry the client's close.
    wait_log(server, "closed %d [bye ✓] %d [bye ✓]" % (code, code))


def test_empty_close_is_answered_with_a_close(server, client):
    client.send(frame(CLOSE))
    code, reason = client.read_close()
    # §5.5.1: an empty Close may be answered empty or with 1000 (no status received → normal).
    assert code in (None, 1000) and reason == ""
    client.assert_closed_by_server()
    wait_log(server, "closed 1005 ")
    assert_serves_next_client(server)


def test_close_after_messages_and_mid_fragmented_message(server, client):
    client.send(frame(TEXT, b"one"))
    assert client.read_frame() == (True, 0, TEXT, b"one")
    # A Close may interrupt a fragmented message (control frames interleave).
    client.send(frame(BINARY, b"half", fin=False), frame(CLOSE, close_payload(1001, b"going away")))
    assert client.read_close()[0] == 1001
    client.assert_closed_by_server()
    wait_log(server, "closed 1001 [going away]")


def test_server_initiated_close_with_code_and_reason(server, client):
    client.send(frame(TEXT, b"close-me"))
    assert client.read_close() == (4000, "server closes")
    client.send(frame(CLOSE, close_payload(4000)))
    client.assert_closed_by_server()
    wait_log(server, "server closed 4000 ")
    assert_serves_next_client(server)


def test_server_initiated_close_seen_by_websockets(server):
    with sync_connect("ws://%s:%d/" % (server.host, server.port), open_timeout=TIMEOUT) as ws:
        ws.send("first")
        assert ws.recv(timeout=TIMEOUT) == "first"
        ws.send("close-me")
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=TIMEOUT)
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "server closes")
    # The server got our answering Close: a clean close handshake on both sides.
    assert closed.value.sent is not None and closed.value.sent.code == 4000
    assert closed.value.rcvd_then_sent is True
    wait_log(server, "server closed 4000 ")


def test_server_close_when_the_client_never_answers(server, client):
    # close() waits a bounded time for the client's Close, then drops TCP.
    client.send(frame(TEXT, b"close-me"))
    assert client.read_close() == (4000, "server closes")
    client.assert_closed_by_server()
    wait_log(server, "server closed 4000 ")
    assert_serves_next_client(server)


def test_fragments_with_interleaved_pings_come_back_whole(client):
    text = "fragmenté ✓ " * 40
    data = text.encode()
    # Cut every 7 bytes: many cuts fall inside a multi-byte character.
    pieces = [data[i:i + 7] for i in range(0, len(data), 7)]
    frames = []
    for i, piece in enumerate(pieces):
        frames.append(frame(TEXT if i == 0 else CONT, piece, fin=i == len(pieces) - 1))
        if i % 10 == 5 and i < len(pieces) - 1:
            frames.append(frame(PING, b"ping %d" % i))
    client.send(*frames)
    pings = [i for i in range(len(pieces) - 1) if i % 10 == 5]
    for i in pings:
        # Pings are answered as they arrive, in the middle of the message.
        assert client.read_frame() == (True, 0, PONG, b"ping %d" % i)
    assert client.read_frame() == (True, 0, TEXT, data)


def test_empty_fragments_and_control_payload_limits(client):
    client.send(frame(BINARY, b"", fin=False), frame(CONT, b"", fin=False), frame(CONT, b""))
    assert client.read_frame() == (True, 0, BINARY, b"")
    client.send(frame(TEXT, b""))
    assert client.read_frame() == (True, 0, TEXT, b"")
    client.send(frame(PING, bytes(range(125))))
    assert client.read_frame() == (True, 0, PONG, bytes(range(125)))
    # An unsolicited Pong is ignored (§5.5.3).
    client.send(frame(PONG, b"unasked"), frame(TEXT, b"after pong"))
    assert client.read_frame() == (True, 0, TEXT, b"after pong")


def test_frames_arriving_a_byte_at_a_time(client):
    data = frame(PING, b"slow") + frame(TEXT, "slöw".encode(), fin=False) + frame(CONT, b" bytes")
    for b in data:
        client.send(bytes([b]))
    assert client.read_frame() == (True, 0, PONG, b"slow")
    assert client.read_frame() == (True, 0, TEXT, "slöw bytes".encode())


def test_fragmented_messages_from_websockets(server):
    with sync_connect("ws://%s:%d/" % (server.host, server.port), open_timeout=TIMEOUT) as ws:
        parts = ["α" * i for i in range(1, 60)]
        ws.send(parts)
        assert ws.recv(timeout=TIMEOUT) == "".join(parts)
        chunks = [bytes([i]) * 50 for i in range(70)]
        ws.send(chunks)
        assert ws.recv(timeout=TIMEOUT) == b"".join(chunks)
        ws.close(3001, "fragments done")
    wait_log(server, "closed 3001 [fragments done] 3001 [fragments done]")


# Peers that vanish or stall: the server must move on, bounded by its read timeout.

def test_peer_that_closes_mid_frame(server, client):
    client.send(frame(BINARY, bytes(100))[:30])
    client.close()
    wait_log(server, "closed 1006 ")
    assert_serves_next_client(server)


def test_peer_that_stalls_mid_frame(server, client):
    client.send(frame(BINARY, bytes(100))[:30])
    # The client keeps the connection open and silent: the next client must
    # still be served (after the server's 2 s read timeout).
    assert_serves_next_client(server)
    wait_log(server, "connection error 110")


def test_peer_that_opens_tcp_and_never_sends_a_handshake(server):
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as silent:
        assert_serves_next_client(server)
        wait_log(server, "handshake error 110")
        assert silent.recv(16) == b""


def test_peer_that_stops_mid_handshake(server):
    with socket.create_connection((server.host, server.port), timeout=TIMEOUT) as half:
        half.sendall(upgrade_request()[:50])
        assert_serves_next_client(server)
        assert half.recv(16) == b""


def test_example_echo_server_is_not_held_by_a_silent_peer(mp_server):
    srv = mp_server(EXAMPLES / "echo_server.py")
    with socket.create_connection((srv.host, srv.port), timeout=TIMEOUT):
        deadline = time.monotonic() + 8
        with sync_connect("ws://%s:%d/" % (srv.host, srv.port), open_timeout=8) as ws:
            ws.send("next client")
            assert ws.recv(timeout=max(0.1, deadline - time.monotonic())) == "next client"
