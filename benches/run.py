"""`make bench`: every benchmark in one run, on the firmware the tests use
(it holds both uwebsocket and MicroPython's built-in `websocket`), printed
as a table with the ratios the targets are stated in, and written as JSON.

    build/venv/bin/python benches/run.py FIRMWARE OUT.json [--quick]
        [--natmod PLAIN_FIRMWARE NATMOD_DIR]

Parts: in-memory receive and send against the built-in (benches/inmemory.py,
in MicroPython), the same for uwebsocket as a native .mpy against the
module built in (with --natmod: inmemory.py on the firmware without the
module, the .mpy found in NATMOD_DIR through MICROPYPATH), loopback echo against a CPython client with and without
TCP_NODELAY (loopback.py), client round trip over ws:// and wss://
(client_rtt.py), MQTT publish round trip through amqtt over WebSocket and
over plain TCP (mqtt_rtt.py), broadcast to 100 and 1,000 asyncio clients (broadcast.py),
JSON telemetry with and without permessage-deflate (telemetry.py: bytes
on the wire, messages per second), and the native core against
tungstenite (core_recv.rs, cargo bench).
Figures are reported, never judged: no target fails the run.
"""
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import broadcast
import client_rtt
import loopback
import mqtt_rtt

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return "%s, %d CPUs, %s %s" % (cpu, os.cpu_count(), platform.system(), platform.release())


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def inmemory(firmware, repeats, env=None):
    out = subprocess.run([firmware, "-X", "heapsize=128M", str(BENCHES / "inmemory.py"), str(repeats)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800, env=env)
    if out.returncode:
        raise RuntimeError("inmemory.py failed:\n" + out.stdout.decode(errors="replace"))
    return json_lines(out.stdout.decode())


def inmemory_natmod(plain_firmware, natmod_dir, repeats):
    """inmemory.py's uwebsocket rows with the natmod: on the firmware
    without the module, `import uwebsocket` loads uwebsocket.mpy from
    natmod_dir. Rows get impl "natmod"; the interpreter's floor is the
    normal pass's."""
    env = dict(os.environ, MICROPYPATH=str(natmod_dir))
    rows = [r for r in inmemory(plain_firmware, repeats, env) if r["impl"] == "uwebsocket"]
    for r in rows:
        r["impl"] = "natmod"
        r["firmware"] = "plain"
    return rows


def telemetry(firmware, repeats):
    out = subprocess.run([firmware, "-X", "heapsize=32M", str(BENCHES / "telemetry.py"), str(repeats)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    if out.returncode:
        raise RuntimeError("telemetry.py failed:\n" + out.stdout.decode(errors="replace"))
    return json_lines(out.stdout.decode())


def native():
    out = subprocess.run(["cargo", "bench", "--quiet", "--bench", "core_recv"], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1800)
    if out.returncode:
        raise RuntimeError("cargo bench failed:\n" + out.stderr.decode(errors="replace"))
    return json_lines(out.stdout.decode())


def pick(results, **match):
    for r in results:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def results_of(results, case):
    return [r for r in results if r.get("case") == case]


def ratio(a, b):
    return a / b if a and b else float("nan")


def size_name(n):
    return {16: "16 B", 1024: "1 KiB", 65535: "65,535 B", 1 << 20: "1 MiB"}.get(n, "%d B" % n)


def table(results):
    lines = []
    add = lines.append
    add("In memory, MicroPython unix port (median; MB/s of payload, heap bytes per message;")
    add("  peak: 0 B when one message goes through with the heap locked)")
    add("  %-12s %-9s %14s %14s %9s %10s %10s %10s" % ("case", "size", "uwebsocket", "built-in", "ratio", "heap uws",
                                                        "heap b-in", "peak uws"))
    for case in ("recv_into", "recv", "send_server", "send_client"):
        for size in (16, 1024, 65535, 1 << 20):
            ours = pick(results, case=case, impl="uwebsocket", size=size)
            if ours is None:
                continue
            theirs = pick(results, case=case, impl="builtin", size=size)
            unit = "msgs_per_s" if size == 16 else "mb_per_s"
            fmt = (lambda v: "%.0f msg/s" % v) if size == 16 else (lambda v: "%.0f MB/s" % v)
            add("  %-12s %-9s %14s %14s %9s %10.0f %10s %10s" % (
                case, size_name(size), fmt(ours[unit]),
                fmt(theirs[unit]) if theirs else "-",
                "%.2fx" % ratio(ours[unit], theirs[unit]) if theirs else "-",
                ours["heap_per_msg"], "%.0f" % theirs["heap_per_msg"] if theirs else "-",
                "0 B" if ours["no_heap"] else "allocates"))
    floor = pick(results, case="recv_into", impl="floor", size=16)
    ours = pick(results, case="recv_into", impl="uwebsocket", size=16)
    if floor and ours:
        add("  16 B recv_into: %.2fx the interpreter's floor (a bare readinto: %.0f msg/s)"
            % (ratio(floor["msgs_per_s"], ours["msgs_per_s"]), floor["msgs_per_s"]))
    add("  (built-in send_client does not mask: the built-in module has no client role)")
    add("")
    if any(r.get("impl") == "natmod" for r in results):
        add("natmod (x64 .mpy on the plain firmware) against the built-in module")
        add("  (median; built in: uwebsocket compiled into the firmware, the uwebsocket column above;")
        add("  vs websocket: the natmod against MicroPython's websocket, the built-in column above)")
        add("  %-12s %-9s %14s %14s %12s %12s" % ("case", "size", "natmod", "built in", "natmod/b-in", "vs websocket"))
        for case in ("recv_into", "recv", "send_server", "send_client"):
            for size in (16, 1024, 65535, 1 << 20):
                natmod = pick(results, case=case, impl="natmod", size=size)
                if natmod is None:
                    continue
                ours = pick(results, case=case, impl="uwebsocket", size=size)
                theirs = pick(results, case=case, impl="builtin", size=size)
                unit = "msgs_per_s" if size == 16 else "mb_per_s"
                fmt = (lambda v: "%.0f msg/s" % v) if size == 16 else (lambda v: "%.0f MB/s" % v)
                add("  %-12s %-9s %14s %14s %12s %12s" % (
                    case, size_name(size), fmt(natmod[unit]), fmt(ours[unit]) if ours else "-",
                    "%.2fx" % ratio(natmod[unit], ours[unit]) if ours else "-",
                    "%.2fx" % ratio(natmod[unit], theirs[unit]) if theirs else "-"))
        add("")
    add("Loopback echo, CPython websockets client, one message in flight")
    add("  %-9s %-8s %16s %16s %9s %14s" % ("size", "nodelay", "uwebsocket", "built-in", "ratio", "slowest uws/b-in"))
    for size in loopback.SIZES:
        for nodelay in (False, True):
            ours = pick(results, case="echo", impl="uwebsocket", size=size, nodelay=nodelay)
            theirs = pick(results, case="echo", impl="builtin", size=size, nodelay=nodelay)
            if not ours or not theirs:
                continue
            unit, fmt = ("msgs_per_s", "%.0f msg/s") if size == 16 else ("mb_per_s", "%.1f MB/s")
            add("  %-9s %-8s %16s %16s %8.2fx %7.1f/%.1f ms" % (
                size_name(size), "on" if nodelay else "off", fmt % ours[unit], fmt % theirs[unit],
                ratio(ours[unit], theirs[unit]), ours["slowest_round_trip_ms"], theirs["slowest_round_trip_ms"]))
    add("")
    add("Client round trip, 16 B, CPython websockets echo server")
    for r in results:
        if r["case"] == "client_rtt":
            add("  %-4s median %d us (p10 %d, p90 %d)" % (r["scheme"] + "://", r["median_us"], r["p10_us"], r["p90_us"]))
    add("")
    add("MQTT publish round trip, 16 B at QoS 0, through one amqtt broker (umqtt.simple's interface)")
    ws = pick(results, case="mqtt_rtt", transport="ws")
    for r in results:
        if r["case"] == "mqtt_rtt":
            add("  %-12s median %6d us (p10 %d, p90 %d)%s" % (
                r["transport"], r["median_us"], r["p10_us"], r["p90_us"],
                "" if r is ws or not ws else "   WebSocket/this: %.2fx the time" % ratio(ws["median_us"], r["median_us"])))
    add("")
    add("Broadcast, examples/chat_server.py (asyncio, -X heapsize=%s), every message to every client"
        % broadcast.HEAP)
    for r in results:
        if r["case"] == "broadcast":
            add("  %5d clients: one broadcast reaches all in %.1f ms, %.0f deliveries/s in a burst, "
                "%d delivered, none lost; server RSS %d KiB" % (
                    r["clients"], r["broadcast_ms"], r["burst_deliveries_per_s"], r["delivered"], r["server_rss_kib"]))
    add("")
    add("JSON telemetry (%s B a message), in memory: bytes on the wire and messages per second"
        % ("%.0f" % results_of(results, "telemetry")[0]["message_bytes"] if results_of(results, "telemetry") else "?"))
    add("  %-30s %12s %14s %14s" % ("compression", "wire B/msg", "send", "recv"))
    for r in results_of(results, "telemetry"):
        if r["direction"] == "send":
            back = pick(results, case="telemetry", compression=r["compression"], direction="recv")
            add("  %-30s %12.1f %10.0f msg/s %10.0f msg/s" % (
                r["compression"], r["wire_bytes_per_msg"], r["msgs_per_s"], back["msgs_per_s"] if back else 0))
    add("")
    add("Native receive, masked binary frames from memory (Rust, release)")
    add("  %-9s %16s %16s %9s" % ("size", "uwebsocket core", "tungstenite", "ratio"))
    for size in (16, 1024, 65535, 1 << 20):
        ours = pick(results, case="native_recv", impl="uwebsocket", size=size)
        theirs = pick(results, case="native_recv", impl="tungstenite", size=size)
        if ours and theirs:
            add("  %-9s %11.0f MB/s %11.0f MB/s %8.2fx" % (
                size_name(size), ours["mb_per_s"], theirs["mb_per_s"], ratio(ours["mb_per_s"], theirs["mb_per_s"])))
    return "\n".join(lines)


def main():
    firmware, out_path = sys.argv[1], Path(sys.argv[2])
    options = sys.argv[3:]
    quick = "--quick" in options
    natmod = None
    if "--natmod" in options:
        at = options.index("--natmod")
        natmod = options[at + 1:at + 3]
        if len(natmod) != 2:
            sys.exit("--natmod takes the plain firmware and the x64 natmod's folder")
    started = time.time()
    results = []
    with tempfile.TemporaryDirectory(prefix="uws-bench-") as logs:
        steps = [
            ("in memory", lambda: inmemory(firmware, 3 if quick else 7)),
            ("loopback echo", lambda: loopback.run(firmware, logs, repeats=1 if quick else 3)),
            ("client round trip", lambda: client_rtt.run(firmware)),
            ("mqtt round trip", lambda: mqtt_rtt.run(firmware, 200 if quick else mqtt_rtt.MESSAGES)),
            ("broadcast", lambda: broadcast.run(firmware, logs, counts=(100,) if quick else broadcast.CLIENTS)),
            ("telemetry compression", lambda: telemetry(firmware, 3 if quick else 7)),
            ("native core", native),
        ]
        if natmod:
            steps.insert(1, ("in memory, natmod", lambda: inmemory_natmod(natmod[0], natmod[1], 3 if quick else 7)))
        for name, step in steps:
            print("bench: %s ..." % name, flush=True)
            results.extend(step())
    report = table(results)
    print()
    print(report)
    print()
    print("Machine: %s; %.0f s" % (machine(), time.time() - started))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"machine": machine(), "results": results}, indent=1))
    print("JSON: %s" % out_path)


if __name__ == "__main__":
    main()
