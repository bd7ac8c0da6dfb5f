"""An MQTT broker for the tests: amqtt in-process (CPython, run from the
brokers' virtualenv), on loopback, with a plain TCP listener, a WebSocket
listener, and with a certificate a TLS WebSocket listener.

    python mqtt_broker.py TCP_PORT WS_PORT [WSS_PORT CERT KEY]

Prints "ready" once every listener is up; runs until stopped by a signal.
The ports are given (not picked) so that a test can restart the broker on
the same addresses.
"""
import asyncio
import logging
import signal
import sys

from amqtt.broker import Broker


def config(tcp_port, ws_port, wss=None):
    listeners = {
        "default": {"type": "tcp", "bind": "127.0.0.1:%d" % tcp_port},
        "ws": {"type": "ws", "bind": "127.0.0.1:%d" % ws_port},
    }
    if wss:
        port, cert, key = wss
        listeners["wss"] = {"type": "ws", "bind": "127.0.0.1:%d" % port,
                            "ssl": True, "certfile": cert, "keyfile": key}
    return {
        "listeners": listeners,
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def main(argv):
    wss = (int(argv[3]), argv[4], argv[5]) if len(argv) > 5 else None
    broker = Broker(config(int(argv[1]), int(argv[2]), wss))
    await broker.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv))
