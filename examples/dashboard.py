"""A device dashboard on one port: a light switch with a brightness slider and
live readings, in any browser, phone included, and for scripts.

    micropython examples/dashboard.py [HOST] [PORT]     (default 127.0.0.1 8080)

then open http://127.0.0.1:8080/ in one or more browsers. Every page shows
the same state: a change made in one is applied by the device and shown in
all of them at once.

GET / answers the page (dashboard.html, read from the folder of this script,
or else from the current folder). The page opens a WebSocket to /ws on the
same host and port, and so can any other program.

JSON message API (WebSocket ws://HOST:PORT/ws, one JSON object per text
message)

  To the device:
    {"light": true}                  switch the light on (false: off)
    {"brightness": 40}               brightness in percent, an integer 0..100
    {"light": true, "brightness": 40}   both at once
  A change is applied and the new state is broadcast to every client, the
  sender included, even when nothing changed.

  From the device:
    {"type": "state", "light": true, "brightness": 40, "clients": 2}
        at once to a new client, and to every client whenever the light, the
        brightness or the number of connected clients changes
    {"type": "reading", "temperature": 21.43, "uptime": 12, "free": 123456, "used": 5432}
        about once a second: temperature in degrees Celsius (simulated
        unless the chip has a sensor: esp32.mcu_temperature()), seconds
        since the dashboard started, and the heap free and in use in bytes
        (gc.mem_free() / gc.mem_alloc() right after a collection)
    {"type": "error", "error": "brightness must be an integer from 0 to 100"}
        to the sender only, when a message is not valid: not JSON, not an
        object, a binary message, an unknown key, a wrong type or a value
        out of range. Nothing is changed, the connection stays open.
  A message longer than 4096 bytes closes the connection with code 1009.
  Other paths than /ws are closed with code 1008.

From the command line, with CPython's websockets package:

    python3 -m websockets ws://127.0.0.1:8080/ws
    > {"light": true}
    < {"type": "state", "light": true, "brightness": 100, "clients": 1}

On an ESP32 (firmware built with the uwebsocket module, connected to WiFi,
e.g. from boot.py with network.WLAN(network.STA_IF).connect(SSID, KEY)):

    mpremote cp examples/dashboard.py examples/dashboard.html :
    mpremote run examples/dashboard.py        (or at the REPL: import dashboard)

It listens on 0.0.0.0:8080 and prints the address to open. The light is
GPIO 2 (the on-board LED of many ESP32 dev boards; set LED_PIN below), with
PWM for the brightness where machine.PWM exists. Without machine.Pin (the
unix port) the light is simulated.
"""
import asyncio
import gc
import json
import os
import random
import sys
import time

import uwebsocket_asyncio as wsa

LED_PIN = 2
PWM_FREQ = 1000
MAX_MESSAGE = 4096
READING_PERIOD_MS = 1000
API_PATH = "/ws"
PAGE_NAME = "dashboard.html"


