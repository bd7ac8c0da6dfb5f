"""MQTT over WebSocket: a WebSocket as a byte stream, uwebsocket_transport
as umqtt.simple's `ssl=` hook, and examples/mqtt_ws.py, against a real
broker.

The broker is amqtt (python_tests/servers/mqtt_broker.py, run from the
brokers' virtualenv as a process of its own) with a TCP, a WebSocket and a
TLS WebSocket listener on loopback. The other party is a CPython paho-mqtt
client on the plain TCP listener. The device side runs umqtt.simple's
interface from python_tests/clients/mqtt_client.py, put on MICROPYPATH as
umqtt/simple.py (micropython-lib's own cannot be installed here).

The stream tests first check, against a CPython `websockets` server, the
socket behaviour umqtt relies on: read(n) across message boundaries,
several packets in one message, one message per write, the socket's
timeout, None from a non-blocking read, and end of stream after a close.
"""
import json
import os
import queue
import shutil
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from clients.certs import make_certs
from clients.peers import WebsocketsServer
from conftest import EXAMPLES, Process, firmware, free_port, run_mp, wait_port

HERE = Path(__file__).resolve().parent
BROKER = HERE / "servers" / "mqtt_broker.py"
DEVICE = HERE / "clients" / "mqtt_device.py"
TEST_UMQTT = HERE / "clients" / "mqtt_client.py"


def brokers_python():
    """The CPython of the brokers' virtualenv (amqtt, ocpp), which `make
    test` makes in build/venv-brokers."""
    path = os.environ.get("UWS_BROKERS_PYTHON") or os.path.join(
        os.environ.get("UWS_BUILD_DIR", str(HERE.parent / "build")), "venv-brokers", "bin", "python")
    if not os.access(path, os.X_OK):
        pytest.fail("no brokers' virtualenv at %s (run the tests with `make test`)" % path)
    return path


class Broker:
    """amqtt on fixed loopback ports; restart() stops it by its process
    group and starts it again on the same ports."""

    def __init__(self, folder, certs=None):
        self.folder = folder
        self.tcp, self.ws, self.wss = free_port(), free_port(), free_port()
        self.certs = certs
        self.proc = None
        self.runs = 0

    def start(self):
        argv = [brokers_python(), str(BROKER), str(self.tcp), str(self.ws)]
        if self.certs:
            argv += [str(self.wss), str(self.certs["cert"]), str(self.certs["key"])]
        self.proc = Process(argv, self.folder / ("broker-%d.log" % self.runs))
        self.runs += 1
        deadline = time.monotonic() + 20
        while "ready" not in self.proc.read_output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("broker did not start:\n" + self.proc.read_output())
            time.sleep(0.05)
        wait_port("127.0.0.1", self.ws, self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def url(self, tls=False):
        if tls:
            return "wss://localhost:%d/mqtt" % self.wss
        return "ws://127.0.0.1:%d/mqtt" % self.ws


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory, certs):
    b = Broker(tmp_path_factory.mktemp("broker"), certs).start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def umqtt_path(tmp_path_factory):
    """MICROPYPATH holding the frozen modules and the test client as
    umqtt/simple.py, where a user's mip-installed umqtt would be."""
    folder = tmp_path_factory.mktemp("mplib")
    (folder / "umqtt").mkdir()
    (folder / "umqtt" / "__init__.py").write_text("")
    shutil.copy(TEST_UMQTT, folder / "umqtt" / "simple.py")
    return ".frozen:" + str(folder)


def device_env(umqtt_path):
    env = dict(os.environ)
    env["MICROPYPATH"] = umqtt_path
    return env


