"""The Python API fuzzer (abuse/api_fuzz.py) on the sanitizer firmware:
about a minute in `make test`, UWS_API_FUZZ_SECONDS in `make fuzz`.

Each run starts from a fresh seed; a crash, a hang or a sanitizer report
ends that run, is recorded with the seed of the iteration it happened in
(rerun it with `<firmware> python_tests/abuse/api_fuzz.py <seed> 0 1`),
and fuzzing goes on from a new seed until the time is up."""
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import ABUSE_SCRIPTS, firmware_asan, firmware_of, sanitizer_report

SECONDS = float(os.environ.get("UWS_API_FUZZ_SECONDS", "60"))
# One process runs for at most this long: a finding costs only its run.
RUN_SECONDS = 15.0
# An iteration that prints nothing new for this long has hung.
HANG_SECONDS = 30.0


def fuzz_run(path, env, seed, seconds):
    proc = subprocess.Popen([path, "api_fuzz.py", str(seed), "%.1f" % seconds], cwd=ABUSE_SCRIPTS,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=seconds + HANG_SECONDS)
        hung = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        hung = True
    return proc.returncode, out.decode(errors="replace"), hung


def test_api_fuzz():
    if firmware_asan() is None:
        pytest.skip("UWS_FIRMWARE_ASAN is not set (make test sets it)")
    path, env = firmware_of("asan")
    findings = []
    execs = 0
    start = time.monotonic()
    rng = random.Random()
    while time.monotonic() - start < SECONDS:
        seed = rng.getrandbits(40)
        left = SECONDS - (time.monotonic() - start)
        code, out, hung = fuzz_run(path, env, seed, min(RUN_SECONDS, max(left, 1.0)))
        lines = out.splitlines()
        iters = [line.split()[1] for line in lines if line.startswith("iter ")]
        done = [line for line in lines if line.startswith("execs ")]
        for line in lines:
            if line.startswith("FINDING "):
                findings.append(line)
        if done and code == 0 and not hung:
            execs += int(done[-1].split()[1])
            continue
        execs += max(len(iters) - 1, 0)
        last = iters[-1] if iters else str(seed)
        what = "hang" if hung else "exit %s" % code
        report = sanitizer_report(out)
        tail = "\n".join(line for line in lines[-40:] if not line.startswith("iter "))
        findings.append("%s at seed %s:\n%s" % (what, last, report or tail))
    elapsed = time.monotonic() - start
    print("\nAPI fuzz: %d executions in %.0f s (%.0f/s), %d findings" % (execs, elapsed, execs / elapsed,
                                                                       len(findings)))
    assert not findings, "\n\n".join(findings[:10])
