# A WebSocket server with every handshake option set, for the handshake
# tests: it speaks the subprotocols "chat" and "superchat" (preferring
# "chat"), admits only the origin http://good.example, refuses request
# heads over 1024 bytes, and gives up on a silent client after 2 s. Each
# connection first receives what the script sees of its request (path,
# headers, subprotocol) as a JSON text message, then gets its messages
# echoed. Every refusal is logged with its status.
#
#   micropython handshake_server.py HOST PORT
import json
import socket
import sys

import uwebsocket

SUBPROTOCOLS = ["chat", "superchat"]
ORIGINS = ["http://good.example"]
MAX_HEAD = 1024


def seen(ws):
    # A header value that is not UTF-8 comes as bytes, which JSON cannot carry.
    headers = {}
    for name, value in ws.headers.items():
        headers[name] = value if isinstance(value, str) else repr(value)
    return json.dumps({"path": ws.path, "headers": headers, "subprotocol": ws.subprotocol})


def serve(host, port):
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(addr)
    server.listen(8)
    print("handshake server on", host, port)
    while True:
        sock, _ = server.accept()
        sock.settimeout(2)
        try:
            ws = uwebsocket.accept(sock, subprotocols=SUBPROTOCOLS, origins=ORIGINS, max_head=MAX_HEAD, timeout=2)
        except uwebsocket.HandshakeError as e:
            print("refused", e.status, e.message)
            continue
        except OSError as e:
            # The module answers nothing to a client that hangs up or stalls.
            sock.close()
            print("handshake error", e.errno)
            continue
        try:
            ws.send(seen(ws))
            while True:
                ws.send(ws.recv())
        except uwebsocket.ConnectionClosed as e:
            print("closed", e.code)
        except OSError as e:
            print("connection error", e.errno)
        finally:
            ws.close()


serve(sys.argv[1], int(sys.argv[2]))
