"""The boundary on real sockets: select.poll does not spin on a partial
header read ahead, and a WebSocket dropped without close() closes its
socket when collected. A CPython peer on loopback; the MicroPython side
runs on the unix firmware."""
import os
import random
import signal
import socket
import subprocess
import threading
import time

from conftest import firmware, mp_env, run_mp

TIMEOUT = 10


def peer(script_for_port, serve):
    """Listen on loopback, run the MicroPython script (given the port)
    against it, and let serve(conn) talk to it in a thread."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]
        result = {}

        def accept():
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with conn:
                result["peer"] = serve(conn)
        thread = threading.Thread(target=accept)
        thread.start()
        code, out = run_mp(script_for_port(port), timeout=30)
        thread.join(TIMEOUT)
        return code, out, result.get("peer")


def test_poll_waits_on_the_socket_while_a_header_is_partial():
    # The server sends one byte of a frame header, waits for the device to
    # report how often poll woke up, then the rest of the frame.
    def serve(conn):
        conn.sendall(b"\x81")
        assert conn.recv(64).startswith(b"polled")
        conn.sendall(b"\x05hello")
        return conn.recv(64)

    script = lambda port: (
        "import socket, select, uwebsocket\n"
        "s = socket.socket()\n"
        "s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
        "ws = uwebsocket.WebSocket(s, False)\n"
        "ws.setblocking(False)\n"
        "import time\n"
        "time.sleep_ms(200)\n"
        "assert ws.recv() is None\n"  # reads the one byte ahead
        "p = select.poll()\n"
        "p.register(ws, select.POLLIN)\n"
        "wakes = 0\n"
        "for i in range(10):\n"
        "    if p.poll(50):\n"
        "        wakes += 1\n"
        "s.send(b'polled %%d' %% wakes)\n"
        "assert p.poll(5000), 'no POLLIN once the frame came'\n"
        "msg = None\n"
        "for i in range(100):\n"
        "    msg = ws.recv()\n"
        "    if msg is not None: break\n"
        "    time.sleep_ms(10)\n"
        "s.send(b'got ' + msg.encode())\n"
        "print('wakes', wakes)\n" % port)
    code, out, got = peer(script, serve)
    assert code == 0, out
    assert out.split()[-2:] == ["wakes", "0"], out
    assert got == b"got hello"


def test_dropped_websocket_closes_its_socket_when_collected():
    # The device keeps running for 3 s after the collection: the end of
    # stream must come from the finaliser, not from the process exiting.
    def serve(conn):
        assert conn.recv(64) == b"ready"
        start = time.monotonic()
        data = conn.recv(64)  # b"" once the device's socket is closed
        return data, time.monotonic() - start

    script = lambda port: (
        "import gc, socket, uwebsocket\n"
        "def make():\n"
        "    s = socket.socket()\n"
        "    s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
        "    s.send(b'ready')\n"
        "    uwebsocket.WebSocket(s, False)\n"
        "make()\n"
        "for i in range(3):\n"
        "    bytearray(1000)\n"
        "    gc.collect()\n"
        "import time\n"
        "time.sleep_ms(3000)\n"
        "print('collected')\n" % port)
    code, out, (data, waited) = peer(script, serve)
    assert code == 0, out
    assert data == b"", data
    assert waited < 2.5, "the socket stayed open until the process ended (%.1f s)" % waited


def test_an_interrupt_inside_a_blocked_send_ends_the_connection():
    # Ctrl-C on the unix port raises KeyboardInterrupt from the signal
    # handler, inside the socket's write(), after the kernel took part of
    # the frame: the count is lost. Whatever went out, nothing may follow
    # it (the peer would read the next frame as the rest of the cut one).
    # The peer reads nothing until the device's send has blocked.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        script = (
            "import socket, uwebsocket\n"
            "s = socket.socket()\n"
            "s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
            "ws = uwebsocket.WebSocket(s, True)\n"
            "print('sending')\n"
            "try:\n"
            "    while True:\n"
            "        ws.send(b'x' * 4000)\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', ws.closed, ws.close_code)\n"
            "try:\n"
            "    ws.send(b'after')\n"
            "    print('sent after')\n"
            "except uwebsocket.ConnectionClosed as e:\n"
            "    print('closed', e.code)\n"
            "ws.close()\n" % listener.getsockname()[1])
        proc = subprocess.Popen([firmware(), "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, env=mp_env())
        try:
            conn, _ = listener.accept()
            with conn:
                assert proc.stdout.readline() == b"sending\n"
                time.sleep(1.0)  # the send has long filled the socket's buffers
                os.kill(proc.pid, signal.SIGINT)
                conn.settimeout(TIMEOUT)
                data = bytearray()
                while chunk := conn.recv(1 << 16):
                    data += chunk
            out, _ = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    assert out.decode().split("\n") == ["interrupted True 1006", "closed 1006", ""], out
    # Whole frames, then at most the start of one: the end of the stream.
    frame = b"\x82\x7e\x0f\xa0" + b"x" * 4000
    whole = len(data) // len(frame)
    assert whole > 0
    assert data[:whole * len(frame)] == frame * whole
    assert frame.startswith(data[whole * len(frame):]), bytes(data[whole * len(frame):][-40:])


def test_interrupts_at_random_moments_never_leave_part_of_a_frame_open():
    # A client's large frame goes out in pieces (masked through the stack
    # buffer): Ctrl-C between two writes, not only inside one, must end the
    # connection once part of the frame is out. Into memory, so that the
    # device counts what each interrupt left.
    script = (
        "import io, uwebsocket\n"
        "def main():\n"
        "    data = bytes(65536)\n"
        "    full = 14 + len(data)\n"
        "    b = io.BytesIO()\n"
        "    ws = uwebsocket.WebSocket(b, False)\n"
        "    seen = {}\n"
        "    print('ready')\n"
        "    hits = 0\n"
        "    while hits < 60:\n"
        "        try:\n"
        "            try:\n"
        "                while True:\n"
        "                    b.seek(0)\n"
        "                    ws.send(data)\n"
        "            except KeyboardInterrupt:\n"
        "                hits += 1\n"
        "            n = b.tell()\n"
        "            what = 'closed' if ws.closed else 'whole' if n in (0, full) else 'partial'\n"
        "            seen[what] = seen.get(what, 0) + 1\n"
        "            if ws.closed or what == 'partial':\n"
        "                b = io.BytesIO()\n"
        "                ws = uwebsocket.WebSocket(b, False)\n"
        "        except KeyboardInterrupt:\n"
        "            hits += 1\n"
        "    print(sorted(seen.items()))\n"
        "main()\n")
    proc = subprocess.Popen([firmware(), "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True, env=mp_env())
    try:
        assert proc.stdout.readline() == b"ready\n"
        rng = random.Random(6455)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(rng.uniform(0.002, 0.03))
            os.kill(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seen = dict(eval(out.decode().strip().splitlines()[-1]))
    assert "partial" not in seen, seen
    assert seen.get("closed", 0) > 0, seen


def test_a_thread_reading_attributes_does_not_end_a_blocked_send():
    # The peer reads nothing for a while: the sending thread blocks in a
    # socket write. Reading ws.closed from another thread meanwhile leaves
    # the connection alone; once the peer reads, every message arrives.
    def serve(conn):
        assert conn.recv(5) == b"ready"
        time.sleep(1.5)
        data = bytearray()
        while chunk := conn.recv(1 << 16):
            data += chunk
        return bytes(data)

    script = lambda port: (
        "import socket, uwebsocket, _thread, time\n"
        "s = socket.socket()\n"
        "s.connect(socket.getaddrinfo('127.0.0.1', %d)[0][-1])\n"
        "s.send(b'ready')\n"
        "ws = uwebsocket.WebSocket(s, True)\n"
        "done = []\n"
        "def sender():\n"
        "    try:\n"
        "        for i in range(5000):\n"
        "            ws.send(b'x' * 4000)\n"
        "        done.append('sent')\n"
        "    except BaseException as e:\n"
        "        done.append(repr(e))\n"
        "_thread.start_new_thread(sender, ())\n"
        "time.sleep(0.5)\n"
        "print('closed while sending', ws.closed)\n"
        "for i in range(200):\n"
        "    if done: break\n"
        "    time.sleep(0.05)\n"
        "print(done)\n"
        "s.close()\n" % port)
    code, out, data = peer(script, serve)
    assert code == 0, out
    assert "closed while sending False" in out, out
    assert "['sent']" in out, out
    frame = b"\x82\x7e\x0f\xa0" + b"x" * 4000
    assert data == frame * 5000


def test_threads_sending_at_once_get_keys_of_their_own():
    # The unix port runs threads without a GIL: two threads sending
    # client-role frames at the same moment must not be handed the same
    # masking key (RFC 6455 §5.3). Among 20,000 random 32-bit keys a repeat
    # is rare (a 5% chance of one); a shared pool gave dozens.
    code, out = run_mp(
        "import uwebsocket, io, _thread, time\n"
        "N = 10000\n"
        "keys = {}\n"
        "def worker(t):\n"
        "    b = io.BytesIO()\n"
        "    ws = uwebsocket.WebSocket(b, server_side=False)\n"
        "    for i in range(N):\n"
        "        ws.send(b'x')\n"
        "    raw = b.getvalue()\n"
        "    keys[t] = [int.from_bytes(raw[i + 2:i + 6], 'little') for i in range(0, len(raw), 7)]\n"
        "for t in range(2):\n"
        "    _thread.start_new_thread(worker, (t,))\n"
        "for _ in range(600):\n"
        "    if len(keys) == 2: break\n"
        "    time.sleep(0.05)\n"
        "a, b = keys[0], keys[1]\n"
        "print('KEYS', len(a), len(b), len(a) - len(set(a)), len(b) - len(set(b)), len(set(a) & set(b)))\n")
    assert code == 0, out
    counts = [int(x) for x in out.split("KEYS ")[1].split()]
    assert counts[:2] == [10000, 10000], out
    assert sum(counts[2:]) <= 2, out
