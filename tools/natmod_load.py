#!/usr/bin/env python3
"""Run a MicroPython script on an emulated board whose firmware has nothing
of uwebsocket built in (`make qemu-natmod`: the plain firmware with a
larger heap), with the natmod (`make natmod`)
importable: `import uwebsocket`, `import uwebsocket_asyncio` and
`import uwebsocket_transport` load the board's .mpy files.

    natmod_load.py BOARD SCRIPT [MPY...]   prints the script's output; exit
                                           code 1 when it raised

The boards have no filesystem, so the files go into RAM the way
MicroPython's own natmod tests put them there (tests/run-natmodtests.py):
a read-only VFS mounted at the front of sys.path serves their bytes. They
are sent in pieces through the raw REPL (a whole .mpy as one bytes literal
would take several times its size of heap while it is compiled).
MPY files given on the command line replace the defaults (build/natmod:
uwebsocket.mpy of the board's architecture and the Python helpers); each
is importable under its file name.

Settings come from the environment, as for tools/qemu_run.py
(UWS_BUILD_DIR, UWS_MICROPY_DIR)."""
import base64
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_run  # noqa: E402

# The natmod architecture each board's firmware loads: the Cortex-M3's
# accepts armv6m and armv7m; the RV32 firmware (rv32imac) accepts exactly
# rv32imc, the one RISC-V architecture .mpy files have.
ARCHS = {"MPS2_AN385": "armv7m", "VIRT_RV32": "rv32imc"}
PY_HELPERS = ["uwebsocket_asyncio", "uwebsocket_transport"]
# Raw bytes per piece sent (each piece is one raw-REPL command).
CHUNK = 6144

# A VFS holding files in RAM (bytearrays, by name), mounted first on sys.path.
VFS_CODE = """\
import sys, io, vfs
class _NatmodFile(io.IOBase):
    def __init__(self, data):
        self.data = data
        self.off = 0
    def ioctl(self, request, arg):
        return 0 if request == 4 else -1  # MP_STREAM_CLOSE
    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.off)
        buf[:n] = memoryview(self.data)[self.off:self.off + n]
        self.off += n
        return n
class _NatmodFS:
    def __init__(self):
        self.files = {}
    def mount(self, readonly, mkfs):
        pass
    def umount(self):
        pass
    def chdir(self, path):
        pass
    def stat(self, path):
        if path.lstrip('/') in self.files:
            return (0x8000, 0, 0, 0, 0, 0, len(self.files[path.lstrip('/')]), 0, 0, 0)
        raise OSError(2)  # ENOENT
    def open(self, path, mode):
        if path.lstrip('/') not in self.files:
            raise OSError(2)
        return _NatmodFile(self.files[path.lstrip('/')])
_natmod_fs = _NatmodFS()
vfs.mount(_natmod_fs, '/natmod')
sys.path.insert(0, '/natmod')
"""


def natmod_dir():
    return qemu_run.build_dir() / "natmod"


def default_files(board):
    """The .mpy files a board gets: uwebsocket.mpy of its architecture and
    the Python helpers."""
    files = [natmod_dir() / ARCHS[board] / "uwebsocket.mpy"]
    files += [natmod_dir() / "py" / (name + ".mpy") for name in PY_HELPERS]
    return files


def missing(board, files=None):
    """Why the script cannot run on the board, or None."""
    elf = qemu_run.firmware(board, plain="natmod")
    if not elf.is_file():
        return "%s is missing: build it with `make qemu-natmod`" % elf
    for f in files or default_files(board):
        if not Path(f).is_file():
            return "%s is missing: build it with `make natmod`" % f
    return None


def run(board, script, files=None, timeout=300):
    """Run script on the board's plain firmware with the .mpy files
    importable: (exit code, output), as qemu_run.run."""
    files = [str(f) for f in (files or default_files(board))]
    # pyboard.py imports pyserial, which Debian installs for its own Python.
    argv = [qemu_run.SYSTEM_PYTHON, str(Path(__file__).resolve()), "--drive", board, str(script)] + files
    return qemu_run.run_bounded(argv, timeout)


