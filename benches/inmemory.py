# In-memory benchmarks on the MicroPython unix port: uwebsocket against the
# built-in `websocket` module of the same firmware, in one process, taking
# turns, so both see the same interpreter, heap and caches.
#
#   micropython -X heapsize=128M benches/inmemory.py [REPEATS [CASE ...]]
#
# CASE (recv_into, recv, send_server, send_client) runs only those cases.
#
# On firmware without the built-in `websocket` (the plain firmware, where
# `import uwebsocket` loads the natmod .mpy from MICROPYPATH) its rows are
# left out.
#
# Prints one JSON object per line, one per (case, implementation, size):
#   {"case": ..., "impl": ..., "size": ..., "msgs_per_s": ..., "mb_per_s": ...,
#    "heap_per_msg": ..., "no_heap": ..., "runs": [...]}
# msgs_per_s and mb_per_s are medians over REPEATS timed runs (payload bytes;
# MB = 10**6 bytes); heap_per_msg is gc.mem_alloc() growth per message with
# the collector off; no_heap is true when a message goes through with the
# heap locked (its peak heap use is 0).
import gc
import io
import json
import micropython
import sys
import time

import uwebsocket

try:
    import websocket
except ImportError:
    websocket = None

SIZES = (16, 1024, 65535)
LARGE = 1 << 20  # uwebsocket only: the built-in cannot parse 64-bit lengths
# Target length of one timed run (µs); each implementation gets the message
# count that takes about this long on the machine at hand.
RUN_US = 40000
# Messages kept in one in-memory stream; a run reads or writes it several
# times over (seek(0) between passes) rather than holding megabytes more.
PER_STREAM = {16: 4000, 1024: 1000, 65535: 32, LARGE: 8}
# Messages per heap measurement (collector off meanwhile).
HEAP_MESSAGES = {16: 1000, 1024: 200, 65535: 16, LARGE: 4}
MASK_KEY = b"\x37\xfa\x21\x3d"
MP_STREAM_SET_DATA_OPTS = 9  # built-in websocket: set the opcode write() uses
BINARY = 2

REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ONLY = sys.argv[2:]


