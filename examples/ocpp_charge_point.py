# An OCPP 1.6J charge point: JSON remote procedure calls over a WebSocket
# with the subprotocol ocpp1.6, as EV chargers speak to their central
# system. One connector; a meter that counts while charging.
#
#   micropython examples/ocpp_charge_point.py URL [--id CP]
#
# URL is the central system's endpoint, with the charge point's user and
# password for HTTP Basic authentication (OCPP 1.6 security profile 1):
#   ws://CP1:secret@central.example:9000/ocpp     (wss:// for TLS)
# The charge point id (--id, or the URL's user) is appended to the path.
#
# It sends BootNotification, then Heartbeat at the interval the central
# system returns and StatusNotification when the connector's state changes;
# it answers RemoteStartTransaction and RemoteStopTransaction, following
# each with StartTransaction or StopTransaction. When the connection drops
# (the central system restarts, say) it reconnects, waiting longer after
# each failure, and boots again.
import json
import select
import sys
import time

import uwebsocket
from uwebsocket_transport import Backoff

SUBPROTOCOL = "ocpp1.6"
# OCPP-J message types (OCPP-J 1.6 §4.1).
CALL, CALLRESULT, CALLERROR = 2, 3, 4
# How long a call waits for its result (OCPP leaves it to the implementer).
CALL_TIMEOUT_MS = 30000


class Refused(Exception):
    """The central system does not speak OCPP 1.6J with us."""


def timestamp():
    t = time.gmtime()
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % t[:6]


class ChargePoint:
    def __init__(self, ws, cp_id):
        self.ws = ws
        self.id = cp_id
        self.poller = select.poll()
        self.poller.register(ws, select.POLLIN)
        self.next_id = 0
        self.heartbeat_ms = 60000
        self.status = None
        self.transaction = None
        self.id_tag = None
        self.meter_wh = 0
        # Calls to make once the current message is answered: a call the
        # central system makes is answered first (RemoteStartTransaction:
        # Accepted), then followed by ours (StartTransaction).
        self.todo = []

    def send(self, message):
        self.ws.send(json.dumps(message))

    def receive(self, timeout_ms):
        """One OCPP-J message, or None when none came within timeout_ms."""
        if not self.poller.poll(timeout_ms):
            return None
        text = self.ws.recv()
        return json.loads(text) if text is not None else None

    def call(self, action, payload):
        """Send a CALL and wait for its CALLRESULT, answering the central
        system's own calls meanwhile."""
        self.next_id += 1
        uid = "%s-%d" % (self.id, self.next_id)
        self.send([CALL, uid, action, payload])
        start = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), start) < CALL_TIMEOUT_MS:
            msg = self.receive(1000)
            if msg is None:
                continue
            if msg[0] == CALL:
                self.answer(msg)
            elif msg[1] == uid:
                if msg[0] == CALLERROR:
                    raise Refused("%s: %s %s" % (action, msg[2], msg[3]))
                return msg[2]
        raise OSError("no answer to " + action)

    def answer(self, msg):
        _, uid, action, payload = msg[:4]
        handler = getattr(self, "on_" + action, None)
        if handler is None:
            self.send([CALLERROR, uid, "NotImplemented", action + " is not supported", {}])
            return
        self.send([CALLRESULT, uid, handler(payload)])

    def on_RemoteStartTransaction(self, payload):
        if self.transaction is not None or payload.get("connectorId", 1) != 1:
            return {"status": "Rejected"}
        self.todo.append(("start", payload["idTag"]))
        return {"status": "Accepted"}

    def on_RemoteStopTransaction(self, payload):
        if self.transaction is None or payload["transactionId"] != self.transaction:
            return {"status": "Rejected"}
        self.todo.append(("stop", None))
        return {"status": "Accepted"}

    def set_status(self, status):
        if status != self.status:
            self.status = status
            self.call("StatusNotification", {"connectorId": 1, "errorCode": "NoError",
                                             "status": status, "timestamp": timestamp()})
            print("status", status)

    def start_transaction(self, id_tag):
        self.set_status("Preparing")
        result = self.call("StartTransaction", {"connectorId": 1, "idTag": id_tag,
                                                "meterStart": self.meter_wh, "timestamp": timestamp()})
        if result["idTagInfo"]["status"] != "Accepted":
            self.set_status("Available")
            return
        self.transaction = result["transactionId"]
        self.id_tag = id_tag
        print("transaction", self.transaction, "started for", id_tag)
        self.set_status("Charging")

    def stop_transaction(self):
        self.call("StopTransaction", {"transactionId": self.transaction, "meterStop": self.meter_wh,
                                      "timestamp": timestamp(), "idTag": self.id_tag, "reason": "Remote"})
        print("transaction", self.transaction, "stopped at", self.meter_wh, "Wh")
        self.transaction = None
        self.set_status("Finishing")
        self.set_status("Available")

    def run(self, backoff):
        result = self.call("BootNotification", {"chargePointVendor": "uwebsocket",
                                                "chargePointModel": "MicroPython example"})
        if result["status"] != "Accepted":
            raise Refused("BootNotification: " + result["status"])
        self.heartbeat_ms = max(1, result["interval"]) * 1000
        print("booted, heartbeat every", result["interval"], "s")
        backoff.reset()
        self.set_status("Available")
        next_beat = time.ticks_add(time.ticks_ms(), self.heartbeat_ms)
        while True:
            while self.todo:
                what, arg = self.todo.pop(0)
                if what == "start":
                    self.start_transaction(arg)
                else:
                    self.stop_transaction()
            wait = time.ticks_diff(next_beat, time.ticks_ms())
            if wait <= 0:
                self.call("Heartbeat", {})
                next_beat = time.ticks_add(next_beat, self.heartbeat_ms)
                continue
            msg = self.receive(min(wait, 1000))
            if self.transaction is not None:
                self.meter_wh += 1
            if msg is not None and msg[0] == CALL:
                self.answer(msg)


