# Follow a public wss:// stream and print its messages as they come.
#
#   micropython examples/public_stream.py URL [COUNT] [--send MESSAGE] [--ca CA.der]
#
# COUNT messages are printed (default 20), then the connection is closed.
# --send sends one text message after connecting (many streams want a
# subscription first); --ca verifies the server's certificate against a CA
# certificate in DER form (MicroPython has no CA store of its own).
#
# Well-known public streams, no account needed:
#   Binance's trade stream for BTC/USDT, one message per trade:
#     micropython examples/public_stream.py wss://stream.binance.com:9443/ws/btcusdt@trade 10
#   Kraken's v2 API, which wants a subscription:
#     micropython examples/public_stream.py wss://ws.kraken.com/v2 10 \
#       --send '{"method":"subscribe","params":{"channel":"trade","symbol":["BTC/USD"]}}'
import sys

import uwebsocket

READ_TIMEOUT = 30  # seconds without a message before the stream is pinged


def parse_args(argv):
    url, count, send, ca = None, 20, None, None
    args = iter(argv)
    for arg in args:
        if arg == "--send":
            send = next(args)
        elif arg == "--ca":
            ca = next(args)
        elif url is None:
            url = arg
        else:
            count = int(arg)
    if url is None:
        raise ValueError("usage: public_stream.py URL [COUNT] [--send MESSAGE] [--ca CA.der]")
    return url, count, send, ca


def follow(url, count, send=None, ca=None):
    cadata = None
    if ca:
        with open(ca, "rb") as f:
            cadata = f.read()
    # Market data messages can be large; 256 KiB leaves room for snapshots.
    ws = uwebsocket.connect(url, timeout=READ_TIMEOUT, max_size=256 * 1024, cadata=cadata)
    print("connected to", url)
    try:
        if send:
            ws.send(send)
        quiet = 0
        received = 0
        while received < count:
            try:
                message = ws.recv()
            except OSError as e:
                # A timed-out read leaves the connection as it was: ping the
                # server once to see whether it is still there.
                if e.args[0] != 110 or quiet:
                    raise
                quiet += 1
                ws.ping(b"still there?")
                continue
            quiet = 0
            received += 1
            print(message if isinstance(message, str) else repr(message))
    finally:
        ws.close(1000, "enough")


def main():
    try:
        follow(*parse_args(sys.argv[1:]))
    except uwebsocket.ConnectionClosed as e:
        print("stream closed:", e.code, e.reason)
    except (uwebsocket.HandshakeError, ValueError, OSError) as e:
        print("error:", type(e).__name__, e)
        sys.exit(1)


main()
