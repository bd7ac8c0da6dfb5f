#!/usr/bin/env python3
"""What uwebsocket as a native .mpy (`make natmod`) costs, measured (the
last lines of `make size`): per architecture, the file's size and the heap
`import uwebsocket` takes, one line each:

    natmod <arch> mpy=<bytes> ram=<bytes>

The heap is gc.mem_alloc() after minus before the import (gc.collect()
before each reading), on firmware with nothing of uwebsocket built in:
armv6m and armv7m on MPS2_AN385, rv32imc on VIRT_RV32 (`make
qemu-natmod`, the .mpy loaded by tools/natmod_load.py), x64 on the unix
plain firmware (`make firmware-plain`, the .mpy found through
MICROPYPATH). armv7emsp has no emulated board here: ram=n/a.

On the boards a native module's machine code is loaded into the GC heap,
so ram counts code, constants, the module's static data and what its init
makes (types, dicts, interned names). The unix port loads machine code
into memory of its own outside the heap (MP_PLAT_ALLOC_EXEC), so on x64
ram counts all of that but the code. natmod_load.py's VFS holds the
file's bytes in RAM from before the first reading: they are not counted,
as on a board whose filesystem is in flash.

Usage: natmod_size.py   (settings as tools/qemu_run.py: UWS_BUILD_DIR,
UWS_MICROPY_DIR)."""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import natmod_load  # noqa: E402
import qemu_run  # noqa: E402

# Where each architecture's import is measured: a board, "unix" (the plain
# unix firmware), or None (nowhere here).
WHERE = (("x64", "unix"), ("armv6m", "MPS2_AN385"), ("armv7m", "MPS2_AN385"), ("armv7emsp", None),
         ("rv32imc", "VIRT_RV32"))

# Every name the script binds exists before the first reading, so that
# no dict of globals grows between the readings: what grows is the
# import's own.
HEAP_SCRIPT = """\
import gc
uwebsocket = None
before = after = 0
gc.collect()
gc.collect()
before = gc.mem_alloc()
import uwebsocket
gc.collect()
after = gc.mem_alloc()
print('natmod_ram=%d' % (after - before))
"""


def plain_firmware():
    return qemu_run.build_dir() / "unix-plain" / "micropython"


def import_heap(arch, where, script):
    """Heap bytes `import uwebsocket` takes with the arch's .mpy."""
    mpy = natmod_load.natmod_dir() / arch / "uwebsocket.mpy"
    if where == "unix":
        if not plain_firmware().is_file():
            raise SystemExit("%s is missing: build it with `make firmware-plain`" % plain_firmware())
        env = dict(os.environ, MICROPYPATH=str(mpy.parent))
        proc = subprocess.run([str(plain_firmware()), str(script)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60, env=env)
        code, out = proc.returncode, proc.stdout.decode(errors="replace")
    else:
        problem = natmod_load.missing(where, [mpy])
        if problem:
            raise SystemExit(problem)
        code, out = natmod_load.run(where, script, [mpy])
    m = re.search(r"^natmod_ram=(-?\d+)\s*$", out, re.M)
    if code != 0 or not m:
        raise SystemExit("measuring the %s import failed:\n%s" % (arch, out))
    return int(m.group(1))


def main():
    with tempfile.TemporaryDirectory(prefix="uws-natmod-size-") as tmp:
        script = Path(tmp) / "natmod_heap.py"
        script.write_text(HEAP_SCRIPT)
        lines = []
        for arch, where in WHERE:
            mpy = natmod_load.natmod_dir() / arch / "uwebsocket.mpy"
            if not mpy.is_file():
                raise SystemExit("%s is missing: build it with `make natmod`" % mpy)
            ram = "n/a" if where is None else import_heap(arch, where, script)
            lines.append("natmod %s mpy=%d ram=%s" % (arch, mpy.stat().st_size, ram))
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
