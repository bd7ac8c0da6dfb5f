# One implementation's send into a BytesIO, for benches/send_instructions.sh:
#   micropython benches/send_loop.py builtin|server|client SIZE COUNT
# The stream is grown first (16 sends outside the count) and rewound every
# 16 sends, so that the counted sends never reallocate it.
import io
import sys

import uwebsocket

which, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stream = io.BytesIO()
if which == "builtin":
    import websocket
    step = websocket.websocket(stream).write
else:
    step = uwebsocket.WebSocket(stream, server_side=(which == "server")).send
data = bytes(size)
rewind = stream.seek
for _ in range(16):
    step(data)
for _ in range(count // 16):
    rewind(0)
    for _ in range(16):
        step(data)
