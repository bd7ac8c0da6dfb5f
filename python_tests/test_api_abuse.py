"""The API abuse suite: every public function and method of uwebsocket with
wrong types, out-of-range values, closed objects, hostile streams
(python_tests/abuse/cases_*.py) and tiny heaps (abuse/heap_scenario.py),
on the normal firmware and on the sanitizer firmware.

A case passes when it ends in its contracted result or exception. A crash
(a signal, an exit without a Python traceback), a hang (each case has a
deadline) or a sanitizer report fails it. The scripts print one line per
case; after a crash or a hang the batch goes on from the next case, so each
case is judged on its own."""
import os
import selectors
import signal
import subprocess
import time

import pytest

from conftest import ABUSE_SCRIPTS, firmware, firmware_of, firmware_params, mp_env, sanitizer_report

CASE_FILES = ("cases_args", "cases_closed", "cases_streams")
# Per case, from its BEGIN line: generous for the sanitizer firmware, and
# over close()'s own 2 s wait.
CASE_TIMEOUT = 20.0
HEAP_SIZES = [k * 1024 for k in list(range(2, 16, 2)) + list(range(16, 48))]
HEAP_TIMEOUT = 60.0


def list_cases(script):
    out = subprocess.run([firmware(), script + ".py", "--list"], cwd=ABUSE_SCRIPTS, capture_output=True,
                         text=True, timeout=60, env=mp_env())
    names = out.stdout.split()
    if out.returncode != 0 or not names:
        raise RuntimeError("cannot list the cases of %s:\n%s%s" % (script, out.stdout, out.stderr))
    return names


def run_batch(path, env, script):
    """Run every case of a script; returns {name: (verdict, detail)} with
    verdict "pass", "fail", "crash" or "hang"."""
    results = {}
    after = None
    for _ in range(10000):
        argv = [path, script + ".py"] + (["--after", after] if after else [])
        proc = subprocess.Popen(argv, cwd=ABUSE_SCRIPTS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        current, extra, finished, hung = None, [], False, False
        buf = b""
        deadline = time.monotonic() + CASE_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                hung = True
                break
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                word, _, rest = line.partition(" ")
                if word == "BEGIN":
                    current, extra = rest, []
                    deadline = time.monotonic() + CASE_TIMEOUT
                elif word == "PASS" and rest == current:
                    report = sanitizer_report("\n".join(extra))
                    results[current] = ("fail", report) if report else ("pass", "")
                    current = None
                elif word == "FAIL" and rest.startswith(str(current) + ":"):
                    results[current] = ("fail", rest[len(current) + 2:] + "\n" + "\n".join(extra))
                    current = None
                elif line == "END":
                    finished = True
                else:
                    extra.append(line)
        sel.close()
        if hung:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        extra.append(buf.decode(errors="replace"))
        if current is None:
            if finished and proc.returncode == 0:
                return results
            raise AssertionError("%s ended outside any case (exit %s):\n%s" % (script, proc.returncode,
                                                                              "\n".join(extra)[-3000:]))
        out = "\n".join(extra)
        if hung:
            results[current] = ("hang", "no result within %.0f s\n%s" % (CASE_TIMEOUT, out[-2000:]))
        else:
            report = sanitizer_report(out)
            verdict = "crash" if report or proc.returncode < 0 or "Traceback" not in out else "fail"
            results[current] = (verdict, "exit %s\n%s" % (proc.returncode, report or out[-2000:]))
        after = current
    raise AssertionError("too many restarts")


_batches = {}


def batch(kind, script):
    key = (kind, script)
    if key not in _batches:
        path, env = firmware_of(kind)
        _batches[key] = run_batch(path, env, script)
    return _batches[key]


def pytest_generate_tests(metafunc):
    if "abuse_case" in metafunc.fixturenames:
        cases = [(script, name) for script in CASE_FILES for name in list_cases(script)]
        metafunc.parametrize("abuse_case", cases, ids=["%s-%s" % c for c in cases])
        metafunc.parametrize("kind", firmware_params())


def test_case_count():
    total = sum(len(list_cases(script)) for script in CASE_FILES)
    print("abuse cases: %d per firmware (+ %d heap sizes)" % (total, len(HEAP_SIZES)))
    assert total >= 500, total


def test_abuse(kind, abuse_case):
    script, name = abuse_case
    verdict, detail = batch(kind, script).get(name, ("missing", "the case did not run"))
    assert verdict == "pass", "%s: %s" % (verdict, detail)


@pytest.fixture(scope="session")
def compiled_heap_scenario(tmp_path_factory):
    """harness and heap_scenario compiled by mpy-cross: importing them then
    takes no compiler memory, so small heaps reach the module's code."""
    micropy = os.environ.get("UWS_MICROPY_DIR")
    if not micropy:
        pytest.skip("UWS_MICROPY_DIR is not set (mpy-cross)")
    mpy_cross = os.path.join(micropy, "mpy-cross", "build", "mpy-cross")
    out = tmp_path_factory.mktemp("heap")
    for name in ("harness", "heap_scenario"):
        subprocess.run([mpy_cross, "-o", str(out / (name + ".mpy")), str(ABUSE_SCRIPTS / (name + ".py"))], check=True)
    return out


@pytest.mark.parametrize("kind", firmware_params())
@pytest.mark.parametrize("heap", HEAP_SIZES, ids=lambda n: "%dk" % (n // 1024))
def test_heap(kind, heap, compiled_heap_scenario):
    path, env = firmware_of(kind)
    proc = subprocess.Popen([path, "-X", "heapsize=%d" % heap, "-c", "import heap_scenario"],
                            cwd=compiled_heap_scenario, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    try:
        out, _ = proc.communicate(timeout=HEAP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError("hang at heapsize=%d:\n%s" % (heap, out.decode(errors="replace")[-2000:]))
    out = out.decode(errors="replace")
    report = sanitizer_report(out)
    assert report is None, report
    if proc.returncode == 0:
        assert out.rstrip().endswith("DONE"), out[-2000:]
        return
    # Too small to run it all: a MemoryError (its traceback when there is
    # memory left to print one) is the right end.
    lines = out.rstrip().splitlines()
    assert proc.returncode == 1 and lines and lines[-1].startswith("MemoryError"), \
        "heapsize=%d: exit %d\n%s" % (heap, proc.returncode, out[-2000:])
