"""WebSocket frames and HTTP upgrade heads built and parsed byte by byte, for
the CPython side of the tests: raw peers that send exactly what a test
chooses, valid or not, and read exactly what uwebsocket wrote. The one
place the tests build or parse frames and handshakes on CPython
(python_tests/mp/wsframe.py is its counterpart on MicroPython).

- accept_key(), upgrade_request(), switching_protocols(), read_head(),
  Response: the opening handshake (RFC 6455 section 4).
- frame(), parse_frames(), close_payload(), parse_close(): frames (section 5).
- Reader: frames read off a socket; RawClient: a client on a plain socket;
  serve_handshake(): the server side of the handshake on an accepted socket.
"""
import base64
import hashlib
import os
import socket
import struct

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # section 1.3's sample nonce
GOOD_ORIGIN = "http://good.example"


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(method="GET", target="/", version="HTTP/1.1", replace=None, extra=(), key=KEY,
                    origin=GOOD_ORIGIN):
    """A valid upgrade request, with header fields replaced (name -> value)
    or left out (name -> None), and `extra` (name, value) pairs appended."""
    fields = [("Host", "127.0.0.1"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13"), ("Origin", origin)]
    replace = replace or {}
    lines = ["%s %s %s" % (method, target, version)]
    for name, value in fields:
        value = replace.get(name, value)
        if value is not None:
            lines.append("%s: %s" % (name, value))
    lines += ["%s: %s" % pair for pair in extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def switching_protocols(accept, *extra_lines):
    """A 101 answer carrying `accept` as Sec-WebSocket-Accept."""
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Accept: %s" % accept, *extra_lines]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Response:
    """An HTTP head (and what followed it) as received: status line, headers
    (lower-case names, every value kept), the bytes after the head."""

    def __init__(self, raw, reset=False):
        self.raw = raw
        self.reset = reset  # the peer reset the connection after its answer
        head, _, self.rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status_line = lines[0]
        parts = self.status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        self.headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.setdefault(name.strip().lower(), []).append(value.strip())

    def header(self, name):
        values = self.headers.get(name.lower(), [])
        assert len(values) <= 1, "repeated %s: %r" % (name, values)
        return values[0] if values else None

    def tokens(self, name):
        return {t.strip().lower() for t in (self.header(name) or "").split(",") if t.strip()}


def read_head(conn, limit=8192):
    """Read an HTTP head byte by byte (frames may follow it); returns
    (first line, {lower-case name: value})."""
    data = b""
    while not data.endswith(b"\r\n\r\n"):
        byte = conn.recv(1)
        if not byte:
            raise ConnectionError("peer closed during the head: %r" % data)
        data += byte
        if len(data) > limit:
            raise ValueError("head too long")
    lines = data.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def serve_handshake(conn, *extra_lines):
    """Server side: read the client's request, answer 101 with the right key."""
    request_line, headers = read_head(conn)
    conn.sendall(switching_protocols(accept_key(headers["sec-websocket-key"]), *extra_lines))
    return request_line, headers


def mask(payload, key):
    """payload XOR the 4-byte key (section 5.3), a word at a time."""
    n = len(payload)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def frame(opcode, payload=b"", fin=True, rsv=0, mask_key=None, masked=False):
    """One frame (section 5.2). Masked with mask_key, or with a fresh key
    when masked=True (a client's frame); else unmasked (a server's)."""
    if isinstance(payload, str):
        payload = payload.encode()
    if masked and mask_key is None:
        mask_key = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mask_bit = 0x80 if mask_key else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if mask_key:
        return head + mask_key + mask(payload, mask_key)
    return head + payload


def client_frame(opcode, payload=b"", fin=True, rsv=0, masked=True):
    """A client's frame: masked with a fresh key unless masked=False."""
    return frame(opcode, payload, fin, rsv, masked=masked)


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    return struct.pack("!H", code) + reason


def parse_close(payload):
    """(code or None, reason str) of a Close frame's payload."""
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8")


def parse_frames(data):
    """Split bytes into whole frames: ([(fin, rsv, opcode, mask key or None,
    unmasked payload)], bytes left over)."""
    frames, pos = [], 0
    while True:
        if len(data) - pos < 2:
            break
        b0, b1 = data[pos], data[pos + 1]
        n, at = b1 & 0x7F, pos + 2
        if n == 126:
            if len(data) < at + 2:
                break
            n, at = struct.unpack("!H", data[at:at + 2])[0], at + 2
        elif n == 127:
            if len(data) < at + 8:
                break
            n, at = struct.unpack("!Q", data[at:at + 8])[0], at + 8
        key = None
        if b1 & 0x80:
            if len(data) < at + 4:
                break
            key, at = bytes(data[at:at + 4]), at + 4
        if len(data) < at + n:
            break
        payload = bytes(data[at:at + n])
        frames.append((bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, key, mask(payload, key) if key else payload))
        pos = at + n
    return frames, bytes(data[pos:])


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def read_frame(conn):
    """One frame off a socket, reading no further: (fin, opcode, mask key
    or None, unmasked payload)."""
    b0, b1 = recv_exact(conn, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(conn, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(conn, 8))[0]
    key = recv_exact(conn, 4) if b1 & 0x80 else None
    payload = recv_exact(conn, n)
    return bool(b0 & 0x80), b0 & 0x0F, key, mask(payload, key) if key else payload


class Reader:
    """Frames read off a socket, with what was read ahead kept. `chunks`
    records the size of every recv() that returned data."""

    def __init__(self, sock, buf=b""):
        self.sock = sock
        self.buf = buf
        self.chunks = []

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("peer closed the connection")
        self.chunks.append(len(chunk))
        return chunk

    def take(self, n):
        while len(self.buf) < n:
            self.buf += self._recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def next_frame(self):
        """(fin, rsv, opcode, mask key or None, payload unmasked)."""
        b0, b1 = self.take(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.take(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.take(8))[0]
        key = self.take(4) if b1 & 0x80 else None
        payload = self.take(n)
        return bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, key, mask(payload, key) if key else payload


class RawClient(Reader):
    """A WebSocket client on a plain socket: frames go out exactly as built."""

    def __init__(self, host, port, target="/", timeout=10.0, request=None):
        sock = socket.create_connection((host, port), timeout=timeout)
        super().__init__(sock)
        sock.sendall(request or upgrade_request(target=target, replace={"Origin": None}))
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.response = Response(head + b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101 "), head
        assert self.response.header("Sec-WebSocket-Accept") == accept_key(KEY), head

    def send(self, *frames):
        self.sock.sendall(b"".join(frames))

    def read_frame(self):
        """(fin, rsv, opcode, payload) of the next server frame, which must be unmasked."""
        fin, rsv, opcode, key, payload = self.next_frame()
        assert key is None, "server frames are not masked (RFC 6455 section 5.1)"
        return fin, rsv, opcode, payload

    def read_close(self):
        """The server's Close as (code or None, reason str); nothing else may come first."""
        fin, rsv, opcode, payload = self.read_frame()
        assert (fin, rsv, opcode) == (True, 0, CLOSE), (fin, rsv, opcode, payload)
        assert len(payload) != 1
        return parse_close(payload)

    def assert_closed_by_server(self, reset_allowed=True):
        """The server closes TCP after its Close (section 7.1.1): EOF, or a
        reset when it closed without reading the rest of what we sent (the
        kernel's answer to unread data, RFC 1122 section 4.2.2.13)."""
        assert self.buf == b"", self.buf
        try:
            rest = self.sock.recv(65536)
        except ConnectionResetError:
            assert reset_allowed, "the server reset the connection instead of closing it"
            return
        assert rest == b"", "expected the server to close the connection, got %r" % rest[:64]

    def close(self):
        self.sock.close()