def run_scripts(board, scripts, files=None, timeout=600):
    """Run several scripts in one QEMU (the files are sent once), each in a
    namespace of its own: {script: output}; a script's output stops at its
    end or at the first that did not end (a crash, or the timeout)."""
    files = [str(f) for f in (files or default_files(board))]
    argv = [qemu_run.SYSTEM_PYTHON, str(Path(__file__).resolve()), "--drive-many", board,
            str(len(scripts))] + [str(s) for s in scripts] + files
    code, out = qemu_run.run_bounded(argv, timeout)
    outputs = {}
    for script in scripts:
        begin, end = "=== BEGIN %s" % script, "=== END %s" % script
        if begin not in out:
            outputs[script] = "(did not start)\n" + out[-2000:]
            continue
        part = out.split(begin, 1)[1]
        outputs[script] = part.split(end, 1)[0] if end in part else part + "\n(did not end)"
    return outputs


# Each script of run_scripts, exec'd in a fresh namespace; SystemExit (a
# failed test) and any other exception end the script, not the session.
EXEC_CODE = """\
print('=== BEGIN %s')
try:
    exec(%r, {'__name__': '__main__'})
except SystemExit:
    pass
except Exception as e:
    import sys
    sys.print_exception(e)
print('=== END %s')
import gc
gc.collect()
"""


def _load(pyb, files):
    """Put the files into the board's RAM VFS."""
    import pyboard

    pyb.exec_(VFS_CODE)
    # base64 when the firmware has binascii: a third of repr's length
    # (the serial link is the bottleneck).
    try:
        pyb.exec_("from binascii import a2b_base64 as _d")
        encode = lambda piece: "_d(%r)" % base64.b64encode(piece).decode()  # noqa: E731
    except pyboard.PyboardError:
        encode = repr
    for f in files:
        data = Path(f).read_bytes()
        name = os.path.basename(f)
        pyb.exec_("_natmod_fs.files[%r] = _b = bytearray(%d)" % (name, len(data)))
        for off in range(0, len(data), CHUNK):
            piece = data[off:off + CHUNK]
            pyb.exec_("_b[%d:%d] = %s" % (off, off + len(piece), encode(piece)))
    pyb.exec_("_b = _d = None\nimport gc\ngc.collect()")


def _session(board, codes, files):
    """Under the system Python: start QEMU, load the files, run each piece
    of code in turn; 1 as soon as one raised."""
    sys.path.insert(0, str(qemu_run.micropython_dir() / "tools"))
    import pyboard

    pyb = pyboard.Pyboard("execpty:" + qemu_run.qemu_command(board, qemu_run.firmware(board, plain="natmod")))
    try:
        pyb.enter_raw_repl()
        _load(pyb, files)
        for code in codes:
            ret, ret_err = pyb.exec_raw(code, timeout=None, data_consumer=pyboard.stdout_write_bytes)
            if ret_err:
                pyboard.stdout_write_bytes(ret_err)
                return 1
        return 0
    finally:
        pyb.close()


def main():
    args = sys.argv[1:]
    if args[:1] == ["--drive"]:
        sys.exit(_session(args[1], [Path(args[2]).read_bytes()], args[3:]))
    if args[:1] == ["--drive-many"]:
        count = int(args[2])
        scripts = args[3:3 + count]
        codes = [EXEC_CODE % (script, Path(script).read_text(), script) for script in scripts]
        sys.exit(_session(args[1], codes, args[3 + count:]))
    if len(args) < 2 or args[0] not in ARCHS:
        sys.exit("usage: natmod_load.py {%s} SCRIPT [MPY...]" % ",".join(ARCHS))
    problem = missing(args[0], args[2:])
    if problem:
        sys.exit(problem)
    code, out = run(args[0], args[1], args[2:])
    sys.stdout.write(out)
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
