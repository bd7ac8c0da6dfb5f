#!/bin/sh
# Instructions per send into a BytesIO, counted by callgrind (the same
# count whatever else the machine is doing): the built-in websocket's
# write() and uwebsocket's send() in both roles, at 16 B, 1 KiB and
# 65,535 B. Each figure is (a run of COUNT sends - a run of none) / COUNT,
# the loop included. Needs valgrind and the test firmware (make firmware).
#   benches/send_instructions.sh [FIRMWARE] [COUNT]
# Prints lines `instructions <builtin|server|client> <size> <count>`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIRMWARE=${1:-$ROOT/build/unix/micropython}
COUNT=${2:-1600}
total() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$FIRMWARE" -X heapsize=32M \
        "$ROOT/benches/send_loop.py" "$1" "$2" "$3" 2>&1 | sed -n 's/.*Collected : //p'
}
for which in builtin server client; do
    for size in 16 1024 65535; do
        none=$(total "$which" "$size" 0)
        some=$(total "$which" "$size" "$COUNT")
        echo "instructions $which $size $(( (some - none) / COUNT ))"
    done
done
