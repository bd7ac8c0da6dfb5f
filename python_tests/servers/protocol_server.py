# An echo server for the protocol tests: examples/echo_server.py plus what
# the tests observe or provoke. Every connection gets a 2 s read timeout (a
# stalled peer must not hold the server), messages are limited to MAX_SIZE
# bytes, the text message "close-me" makes the server close with 4000 and a
# reason, and every connection's end is logged with the close code and
# reason the script sees (exception and ws.close_code/ws.close_reason).
#
#   micropython protocol_server.py MAX_SIZE HOST PORT
import socket
import sys

import uwebsocket

SERVER_CLOSE = (4000, "server closes")


def serve(max_size, host, port):
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(addr)
    server.listen(8)
    print("protocol server on", host, port)
    while True:
        sock, _ = server.accept()
        sock.settimeout(2)
        try:
            ws = uwebsocket.accept(sock, max_size=max_size, timeout=2)
        except uwebsocket.HandshakeError as e:
            print("refused", e.status)
            continue
        except OSError as e:
            sock.close()
            print("handshake error", e.errno)
            continue
        try:
            while True:
                msg = ws.recv()
                if msg == "close-me":
                    ws.close(*SERVER_CLOSE)
                    print("server closed %s [%s]" % (ws.close_code, ws.close_reason))
                    break
                ws.send(msg)
        except uwebsocket.ConnectionClosed as e:
            print("closed %d [%s] %s [%s]" % (e.code, e.reason, ws.close_code, ws.close_reason))
        except OSError as e:
            print("connection error", e.errno)
        finally:
            ws.close()


serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
