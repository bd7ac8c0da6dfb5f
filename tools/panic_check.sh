#!/bin/sh
# Proves that the shipped core cannot panic: builds the release staticlib
# exactly as the firmware does (cargo rustc --crate-type staticlib, LTO),
# but with the `panic-never` feature, whose panic handler calls a symbol
# that is defined nowhere; then links every exported uws_ function into a
# small program with --gc-sections. A panic path the optimiser could not
# remove keeps the handler alive, and the link fails naming
# uws_core_has_a_reachable_panic. Checked for the host and for Cortex-M3.
# Usage: tools/panic_check.sh [TARGET_DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/target/panic-check}
mkdir -p "$OUT"
SYMBOLS=$(sed -n 's/^pub \(unsafe \)\{0,1\}extern "C" fn \(uws_[a-z0-9_]*\).*/\2/p' "$ROOT/src/ffi.rs")

# The program: takes the address of every exported function, so
# --gc-sections keeps each and all they reach.
STUB=$OUT/stub.c
{
    for s in $SYMBOLS; do echo "void $s(void);"; done
    echo "void *const volatile uws_all[] = {"
    for s in $SYMBOLS; do echo "    (void *)$s,"; done
    echo "};"
    echo "int main(void) { return uws_all[0] == 0; }"
    echo "#ifdef UWS_BARE"
    echo "void _start(void) { for (;;) { (void)uws_all[0]; } }"
    echo "#endif"
} > "$STUB"

check() { # target objdump cc cflags...
    target=$1
    objdump=$2
    cc=$3
    shift 3
    UWS_GEN_DIR=$OUT/gen cargo rustc --lib --crate-type staticlib --release --quiet \
        --manifest-path "$ROOT/Cargo.toml" --target-dir "$OUT" --features panic-never \
        $( [ "$target" = host ] || echo "--target $target" )
    lib=$OUT/$( [ "$target" = host ] || echo "$target/" )release/libuwebsocket.a
    if ! $cc "$@" -o "$OUT/check-$target.elf" "$STUB" "$lib" -Wl,--gc-sections 2> "$OUT/link-$target.log"; then
        if grep -q uws_core_has_a_reachable_panic "$OUT/link-$target.log"; then
            echo "panic_check: $target: the core can panic; functions calling into a panic:" >&2
            $cc "$@" -o "$OUT/diag-$target.elf" "$STUB" "$lib" -Wl,--gc-sections \
                -Wl,--unresolved-symbols=ignore-all 2>/dev/null || true
            $objdump -d --no-show-raw-insn -C "$OUT/diag-$target.elf" 2>/dev/null | awk '
                /^[0-9a-f]+ <.*>:$/ { fn = $2 }
                /(call|jmp|bl|b\.w|b) .*<.*(panic|_fail|begin_unwind)/ { print "    " fn " -> " $NF }' | sort -u >&2
        else
            echo "panic_check: $target: link failed" >&2
        fi
        cat "$OUT/link-$target.log" >&2
        exit 1
    fi
    echo "panic_check: $target: no reachable panic ($(echo $SYMBOLS | wc -w) exported functions)"
}

[ "${UWS_PANIC_CHECK_TARGETS:-all}" = thumb ] || check host objdump cc -lm
[ "${UWS_PANIC_CHECK_TARGETS:-all}" = host ] || check thumbv7m-none-eabi arm-none-eabi-objdump arm-none-eabi-gcc -mcpu=cortex-m3 -mthumb -DUWS_BARE -nostdlib -nostartfiles -Wl,-e,_start -lgcc
