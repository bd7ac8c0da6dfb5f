# The opening handshake (RFC 6455 section 4) through in-memory streams, both
# roles: the server's answer to a good request (the RFC's own example key),
# the HTTP errors it answers bad ones with, and the client's checks of a
# server's response. Runs on the unix port and under QEMU.
import uwebsocket
from wsframe import run, KEY, Duplex, check, frame

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # section 1.3


def request(*lines, method="GET", version="13", key=RFC_KEY):
    fields = ["Host: device.local", "Upgrade: websocket", "Connection: keep-alive, Upgrade"]
    if key is not None:
        fields.append("Sec-WebSocket-Key: " + key)
    if version is not None:
        fields.append("Sec-WebSocket-Version: " + version)
    head = "%s /chat?room=1 HTTP/1.1\r\n%s\r\n\r\n" % (method, "\r\n".join(fields + list(lines)))
    return head.encode()


def test_server_accepts():
    stream = Duplex(request("Sec-WebSocket-Protocol: v1.chat, v2.chat", "Origin: http://ok.example"),
                    frame(1, b"hello", key=KEY), capacity=512)
    ws = uwebsocket.accept(stream, subprotocols=["v2.chat"], origins=["http://ok.example"],
                           headers={"X-Device": "lamp"})
    head = bytes(stream.sent).decode()
    check(head.split("\r\n")[0], "HTTP/1.1 101 Switching Protocols", "status line")
    for line in ("Sec-WebSocket-Accept: " + RFC_ACCEPT, "Sec-WebSocket-Protocol: v2.chat", "X-Device: lamp"):
        if ("\r\n" + line + "\r\n") not in head:
            raise AssertionError("%r missing from %r" % (line, head))
    check(ws.path, "/chat?room=1", "path")
    check(ws.subprotocol, "v2.chat", "subprotocol")
    check(ws.headers["host"], "device.local", "headers")
    # Frames that followed the head in the same read are not lost.
    check(ws.recv(), "hello", "first message")


def test_server_refuses():
    cases = (
        (request(key=None), 400),
        (request(key="dG9vIHNob3J0"), 400),  # decodes to 9 bytes, not 16
        (request(method="POST"), 405),
        (request(version="8"), 426),
        (request("Origin: http://evil.example"), 403),
        (request("X-Filler: " + "y" * 5000), 431),
    )
    for head, status in cases:
        stream = Duplex(head, capacity=512)
        try:
            uwebsocket.accept(stream, origins=["http://ok.example"])
        except uwebsocket.HandshakeError as e:
            check(e.status, status, "HandshakeError.status")
        else:
            raise AssertionError("accepted a request answered with %d" % status)
        answer = bytes(stream.sent).decode()
        if not answer.startswith("HTTP/1.1 %d " % status):
            raise AssertionError("answered %r, expected %d" % (answer[:40], status))
        if status == 426 and "\r\nSec-WebSocket-Version: 13\r\n" not in answer:
            raise AssertionError("426 without the version we speak: %r" % answer)
        check(stream.closed, True, "stream closed after a refusal")


def response(*lines, status="101 Switching Protocols"):
    fields = ["Upgrade: websocket", "Connection: Upgrade"] + list(lines)
    return ("HTTP/1.1 %s\r\n%s\r\n\r\n" % (status, "\r\n".join(fields))).encode()


def test_client_checks_the_response():
    cases = (
        (response(status="403 Forbidden"), 403),
        (response("Sec-WebSocket-Accept: " + RFC_ACCEPT), 101),  # not our key's
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", 0),
    )
    for answer, status in cases:
        stream = Duplex(answer, capacity=512)
        try:
            uwebsocket.client(stream, "ws://device.local:8080/feed?x=1")
        except uwebsocket.HandshakeError as e:
            check(e.status, status, "HandshakeError.status")
        else:
            raise AssertionError("client accepted %r" % answer[:40])
        sent = bytes(stream.sent).decode()
        check(sent.split("\r\n")[0], "GET /feed?x=1 HTTP/1.1", "request line")
        if "\r\nHost: device.local:8080\r\n" not in sent or "\r\nSec-WebSocket-Version: 13\r\n" not in sent:
            raise AssertionError("request misses Host or version: %r" % sent)


run(globals())