class Light:
    """The light: a PWM or plain output pin on a board, simulated otherwise."""

    def __init__(self, pin_number=LED_PIN):
        self.on = False
        self.brightness = 100
        self.pin = self.pwm = None
        try:
            from machine import Pin
        except ImportError:
            return
        self.pin = Pin(pin_number, Pin.OUT)
        try:
            from machine import PWM
            self.pwm = PWM(self.pin, freq=PWM_FREQ, duty_u16=0)
        except (ImportError, TypeError, ValueError):
            pass  # no PWM on this port or pin: on/off only
        self.apply()

    def set(self, on, brightness):
        self.on = on
        self.brightness = brightness
        self.apply()

    def apply(self):
        level = self.brightness if self.on else 0
        if self.pwm is not None:
            self.pwm.duty_u16(level * 65535 // 100)
        elif self.pin is not None:
            self.pin.value(1 if level else 0)


class Thermometer:
    """The chip's own sensor where the port has one; otherwise a room
    temperature that drifts, by at least 0.02 degrees a reading so that a
    watcher always sees it move."""

    def __init__(self, start=21.5):
        self.value = start
        self.sensor = None
        try:
            import esp32
            self.sensor = esp32.mcu_temperature
        except (ImportError, AttributeError):
            pass

    def read(self):
        if self.sensor is not None:
            return self.sensor()
        # A random walk pulled back towards where it started.
        up = random.random() < 0.5 + (21.5 - self.value) * 0.2
        step = random.uniform(0.02, 0.2)
        self.value = round(self.value + (step if up else -step), 2)
        return self.value


def find_page():
    """dashboard.html next to this script, or else in the current folder
    (mpremote run sends the script without a file name)."""
    here = globals().get("__file__", "")
    folders = [here.rsplit("/", 1)[0]] if "/" in here else []
    folders.append(".")
    for folder in folders:
        path = folder + "/" + PAGE_NAME
        try:
            os.stat(path)
            return path
        except OSError:
            pass
    return None


class BadMessage(Exception):
    pass


def parse_change(message):
    """The (light, brightness) a client message asks for, each None when not
    given; raises BadMessage with the reason the client is told."""
    if not isinstance(message, str):
        raise BadMessage("send JSON as a text message, not binary")
    try:
        change = json.loads(message)
    except ValueError:
        raise BadMessage("not JSON")
    if not isinstance(change, dict) or not change:
        raise BadMessage('expected an object such as {"light": true} or {"brightness": 40}')
    for key in change:
        if key not in ("light", "brightness"):
            raise BadMessage("unknown key: " + key[:40])
    light = change.get("light")
    brightness = change.get("brightness")
    # bool is an int in Python: check the exact type.
    if "light" in change and type(light) is not bool:
        raise BadMessage("light must be true or false")
    if "brightness" in change and (type(brightness) is not int or not 0 <= brightness <= 100):
        raise BadMessage("brightness must be an integer from 0 to 100")
    return light, brightness


class Dashboard:
    def __init__(self, light, thermometer, page_path):
        self.light = light
        self.thermometer = thermometer
        self.page_path = page_path
        self.clients = set()
        self.reading = None  # the last reading message, for newcomers
        self.started = time.ticks_ms()
        self.uptime_ms = 0

    def state_message(self):
        # Formatted by hand: "type" first, as the API shows it, and no dict.
        return '{"type": "state", "light": %s, "brightness": %d, "clients": %d}' % (
            "true" if self.light.on else "false", self.light.brightness, len(self.clients))

    async def broadcast(self, message):
        # Every client gets it at once; a stalled one holds up nobody else.
        # Its own task sees the broken connection and says goodbye.
        for ws in wsa.broadcast(list(self.clients), message):
            self.clients.discard(ws)

    async def client(self, ws):
        """One WebSocket client, from its first state to its last message."""
        if ws.path.split("?")[0] != API_PATH:
            await ws.close(1008, "the API is on " + API_PATH)
            return
        self.clients.add(ws)
        try:
            await self.broadcast(self.state_message())
            if self.reading is not None:
                await ws.send(self.reading)
            async for message in ws:
                try:
                    light, brightness = parse_change(message)
                except BadMessage as e:
                    await ws.send(json.dumps({"type": "error", "error": str(e)}))
                    continue
                self.light.set(self.light.on if light is None else light,
                               self.light.brightness if brightness is None else brightness)
                await self.broadcast(self.state_message())
        finally:
            self.clients.discard(ws)
            await self.broadcast(self.state_message())

    def http(self, request):
        if request.path.split("?")[0] not in ("/", "/index.html"):
            return None  # 404
        if request.method != "GET":
            return 405, b"Method Not Allowed\n", "text/plain"
        if self.page_path is None:
            return 500, b"copy " + PAGE_NAME.encode() + b" next to dashboard.py\n", "text/plain"
        with open(self.page_path, "rb") as f:
            return 200, f.read(), "text/html; charset=utf-8"

    async def publish_readings(self):
        due = time.ticks_ms()
        while True:
            due = time.ticks_add(due, READING_PERIOD_MS)
            await asyncio.sleep_ms(max(0, time.ticks_diff(due, time.ticks_ms())))
            # Counted in steps so that it outlives the wrap of ticks_ms().
            now = time.ticks_ms()
            self.uptime_ms += time.ticks_diff(now, self.started)
            self.started = now
            gc.collect()
            self.reading = '{"type": "reading", "temperature": %s, "uptime": %d, "free": %d, "used": %d}' % (
                json.dumps(self.thermometer.read()), self.uptime_ms // 1000, gc.mem_free(), gc.mem_alloc())
            await self.broadcast(self.reading)


def address_to_open(host):
    if host != "0.0.0.0":
        return host
    try:
        import network
        return network.WLAN(network.STA_IF).ifconfig()[0]
    except (ImportError, AttributeError, OSError):
        return host


async def main(host, port):
    page = find_page()
    if page is None:
        print("warning: %s not found next to dashboard.py nor in the current folder" % PAGE_NAME)
    dashboard = Dashboard(Light(), Thermometer(), page)
    await wsa.serve(dashboard.client, host, port, http=dashboard.http,
                    ping_interval=20, max_size=MAX_MESSAGE)
    where = "%s:%d" % (address_to_open(host), port)
    print("dashboard: open http://%s/  (JSON API: ws://%s%s)" % (where, where, API_PATH))
    await dashboard.publish_readings()


def run():
    unix = sys.platform in ("linux", "darwin")
    argv = getattr(sys, "argv", [])[1:] if unix else []
    host = argv[0] if argv else ("127.0.0.1" if unix else "0.0.0.0")
    port = int(argv[1]) if len(argv) > 1 else 8080
    asyncio.run(main(host, port))


# Also started by `import dashboard` on a board, where __name__ is the module's.
if __name__ in ("__main__", "dashboard"):
    run()
