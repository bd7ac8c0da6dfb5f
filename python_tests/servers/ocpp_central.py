"""An OCPP 1.6J central system for the tests, written with the `ocpp`
package on CPython `websockets` (asyncio), run from the brokers'
virtualenv as a process of its own.

    python ocpp_central.py PORT PASSWORD INTERVAL [drive]

It serves ws://127.0.0.1:PORT/<path>/<charge point id> with the subprotocol
ocpp1.6 only, and admits a charge point with HTTP Basic authentication
whose user is its id and whose password is PASSWORD (OCPP 1.6 security
profile 1); anything else gets 401. BootNotification is accepted with a
heartbeat interval of INTERVAL seconds. With `drive`, once two heartbeats
came it asks for a remote start on connector 1, and a second after the
StartTransaction for a remote stop of that transaction.

Everything it sees is printed as one JSON object a line ({"t": monotonic
seconds, "event": ...}), for the test to check.
"""
import asyncio
import base64
import binascii
import json
import logging
import signal
import sys
import time
from datetime import datetime, timezone

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

TRANSACTION_ID = 42


def record(event, **details):
    print(json.dumps({"t": time.monotonic(), "event": event, **details}), flush=True)


def now():
    return datetime.now(timezone.utc).isoformat()


class Central(ChargePoint):
    def __init__(self, cp_id, connection, interval):
        super().__init__(cp_id, connection)
        self.interval = interval
        self.heartbeats = 0
        self.events = asyncio.Queue()

    @on(Action.boot_notification)
    async def on_boot(self, charge_point_vendor, charge_point_model, **_):
        record("boot", id=self.id, vendor=charge_point_vendor, model=charge_point_model)
        return call_result.BootNotification(
            current_time=now(), interval=self.interval, status=RegistrationStatus.accepted)

    @on(Action.heartbeat)
    async def on_heartbeat(self):
        self.heartbeats += 1
        record("heartbeat", id=self.id)
        await self.events.put("heartbeat")
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    async def on_status(self, connector_id, error_code, status, **_):
        record("status", connector=connector_id, status=status, error=error_code)
        return call_result.StatusNotification()

    @on(Action.start_transaction)
    async def on_start(self, connector_id, id_tag, meter_start, timestamp, **_):
        record("start_transaction", connector=connector_id, id_tag=id_tag, meter_start=meter_start)
        await self.events.put("started")
        return call_result.StartTransaction(
            transaction_id=TRANSACTION_ID, id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.stop_transaction)
    async def on_stop(self, meter_stop, timestamp, transaction_id, reason=None, **_):
        record("stop_transaction", transaction_id=transaction_id, meter_stop=meter_stop, reason=reason)
        return call_result.StopTransaction()

    async def drive(self):
        while self.heartbeats < 2:
            await self.events.get()
        result = await self.call(call.RemoteStartTransaction(id_tag="TAG1", connector_id=1))
        record("remote_start", status=result.status)
        while await self.events.get() != "started":
            pass
        await asyncio.sleep(1)
        result = await self.call(call.RemoteStopTransaction(transaction_id=TRANSACTION_ID))
        record("remote_stop", status=result.status)


def check_auth(password):
    def process_request(connection, request):
        cp_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        header = request.headers.get("Authorization", "")
        user = secret = None
        if header.startswith("Basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if user != cp_id or secret != password:
            record("refused", id=cp_id, user=user, has_auth=bool(header))
            response = connection.respond(401, "unknown charge point or wrong password\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None
    return process_request


async def main(argv):
    port, password, interval = int(argv[1]), argv[2], int(argv[3])
    drive = "drive" in argv[4:]

    async def handler(connection):
        cp_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        record("connected", id=cp_id, subprotocol=connection.subprotocol,
               path=connection.request.path)
        cp = Central(cp_id, connection, interval)
        tasks = [cp.start()] + ([cp.drive()] if drive else [])
        try:
            await asyncio.gather(*tasks)
        except ConnectionClosed:
            record("disconnected", id=cp_id)

    async with serve(handler, "127.0.0.1", port, subprotocols=["ocpp1.6"],
                     process_request=check_auth(password)):
        record("ready")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(sys.argv))
