# MQTT publish round trip on the unix port (run by benches/mqtt_rtt.py):
# subscribe to a topic, then publish 16-byte messages to it one at a time at
# QoS 0 and wait for each to come back through the broker. umqtt.simple's
# interface (the test suite's client on MICROPYPATH), over plain TCP or over
# WebSocket with uwebsocket_transport.
#
#   micropython mqtt_rtt_client.py ws|tcp-nodelay|tcp HOST PORT COUNT
#
# ws: uwebsocket_transport (which sets TCP_NODELAY); tcp-nodelay: plain TCP
# with TCP_NODELAY set through the same ssl= hook (a wrap_socket that only
# sets the option), the fair comparison; tcp: plain TCP as umqtt.simple
# leaves it, where each packet's several writes meet Nagle's algorithm.
# Prints one JSON line: median, p10 and p90 round trip in microseconds.
import json
import sys
import time

from umqtt.simple import MQTTClient
from uwebsocket_transport import WebSocketTransport

mode, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


class NoDelay:
    def wrap_socket(self, sock, server_hostname=None):
        sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY
        return sock


transport = {"ws": lambda: WebSocketTransport("ws://%s:%d/mqtt" % (host, port)),
             "tcp-nodelay": NoDelay, "tcp": lambda: None}[mode]()
client = MQTTClient("rtt-" + mode, host, port=port, ssl=transport)
got = []
client.set_callback(lambda t, m: got.append(m))
client.connect()
client.subscribe(b"bench/rtt/" + mode, 0)
payload = b"0123456789abcdef"
times = []
for i in range(count + 20):
    start = time.ticks_us()
    client.publish(b"bench/rtt/" + mode, payload, qos=0)
    while not got:
        client.wait_msg()
    got.pop()
    if i >= 20:  # the first ones warm the broker up
        times.append(time.ticks_diff(time.ticks_us(), start))
client.disconnect()
times.sort()
print(json.dumps({"median_us": times[len(times) // 2], "p10_us": times[len(times) // 10],
                  "p90_us": times[len(times) * 9 // 10], "count": count}))
