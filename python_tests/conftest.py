"""Fixtures shared by the tests that run uwebsocket on the MicroPython unix
port. Every process a test starts runs in its own process group and is
stopped by its id; every network address is on loopback."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MP_SCRIPTS = Path(__file__).resolve().parent / "mp"
SERVERS = Path(__file__).resolve().parent / "servers"
SERVER_LIB = SERVERS / "lib"
# servers/echo.py, the one echo server, and the flags each group of tests runs it with.
ECHO = SERVERS / "echo.py"
# Every handshake option set: subprotocols "chat" and "superchat" (chat
# preferred), the one origin http://good.example, heads up to 1024 bytes,
# and what the script saw of the request sent first.
HANDSHAKE_FLAGS = ("--subprotocols", "chat,superchat", "--origins", "http://good.example",
                   "--max-head", "1024", "--hello")
# python_tests/mp/test_*.py are MicroPython scripts (run on the unix port by
# test_inmemory.py and under QEMU by test_qemu.py), not CPython tests; so
# are python_tests/abuse/*.py (test_api_abuse.py, test_api_fuzz.py).
collect_ignore = ["mp", "abuse"]
ABUSE_SCRIPTS = Path(__file__).resolve().parent / "abuse"


# UWS_NATMOD_DIR: the folder holding uwebsocket.mpy and its Python helpers
# as .mpy (make natmod). Set, every MicroPython run imports the module from
# there, and UWS_FIRMWARE is a firmware without the module built in (make
# firmware-plain): the same tests then check the native .mpy.
NATMOD_DIR = os.environ.get("UWS_NATMOD_DIR")


def micropython_path(*dirs):
    """MICROPYPATH for a MicroPython run: dirs, the frozen modules, and the
    natmod's folder when the tests run on the .mpy."""
    return ":".join([*map(str, dirs), ".frozen", *([NATMOD_DIR] if NATMOD_DIR else [])])


def mp_env(env=None):
    """The environment of a MicroPython run (see micropython_path)."""
    env = dict(env or os.environ)
    if NATMOD_DIR:
        env["MICROPYPATH"] = micropython_path()
    return env


def firmware():
    path = os.environ.get("UWS_FIRMWARE")
    if not path or not os.access(path, os.X_OK):
        pytest.exit("UWS_FIRMWARE must name the unix firmware (run the tests with `make test`)", 2)
    return os.path.abspath(path)


def firmware_asan():
    """The sanitizer firmware (make firmware SANITIZE=1), or None when
    UWS_FIRMWARE_ASAN is unset; set but not runnable is an error."""
    path = os.environ.get("UWS_FIRMWARE_ASAN")
    if not path:
        return None
    if not os.access(path, os.X_OK):
        pytest.exit("UWS_FIRMWARE_ASAN=%s is not an executable" % path, 2)
    return os.path.abspath(path)


# Runs of the sanitizer firmware: every report ends the process with an
# error. MicroPython's objects live in its own GC heap (one block from the
# system), so leak detection has nothing to say about them.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehavior")


def firmware_params():
    """pytest params for tests that run on both firmwares: the normal one,
    and the sanitizer one (skipped only when UWS_FIRMWARE_ASAN is unset)."""
    return [pytest.param("unix", id="unix"),
            pytest.param("asan", id="asan", marks=pytest.mark.skipif(
                not os.environ.get("UWS_FIRMWARE_ASAN"), reason="UWS_FIRMWARE_ASAN is not set (make test sets it)"))]


def firmware_of(kind):
    """(path, environment) of the firmware of that kind."""
    env = mp_env()
    if kind == "asan":
        env.update(SANITIZER_ENV)
        return firmware_asan(), env
    return firmware(), env


def sanitizer_report(out):
    """The first lines of a sanitizer report in out, or None."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if any(mark in line for mark in SANITIZER_MARKS):
            return "\n".join(lines[max(0, i - 1):i + 12])
    return None


def free_port(host="127.0.0.1"):
    """A port free a moment ago, for a peer that cannot bind port 0 and say
    which it got. MicroPython servers started by mp_server never need it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def refused_port(host="127.0.0.1"):
    """A socket bound to a port nobody listens on, held open so no other
    process can take the number: connecting to it is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    return sock


def wait_port(host, port, proc=None, timeout=15.0):
    """Wait until host:port accepts a connection (and closes it at once)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited early:\n" + proc.read_output())
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listening on %s:%d" % (host, port))


def wait_listening(proc, timeout=15.0):
    """The port a server started by mp_server announced: servers/lib/socket.py
    prints `listening HOST PORT` once the script's socket listens."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"\nlistening \S+ (\d+)\n", proc.read_output())
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise RuntimeError("server exited early:\n" + proc.read_output())
        time.sleep(0.02)
    raise TimeoutError("server never listened:\n" + proc.read_output())


def wait_log(proc, text, timeout=10.0):
    """Wait until proc's log has a line starting with `text`; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in proc.read_output().splitlines():
            if line.startswith(text):
                return line
        time.sleep(0.02)
    raise AssertionError("never logged %r:\n%s" % (text, proc.read_output()))


class Process:
    """A process in its own session, stopped by its own process group id."""

    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=env,
        )
        self.pid = self.popen.pid

    def poll(self):
        return self.popen.poll()

    def read_output(self):
        """What the process has written; while it runs, up to its last
        complete line (a line it is still writing, a print() of several
        values say, could be read half-way)."""
        self.log.flush()
        text = Path(self.log_path).read_text(errors="replace")
        if self.popen.poll() is None:
            text = text[:text.rfind("\n") + 1]
        return text

    def stop(self, timeout=5.0):
        if self.popen.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.popen.wait(timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self.log.close()
        return self.popen.returncode


@pytest.fixture
def mp_server(tmp_path):
    """Start a MicroPython script that serves on a port: mp_server(script,
    *args) -> process with .host and .port. The script gets HOST PORT after
    its args; PORT is 0 unless given (the kernel picks a free one) and is
    read back from the `listening` line servers/lib/socket.py prints."""
    started = []

    def start(script, *args, host="127.0.0.1", port=0, wait=True, env=None, heapsize=None):
        heap = ["-X", "heapsize=" + heapsize] if heapsize else []
        argv = [firmware(), *heap, str(script), *map(str, args), host, str(port)]
        env = dict(env or os.environ, MICROPYPATH=micropython_path(SERVER_LIB))
        proc = Process(argv, tmp_path / ("server-%d.log" % len(started)), env=env)
        started.append(proc)
        proc.host, proc.port = host, port
        if wait:
            proc.port = wait_listening(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def run_mp(script_or_code, *args, timeout=60, cwd=None):
    """Run MicroPython to completion on a script path or code string."""
    if isinstance(script_or_code, Path) or (isinstance(script_or_code, str) and script_or_code.endswith(".py")):
        argv = [firmware(), str(script_or_code), *map(str, args)]
    else:
        argv = [firmware(), "-c", script_or_code, *map(str, args)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, cwd=cwd, env=mp_env())
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        raise AssertionError("MicroPython timed out:\n" + out.decode(errors="replace"))
    return proc.returncode, out.decode(errors="replace")


@pytest.fixture(scope="session")
def venv_python():
    return sys.executable
