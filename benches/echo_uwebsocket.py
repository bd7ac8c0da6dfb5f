# Echo server for the loopback benchmark, on uwebsocket: one client at a
# time, every message sent back as it came.
#
#   micropython benches/echo_uwebsocket.py NODELAY HOST PORT
#
# NODELAY 1 sets TCP_NODELAY on each accepted socket; 0 leaves Nagle's
# algorithm on, as a script that does not think of it would.
import socket
import sys

import uwebsocket

# Linux values; MicroPython's socket module does not name them.
IPPROTO_TCP = 6
TCP_NODELAY = 1


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
            ws = uwebsocket.accept(sock, max_size=1 << 20)
        except (uwebsocket.HandshakeError, OSError):
            continue
        try:
            while True:
                ws.send(ws.recv())
        except (uwebsocket.ConnectionClosed, OSError):
            pass
        ws.close()


serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
