# A blocking WebSocket echo server: every message comes back as it was sent.
# One client at a time, as simply as it can be written.
#
#   micropython examples/echo_server.py [HOST] [PORT]      (default 127.0.0.1 8080)
import socket
import sys

import uwebsocket


def serve(host, port, max_size=None):
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(addr)
    server.listen(4)
    print("echo server on ws://%s:%d/" % (host, port))
    while True:
        sock, _ = server.accept()
        # One client at a time: a peer that goes silent must not hold the
        # server for good (a handshake within 5 s, a message within 60 s).
        sock.settimeout(60)
        try:
            ws = uwebsocket.accept(sock, max_size=max_size or 1 << 20, timeout=5)
        except (uwebsocket.HandshakeError, OSError) as e:
            print("handshake refused:", e)
            sock.close()
            continue
        try:
            while True:
                ws.send(ws.recv())
        except uwebsocket.ConnectionClosed as e:
            print("closed:", e.code, e.reason)
        except OSError as e:
            print("connection error:", e)
        finally:
            ws.close()


if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 8080
    serve(host, port)
