#!/usr/bin/env python3
"""Run the Autobahn TestSuite (wstest 0.8.2) against a WebSocket peer.

CPython 3, standard library only. wstest itself is installed by
tools/install_autobahn.sh (python2.7); this runner finds its interpreter from
the `wstest` script's first line.

Server mode: test an echo server.
    python3 python_tests/autobahn.py server --cmd "micropython srv.py {host} {port}" \
        --outdir build/autobahn/server
  starts the command (own process group; {host}/{port} filled in, {port}
  being 0 unless --port is given: the server then binds a port the kernel
  picks and prints a line `listening HOST PORT`, which the runner reads
  from its output), waits for the port, runs `wstest -m fuzzingclient` against ws://127.0.0.1:PORT, then
  stops the server.

Client mode: test a client.
    python3 python_tests/autobahn.py client --cmd "micropython cli.py {url} {agent}" \
        --outdir build/autobahn/client
  starts `wstest -m fuzzingserver` on a free 127.0.0.1 port (no web UI) and
  runs the command with {url} = ws://127.0.0.1:PORT and {agent} = the agent
  name. The client must GET /getCaseCount, then for N in 1..count connect to
  /runCase?case=N&agent=AGENT and echo every message back until the close,
  and last connect to /updateReports?agent=AGENT.

Both modes then read OUTDIR/index.json, print the counts per behavior and the
non-OK cases, and exit 1 if any case is not OK (behavior or behaviorClose)
other than the INFORMATIONAL ones named by --informational, if
cases are missing (expected count comes from wstest's own case selection), or
if a peer misbehaved (died, timed out, client exit status != 0). Exit 2 on a
setup error (wstest missing, port never opened). Logs of every process go to
OUTDIR/*.log. Only loopback addresses are used; every process started is
stopped by its own process group id, and every wait is bounded.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import wsraw  # the tests' frame and handshake module, next to this file

HOST = "127.0.0.1"
DEFAULT_CASES = ",".join("%d.*" % i for i in range(1, 11))  # 301 cases
BEHAVIORS = ("OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED")

# Runs under wstest's python2.7. `cases SPEC`: print the case ids the spec
# selects (wstest's own resolution). `run HOST ARGS...`: run wstest with its
# WebSocket listener bound to HOST (wstest 0.8.2 calls listenWS() without an
# interface, i.e. on all interfaces).
PY2_HELPER = r"""
import sys, json, warnings
warnings.filterwarnings('ignore', message='Python 2 is no longer supported')
from autobahntestsuite import fuzzing
if sys.argv[1] == 'cases':
    cs = fuzzing.CaseSet(fuzzing.CaseSetname, fuzzing.CaseBasename, fuzzing.Cases,
                         fuzzing.CaseCategories, fuzzing.CaseSubCategories)
    with open(sys.argv[2]) as f:
        spec = json.load(f)
    ids = cs.parseSpecCases(spec)
    unknown = [c for c in ids if c not in cs.CasesIndices]
    print(json.dumps({'cases': ids, 'unknown': unknown}))
else:
    host = sys.argv[2]
    from autobahn.twisted import websocket
    def listenWS(factory, contextFactory=None, backlog=50, interface=''):
        return websocket.listenWS(factory, contextFactory, backlog, host)
    fuzzing.listenWS = listenWS
    from autobahntestsuite.wstest import run
    sys.argv = ['wstest'] + sys.argv[3:]
    sys.exit(run())
