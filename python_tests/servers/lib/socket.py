# The tests' port announcer: every MicroPython server a test starts binds
# port 0 (the kernel picks a free one, so no two tests can race for a
# number) and this module, found before the built-in `socket` on the
# server's path (MICROPYPATH), prints `listening HOST PORT` once the first
# socket the script made is listening. The test reads the port from that
# line. Scripts run unchanged, examples included: `socket.socket` is the
# built-in type's instance, only created through this function.
import _thread
import struct
import sys
import time

import ffi
from usocket import *  # noqa: F401,F403  the built-in module's names
import usocket

_libc = ffi.open("libc.so.6")
_getsockname = _libc.func("i", "getsockname", "ipp")
_getsockopt = _libc.func("i", "getsockopt", "iiipp")
_SO_ACCEPTCONN = 30  # Linux
_watched = []


def _port(sock):
    """(listening?, port) of a socket, from the kernel."""
    addr = bytearray(28)
    flag = bytearray(4)
    if _getsockname(sock.fileno(), addr, bytearray(struct.pack("I", 28))) != 0:
        return False, 0
    if _getsockopt(sock.fileno(), usocket.SOL_SOCKET, _SO_ACCEPTCONN, flag, bytearray(struct.pack("I", 4))) != 0:
        return False, 0
    family = struct.unpack("H", addr[:2])[0]
    host = usocket.inet_ntop(family, addr[4:8] if family == usocket.AF_INET else addr[8:24])
    return struct.unpack("I", flag)[0] != 0, (addr[2] << 8 | addr[3], host)


def _watch():
    deadline = time.ticks_add(time.ticks_ms(), 30000)
    while time.ticks_diff(deadline, time.ticks_ms()) > 0:
        for sock in _watched:
            try:
                listening, where = _port(sock)
            except OSError:
                continue
            if listening:
                # One write, on a line of its own, whatever the script
                # is printing at the same time.
                sys.stdout.write("\nlistening %s %d\n" % (where[1], where[0]))
                return
        time.sleep_ms(5)


def socket(*args):
    sock = usocket.socket(*args)
    if not _watched:
        _thread.start_new_thread(_watch, ())
    _watched.append(sock)
    return sock
