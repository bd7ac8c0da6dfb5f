#!/bin/sh
# Install what the test suite needs from the Rust toolchain, idempotently:
# the given targets (stable), nightly with rust-src, and cargo-fuzz.
# Usage: tools/rust_tools.sh TARGET...
set -eu
installed=$(rustup target list --installed)
for t in "$@"; do
    case " $(echo $installed) " in
        *" $t "*) ;;
        *) rustup target add "$t" >/dev/null ;;
    esac
done
if ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal >/dev/null
fi
if ! rustup +nightly component list --installed | grep -q '^rust-src'; then
    rustup +nightly component add rust-src >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo: installing cargo-fuzz"
    cargo install --locked --quiet cargo-fuzz
fi
