# permessage-deflate on the MicroPython unix port: a typical JSON telemetry
# message (a reading with a few changing numbers, ~170 bytes) sent and
# received through uwebsocket in memory, uncompressed and compressed.
#
#   micropython -X heapsize=32M benches/telemetry.py [REPEATS]
#
# Prints one JSON object per line, per (compression, direction):
#   {"case": "telemetry", "compression": ..., "direction": "send"|"recv",
#    "wire_bytes_per_msg": ..., "msgs_per_s": ..., "runs": [...]}
# wire_bytes_per_msg counts whole frames (headers included) as a server
# sends them; msgs_per_s is the median over REPEATS runs of MESSAGES.
import io
import json
import sys
import time

import uwebsocket

MESSAGES = 2000
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
MODES = (
    ("none", {"compression": None}),
    ("deflate", {"compression": "deflate"}),
    ("deflate, no context takeover", {"compression": "deflate", "server_no_context_takeover": True}),
)


def readings(n):
    out = []
    for i in range(n):
        out.append(json.dumps({"type": "reading", "device": "greenhouse-7", "seq": i,
                               "temperature": 20 + (i * 37 % 500) / 100, "humidity": 40 + (i * 13 % 300) / 10,
                               "battery": 3.3 + (i % 7) / 100, "uptime": 86400 + i, "free": 2051520 - i * 16}))
    return out


def send_run(messages, options):
    # Pre-grown to hold every frame uncompressed, so the timed sends write
    # into it and never make it reallocate (growing it write by write cost
    # more than the sends themselves: plain sends read as slower than
    # compressed ones, whose output is a quarter the size).
    stream = io.BytesIO()
    stream.write(bytes(sum(len(m) + 14 for m in messages)))
    stream.seek(0)
    ws = uwebsocket.WebSocket(stream, True, **options)
    start = time.ticks_us()
    for m in messages:
        ws.send(m)
    elapsed = time.ticks_diff(time.ticks_us(), start)
    return stream.getvalue()[:stream.tell()], elapsed


def mask_frames(wire):
    """The server's frames as a client would send them (masked with a zero
    key, so the payload stays as it is)."""
    out = bytearray()
    pos = 0
    while pos < len(wire):
        b0, b1 = wire[pos], wire[pos + 1]
        n = b1 & 0x7F
        head = 2
        if n == 126:
            n = int.from_bytes(wire[pos + 2:pos + 4], "big")
            head = 4
        elif n == 127:
            n = int.from_bytes(wire[pos + 2:pos + 10], "big")
            head = 10
        out.append(b0)
        out.append(b1 | 0x80)
        out.extend(wire[pos + 2:pos + head])
        out.extend(b"\0\0\0\0")
        out.extend(wire[pos + head:pos + head + n])
        pos += head + n
    return bytes(out)


def recv_run(frames, options, count):
    ws = uwebsocket.WebSocket(io.BytesIO(frames), True, **options)
    start = time.ticks_us()
    for _ in range(count):
        ws.recv()
    return time.ticks_diff(time.ticks_us(), start)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    messages = readings(MESSAGES)
    raw = sum(len(m) for m in messages) / MESSAGES
    for name, options in MODES:
        sends, recvs = [], []
        wire = b""
        for _ in range(REPEATS):
            wire, us = send_run(messages, options)
            sends.append(MESSAGES * 1e6 / us)
        frames = mask_frames(wire)
        for _ in range(REPEATS):
            recvs.append(MESSAGES * 1e6 / recv_run(frames, options, MESSAGES))
        for direction, runs in (("send", sends), ("recv", recvs)):
            print(json.dumps({"case": "telemetry", "compression": name, "direction": direction,
                              "message_bytes": raw, "wire_bytes_per_msg": len(wire) / MESSAGES,
                              "msgs_per_s": median(runs), "runs": runs}))


main()