"""


class SetupError(Exception):
    pass


class Terminated(Exception):
    pass


def _on_sigterm(signum, frame):
    raise Terminated("terminated by signal %d" % signum)


def case_key(case_id):
    return tuple(int(p) if p.isdigit() else p for p in case_id.split("."))


def split_patterns(text):
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def find_python2(explicit):
    """The interpreter wstest was installed for (from its #! line)."""
    if explicit:
        return explicit
    wstest = shutil.which("wstest") or "/usr/local/bin/wstest"
    try:
        with open(wstest, "rb") as f:
            first = f.readline().decode("utf-8", "replace").strip()
    except OSError:
        raise SetupError("wstest not found: run tools/install_autobahn.sh CACHE_DIR first")
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and os.path.basename(parts[0]) == "env" and len(parts) > 1:
            found = shutil.which(parts[1])
            if found:
                return found
        elif parts:
            return parts[0]
    return "/usr/bin/python2.7"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_accepts(port):
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def fill(template, values):
    for key, value in values.items():
        template = template.replace("{%s}" % key, str(value))
    return template


class Proc:
    """A child in its own process group, output to a log file."""

    def __init__(self, name, argv, log_path, shell=False, env=None):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(
            argv, shell=shell, stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.pid = self.popen.pid
        self.stopped = False

    def poll(self):
        return self.popen.poll()

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def stop(self, grace=5.0):
        """SIGTERM then SIGKILL to the process group; returns the exit code."""
        if self.stopped:
            return self.popen.returncode
        self.stopped = True
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.popen.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Whatever is left of the group (children of an exited shell).
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log.close()
        return self.popen.returncode

    def tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-8192:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join("    | " + l for l in data.splitlines()[-lines:])


def announced_port(proc, timeout):
    """The port from a `listening HOST PORT` line of proc's output, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(proc.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        found = re.search(r"(?:^|\n)listening \S+ (\d+)\n", text)
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            return None
        time.sleep(0.05)
    return None


def wait_for_port(port, procs, timeout):
    """Wait until HOST:port accepts; False if a process exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(port):
            return True
        for p in procs:
            if p.poll() is not None:
                return False
        time.sleep(0.2)
    return False


def supervise(main, watched, deadline, stall):
    """Wait for `main` to exit. Stop it when the overall deadline passes or no
    log of `watched` grew for `stall` seconds. Returns None or a reason."""
    sizes = [p.log_size() for p in watched]
    last_progress = time.monotonic()
    while main.poll() is None:
        now = time.monotonic()
        if now > deadline:
            return "overall timeout"
        new = [p.log_size() for p in watched]
        if new != sizes:
            sizes, last_progress = new, now
        elif now - last_progress > stall:
            return "no progress for %d s" % stall
        time.sleep(0.25)
    return None


def update_reports(port, agent, timeout=30.0):
    """Ask the fuzzingserver for its reports (minimal WebSocket handshake)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(wsraw.upgrade_request(target="/updateReports?agent=%s" % agent, origin=None))
        s.settimeout(timeout)
        data = b""
        while True:  # until the server closes (it sends a close frame)
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and len(data) > data.index(b"\r\n\r\n") + 4:
                # got a frame after the headers: answer the close, then stop
                s.sendall(wsraw.frame(wsraw.CLOSE, wsraw.close_payload(1000), masked=True))
                break
    return data.startswith(b"HTTP/1.1 101")


def expected_cases(py2, spec_path, outdir):
    out = subprocess.run([py2, "-c", PY2_HELPER, "cases", spec_path],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=60, cwd=outdir)
    if out.returncode != 0:
        raise SetupError("cannot run wstest's python (%s):\n%s"
                         % (py2, out.stderr.decode("utf-8", "replace")[-2000:]))
    res = json.loads(out.stdout.decode().strip().splitlines()[-1])
    if res["unknown"]:
        raise SetupError("unknown case ids: %s" % ", ".join(res["unknown"]))
    if not res["cases"]:
        raise SetupError("no case selected")
    return res["cases"]


def last_case_started(log_path):
    try:
        with open(log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    found = re.findall(r"^Running test case ID (\S+)", text, re.M)
    return found[-1] if found else None


def summarize(mode, outdir, agent, expected, problems, informational=()):
    """Print the results; return the exit code."""
    index_path = os.path.join(outdir, "index.json")
    results = {}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        if agent in index:
            results = index[agent]
        else:
            problems.append("agent %r not in index.json (agents: %s)"
                            % (agent, ", ".join(sorted(index)) or "none"))
    else:
        problems.append("no report: %s was not written" % index_path)

    counts = dict.fromkeys(BEHAVIORS, 0)
    other = {}
    non_ok = []
    close_failed = 0
    for case_id in sorted(results, key=case_key):
        r = results[case_id]
        b, bc = r.get("behavior", "?"), r.get("behaviorClose", "?")
        if b in counts:
            counts[b] += 1
        else:
            other[b] = other.get(b, 0) + 1
        if bc == "FAILED":
            close_failed += 1
        if b != "OK" or bc not in ("OK", "INFORMATIONAL"):
            non_ok.append((case_id, b, bc))

    missing = sorted(set(expected) - set(results), key=case_key)
    extra = sorted(set(results) - set(expected), key=case_key)
    if missing:
        shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
        problems.append("%d of %d cases missing: %s" % (len(missing), len(expected), shown))
    if extra:
        problems.append("%d unexpected cases in the report: %s" % (len(extra), ", ".join(extra[:20])))

    # Strict: OK everywhere, but for the cases named as INFORMATIONAL
    # (the suite reports those without judging).
    strict = [case_id for case_id, b, bc in non_ok
              if not (case_id in informational and b in ("OK", "INFORMATIONAL")
                      and bc in ("OK", "INFORMATIONAL"))]
    if strict:
        problems.append("not OK: %s" % ", ".join(strict))

    print("Autobahn %s results (agent %s), report %s" % (mode, agent, index_path))
    print("  %-15s %5s" % ("behavior", "cases"))
    for b in BEHAVIORS:
        print("  %-15s %5d" % (b, counts[b]))
    for b, n in sorted(other.items()):
        print("  %-15s %5d" % (b, n))
    if close_failed:
        print("  %-15s %5d" % ("close FAILED", close_failed))
    if non_ok:
        print("non-OK cases:")
        for case_id, b, bc in non_ok:
            print("  %-9s %-14s (close: %s)" % (case_id, b, bc))
    if problems or missing:
        last = last_case_started(os.path.join(outdir, "wstest.log"))
        if last:
            problems.append("last case wstest started: %s" % last)
    for p in problems:
        print("PROBLEM: %s" % p)

    failed = counts["FAILED"] > 0 or close_failed > 0 or "FAILED" in other or bool(strict)
    n = len(results)
    total = "%d cases" % n if n == len(expected) else "%d of %d cases" % (n, len(expected))
    line = "autobahn %s: %s, %s" % (mode, total, ", ".join("%s %d" % (b, counts[b]) for b in BEHAVIORS))
    if close_failed:
        line += ", close FAILED %d" % close_failed
    if problems:
        line += " (%d problem%s)" % (len(problems), "s" if len(problems) > 1 else "")
    print(line, flush=True)
    return 1 if failed or problems or n != len(expected) else 0


def run(args):
    outdir = os.path.abspath(args.outdir)
    os.makedirs(outdir, exist_ok=True)
    py2 = find_python2(args.python2)
    deadline = time.monotonic() + args.timeout
    mode = args.mode
    agent = args.agent
    problems = []

    spec = {
        # A case the peer ends by dropping TCP instead of a close handshake
        # fails (RFC 6455 section 7.1.1: the server closes TCP after the
        # closing handshake).
        "options": {"failByDrop": True},
        "outdir": outdir,
        "cases": split_patterns(args.cases),
        "exclude-cases": split_patterns(args.exclude),
        "exclude-agent-cases": {},
    }
    index_path = os.path.join(outdir, "index.json")
    if os.path.exists(index_path):
        os.remove(index_path)  # never read a stale report

    wstest_env = dict(os.environ, PYTHONUNBUFFERED="1")
    wstest_env.pop("PYTHONPATH", None)
    procs = []
    t0 = time.monotonic()
    try:
        if mode == "server":
            port = args.port
            if port and port_accepts(port):
                raise SetupError("port %d is already in use" % port)
            cmd = fill(args.cmd, {"host": HOST, "port": port, "agent": agent})
            print("autobahn server: starting %s" % cmd, flush=True)
            peer = Proc("server", cmd, os.path.join(outdir, "server.log"), shell=True)
            procs.append(peer)
            startup = min(args.startup_timeout, deadline - time.monotonic())
            if not port:
                port = announced_port(peer, startup)
            if not port or not wait_for_port(port, [peer], startup):
                code = peer.poll()
                raise SetupError("server did not open %s:%s (%s)\n%s" % (
                    HOST, port, "exited %s" % code if code is not None else "timeout", peer.tail()))
            url = "ws://%s:%d" % (HOST, port)
            spec["servers"] = [{"agent": agent, "url": url}]
            spec_path = os.path.join(outdir, "spec_fuzzingclient.json")
            with open(spec_path, "w") as f:
                json.dump(spec, f, indent=2)
            expected = expected_cases(py2, spec_path, outdir)
            print("autobahn server: running %d cases against %s" % (len(expected), url), flush=True)
            ws = Proc("wstest", [py2, "-c", PY2_HELPER, "run", HOST, "-m", "fuzzingclient",
                                 "-s", spec_path], os.path.join(outdir, "wstest.log"), env=wstest_env)
            procs.append(ws)
            why = supervise(ws, [ws, peer], deadline, args.stall)
            if why:
                problems.append("wstest stopped: %s" % why)
            elif ws.poll() != 0:
                problems.append("wstest exited with %s\n%s" % (ws.poll(), ws.tail()))
            if peer.poll() is not None:
                problems.append("server exited with %s during the run\n%s" % (peer.poll(), peer.tail()))
        else:
            spec_path = os.path.join(outdir, "spec_fuzzingserver.json")
            expected = None
            for attempt in range(3):  # the free port may be taken meanwhile
                port = free_port()
                url = "ws://%s:%d" % (HOST, port)
                spec["url"] = url
                with open(spec_path, "w") as f:
                    json.dump(spec, f, indent=2)
                if expected is None:
                    expected = expected_cases(py2, spec_path, outdir)
                ws = Proc("wstest", [py2, "-c", PY2_HELPER, "run", HOST, "-m", "fuzzingserver",
                                     "-s", spec_path, "-u", "0"],
                          os.path.join(outdir, "wstest.log"), env=wstest_env)
                procs.append(ws)
                if wait_for_port(port, [ws], min(args.startup_timeout, deadline - time.monotonic())):
                    break
                code = ws.stop()
                procs.remove(ws)
                if attempt == 2:
                    raise SetupError("wstest fuzzingserver did not listen on %s (exit %s)\n%s"
                                     % (url, code, ws.tail()))
            cmd = fill(args.cmd, {"host": HOST, "port": port, "url": url, "agent": agent})
            print("autobahn client: %d cases at %s, starting %s" % (len(expected), url, cmd), flush=True)
            peer = Proc("client", cmd, os.path.join(outdir, "client.log"), shell=True)
            procs.append(peer)
            why = supervise(peer, [ws, peer], deadline, args.stall)
            if why:
                problems.append("client stopped: %s\n%s" % (why, peer.tail()))
            code = peer.stop()
            procs.remove(peer)
            if not why and code != 0:
                problems.append("client exited with %s\n%s" % (code, peer.tail()))
            if ws.poll() is not None:
                problems.append("wstest exited with %s during the run\n%s" % (ws.poll(), ws.tail()))
            elif not os.path.exists(index_path):
                problems.append("the client did not request /updateReports; the runner did")
                try:
                    update_reports(port, agent)
                except OSError as e:
                    problems.append("/updateReports failed: %s" % e)
    except (SetupError, Terminated, KeyboardInterrupt) as e:
        for p in reversed(procs):
            p.stop()
        print("autobahn %s: ERROR: %s" % (mode, e or type(e).__name__), file=sys.stderr, flush=True)
        return 2
    finally:
        for p in reversed(procs):
            p.stop()
    print("autobahn %s: run took %.1f s; logs in %s" % (mode, time.monotonic() - t0, outdir), flush=True)
    return summarize(mode, outdir, agent, expected, problems, split_patterns(args.informational))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="mode", required=True)
    for mode in ("server", "client"):
        p = sub.add_parser(mode)
        if mode == "server":
            p.add_argument("--cmd", required=True,
                           help="command starting an echo server; {host} and {port} are filled in")
            p.add_argument("--port", type=int, default=0,
                           help="port for the server (default 0: the server announces the port it got)")
        else:
            p.add_argument("--cmd", required=True,
                           help="command running the client; {url} and {agent} are filled in")
        p.add_argument("--cases", default=DEFAULT_CASES,
                       help="comma-separated case patterns (default: %(default)s)")
        p.add_argument("--exclude", default="", help="comma-separated case patterns to leave out")
        p.add_argument("--informational", default="",
                       help="comma-separated case ids allowed to end INFORMATIONAL; every other case must be OK")
        p.add_argument("--outdir", required=True, help="directory for the spec, reports and logs")
        p.add_argument("--agent", default="uwebsocket", help="agent name in the report")
        p.add_argument("--timeout", type=float, default=600.0, help="overall limit in seconds")
        p.add_argument("--stall", type=float, default=150.0,
                       help="stop when no log grew for this many seconds")
        p.add_argument("--startup-timeout", type=float, default=30.0,
                       help="limit for the port to open")
        p.add_argument("--python2", default=None, help="wstest's interpreter (default: from wstest's #!)")
    args = ap.parse_args(argv)
    if not re.match(r"^[A-Za-z0-9._-]+$", args.agent):
        ap.error("--agent: letters, digits, '.', '_' and '-' only")
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(args)
    except SetupError as e:
        print("autobahn %s: ERROR: %s" % (args.mode, e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
