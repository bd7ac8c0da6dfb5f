"""MQTT publish round trip through one broker, over WebSocket and over
plain TCP: the device (unix port, umqtt.simple's interface) publishes a
16-byte message at QoS 0 to a topic it subscribed to and waits for it to
come back, one in flight at a time; over WebSocket, over TCP with
TCP_NODELAY (the fair comparison: uwebsocket_transport sets it), and over
TCP as umqtt.simple leaves the socket. The broker is amqtt on loopback with
both listeners (python_tests/servers/mqtt_broker.py, from the brokers'
virtualenv), so the two differ only in the transport.

    build/venv/bin/python benches/mqtt_rtt.py FIRMWARE
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from procs import ROOT  # noqa: F401  (puts python_tests on sys.path)
from test_mqtt import TEST_UMQTT, Broker

MESSAGES = 500
SCRIPT = Path(__file__).resolve().parent / "mqtt_rtt_client.py"


def run(firmware, count=MESSAGES):
    results = []
    with tempfile.TemporaryDirectory(prefix="uws-mqtt-") as folder:
        folder = Path(folder)
        (folder / "umqtt").mkdir()
        (folder / "umqtt" / "__init__.py").write_text("")
        shutil.copy(TEST_UMQTT, folder / "umqtt" / "simple.py")
        env = dict(os.environ, MICROPYPATH=".frozen:" + str(folder))
        broker = Broker(folder).start()
        try:
            for transport, port in (("ws", broker.ws), ("tcp-nodelay", broker.tcp), ("tcp", broker.tcp)):
                argv = [firmware, str(SCRIPT), transport, "127.0.0.1", str(port), str(count)]
                out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     timeout=300, env=env)
                if out.returncode:
                    raise RuntimeError("%s failed:\n%s" % (" ".join(argv), out.stdout.decode(errors="replace")))
                rtt = json.loads(out.stdout.decode().strip().splitlines()[-1])
                results.append(dict(case="mqtt_rtt", impl="uwebsocket", size=16, transport=transport, **rtt))
        finally:
            broker.stop()
    return results


if __name__ == "__main__":
    for result in run(sys.argv[1]):
        print(json.dumps(result))
