"""Echo over loopback: a CPython `websockets` client against MicroPython echo
servers (benches/echo_uwebsocket.py, benches/echo_builtin.py), with and
without TCP_NODELAY on the server's socket.

One message in flight at a time (send, wait for the echo): messages per
second at 16 bytes shows per-message latency, where a frame written as two
segments meets Nagle's algorithm and the client's delayed ACK; MB/s at
65,535 bytes shows bulk cost. Every echo is compared with what was sent.

    build/venv/bin/python benches/loopback.py FIRMWARE
"""
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

from procs import Process, free_port, wait_port

BENCHES = Path(__file__).resolve().parent
SERVERS = {"uwebsocket": BENCHES / "echo_uwebsocket.py", "builtin": BENCHES / "echo_builtin.py"}
SIZES = (16, 65535)
DURATION = 1.0  # seconds per run
MAX_MESSAGES = 20000


async def echo_run(url, size, duration=DURATION, limit=MAX_MESSAGES):
    """Round trips of `size`-byte binary messages for `duration` seconds:
    returns (messages, seconds, slowest round trip in seconds)."""
    payload = os.urandom(size)
    async with connect(url, compression=None, max_size=None, ping_interval=None) as ws:
        await ws.send(payload)  # one outside the clock: connection warm
        if await ws.recv() != payload:
            raise RuntimeError("echo differs from the message sent")
        count, slowest = 0, 0.0
        start = time.perf_counter()
        now = start
        while count < limit and now - start < duration:
            await ws.send(payload)
            echo = await ws.recv()
            if echo != payload:
                raise RuntimeError("echo %d differs from the message sent" % count)
            count += 1
            last, now = now, time.perf_counter()
            slowest = max(slowest, now - last)
        return count, now - start, slowest


def run(firmware, log_dir, repeats=3, host="127.0.0.1"):
    """All servers and settings, taking turns; one result dict per case."""
    servers = {}
    try:
        for impl, script in SERVERS.items():
            for nodelay in (False, True):
                port = free_port(host)
                proc = Process([firmware, str(script), str(int(nodelay)), host, str(port)],
                               Path(log_dir) / ("echo-%s-%d.log" % (impl, nodelay)))
                servers[impl, nodelay] = (proc, port)
        for proc, port in servers.values():
            wait_port(host, port, proc)
        results = []
        for size in SIZES:
            for nodelay in (False, True):
                runs = {impl: [] for impl in SERVERS}
                for _ in range(repeats):
                    for impl in SERVERS:
                        _, port = servers[impl, nodelay]
                        url = "ws://%s:%d/echo/%d" % (host, port, size)
                        runs[impl].append(asyncio.run(echo_run(url, size)))
                for impl, impl_runs in runs.items():
                    rates = [count / seconds for count, seconds, _ in impl_runs]
                    rate = statistics.median(rates)
                    results.append({
                        "case": "echo", "impl": impl, "size": size, "nodelay": nodelay,
                        "msgs_per_s": rate, "mb_per_s": rate * size / 1e6,
                        "mean_round_trip_ms": 1e3 / rate,
                        "slowest_round_trip_ms": 1e3 * max(slowest for _, _, slowest in impl_runs),
                        "runs_msgs_per_s": [round(r, 1) for r in rates],
                    })
        return results
    finally:
        for proc, _ in servers.values():
            proc.stop()


if __name__ == "__main__":
    import json
    import tempfile
    for result in run(sys.argv[1], tempfile.mkdtemp(prefix="uws-loopback-")):
        print(json.dumps(result))
