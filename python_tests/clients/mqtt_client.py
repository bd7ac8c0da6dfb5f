# A small MQTT 3.1.1 client for the tests (MicroPython). It stands in for
# micropython-lib's umqtt.simple, which cannot be installed here: the tests
# copy it to a temporary folder as umqtt/simple.py and put that folder on
# MICROPYPATH, so scripts written for umqtt.simple run unchanged.
#
# It has umqtt.simple's interface (MQTTClient(client_id, server, port=0,
# user=None, password=None, keepalive=0, ssl=None), connect, disconnect,
# ping, publish, subscribe, set_callback, wait_msg, check_msg) and uses its
# socket the way umqtt.simple 1.8 does, so the transport is exercised as
# umqtt exercises it: only write(buf), write(buf, n), read(n),
# setblocking(flag) and close(), each packet sent in several writes, and
# check_msg() reading one byte without blocking and expecting None when
# nothing is there. Packet layouts: MQTT 3.1.1 §3.
import socket
import struct


class MQTTException(Exception):
    pass


class MQTTClient:
    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None):
        self.client_id = client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.sock = None
        self.cb = None
        self.pid = 0

    def set_callback(self, f):
        self.cb = f

    def _write_len(self, first, n):
        # Fixed header: type and flags, then the remaining length (§2.2.3),
        # written with write(buf, n) as umqtt.simple does.
        head = bytearray(5)
        head[0] = first
        i = 1
        while True:
            b = n & 0x7F
            n >>= 7
            head[i] = b | (0x80 if n else 0)
            i += 1
            if not n:
                break
        self.sock.write(head, i)

    def _write_str(self, s):
        if isinstance(s, str):
            s = s.encode()
        self.sock.write(struct.pack("!H", len(s)))
        self.sock.write(s)

    def _read_len(self):
        n = 0
        shift = 0
        while True:
            b = self.sock.read(1)[0]
            n |= (b & 0x7F) << shift
            if not b & 0x80:
                return n
            shift += 7

    def connect(self, clean_session=True):
        sock = socket.socket()
        sock.connect(socket.getaddrinfo(self.server, self.port)[0][-1])
        self.sock = sock
        if self.ssl:
            self.sock = self.ssl.wrap_socket(sock, server_hostname=self.server)
        flags = clean_session << 1
        size = 10 + 2 + len(self.client_id)
        if self.user:
            flags |= 0xC0
            size += 2 + len(self.user) + 2 + len(self.password)
        self._write_len(0x10, size)
        # Variable header (§3.1.2): protocol name, level 4, flags, keepalive.
        self.sock.write(b"\x00\x04MQTT\x04" + bytes((flags, self.keepalive >> 8, self.keepalive & 0xFF)))
        self._write_str(self.client_id)
        if self.user:
            self._write_str(self.user)
            self._write_str(self.password)
        resp = self.sock.read(4)
        if resp[0] != 0x20 or resp[1] != 0x02:
            raise MQTTException("not a CONNACK: %r" % resp)
        if resp[3]:
            raise MQTTException(resp[3])
        return resp[2] & 1

    def disconnect(self):
        self.sock.write(b"\xe0\x00")
        self.sock.close()

    def ping(self):
        self.sock.write(b"\xc0\x00")

    def publish(self, topic, msg, retain=False, qos=0):
        if isinstance(topic, str):
            topic = topic.encode()
        if isinstance(msg, str):
            msg = msg.encode()
        size = 2 + len(topic) + len(msg) + (2 if qos else 0)
        self._write_len(0x30 | qos << 1 | retain, size)
        self._write_str(topic)
        if qos:
            self.pid += 1
            pid = self.pid
            self.sock.write(struct.pack("!H", pid), 2)
        self.sock.write(msg)
        if qos == 1:
            # Wait for the PUBACK (§3.4) of this packet id, handing any
            # PUBLISH that comes first to the callback.
            while True:
                op = self.wait_msg()
                if op == 0x40:
                    if self.sock.read(1) != b"\x02":
                        raise MQTTException("bad PUBACK")
                    got = self.sock.read(2)
                    if (got[0] << 8 | got[1]) == pid:
                        return
        elif qos:
            raise MQTTException("QoS 2 is not supported")

    def subscribe(self, topic, qos=0):
        if self.cb is None:
            raise MQTTException("set_callback() first")
        if isinstance(topic, str):
            topic = topic.encode()
        self.pid += 1
        self.sock.write(struct.pack("!BBH", 0x82, 2 + 2 + len(topic) + 1, self.pid))
        self._write_str(topic)
        self.sock.write(bytes((qos,)))
        while True:
            op = self.wait_msg()
            if op == 0x90:
                resp = self.sock.read(4)
                if (resp[1] << 8 | resp[2]) != self.pid:
                    raise MQTTException("SUBACK for another packet id")
                if resp[3] == 0x80:
                    raise MQTTException(resp[3])
                return

    def wait_msg(self):
        # One packet: PUBLISH goes to the callback; PINGRESP is absorbed;
        # for anything else the first byte is returned, its body unread.
        res = self.sock.read(1)
        self.sock.setblocking(True)
        if res is None:
            return None
        if res == b"":
            raise OSError(-1)
        if res == b"\xd0":
            if self.sock.read(1) != b"\x00":
                raise MQTTException("bad PINGRESP")
            return None
        op = res[0]
        if op & 0xF0 != 0x30:
            return op
        size = self._read_len()
        n = self.sock.read(2)
        n = n[0] << 8 | n[1]
        topic = self.sock.read(n)
        size -= n + 2
        pid = None
        if op & 6:
            pid = self.sock.read(2)
            size -= 2
        msg = self.sock.read(size)
        self.cb(topic, msg)
        if op & 6 == 2:
            self.sock.write(b"\x40\x02" + pid)
        elif op & 6:
            raise MQTTException("QoS 2 is not supported")
        return op

    def check_msg(self):
        self.sock.setblocking(False)
        return self.wait_msg()
