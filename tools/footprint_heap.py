# Heap that uwebsocket costs on a device, measured on the device itself
# (run by tools/size_report.py on the emulated boards). Prints key=value
# lines, in bytes:
#   conn_heap            one idle WebSocket object (connection state
#                        included), on a stream that already exists
#   echo_recv_heap       per 1 KiB message echoed with recv() + send()
#   echo_recv_into_heap  per 1 KiB message echoed with recv_into() + send()
#   deflate_conn_heap    (where compression is built in) a WebSocket with
#                        permessage-deflate at the default 2^11 windows,
#                        after a compressed message each way: its
#                        decompressor and compressor included
# With the collector off, gc.mem_alloc() counts what stays allocated:
# garbage a message leaves behind is what it costs the heap.
import gc
import io

import uwebsocket
from wsframe import KEY, OP_BINARY, frame

MESSAGES = 16
PAYLOAD = bytes(range(256)) * 4


def conn_heap():
    stream = io.BytesIO()
    gc.collect()
    before = gc.mem_alloc()
    ws = uwebsocket.WebSocket(stream, True)
    after = gc.mem_alloc()
    del ws
    return after - before


def echo_heap(use_recv_into):
    # Two WebSockets on two streams: messages come in on one and go out on
    # the other, whose buffer is made up front and rewound for each reply,
    # so neither stream grows while counting.
    incoming = io.BytesIO(frame(OP_BINARY, PAYLOAD, key=KEY) * MESSAGES)
    outgoing = io.BytesIO(2 * len(PAYLOAD))
    ws_in = uwebsocket.WebSocket(incoming, True)
    ws_out = uwebsocket.WebSocket(outgoing, True)
    buf = bytearray(len(PAYLOAD))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(MESSAGES):
        outgoing.seek(0)
        if use_recv_into:
            ws_in.recv_into(buf)
            ws_out.send(buf)
        else:
            ws_out.send(ws_in.recv())
    after = gc.mem_alloc()
    gc.enable()
    if outgoing.getvalue()[4:] != PAYLOAD:
        raise AssertionError("echo differs")
    return (after - before) // MESSAGES


def deflate_conn_heap():
    # A compressed "Hello" from the client (RFC 7692 section 7.2.3.1).
    stream = io.BytesIO(frame(OP_BINARY, b"\xf2\x48\xcd\xc9\xc9\x07\x00", key=KEY, rsv=4) + bytes(256))
    gc.collect()
    before = gc.mem_alloc()
    ws = uwebsocket.WebSocket(stream, True, compression="deflate", compress_min_size=0)
    ws.recv()
    ws.send(b"Hello")
    gc.collect()
    after = gc.mem_alloc()
    del ws
    return after - before


print("conn_heap=%d" % conn_heap())
print("echo_recv_heap=%d" % echo_heap(False))
print("echo_recv_into_heap=%d" % echo_heap(True))
try:
    print("deflate_conn_heap=%d" % deflate_conn_heap())
except (ValueError, TypeError):  # built without compression (no such options)
    pass
