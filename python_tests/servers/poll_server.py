# An echo server on one select.poll loop, no threads, no asyncio: the
# listening socket and every WebSocket registered with the same poll
# object, each WebSocket non-blocking (recv() returns None until a whole
# message is there; send() queues what the socket does not take), one
# recv() per POLLIN.
#
#   micropython poll_server.py HOST PORT
import select
import socket
import sys

import uwebsocket

SO_SNDBUF = getattr(socket, "SO_SNDBUF", 7)  # Linux's value


def serve(host, port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1])
    listener.listen(8)
    poller = select.poll()
    poller.register(listener, select.POLLIN)
    while True:
        for obj, events, *_ in poller.ipoll(1000):
            if obj is listener:
                sock, _ = listener.accept()
                # A small send buffer: big messages meet a full socket, so
                # send() queues and POLLOUT drains.
                sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUF, 8192)
                sock.settimeout(5)  # the handshake itself is blocking
                try:
                    ws = uwebsocket.accept(sock, max_size=8 << 20, timeout=5)
                except (uwebsocket.HandshakeError, OSError) as e:
                    print("refused", e)
                    continue
                ws.setblocking(False)
                poller.register(ws, select.POLLIN)
                continue
            ws = obj
            try:
                if events & select.POLLOUT and not ws.flush():
                    poller.modify(ws, select.POLLIN)
                if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    # One recv() per event, as the simplest loops do: poll
                    # reports the WebSocket again while messages read ahead
                    # are waiting in it.
                    message = ws.recv()
                    if message is not None:
                        ws.send(message)
                    pending = ws.flush()
                    if pending:
                        print("queued", pending)
                        poller.modify(ws, select.POLLIN | select.POLLOUT)
            except uwebsocket.ConnectionClosed as e:
                print("closed", e.code)
                poller.unregister(ws)
                ws.close()
            except (OSError, MemoryError) as e:
                print("error", repr(e))
                poller.unregister(ws)
                ws.close()


serve(sys.argv[1], int(sys.argv[2]))
