# The tests' echo server, in each of the three ways a script waits: a
# blocking loop (one client at a time), one select.poll loop over
# non-blocking WebSockets, or the asyncio helper uwebsocket_asyncio. Every
# message comes back as it came; every option of accept() and of the
# WebSocket the tests need is a command-line flag. Each event the tests
# watch is a log line:
#
#   refused STATUS MESSAGE              accept() answered an HTTP error
#   handshake error ERRNO               the client stalled or hung up first
#   request METHOD PATH UPGRADE         (--http) what read_request() saw
#   closed CODE [REASON] CLOSE_CODE [CLOSE_REASON]
#                                       the exception that ended it, then
#                                       what ws.close_code/close_reason say
#   server closed CODE [REASON]         (--close-on) the server closed
#   connection error ERRNO              a transport error left as OSError
#   queued N                            (poll) send() queued N bytes
#   error REPR                          anything else (a test fails on it)
#
#   micropython echo.py [FLAGS] HOST PORT
#
# --mode blocking|poll|asyncio  how it waits (default blocking)
# --max-size N                  accept(max_size=N) (default 1 MiB)
# --max-head N                  accept(max_head=N)
# --subprotocols A,B            accept(subprotocols=[A, B])
# --origins O1,O2               accept(origins=[O1, O2])
# --timeout S|none              each connection's socket timeout (default 2)
# --keepalive I,T               ws.keepalive(I, T); asyncio: ping_interval/ping_timeout
# --hello                       first send what the script sees of the
#                               request (path, headers, subprotocol) as JSON
# --http                        read_request() first: GET / is a page, /ws
#                               upgrades, anything else is a 404 (blocking)
# --close-on TEXT               that message makes the server close with
#                               4000 "server closes"
# --ack                         (asyncio) broadcast every message to every
#                               client, then answer the sender "ack"
# --sndbuf N                    SO_SNDBUF of each connection (poll)
# --compression none|K=V,...    accept(compression=None), or compression
#                               options (server_max_window_bits=9,
#                               client_no_context_takeover=1, ...); --hello
#                               then tells ws.compression too
import json
import socket
import sys

import uwebsocket

PAGE = b"<!doctype html><title>lamp</title><p>uwebsocket page</p>"
SERVER_CLOSE = (4000, "server closes")
SO_SNDBUF = getattr(socket, "SO_SNDBUF", 7)  # Linux's value


def parse(argv):
    opts = {"mode": "blocking", "max_size": 1 << 20, "max_head": None, "subprotocols": None,
            "origins": None, "timeout": 2.0, "keepalive": None, "hello": False, "http": False,
            "close_on": None, "ack": False, "sndbuf": None, "compression": None}
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--"):
            args.append(a)
            i += 1
            continue
        name = a[2:].replace("-", "_")
        if name not in opts:
            raise SystemExit("unknown flag " + a)
        if isinstance(opts[name], bool):
            opts[name] = True
            i += 1
            continue
        value = argv[i + 1]
        i += 2
        if name in ("max_size", "max_head", "sndbuf"):
            value = int(value)
        elif name in ("subprotocols", "origins"):
            value = value.split(",")
        elif name == "timeout":
            value = None if value == "none" else float(value)
        elif name == "keepalive":
            value = [float(v) for v in value.split(",")]
        elif name == "compression":
            value = compression_options(value)
        opts[name] = value
    host, port = args
    return opts, host, int(port)


def compression_options(spec):
    """none -> compression=None; K=V,... -> those options (ints)."""
    if spec == "none":
        return {"compression": None}
    options = {}
    for item in spec.split(","):
        key, _, value = item.partition("=")
        options[key] = int(value)
    return options


def accept_options(opts):
    # The handshake's own bound is accept()'s timeout (the socket's applies
    # to messages).
    kw = {"max_size": opts["max_size"], "timeout": opts["timeout"]}
    for name in ("max_head", "subprotocols", "origins"):
        if opts[name] is not None:
            kw[name] = opts[name]
    kw.update(opts["compression"] or {})
    return kw


def seen(ws):
    # A header value that is not UTF-8 comes as bytes, which JSON cannot carry.
    headers = {}
    for name, value in ws.headers.items():
        headers[name] = value if isinstance(value, str) else repr(value)
    return json.dumps({"path": ws.path, "headers": headers, "subprotocol": ws.subprotocol,
                       "compression": ws.compression})


