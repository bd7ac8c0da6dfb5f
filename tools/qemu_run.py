#!/usr/bin/env python3
"""Run a MicroPython script on uwebsocket's emulated boards (MicroPython's
qemu port, built by `make qemu-firmware` into <build>/qemu-<board>).

    qemu_run.py BOARD SCRIPT     prints the script's output; exit code 1
                                 when it raised

MicroPython's tools/pyboard.py drives the firmware's REPL over the pty
QEMU opens (it needs pyserial: Debian's python3-serial, so it runs under
/usr/bin/python3 whatever Python imports this). Settings come from the
environment: UWS_BUILD_DIR (default <repo>/build; `make test` sets it),
UWS_MICROPY_DIR (default <build>/micropython)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each board: the QEMU machine, and the Rust target its firmware's core is
# built for (cmodule.mk picks the same from BOARD).
BOARDS = {
    "MPS2_AN385": {
        "qemu": ["qemu-system-arm", "-machine", "mps2-an385"],
        "rust_target": "thumbv7m-none-eabi",
    },
    "VIRT_RV32": {
        "qemu": ["qemu-system-riscv32", "-machine", "virt", "-bios", "none"],
        "rust_target": "riscv32imac-unknown-none-elf",
    },
}
QEMU_COMMON = ["-nographic", "-monitor", "null", "-semihosting", "-serial", "pty"]
# pyboard.py imports pyserial, which Debian installs for its own Python.
SYSTEM_PYTHON = "/usr/bin/python3"


def build_dir():
    return Path(os.environ.get("UWS_BUILD_DIR") or ROOT / "build")


def micropython_dir():
    return Path(os.environ.get("UWS_MICROPY_DIR") or build_dir() / "micropython")


def firmware(board, plain=False, profile="full"):
    """The board's firmware.elf: with the module (built with UWS_PROFILE
    `profile`), or without (plain; "natmod": without, and with the larger
    heap a native module's code needs)."""
    suffix = ("-natmod" if plain == "natmod" else "-plain") if plain else "" if profile == "full" else "-" + profile
    return build_dir() / ("qemu-%s%s" % (board, suffix)) / "firmware.elf"


def missing_firmware(board):
    """Why the board's firmware cannot run, or None."""
    elf = firmware(board)
    if not elf.is_file():
        return "%s is missing: build it with `make qemu-firmware`" % elf
    return None


def _descendants(pid):
    """Child process ids of pid (QEMU runs in a session of its own)."""
    children = []
    for task in Path("/proc/%d/task" % pid).glob("*/children"):
        try:
            children += [int(c) for c in task.read_text().split()]
        except OSError:
            pass
    return children


def qemu_command(board, elf):
    """The command line that runs firmware elf on the board, with its
    serial port on a pty (pyboard.py's execpty: device)."""
    return " ".join(BOARDS[board]["qemu"] + QEMU_COMMON + ["-kernel", str(elf)])


def run(board, script, timeout=300, profile="full"):
    """Run script on the board: (exit code, output). The script's own exit
    code is pyboard's: 0, or 1 when it raised."""
    qemu = qemu_command(board, firmware(board, profile=profile))
    argv = [SYSTEM_PYTHON, str(micropython_dir() / "tools" / "pyboard.py"), "-d", "execpty:" + qemu, str(script)]
    return run_bounded(argv, timeout)


def run_bounded(argv, timeout):
    """Run a pyboard-driving command for at most timeout seconds:
    (exit code, output), -1 when it was stopped."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        # pyboard stops QEMU only when it exits by itself: stop both, each
        # by its own process group.
        for child in _descendants(proc.pid):
            try:
                os.killpg(child, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -1, out.decode(errors="replace") + "\n[timed out after %d s]" % timeout
    return proc.returncode, out.decode(errors="replace")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in BOARDS:
        sys.exit("usage: qemu_run.py {%s} SCRIPT" % ",".join(BOARDS))
    problem = missing_firmware(sys.argv[1])
    if problem:
        sys.exit(problem)
    code, out = run(sys.argv[1], sys.argv[2])
    sys.stdout.write(out)
    sys.exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
