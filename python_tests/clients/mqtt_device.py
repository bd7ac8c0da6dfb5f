# The device side of the MQTT tests (MicroPython): umqtt.simple's
# MQTTClient over uwebsocket_transport, one scenario per run. The test
# drives a CPython paho-mqtt client on the broker's TCP listener meanwhile.
#
#   micropython mqtt_device.py URL SCENARIO TOPIC [ca=PATH]
#
# URL is the broker's ws:// or wss:// MQTT endpoint. Scenarios:
#   roundtrip  subscribe TOPIC/down0 (QoS 0) and TOPIC/down1 (QoS 1), publish
#              "ready" to TOPIC/up, receive one message on each, echo them to
#              TOPIC/echo0 and TOPIC/echo1 at the QoS they came with; then
#              publish "d0" (QoS 0) and "d1" (QoS 1) to TOPIC/up
#   retained   subscribe TOPIC/retained: the broker sends what was retained
#   keepalive  keepalive 2 s: four PINGREQ/PINGRESP over the stream, 1 s apart,
#              then publish "alive" (QoS 1) to TOPIC/up
#   poll       subscribe TOPIC/down, publish "ready" (QoS 0), then poll with
#              check_msg() (non-blocking) until a message comes
# One line per result ("got TOPIC MSG qos=Q retain=R", ...), "done" at the
# end; an exception prints "raised NAME ARGS" and exits with status 1.
import sys
import time

from umqtt.simple import MQTTClient
from uwebsocket_transport import WebSocketTransport


def host_port(url):
    rest = url.split("://", 1)[1].split("/", 1)[0]
    host, _, port = rest.rpartition(":")
    return host, int(port)


def main(url, scenario, topic, options):
    cadata = None
    if "ca" in options:
        with open(options["ca"], "rb") as f:
            cadata = f.read()
    transport = WebSocketTransport(url, cadata=cadata, timeout=10)
    host, port = host_port(url)
    keepalive = 2 if scenario == "keepalive" else 30
    client = MQTTClient("dev-" + scenario, host, port=port, keepalive=keepalive, ssl=transport)
    got = []
    prefix = (topic + "/").encode()

    def on_message(t, m):
        # Only this scenario's topics: amqtt 0.12.1 was seen to hand a new
        # subscriber retained messages of other topics.
        if t.startswith(prefix):
            got.append((t, m))

    client.set_callback(on_message)
    client.connect()
    print("connected", transport.ws.subprotocol)

    def report(op):
        t, m = got.pop()
        print("got %s %s qos=%d retain=%d" % (t.decode(), m.decode(), (op >> 1) & 3, op & 1))
        return t, m, (op >> 1) & 3

    if scenario == "roundtrip":
        client.subscribe(topic + "/down0", 0)
        client.subscribe(topic + "/down1", 1)
        client.publish(topic + "/up", "ready", qos=1)
        received = []
        while len(received) < 2:
            op = client.wait_msg()
            if got:
                received.append(report(op))
        for _, m, qos in received:
            client.publish(topic + "/echo%d" % qos, m, qos=qos)
        client.publish(topic + "/up", "d0", qos=0)
        client.publish(topic + "/up", "d1", qos=1)
    elif scenario == "retained":
        client.subscribe(topic + "/retained", 1)
        op = client.wait_msg()
        while not got:
            op = client.wait_msg()
        report(op)
    elif scenario == "keepalive":
        pongs = 0
        for _ in range(4):
            client.ping()
            # Blocking: the next packet is the PINGRESP, absorbed (None).
            if client.wait_msg() is None:
                pongs += 1
            time.sleep(1)
        print("pingresp", pongs)
        client.publish(topic + "/up", "alive", qos=1)
    elif scenario == "poll":
        client.subscribe(topic + "/down", 0)
        print("first poll", client.check_msg())
        # QoS 0: nothing to wait for, so what comes next is left to polling.
        client.publish(topic + "/up", "ready", qos=0)
        empty = 0
        start = time.ticks_ms()
        while not got and time.ticks_diff(time.ticks_ms(), start) < 10000:
            op = client.check_msg()
            if op is None:
                empty += 1
                time.sleep_ms(10)
        print("empty polls", "some" if empty else "none")
        report(op)
    client.disconnect()
    print("done")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if "=" not in a]
    options = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    try:
        main(args[0], args[1], args[2], options)
    except Exception as e:
        print("raised", type(e).__name__, e.args)
        sys.exit(1)
