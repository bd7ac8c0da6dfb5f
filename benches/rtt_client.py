# Round-trip time of a 16-byte message from a uwebsocket client (run on the
# MicroPython unix port by benches/client_rtt.py against an echo server).
#
#   micropython benches/rtt_client.py URL MESSAGES [CA_DER]
#
# Prints one JSON object: median, 10th and 90th percentile round trip in µs.
import json
import sys
import time

import uwebsocket

url, messages = sys.argv[1], int(sys.argv[2])
options = {"timeout": 10}
if len(sys.argv) > 3:
    with open(sys.argv[3], "rb") as f:
        options["cadata"] = f.read()
ws = uwebsocket.connect(url, **options)
payload = b"0123456789abcdef"
ws.send(payload)  # one outside the clock
assert ws.recv() == payload
times = []
for _ in range(messages):
    start = time.ticks_us()
    ws.send(payload)
    echo = ws.recv()
    times.append(time.ticks_diff(time.ticks_us(), start))
    if echo != payload:
        raise RuntimeError("echo differs from the message sent")
ws.close()
times.sort()
print(json.dumps({
    "median_us": times[len(times) // 2],
    "p10_us": times[len(times) // 10],
    "p90_us": times[len(times) * 9 // 10],
}))