def masked_frame(size):
    """One client-to-server binary frame (FIN, masked) of `size` bytes."""
    if size < 126:
        header = bytes((0x82, 0x80 | size))
    elif size < 65536:
        header = bytes((0x82, 0x80 | 126, size >> 8, size & 0xFF))
    else:
        header = bytes((0x82, 0x80 | 127)) + size.to_bytes(8, "big")
    payload = bytes((i * 31 + 7) & 0xFF for i in range(min(size, 4096)))
    payload = (payload * (size // len(payload) + 1))[:size]
    return header + MASK_KEY + payload


def frames_stream(size):
    return io.BytesIO(masked_frame(size) * PER_STREAM[size])


# A driver handles `count` messages on `stream` with one implementation's
# `step` (rewinding the stream whenever a stream's worth is done); the
# caller times it. Bound methods are looked up once, outside the loop, so
# the loop measures the calls themselves. `arg` is None for steps that take
# no argument (recv, read of the built-in takes the size).

def drive(step, arg, stream, count, per_stream):
    rewind = stream.seek
    done = 0
    while done < count:
        rewind(0)
        n = min(per_stream, count - done)
        if arg is None:
            for _ in range(n):
                step()
        else:
            for _ in range(n):
                step(arg)
        done += n


def drive_no_alloc(step, arg, count):
    # Allocates nothing itself (no range object), for heap accounting; count
    # must fit in one stream.
    if arg is None:
        while count:
            step()
            count -= 1
    else:
        while count:
            step(arg)
            count -= 1


def call(step, arg):
    return step() if arg is None else step(arg)


def check_read(got, size):
    if got != size:
        raise RuntimeError("read %r bytes of a %d-byte message" % (got, size))


# Receive cases: (name, implementation) -> factory(size) giving (step, arg,
# stream, check) where check(result of one step) verifies the message.

def uws_recv_into(size):
    stream = frames_stream(size)
    ws = uwebsocket.WebSocket(stream, server_side=True, max_size=max(size, 65536))
    buf = bytearray(size)
    return ws.recv_into, buf, stream, lambda got: check_read(got, size)


def uws_recv(size):
    stream = frames_stream(size)
    ws = uwebsocket.WebSocket(stream, server_side=True, max_size=max(size, 65536))
    return ws.recv, None, stream, lambda got: check_read(len(got), size)


def builtin_readinto(size):
    # readinto fills the whole buffer: with a buffer of one payload's size it
    # returns one message per call.
    stream = frames_stream(size)
    ws = websocket.websocket(stream)
    buf = bytearray(size)
    return ws.readinto, buf, stream, lambda got: check_read(got, size)


def builtin_read(size):
    stream = frames_stream(size)
    ws = websocket.websocket(stream)
    return ws.read, size, stream, lambda got: check_read(len(got), size)


def floor_readinto(size):
    # The interpreter's floor: one bare readinto of a whole frame (header and
    # payload) per message from the same kind of stream.
    stream = frames_stream(size)
    buf = bytearray(len(masked_frame(size)))
    frame_len = len(buf)
    return stream.readinto, buf, stream, lambda got: check_read(got, frame_len)


def payload(size):
    return bytes((i * 13 + 1) & 0xFF for i in range(size))


def send_stream(size, header):
    # Pre-grown, so the timed writes overwrite and never reallocate.
    stream = io.BytesIO()
    stream.write(bytes((header + 4 + size) * PER_STREAM[size]))
    stream.seek(0)
    return stream


# The send cases of one size share one payload and one stream: every
# implementation copies from the same address to the same addresses. With a
# payload and a stream of its own each, where the heap happened to place
# them decided the 64 KiB rows (one implementation ran at a third of the
# other's speed after the smaller sizes had run, at par when run alone or in
# the other order).
SEND_TARGETS = {}


def send_target(size):
    if size not in SEND_TARGETS:
        SEND_TARGETS.clear()
        SEND_TARGETS[size] = (payload(size), send_stream(size, 14))
    data, stream = SEND_TARGETS[size]
    stream.seek(0)
    return data, stream


def uws_send(server_side):
    def factory(size):
        data, stream = send_target(size)
        ws = uwebsocket.WebSocket(stream, server_side=server_side)
        return ws.send, data, stream, lambda got: None
    return factory


def builtin_write(size):
    data, stream = send_target(size)
    ws = websocket.websocket(stream)
    ws.ioctl(MP_STREAM_SET_DATA_OPTS, BINARY)
    return ws.write, data, stream, lambda got: check_read(got, size)


CASES = (
    # (case, [(impl, factory), ...], sizes)
    ("recv_into", [("uwebsocket", uws_recv_into), ("builtin", builtin_readinto), ("floor", floor_readinto)], SIZES + (LARGE,)),
    ("recv", [("uwebsocket", uws_recv), ("builtin", builtin_read)], SIZES + (LARGE,)),
    ("send_server", [("uwebsocket", uws_send(True)), ("builtin", builtin_write)], SIZES),
    ("send_client", [("uwebsocket", uws_send(False)), ("builtin", builtin_write)], SIZES),
)


def supports(impl, size):
    if impl == "builtin" and websocket is None:
        return False
    return size < 65536 or impl == "uwebsocket" or impl == "floor"


def timed_run(step, arg, stream, count, size):
    stream.seek(0)
    gc.collect()
    start = time.ticks_us()
    drive(step, arg, stream, count, PER_STREAM[size])
    return time.ticks_diff(time.ticks_us(), start)


def calibrated_count(step, arg, stream, size):
    """Messages for a run of about RUN_US on this machine (doubling from one
    stream's worth); the first runs also warm the caches and the heap."""
    count = PER_STREAM[size]
    while timed_run(step, arg, stream, count, size) < RUN_US // 2:
        count *= 2
    return count * 2


def heap_per_message(step, arg, stream, size):
    count = HEAP_MESSAGES[size]
    stream.seek(0)
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        drive_no_alloc(step, arg, count)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    return (after - before) / count


def runs_without_heap(step, arg):
    """Whether one step completes with the heap locked: if it does, its
    peak heap use is 0 bytes (any allocation, even one freed again before
    it returns, raises MemoryError while the heap is locked)."""
    micropython.heap_lock()
    try:
        call(step, arg)
        ok = True
    except MemoryError:
        ok = False
    micropython.heap_unlock()
    return ok


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def main():
    for case, impls, sizes in CASES:
        if ONLY and case not in ONLY:
            continue
        for size in sizes:
            setups = []
            for name, factory in impls:
                if not supports(name, size):
                    continue
                step, arg, stream, check = factory(size)
                check(call(step, arg))  # one message outside the clock: it works
                # The rest of the stream's worth, so that every run starts
                # where a rewound stream does (uwebsocket reads ahead: its
                # reads must go on at a frame boundary).
                for _ in range(PER_STREAM[size] - 1):
                    call(step, arg)
                setups.append((name, step, arg, stream, calibrated_count(step, arg, stream, size)))
            runs = {name: [] for name, *_ in setups}
            # Take turns, so drift (frequency scaling, a neighbour's load)
            # hits every implementation alike.
            for _ in range(REPEATS):
                for name, step, arg, stream, count in setups:
                    runs[name].append(count * 1e6 / timed_run(step, arg, stream, count, size))
            for name, step, arg, stream, count in setups:
                rate = median(runs[name])
                print(json.dumps({
                    "case": case, "impl": name, "size": size,
                    "msgs_per_s": rate,
                    "mb_per_s": rate * size / 1e6,
                    "heap_per_msg": heap_per_message(step, arg, stream, size),
                    "no_heap": runs_without_heap(step, arg),
                    "messages_per_run": count,
                    "runs_msgs_per_s": [round(r) for r in runs[name]],
                }))
            del setups
            SEND_TARGETS.clear()
            gc.collect()


main()
