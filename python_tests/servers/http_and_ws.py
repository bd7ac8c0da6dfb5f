# One port for a device's page and its WebSocket: GET / is answered with an
# HTML page, GET /ws upgrades to an echo WebSocket, anything else is a 404.
# Each request line is logged as the script saw it.
#
#   micropython http_and_ws.py HOST PORT
import socket
import sys

import uwebsocket

PAGE = b"<!doctype html><title>lamp</title><p>uwebsocket page</p>"


def handle(sock):
    req = uwebsocket.read_request(sock, timeout=2)
    print("request", req.method, req.path, req.upgrade)
    if req.path == "/ws":
        # Not an upgrade, or a bad one: accept() answers it with the HTTP error.
        ws = uwebsocket.accept(sock, request=req)
        try:
            while True:
                ws.send(ws.recv())
        except uwebsocket.ConnectionClosed as e:
            print("closed", e.code)
        finally:
            ws.close()
    elif req.path == "/" and req.method == "GET":
        uwebsocket.respond(sock, 200, PAGE, headers={"Cache-Control": "no-store"})
    else:
        uwebsocket.respond(sock, 404, b"no such page: " + req.path.encode(), content_type="text/plain")


def serve(host, port):
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(addr)
    server.listen(8)
    print("http and ws server on", host, port)
    while True:
        sock, _ = server.accept()
        sock.settimeout(2)
        try:
            handle(sock)
        except uwebsocket.HandshakeError as e:
            print("refused", e.status, e.message)
        except OSError as e:
            sock.close()
            print("connection error", e.errno)


serve(sys.argv[1], int(sys.argv[2]))