class Paho:
    """A paho-mqtt client on the broker's plain TCP listener; messages it
    receives go to a queue as (topic, payload, qos, retain). It subscribes
    at QoS 1, or 0 to a topic whose name ends in 0: the QoS a message
    arrives with is the lower of the publisher's and the subscriber's
    (MQTT 3.1.1 §3.8.4; amqtt 0.12.1 gives the subscriber's)."""

    def __init__(self, port, *topics, client_id="paho"):
        self.messages = queue.Queue()
        self.topics = topics
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload.decode(), m.qos, int(m.retain)))
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *a: subscribed.put(1)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        for t in topics:
            self.client.subscribe(t, qos=0 if t.endswith("0") else 1)
            subscribed.get(timeout=10)

    def publish(self, topic, payload, qos=0, retain=False):
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(10)

    def expect(self, timeout=10):
        """The next message on a topic this client subscribed to (a broker
        may route others to a client id it has seen before)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if m[0] in self.topics:
                return m

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def start_device(tmp_path, umqtt_path, url, scenario, topic, *options):
    argv = [firmware(), str(DEVICE), url, scenario, topic, *options]
    return Process(argv, tmp_path / ("device-%s.log" % scenario), env=device_env(umqtt_path))


def finish(proc, timeout=20):
    try:
        proc.popen.wait(timeout)
    except Exception:
        out = proc.read_output()
        proc.stop()
        raise AssertionError("device timed out:\n" + out)
    out = proc.read_output()
    code = proc.stop()
    assert code == 0, out
    return out.splitlines()


# The stream, against a scripted CPython websockets server.

STREAM_SCRIPT = """
import uwebsocket, errno, time
ws = uwebsocket.connect(%r, subprotocols=["mqtt"])
print("subprotocol", ws.subprotocol)
%s
"""


def run_stream(server_handler, device_code, subprotocols=("mqtt",)):
    with WebsocketsServer(server_handler, subprotocols=list(subprotocols)) as srv:
        code, out = run_mp(STREAM_SCRIPT % (srv.url("/mqtt"), device_code), timeout=20)
        assert not srv.errors, srv.errors
    assert code == 0, out
    return out.splitlines()


def test_stream_read_spans_messages_and_splits_them():
    # One MQTT packet in three messages, then four one-byte packets in one.
    def handler(ws):
        for m in (b"\x30\x08\x00", b"\x01t", b"hello", b"\xd0\x00\xd0\x00"):
            ws.send(m)
        ws.recv()

    lines = run_stream(handler, """
print(ws.read(10))
print([ws.read(1) for _ in range(2)], ws.read(2))
ws.write(b"x")
""")
    assert lines == ["subprotocol mqtt", r"b'0\x08\x00\x01thello'", r"[b'\xd0', b'\x00'] b'\xd0\x00'"]


def test_stream_readinto_fills_across_messages():
    def handler(ws):
        ws.send(b"abc")
        ws.send(b"defgh")
        ws.recv()

    lines = run_stream(handler, """
buf = bytearray(6)
print(ws.readinto(buf), bytes(buf))
print(ws.read(2))
ws.write(b"x")
""")
    assert lines[1:] == ["6 b'abcdef'", "b'gh'"]


def test_stream_each_write_is_one_binary_message():
    seen = []

    def handler(ws):
        for _ in range(3):
            seen.append(ws.recv())

    run_stream(handler, """
ws.write(b"\\x10\\x0c")
ws.write(bytearray(b"\\x00\\x04MQTTxxxx"), 6)
ws.write(memoryview(b"abc")[1:])
ws.close()
""")
    assert seen == [b"\x10\x0c", b"\x00\x04MQTT", b"bc"]


def test_stream_socket_timeout_then_data_intact():
    def handler(ws):
        time.sleep(0.6)
        ws.send(b"late")
        ws.recv()

    lines = run_stream(handler, """
ws.stream.settimeout(0.2)
try:
    ws.read(4)
except OSError as e:
    print("timeout", e.errno == errno.ETIMEDOUT)
ws.stream.settimeout(5)
print(ws.read(4))
ws.write(b"x")
""")
    assert lines[1:] == ["timeout True", "b'late'"]


def test_stream_non_blocking_read_returns_none_until_data():
    def handler(ws):
        ws.recv()
        ws.send(b"\xd0\x00")
        ws.recv()

    lines = run_stream(handler, """