def log_closed(e, ws):
    print("closed %s [%s] %s [%s]" % (e.code, e.reason, ws.close_code, ws.close_reason))


def listener(host, port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1])
    server.listen(8)
    return server


def upgrade(sock, opts, request=None):
    """accept() with the options; None (and a log line) when refused."""
    try:
        return uwebsocket.accept(sock, request=request, **accept_options(opts))
    except uwebsocket.HandshakeError as e:
        print("refused", e.status, e.message)
    except OSError as e:
        # Nothing is answered to a client that hangs up or stalls.
        sock.close()
        print("handshake error", e.errno)
    return None


def echo_blocking(ws, opts):
    try:
        if opts["keepalive"]:
            ws.keepalive(*opts["keepalive"])
        if opts["hello"]:
            ws.send(seen(ws))
        while True:
            msg = ws.recv()
            if opts["close_on"] is not None and msg == opts["close_on"]:
                ws.close(*SERVER_CLOSE)
                print("server closed %s [%s]" % (ws.close_code, ws.close_reason))
                break
            ws.send(msg)
    except uwebsocket.ConnectionClosed as e:
        log_closed(e, ws)
    except OSError as e:
        print("connection error", e.errno)
    finally:
        ws.close()


def serve_blocking(opts, host, port):
    server = listener(host, port)
    while True:
        sock, _ = server.accept()
        sock.settimeout(opts["timeout"])
        request = None
        try:
            if opts["http"]:
                request = uwebsocket.read_request(sock, timeout=opts["timeout"])
                print("request", request.method, request.path, request.upgrade)
                if request.path == "/" and request.method == "GET":
                    uwebsocket.respond(sock, 200, PAGE, headers={"Cache-Control": "no-store"})
                    continue
                if request.path != "/ws":
                    uwebsocket.respond(sock, 404, b"no such page: " + request.path.encode(),
                                       content_type="text/plain")
                    continue
        except OSError as e:
            sock.close()
            print("handshake error", e.errno)
            continue
        ws = upgrade(sock, opts, request)
        if ws is not None:
            echo_blocking(ws, opts)


def serve_poll(opts, host, port):
    import select

    server = listener(host, port)
    poller = select.poll()
    poller.register(server, select.POLLIN)
    while True:
        for obj, events, *_ in poller.ipoll(1000):
            if obj is server:
                sock, _ = server.accept()
                if opts["sndbuf"]:
                    # A small send buffer: big messages meet a full socket,
                    # so send() queues and POLLOUT drains.
                    sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUF, opts["sndbuf"])
                sock.settimeout(opts["timeout"])  # the handshake itself is blocking
                ws = upgrade(sock, opts)
                if ws is None:
                    continue
                if opts["keepalive"]:
                    ws.keepalive(*opts["keepalive"])
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
                log_closed(e, ws)
                poller.unregister(ws)
                ws.close()
            except (OSError, MemoryError) as e:
                print("error", repr(e))
                poller.unregister(ws)
                ws.close()


def serve_asyncio(opts, host, port):
    import asyncio

    import uwebsocket_asyncio as wsa

    clients = set()

    async def handler(ws):
        clients.add(ws)
        try:
            if opts["hello"]:
                await ws.send(seen(ws))
            async for message in ws:
                if opts["close_on"] is not None and message == opts["close_on"]:
                    await ws.close(*SERVER_CLOSE)
                    print("server closed %s [%s]" % (ws.close_code, ws.close_reason))
                    return
                if opts["ack"]:
                    wsa.broadcast(list(clients), message)
                    await ws.send("ack")
                else:
                    await ws.send(message)
            print("closed %s [%s] %s [%s]" % (ws.close_code, ws.close_reason, ws.close_code, ws.close_reason))
        except wsa.ConnectionClosed as e:
            log_closed(e, ws)
            raise
        except Exception as e:  # anything else shows in the log the test reads
            print("error", repr(e))
            raise
        finally:
            clients.discard(ws)

    async def main():
        keepalive = opts["keepalive"] or (None, None)
        await wsa.serve(handler, host, port, ping_interval=keepalive[0], ping_timeout=keepalive[1],
                        **accept_options(opts))
        while True:
            await asyncio.sleep(3600)

    asyncio.run(main())


opts, host, port = parse(sys.argv[1:])
{"blocking": serve_blocking, "poll": serve_poll, "asyncio": serve_asyncio}[opts["mode"]](opts, host, port)
