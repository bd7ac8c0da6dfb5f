# A WebSocket client: connect, send a text and a binary message, print what
# comes back, close.
#
#   micropython examples/client.py [URL]        (default ws://127.0.0.1:8080/)
#
# Against the echo server: `micropython examples/echo_server.py` in one
# terminal, this in another.
# wss:// URLs work too. The server's certificate is checked only when you
# give the CA that signed it:
#   uwebsocket.connect(url, cadata=open("ca.der", "rb").read())
import sys

import uwebsocket


def main(url):
    # timeout bounds connecting, the handshake and every later read.
    ws = uwebsocket.connect(url, timeout=10)
    print("connected to", url)
    try:
        ws.send("Hello from MicroPython")
        print("received text: %r" % (ws.recv(),))
        ws.send(b"\x00\x01\x02\xff")
        print("received binary: %r" % (ws.recv(),))
    finally:
        ws.close(1000, "done")
    print("closed:", ws.close_code, ws.close_reason)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "ws://127.0.0.1:8080/")