ws.setblocking(False)
print(ws.read(1))
ws.setblocking(True)
ws.write(b"\\xc0\\x00")
ws.setblocking(False)
for _ in range(500):
    b = ws.read(1)
    if b is not None:
        break
    time.sleep_ms(10)
ws.setblocking(True)
print(b, ws.read(1))
ws.write(b"x")
""")
    assert lines[1:] == ["None", r"b'\xd0' b'\x00'"]


def test_stream_empty_message_is_not_end_of_stream():
    # A peer may send an empty binary message (RFC 6455 §5.6 allows it): it
    # carries no stream bytes, and must neither end the stream nor cut a
    # read short.
    def handler(ws):
        for m in (b"a", b"", b"b", b"", b"c"):
            ws.send(m)
        ws.recv()

    lines = run_stream(handler, """
print(ws.read(2), ws.read(1))
ws.write(b"x")
""")
    assert lines[1:] == ["b'ab' b'c'"]


def test_stream_end_after_close_like_a_socket():
    # Bytes sent before the Close are read; then read() gives b"" (end of
    # stream, as a socket does at EOF: umqtt turns it into OSError(-1)),
    # every time, and write() raises OSError.
    def handler(ws):
        ws.send(b"xy")
        ws.close(1000, "bye")

    lines = run_stream(handler, """
print(ws.read(2))
for _ in range(2):
    try:
        print(ws.read(1))
    except Exception as e:
        print("raised", type(e).__name__)
try:
    ws.write(b"x")
except OSError:
    print("write OSError")
except Exception as e:
    print("write raised", type(e).__name__)
print(ws.close_code)
""")
    assert lines[1:] == ["b'xy'", "b''", "b''", "write OSError", "1000"]


# The broker.

def test_round_trips_qos0_and_qos1_with_paho(tmp_path, broker, umqtt_path):
    peer = Paho(broker.tcp, "rt/up", "rt/echo0", "rt/echo1", client_id="paho-rt")
    try:
        dev = start_device(tmp_path, umqtt_path, broker.url(), "roundtrip", "rt")
        assert peer.expect() == ("rt/up", "ready", 1, 0)
        peer.publish("rt/down0", "q0", qos=0)
        peer.publish("rt/down1", "q1", qos=1)
        echoed = {peer.expect()[:3] for _ in range(2)}
        assert echoed == {("rt/echo0", "q0", 0), ("rt/echo1", "q1", 1)}
        assert peer.expect()[:2] == ("rt/up", "d0")
        assert peer.expect()[:2] == ("rt/up", "d1")
        lines = finish(dev)
    finally:
        peer.close()
    assert lines == ["connected mqtt", "got rt/down0 q0 qos=0 retain=0",
                     "got rt/down1 q1 qos=1 retain=0", "done"]


def test_round_trip_over_tls_verified(tmp_path, broker, umqtt_path, certs):
    peer = Paho(broker.tcp, "tls/up", "tls/echo0", "tls/echo1", client_id="paho-tls")
    try:
        dev = start_device(tmp_path, umqtt_path, broker.url(tls=True), "roundtrip", "tls",
                           "ca=%s" % certs["ca"])
        assert peer.expect() == ("tls/up", "ready", 1, 0)
        peer.publish("tls/down0", "q0", qos=0)
        peer.publish("tls/down1", "q1", qos=1)
        assert {peer.expect()[:3] for _ in range(2)} == {("tls/echo0", "q0", 0), ("tls/echo1", "q1", 1)}
        lines = finish(dev)
    finally:
        peer.close()
    assert lines[0] == "connected mqtt" and lines[-1] == "done"


def test_tls_with_a_certificate_of_another_ca_is_refused(tmp_path, broker, umqtt_path, certs):
    dev = start_device(tmp_path, umqtt_path, broker.url(tls=True), "roundtrip", "bad",
                       "ca=%s" % certs["other_ca"])
    dev.popen.wait(20)
    out = dev.read_output()
    assert dev.stop() == 1 and "raised" in out, out


def test_tls_without_a_ca_is_refused_unless_insecure():
    # As uwebsocket.connect(): wss:// verifies the broker or says why not.
    code, out = run_mp("""
