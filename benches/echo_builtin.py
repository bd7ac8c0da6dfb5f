# Echo server for the loopback benchmark, on MicroPython's built-in
# `websocket` module. That module has no server handshake: a minimal one is
# done here (enough for the benchmark's client, not a general server).
#
#   micropython benches/echo_builtin.py NODELAY HOST PORT
#
# The client names the message size in the path (/echo/SIZE): the built-in
# module keeps no message boundaries, so each message is read with one
# readinto of exactly that size. NODELAY as in echo_uwebsocket.py.
import binascii
import hashlib
import socket
import sys

import websocket

IPPROTO_TCP = 6
TCP_NODELAY = 1
MP_STREAM_SET_DATA_OPTS = 9  # the opcode write() uses
BINARY = 2
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def handshake(sock):
    """Read the upgrade request, answer 101; return the request path."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        byte = sock.recv(1)  # never read past the head: frames follow
        if not byte:
            raise OSError("connection closed during the handshake")
        head += byte
    lines = head.split(b"\r\n")
    path = lines[0].split(b" ")[1]
    key = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    if key is None:
        raise OSError("not a WebSocket upgrade")
    accept = binascii.b2a_base64(hashlib.sha1(key + GUID).digest()).strip()
    sock.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    return path


def serve(nodelay, host, port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1])
    server.listen(4)
    while True:
        sock, _ = server.accept()
        if nodelay:
            sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        try:
            size = int(handshake(sock).rsplit(b"/", 1)[1])
            ws = websocket.websocket(sock)
            ws.ioctl(MP_STREAM_SET_DATA_OPTS, BINARY)
            buf = bytearray(size)
            # readinto returns less than the size at the client's Close
            # (the module answers it) or at end of stream.
            while ws.readinto(buf) == size:
                ws.write(buf)
        except (OSError, ValueError, IndexError):
            pass
        sock.close()


serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