def endpoint(url, cp_id):
    return url.rstrip("/") + "/" + cp_id


def url_user(url):
    rest = url.split("://", 1)[1].split("/", 1)[0]
    return rest.split("@", 1)[0].split(":", 1)[0] if "@" in rest else None


def session(url, cp_id, backoff):
    ws = uwebsocket.connect(endpoint(url, cp_id), subprotocols=[SUBPROTOCOL], timeout=10)
    try:
        # A central system must select ocpp1.6 (OCPP-J 1.6 §3.1.2); one that
        # selects nothing may speak anything.
        if ws.subprotocol != SUBPROTOCOL:
            raise Refused("the central system selected subprotocol %r, not %s" % (ws.subprotocol, SUBPROTOCOL))
        print("connected to", endpoint(url, cp_id))
        ChargePoint(ws, cp_id).run(backoff)
    finally:
        ws.close()


def main(argv):
    if not argv or argv[0].startswith("-"):
        print("usage: ocpp_charge_point.py URL [--id CP]")
        sys.exit(2)
    url = argv[0]
    cp_id = argv[argv.index("--id") + 1] if "--id" in argv else (url_user(url) or "CP1")
    backoff = Backoff(first=0.5, most=60)
    while True:
        try:
            session(url, cp_id, backoff)
        except uwebsocket.HandshakeError as e:
            # 401: wrong id or password; retrying with the same ones is
            # pointless, but a fleet keeps trying at the backoff's pace.
            print("refused:", e.status, e.message)
        except Refused as e:
            print("refused:", e)
        except (OSError, uwebsocket.ConnectionClosed) as e:
            print("connection lost:", repr(e))
        delay = backoff.next()
        print("reconnecting in %.1f s" % delay)
        time.sleep(delay)


if __name__ == "__main__":
    main(sys.argv[1:])