import uwebsocket
from uwebsocket_transport import WebSocketTransport
for url, kw in (("wss://h/mqtt", {}), ("/mqtt", {"tls": True}), ("wss://h/mqtt", {"insecure": True}),
                ("wss://h/mqtt", {"cadata": b"ca"}), ("wss://h/mqtt", {"context": object()}), ("ws://h/mqtt", {})):
    try:
        WebSocketTransport(url, **kw)
        print("made")
    except uwebsocket.HandshakeError as e:
        print("refused", e.status, e.args[1])
""", timeout=20)
    assert code == 0, out
    refused = "refused 0 cannot verify the server: give cadata= or context=, or insecure=True"
    assert out.splitlines() == [refused, refused, "made", "made", "made", "made"]


def test_retained_message_reaches_a_later_subscriber(tmp_path, broker, umqtt_path):
    peer = Paho(broker.tcp, client_id="paho-ret")
    try:
        peer.publish("ret/retained", "kept", qos=1, retain=True)
    finally:
        peer.close()
    try:
        lines = finish(start_device(tmp_path, umqtt_path, broker.url(), "retained", "ret"))
    finally:
        # An empty retained message clears it (MQTT 3.1.1 §3.3.1.3).
        peer = Paho(broker.tcp, client_id="paho-ret")
        peer.publish("ret/retained", "", qos=1, retain=True)
        peer.close()
    assert lines == ["connected mqtt", "got ret/retained kept qos=1 retain=1", "done"]


def test_keepalive_ping_over_the_stream(tmp_path, broker, umqtt_path):
    # keepalive 2 s, pinged for 4 s: past the broker's 1.5x allowance (MQTT
    # 3.1.1 §3.1.2.10) the connection is still up because PINGREQs came.
    peer = Paho(broker.tcp, "ka/up", client_id="paho-ka")
    try:
        lines = finish(start_device(tmp_path, umqtt_path, broker.url(), "keepalive", "ka"))
        assert peer.expect() == ("ka/up", "alive", 1, 0)
    finally:
        peer.close()
    assert lines == ["connected mqtt", "pingresp 4", "done"]


def test_non_blocking_poll_for_messages(tmp_path, broker, umqtt_path):
    peer = Paho(broker.tcp, "poll/up", client_id="paho-poll")
    try:
        dev = start_device(tmp_path, umqtt_path, broker.url(), "poll", "poll")
        assert peer.expect()[:2] == ("poll/up", "ready")
        time.sleep(0.3)
        peer.publish("poll/down", "hi", qos=0)
        lines = finish(dev)
    finally:
        peer.close()
    assert lines == ["connected mqtt", "first poll None", "empty polls some",
                     "got poll/down hi qos=0 retain=0", "done"]


def test_example_publishes_hears_commands_and_survives_a_broker_restart(tmp_path, umqtt_path):
    b = Broker(tmp_path).start()
    argv = [firmware(), str(EXAMPLES / "mqtt_ws.py"), b.url(), "--topic", "dev7"]
    ex = Process(argv, tmp_path / "example.log", env=device_env(umqtt_path))
    peer = None
    try:
        for run in ("before", "after"):
            peer = Paho(b.tcp, "dev7/readings", client_id="paho-" + run)
            topic, payload, qos, _ = peer.expect(timeout=20)
            assert topic == "dev7/readings" and qos == 1
            reading = json.loads(payload)
            assert set(reading) >= {"n", "temperature"}
            peer.publish("dev7/commands", "light " + run, qos=1)
            deadline = time.monotonic() + 10
            while "command dev7/commands light " + run not in ex.read_output():
                assert time.monotonic() < deadline, ex.read_output()
                assert ex.poll() is None, ex.read_output()
                time.sleep(0.05)
            peer.close()
            peer = None
            if run == "before":
                b.restart()
        out = ex.read_output()
        assert "reconnecting in" in out, out
    finally:
        if peer:
            peer.close()
        ex.stop()
        b.stop()
