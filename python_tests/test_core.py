"""Checks of the Rust core beyond `cargo test`: it builds with no std for
microcontroller targets, and its parsers and state machine survive a
bounded fuzzing run (`make fuzz` runs longer)."""
import os
import subprocess

import pytest

from conftest import ROOT

FUZZ_SECONDS = int(os.environ.get("UWS_FUZZ_SECONDS", "20"))


@pytest.mark.parametrize("target", ["thumbv7em-none-eabihf", "riscv32imc-unknown-none-elf"])
def test_core_builds_without_std(target, tmp_path):
    # A bare-metal target has no std at all: this fails if anything in the
    # core (or a dependency's default features) pulls it in.
    proc = subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--target", target,
         "--target-dir", str(ROOT / "target" / "no-std-check")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, UWS_GEN_DIR=str(tmp_path)),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    lib = ROOT / "target" / "no-std-check" / target / "release" / "libuwebsocket.a"
    assert lib.stat().st_size > 0


@pytest.mark.parametrize("fuzz_target", ["connection", "handshake_request", "handshake_response",
                                         "inflate", "extension", "deflate_roundtrip", "txqueue"])
def test_fuzz_target_finds_no_crash(fuzz_target):
    corpus = ROOT / "fuzz" / "corpus" / fuzz_target
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = ROOT / "fuzz" / "seeds" / fuzz_target
    for seed in seeds.iterdir() if seeds.is_dir() else ():
        (corpus / seed.name).write_bytes(seed.read_bytes())
    proc = subprocess.run(
        ["cargo", "+nightly", "fuzz", "run", fuzz_target, str(corpus), "--",
         "-max_total_time=%d" % FUZZ_SECONDS, "-rss_limit_mb=2048"],
        cwd=ROOT / "fuzz", capture_output=True, text=True, timeout=FUZZ_SECONDS + 900,
    )
    done = [line for line in proc.stderr.splitlines() if line.startswith("Done ")]
    assert proc.returncode == 0 and done, proc.stderr[-4000:]
    print(fuzz_target, done[-1])
