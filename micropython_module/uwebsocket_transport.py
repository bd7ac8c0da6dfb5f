"""A WebSocket as the byte stream of another protocol (MQTT, say), and a
reconnect delay that backs off.

A client library that takes an `ssl=` object and calls
`ssl.wrap_socket(sock, server_hostname=...)` on the socket it connected
(micropython-lib's umqtt.simple does) gets a WebSocket back instead: the
WebSocket's read(n), readinto(buf) and write(buf[, n]) carry payload bytes
across message boundaries, and each write goes out as one binary message.

    from umqtt.simple import MQTTClient
    from uwebsocket_transport import WebSocketTransport

    ws = WebSocketTransport("ws://broker.local:8080/mqtt")
    client = MQTTClient("dev1", "broker.local", port=8080, ssl=ws)
    client.connect()

For wss:// the socket is wrapped in TLS by the port's `tls` module first;
the server's certificate is verified against `cadata` (a CA certificate,
DER), or by a ready `tls.SSLContext` passed as `context`; without either
the transport refuses wss:// unless `insecure=True` says to go unverified,
as uwebsocket.connect() does.
"""
import uwebsocket

if not hasattr(uwebsocket, "WebSocket"):
    # The port's own websocket module answered the name (it does on ports
    # that build it in): uwebsocket is installed as a native .mpy there.
    import uwebsocket_native as uwebsocket


class WebSocketTransport:
    """wrap_socket(sock, server_hostname=None) upgrades a connected socket
    to a WebSocket (TLS inside for wss://) and returns it.

    url: "ws://host:port/path" or "wss://...", or only a path ("/mqtt"):
    then the Host header is server_hostname and `tls` says whether to use
    TLS. The offered subprotocols default to "mqtt" (MQTT 3.1.1 §6: the
    client offers "mqtt" and the server must select it); with
    `require_subprotocol` a server that selects none is refused.
    `timeout` (seconds) is set on the socket: it bounds the handshake and
    every later blocking read. `nodelay` turns off Nagle's algorithm on the
    socket: each write is a whole WebSocket message already, and a client
    like umqtt writes one packet in several calls, which Nagle's algorithm
    and the peer's delayed ACK would otherwise hold up for ~40 ms each.
    """

    def __init__(self, url="/mqtt", subprotocols=("mqtt",), *, headers=None, tls=False,
                 cadata=None, context=None, insecure=False, timeout=None, require_subprotocol=True,
                 max_size=65536, nodelay=True):
        self.url = url
        self.subprotocols = list(subprotocols) if subprotocols else None
        self.headers = headers
        self.tls = url.startswith("wss://") or (tls and not url.startswith("ws://"))
        self.cadata = cadata
        self.context = context
        if self.tls and cadata is None and context is None and not insecure:
            raise uwebsocket.HandshakeError(0, "cannot verify the server: give cadata= or context=, or insecure=True")
        self.timeout = timeout
        self.require_subprotocol = require_subprotocol and bool(subprotocols)
        self.max_size = max_size
        self.nodelay = nodelay
        # The last WebSocket made, for a script that wants its attributes.
        self.ws = None

    def _url(self, server_hostname):
        if "://" in self.url:
            return self.url
        if not server_hostname:
            raise ValueError("a path needs server_hostname")
        host = "[%s]" % server_hostname if ":" in server_hostname else server_hostname
        return ("wss://" if self.tls else "ws://") + host + self.url

    def _context(self):
        if self.context is not None:
            return self.context
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if self.cadata is not None:
            ctx.load_verify_locations(self.cadata)
            ctx.verify_mode = tls.CERT_REQUIRED
        else:
            # insecure=True (the constructor refuses wss:// otherwise).
            ctx.verify_mode = tls.CERT_NONE
        return ctx

    def wrap_socket(self, sock, server_hostname=None):
        url = self._url(server_hostname)
        try:
            if self.timeout is not None:
                sock.settimeout(self.timeout)
            if self.nodelay:
                _nodelay(sock)
            if self.tls:
                if server_hostname is None:
                    server_hostname = _host_of(url)
                sock = self._context().wrap_socket(sock, server_hostname=server_hostname)
            ws = uwebsocket.client(sock, url, subprotocols=self.subprotocols,
                                   headers=self.headers, max_size=self.max_size)
        except BaseException:
            sock.close()
            raise
        if self.require_subprotocol and ws.subprotocol is None:
            ws.close(1000, "subprotocol required")
            raise uwebsocket.HandshakeError(0, "server selected no subprotocol")
        self.ws = ws
        return ws


def _nodelay(sock):
    import socket

    # Not every port's socket module names these (IPPROTO_TCP is 6 and
    # TCP_NODELAY 1 on lwIP and POSIX alike); a port without the option
    # raises OSError, and the stream works as it is.
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), getattr(socket, "TCP_NODELAY", 1), 1)
    except OSError:
        pass


def _host_of(url):
    rest = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.split(":", 1)[0]


class Backoff:
    """Delays between reconnection attempts: first, doubling up to most,
    each with up to a quarter of random jitter so that a fleet of devices
    does not come back at the same instant after the server restarts.

        backoff = Backoff()
        while True:
            try:
                run_session()          # returns or raises when the link drops
                backoff.reset()        # ...after it had been up
            except OSError:
                pass
            time.sleep(backoff.next())
    """

    def __init__(self, first=0.5, most=30):
        self.first = first
        self.most = most
        self.delay = first

    def reset(self):
        self.delay = self.first

    def next(self):
        import random

        delay = self.delay
        self.delay = min(self.delay * 2, self.most)
        return delay * (1 - random.getrandbits(8) / 1024)
