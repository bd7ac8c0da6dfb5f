"""examples/ocpp_charge_point.py against an OCPP 1.6J central system made
with the `ocpp` package on CPython `websockets` (python_tests/servers/
ocpp_central.py, a process of its own from the brokers' virtualenv), which
checks the subprotocol and the HTTP Basic password and records what it
sees: boot, heartbeats at the interval it set, a remote start answered by
StartTransaction, a remote stop answered by StopTransaction, the charge
point back after the central system restarts, a wrong password refused,
and a server that selects no subprotocol left at once."""
import json
import time
from pathlib import Path

from clients.peers import WebsocketsServer
from conftest import EXAMPLES, Process, firmware, free_port, wait_port
from test_mqtt import brokers_python

CENTRAL = Path(__file__).resolve().parent / "servers" / "ocpp_central.py"
EXAMPLE = EXAMPLES / "ocpp_charge_point.py"
PASSWORD = "s3cr%t:pw"  # percent-encoded in the URL as s3cr%25t%3Apw
INTERVAL = 1


class Central:
    def __init__(self, folder, port, *options):
        self.proc = Process([brokers_python(), str(CENTRAL), str(port), PASSWORD, str(INTERVAL), *options],
                            folder / ("central-%d.log" % time.monotonic_ns()))
        wait_port("127.0.0.1", port, self.proc)

    def events(self):
        out = []
        for line in self.proc.read_output().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_for(self, event, count=1, timeout=20, **match):
        deadline = time.monotonic() + timeout
        while True:
            seen = [e for e in self.events() if e["event"] == event
                    and all(e.get(k) == v for k, v in match.items())]
            if len(seen) >= count:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError("no %s %s in:\n%s" % (event, match, self.proc.read_output()))
            time.sleep(0.05)

    def stop(self):
        self.proc.stop()


def start_charge_point(tmp_path, url, *args):
    return Process([firmware(), str(EXAMPLE), url, *args], tmp_path / "charge-point.log")


def test_charge_point_session_and_reconnect_after_restart(tmp_path):
    port = free_port()
    url = "ws://CP7:s3cr%%25t%%3Apw@127.0.0.1:%d/ocpp" % port
    central = Central(tmp_path, port, "drive")
    cp = start_charge_point(tmp_path, url)
    try:
        (connected,) = central.wait_for("connected")
        assert connected["subprotocol"] == "ocpp1.6" and connected["path"] == "/ocpp/CP7"
        (boot,) = central.wait_for("boot")
        assert boot["id"] == "CP7" and boot["vendor"] == "uwebsocket"
        central.wait_for("stop_transaction", timeout=30)
        central.wait_for("status", count=5)
        events = central.events()
        # What the charge point sent, in order (the central system's own
        # remote_* records may interleave either way with the answers).
        sent = [(e["event"], e.get("status")) for e in events
                if e["event"] not in ("heartbeat", "remote_start", "remote_stop")]
        assert sent == [("ready", None), ("connected", None), ("boot", None), ("status", "Available"),
                        ("status", "Preparing"), ("start_transaction", None), ("status", "Charging"),
                        ("stop_transaction", None), ("status", "Finishing"), ("status", "Available")], sent
        assert [e for e in events if e["event"] == "remote_start"][0]["status"] == "Accepted"
        (start,) = central.wait_for("start_transaction")
        assert start["id_tag"] == "TAG1" and start["connector"] == 1
        (stop,) = central.wait_for("stop_transaction")
        assert stop["transaction_id"] == 42 and stop["reason"] == "Remote"
        assert stop["meter_stop"] > start["meter_start"]
        central.wait_for("remote_stop", status="Accepted")
        # Heartbeats at the interval the central system gave in its answer
        # to BootNotification, counted from the boot.
        beats = [e["t"] for e in central.wait_for("heartbeat", count=3)]
        gaps = [b - a for a, b in zip([boot["t"]] + beats, beats)]
        assert all(0.7 * INTERVAL < g < 1.6 * INTERVAL for g in gaps[:3]), gaps

        central.stop()
        central = Central(tmp_path, port)
        central.wait_for("boot", timeout=20)
        central.wait_for("heartbeat")
        out = cp.read_output()
        assert "reconnecting in" in out and out.count("booted, heartbeat every 1 s") == 2, out
    finally:
        cp.stop()
        central.stop()


def test_wrong_password_is_refused(tmp_path):
    port = free_port()
    central = Central(tmp_path, port)
    cp = start_charge_point(tmp_path, "ws://CP7:wrong@127.0.0.1:%d/ocpp" % port)
    try:
        (refused,) = central.wait_for("refused")[:1]
        assert refused["user"] == "CP7" and refused["id"] == "CP7"
        deadline = time.monotonic() + 10
        while "refused: 401" not in cp.read_output():
            assert time.monotonic() < deadline, cp.read_output()
            time.sleep(0.05)
        assert not [e for e in central.events() if e["event"] == "boot"]
    finally:
        cp.stop()
        central.stop()


def test_no_subprotocol_selected_is_left_before_booting(tmp_path):
    got = []

    def record(ws):
        for message in ws:
            got.append(message)

    # A server that offers no subprotocol selects none.
    with WebsocketsServer(record) as srv:
        cp = start_charge_point(tmp_path, srv.url("/ocpp"), "--id", "CP9")
        try:
            deadline = time.monotonic() + 10
            while "refused:" not in cp.read_output():
                assert time.monotonic() < deadline, cp.read_output()
                time.sleep(0.05)
            out = cp.read_output()
        finally:
            cp.stop()
    assert "selected subprotocol None, not ocpp1.6" in out, out
    assert got == []
