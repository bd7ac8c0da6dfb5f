# One uwebsocket client connection, driven through the steps given on the
# command line. One line is printed per result, for the test to check.
#
#   micropython session.py URL [OPTION=VALUE ...] [STEP ...]
#
# Options (any order, before or among the steps):
#   ca=PATH            verify the server against this DER CA certificate (cadata=)
#   context=PATH       make a tls.SSLContext verifying against PATH; pass it as ssl=
#   insecure=1         wss:// without verifying the server (insecure=True)
#   sub=A,B            subprotocols to offer
#   header=NAME:VALUE  an extra request header (repeatable)
#   origin=ORIGIN      max_size=N      timeout=SECONDS
#   own_socket=1       connect a socket here (TLS too for wss://) and upgrade
#                      it with uwebsocket.client() instead of connect()
#   deflate=none|K=V,...  compression=None, or compression options
#                      (server_max_window_bits=9,client_no_context_takeover=1)
#   resolve=HOST:PORT  make socket.getaddrinfo print what it is asked
#                      ("getaddrinfo NAME PORT") and answer with HOST:PORT
# Steps:
#   echo=N             send N bytes as binary and N UTF-8 bytes as text,
#                      expect both back unchanged: "echo N ok"
#   text=S             send a text message
#   frag=A,B,C         send a text message in fragments A, B, C
#   ping=S             send a ping
#   recv               receive one message: "recv text|bytes LEN REPR"
#   close=CODE,REASON  close: "closed CODE REASON" (what the peer answered)
#   until_close        receive until the peer closes: "peer closed CODE REASON"
#   compression        what was agreed: "compression ws.compression"
#
# The connection opens with "open SUBPROTOCOL"; an exception ends the script
# with "raised NAME ARGS" and exit status 1.
import socket
import sys

import uwebsocket


def pattern_bytes(n):
    return (bytes(range(256)) * (n // 256 + 1))[:n]


def pattern_text(n):
    # n bytes of UTF-8: two-byte characters, and one ASCII letter when n is odd.
    return "\u00e9" * (n // 2) + "a" * (n % 2)


def short(data):
    r = repr(data)
    return r if len(r) <= 60 else r[:57] + "..."


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def client_context(ca_path):
    import tls

    ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(read_file(ca_path))
    ctx.verify_mode = tls.CERT_REQUIRED
    return ctx


def host_port(url):
    """Host and port of a ws:// or wss:// URL, for own_socket=1."""
    tls_url = url.startswith("wss://")
    rest = url[6 if tls_url else 5:]
    for sep in "/?#":
        rest = rest.split(sep)[0]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = rest.partition(":")
    return tls_url, host, int(port) if port else (443 if tls_url else 80)


def open_own_socket(url, options):
    tls_url, host, port = host_port(url)
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(ai[0], ai[1], ai[2])
    if "timeout" in options:
        sock.settimeout(options["timeout"])
    sock.connect(ai[-1])
    if tls_url:
        import tls

        ctx = options.pop("ssl", None) or tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        if "cadata" in options:
            ctx.load_verify_locations(options.pop("cadata"))
            ctx.verify_mode = tls.CERT_REQUIRED
        elif ctx.verify_mode != tls.CERT_REQUIRED:
            ctx.verify_mode = tls.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=host)
    options.pop("timeout", None)  # set on the socket above
    return uwebsocket.client(sock, url, **options)


class RedirectingSocketModule:
    """Stands in for the socket module in sys.modules, so that what
    uwebsocket.connect() asks getaddrinfo can be seen and redirected."""

    def __init__(self, host, port):
        self.host, self.port = host, port

    def getaddrinfo(self, name, port, *args):
        print("getaddrinfo", name, port)
        return socket.getaddrinfo(self.host, self.port, *args)

    def __getattr__(self, name):
        return getattr(socket, name)


def parse(args):
    options, steps, headers, own = {}, [], [], False
    for arg in args:
        name, _, value = arg.partition("=")
        if name == "ca":
            options["cadata"] = read_file(value)
        elif name == "context":
            options["ssl"] = client_context(value)
        elif name == "insecure":
            options["insecure"] = value == "1"
        elif name == "sub":
            options["subprotocols"] = value.split(",")
        elif name == "header":
            key, _, val = value.partition(":")
            headers.append((key, val))
        elif name == "origin":
            options["origin"] = value
        elif name == "max_size":
            options["max_size"] = int(value)
        elif name == "timeout":
            options["timeout"] = float(value)
        elif name == "resolve":
            host, _, port = value.rpartition(":")
            sys.modules["socket"] = RedirectingSocketModule(host, int(port))
        elif name == "deflate":
            if value == "none":
                options["compression"] = None
            else:
                for item in value.split(","):
                    key, _, number = item.partition("=")
                    options[key] = int(number)
        elif name == "own_socket":
            own = value == "1"
        else:
            steps.append((name, value))
    if headers:
        options["headers"] = headers
    return options, steps, own


def run_step(ws, name, value):
    if name == "echo":
        n = int(value)
        for data in (pattern_bytes(n), pattern_text(n)):
            ws.send(data)
            back = ws.recv()
            if type(back) is not type(data) or back != data:
                print("echo", n, "MISMATCH", type(back).__name__, len(back))
                return
        print("echo", n, "ok")
    elif name == "text":
        ws.send(value)
    elif name == "frag":
        parts = value.split(",")
        for i, part in enumerate(parts):
            ws.send(part, fin=i == len(parts) - 1)
    elif name == "ping":
        ws.ping(value)
    elif name == "recv":
        msg = ws.recv()
        print("recv", "text" if isinstance(msg, str) else "bytes", len(msg), short(msg))
    elif name == "close":
        code, _, reason = value.partition(",")
        ws.close(int(code), reason)
        print("closed", ws.close_code, ws.close_reason)
    elif name == "compression":
        print("compression", ws.compression)
    elif name == "until_close":
        try:
            while True:
                msg = ws.recv()
                print("recv", "text" if isinstance(msg, str) else "bytes", len(msg), short(msg))
        except uwebsocket.ConnectionClosed as e:
            print("peer closed", e.code, e.reason)
    else:
        raise ValueError("unknown step " + name)


def main(url, args):
    options, steps, own = parse(args)
    try:
        ws = open_own_socket(url, options) if own else uwebsocket.connect(url, **options)
        print("open", ws.subprotocol)
        for name, value in steps:
            run_step(ws, name, value)
    except Exception as e:
        # One line whatever the message holds (TLS errors span several).
        text = " ".join(str(a) for a in e.args).replace("\n", " ").strip()
        print("raised", type(e).__name__, text)
        sys.exit(1)


main(sys.argv[1], sys.argv[2:])
