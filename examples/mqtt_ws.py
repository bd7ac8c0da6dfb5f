# MQTT over WebSocket with micropython-lib's umqtt.simple, unchanged: a
# device that publishes a JSON reading to TOPIC/readings once a second at
# QoS 1 and prints every message on TOPIC/commands, until interrupted. When
# the broker goes away it reconnects, waiting longer after each failure.
#
#   micropython examples/mqtt_ws.py URL [--topic TOPIC] [--ca CA.der]
#
# URL is the broker's MQTT-over-WebSocket endpoint, ws://host:port/path or
# wss://... (Mosquitto, EMQX and HiveMQ serve it at /mqtt). Install umqtt
# first; on the unix port it goes to ~/.micropython/lib:
#   micropython -m mip install umqtt.simple
# With --ca the broker's certificate is verified against that CA (DER).
import json
import os
import sys
import time

import uwebsocket
from umqtt.simple import MQTTClient
from uwebsocket_transport import Backoff, WebSocketTransport

KEEPALIVE = 30


def host_port(url):
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port[1:]
    else:
        host, _, port = rest.partition(":")
    return host, int(port) if port else (443 if url.startswith("wss:") else 80)


def reading(n):
    # Stands in for a sensor.
    return {"n": n, "uptime_ms": time.ticks_ms(), "temperature": 20 + (n % 10) / 4}


def on_message(topic, msg):
    print("command", topic.decode(), msg.decode())


def session(url, topic, cadata, backoff):
    """One connection, until it fails (an exception)."""
    host, port = host_port(url)
    transport = WebSocketTransport(url, cadata=cadata, timeout=KEEPALIVE)
    client_id = "mqtt-ws-" + "".join("%02x" % b for b in os.urandom(4))
    client = MQTTClient(client_id, host, port=port, keepalive=KEEPALIVE, ssl=transport)
    client.set_callback(on_message)
    client.connect()
    try:
        print("connected to", url, "as", client_id)
        backoff.reset()
        client.subscribe(topic + "/commands", 1)
        n = 0
        next_due = time.ticks_ms()
        while True:
            if time.ticks_diff(time.ticks_ms(), next_due) >= 0:
                # A QoS 1 publish waits for the broker's PUBACK: a broker
                # that went away shows here. It also keeps the connection
                # alive (MQTT 3.1.1 §3.1.2.10), so no PINGREQ is needed.
                client.publish(topic + "/readings", json.dumps(reading(n)), qos=1)
                n += 1
                next_due = time.ticks_add(next_due, 1000)
            # Messages that came meanwhile, without blocking.
            while client.check_msg() is not None:
                pass
            time.sleep_ms(20)
    finally:
        try:
            client.sock.close()
        except Exception:
            pass


def main(argv):
    if not argv or argv[0].startswith("-"):
        print("usage: mqtt_ws.py URL [--topic TOPIC] [--ca CA.der]")
        sys.exit(2)
    url, topic, cadata = argv[0], "uwebsocket/demo", None
    args = argv[1:]
    while args:
        opt = args.pop(0)
        if opt == "--topic" and args:
            topic = args.pop(0)
        elif opt == "--ca" and args:
            with open(args.pop(0), "rb") as f:
                cadata = f.read()
        else:
            print("unknown option", opt)
            sys.exit(2)
    backoff = Backoff(first=0.5, most=30)
    while True:
        try:
            session(url, topic, cadata, backoff)
        except (OSError, uwebsocket.ConnectionClosed, uwebsocket.HandshakeError) as e:
            # umqtt reports a lost connection as OSError; the WebSocket as
            # ConnectionClosed; a broker refusing the upgrade as
            # HandshakeError. Anything else is a bug: let it show.
            print("connection lost:", repr(e))
        delay = backoff.next()
        print("reconnecting in %.1f s" % delay)
        time.sleep(delay)


if __name__ == "__main__":
    main(sys.argv[1:])
