"""Scale: how many WebSocket clients one MicroPython unix process holds in
asyncio (examples/chat_server.py: every message goes to every client, the
sender included), and how fast a broadcast reaches them all.

For each N: open N connections from one CPython asyncio process, then
several times send one message from one client and time until all N have
received it; then a burst of messages from one client, checking that every
client got every one of them, in order. Nothing lost, nothing altered.

    build/venv/bin/python benches/broadcast.py FIRMWARE [N ...]
"""
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

from websockets.asyncio.client import connect

from procs import ROOT, Process, free_port, wait_port

CHAT_SERVER = ROOT / "examples" / "chat_server.py"
CLIENTS = (100, 1000)
ROUNDS = 5  # single broadcasts timed, median reported
BURST = 20  # messages sent back to back, then checked at every client
CONNECTING = 4  # handshakes in flight at once: fewer than the server's backlog (5),
# so no SYN is dropped (a dropped one costs a retransmission, 1 s or more)
TIMEOUT = 60.0
HEAP = "16M"


def raise_fd_limit(needed):
    """Both ends hold one descriptor per client: raise the soft limit to the
    hard one (the server process, started after this, inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = hard if hard == resource.RLIM_INFINITY else max(soft, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < needed:
        raise RuntimeError("need %d file descriptors, the hard limit is %d" % (needed, hard))


def vm_rss_kib(pid):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


async def open_clients(url, count):
    gate = asyncio.Semaphore(CONNECTING)

    async def one():
        async with gate:
            return await connect(url, compression=None, ping_interval=None, open_timeout=TIMEOUT)

    return await asyncio.gather(*(one() for _ in range(count)))


async def receive_all(clients, expected):
    """Wait until every client has received the messages `expected`, in
    order; returns the time the last one arrived."""
    async def one(ws):
        for message in expected:
            got = await ws.recv()
            if got != message:
                raise RuntimeError("a client received %r instead of %r" % (got[:40], message[:40]))
        return time.perf_counter()

    return max(await asyncio.wait_for(asyncio.gather(*(one(ws) for ws in clients)), TIMEOUT))


async def measure(url, count, server_pid):
    start = time.perf_counter()
    clients = await open_clients(url, count)
    connect_s = time.perf_counter() - start
    rss_kib = vm_rss_kib(server_pid)
    try:
        rounds = []
        for i in range(ROUNDS):
            message = "broadcast %d of %d to %d clients" % (i, ROUNDS, count)
            waiting = asyncio.ensure_future(receive_all(clients, [message]))
            sent = time.perf_counter()
            await clients[i % count].send(message)
            rounds.append(await waiting - sent)
        burst = ["burst %d/%d" % (i, BURST) for i in range(BURST)]
        waiting = asyncio.ensure_future(receive_all(clients, burst))
        sent = time.perf_counter()
        for message in burst:
            await clients[0].send(message)
        burst_s = await waiting - sent
        return {
            "connect_s": connect_s,
            "server_rss_kib": rss_kib,
            "broadcast_ms": 1e3 * statistics.median(rounds),
            "broadcast_runs_ms": [round(1e3 * r, 2) for r in rounds],
            "burst_messages": BURST,
            "burst_deliveries_per_s": count * BURST / burst_s,
            "delivered": count * (ROUNDS + BURST),
        }
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


def run(firmware, log_dir, counts=CLIENTS, host="127.0.0.1"):
    raise_fd_limit(max(counts) + 64)
    results = []
    for count in counts:
        port = free_port(host)
        # About 4 KiB per asyncio client (streams, tasks, the WebSocket):
        # the unix port's default heap (2 MiB on 64-bit) runs out before
        # 1,000.
        proc = Process([firmware, "-X", "heapsize=%s" % HEAP, str(CHAT_SERVER), host, str(port)],
                       Path(log_dir) / ("chat-%d.log" % count))
        try:
            wait_port(host, port, proc)
            result = asyncio.run(measure("ws://%s:%d/" % (host, port), count, proc.pid))
            if proc.poll() is not None:
                raise RuntimeError("chat server exited:\n" + proc.read_output())
            result.update({"case": "broadcast", "impl": "uwebsocket", "clients": count})
            results.append(result)
        finally:
            proc.stop()
    return results


if __name__ == "__main__":
    import json
    import tempfile
    counts = tuple(int(n) for n in sys.argv[2:]) or CLIENTS
    for result in run(sys.argv[1], tempfile.mkdtemp(prefix="uws-broadcast-"), counts):
        print(json.dumps(result))
