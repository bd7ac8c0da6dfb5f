#!/usr/bin/env python3
"""uwebsocket's footprint on microcontrollers, measured (`make size`).

For each emulated board (MicroPython's qemu port, built by `make
qemu-firmware` with the module and by `make qemu-plain` without):

- flash and RAM the module adds: firmware with minus firmware without
  (the cross toolchain's `size`), and inside it the module's own input
  sections, from the linker map: the Rust core (libuwebsocket.a, with what
  it pulls from compiler_builtins) and the C shim (moduwebsocket.o), each
  split into .text, .rodata, .data and .bss;
- heap, measured on the device itself (tools/footprint_heap.py under QEMU):
  one idle connection, and what echoing a 1 KiB message costs with recv()
  and with recv_into().

The same for each build profile named in UWS_SIZE_PROFILES (`make size`
builds them: qemu-<board>-<profile>, UWS_PROFILE in cmodule.mk).

Prints a table for people, then lines for scripts: one per board for the
full module, and one per profile and board (`full` included):

    size <rust-target> flash=<bytes> conn_heap=<bytes>
    size <profile> <rust-target> flash=<bytes> conn_heap=<bytes>

and, when the profile `nodeflate` is among them, what compression costs:
flash the full module minus nodeflate, heap one compressed connection
(default windows, after a message each way) minus an idle plain one:

    size deflate <rust-target> flash=<bytes> conn_heap=<bytes>

Usage: size_report.py BOARD...   (settings as tools/qemu_run.py)."""
import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qemu_run  # noqa: E402

SIZE_TOOL = {
    "MPS2_AN385": "arm-none-eabi-size",
    "VIRT_RV32": "riscv64-unknown-elf-size",
}
KINDS = ("text", "rodata", "data", "bss")
HEAP_SCRIPT = Path(__file__).resolve().parent / "footprint_heap.py"


def kind_of(section):
    """Which of KINDS an input section is, or None (debug info, ...)."""
    for prefix, kind in ((".text", "text"), (".rodata", "rodata"), (".srodata", "rodata"),
                         (".data", "data"), (".sdata", "data"), (".bss", "bss"),
                         (".sbss", "bss"), ("COMMON", "bss")):
        if section == prefix or section.startswith(prefix + "."):
            return kind
    return None


def owner_of(path):
    if "libuwebsocket.a(" in path:
        return "core"
    if path.endswith("/moduwebsocket.o"):
        return "shim"
    return None


def crate_of(section):
    """The crate a core input section belongs to, from the mangled symbol in
    its name (v0 `_R...` or legacy `_ZN...`); the C ABI's unmangled `uws_*`
    functions are the core's own, anonymous constants (strings, tables) are
    counted apart. Code inlined into another function counts where it
    landed."""
    symbol = section.split(".", 2)[-1]
    # A legacy-mangled trait impl, `<crate::Type as Trait>::f`, belongs to
    # the type's crate.
    m = re.search(r"_ZN\d+_\$LT\$([A-Za-z_]\w*?)\.\.", symbol)
    if m:
        return m.group(1)
    m = re.search(r"_R\w*?C[s0-9A-Za-z]*?_(\d+)([A-Za-z_]\w*)", symbol) or re.search(r"_ZN(\d+)(\w+)", symbol)
    if m:
        return m.group(2)[:int(m.group(1))]
    if symbol.startswith("uws_"):
        return "uwebsocket"
    if symbol.startswith("__aeabi_") or symbol in ("memcpy", "memset", "memmove", "memcmp", "bcmp"):
        return "compiler_builtins"
    return "constants"


def module_sections(map_path):
    """Bytes the module's own objects occupy in the linked firmware:
    {"core": {kind: bytes}, "shim": {...}}, from the GNU ld map (only the
    sections kept after --gc-sections are in its memory map)."""
    sizes = {owner: dict.fromkeys(KINDS, 0) for owner in ("core", "shim")}
    sizes["crates"] = {}
    lines = Path(map_path).read_text(errors="replace").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("Linker script and memory map"))
    except StopIteration:
        raise SystemExit("%s: not a GNU ld map" % map_path)
    entry = re.compile(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
    pending = None
    for line in lines[start:]:
        name_only = re.match(r"^ (\.\S+|COMMON)$", line)
        if name_only:
            pending = name_only.group(1)
            continue
        m = entry.match(line)
        if m:
            section = m.group(1) or pending
            pending = None
            if section is None:
                continue
            kind, owner = kind_of(section), owner_of(m.group(4).strip())
            if kind and owner:
                sizes[owner][kind] += int(m.group(3), 16)
                if owner == "core" and kind in ("text", "rodata"):
                    crate = crate_of(section)
                    sizes["crates"][crate] = sizes["crates"].get(crate, 0) + int(m.group(3), 16)
        else:
            pending = None
    return sizes


def berkeley_size(board, elf):
    """(text, data, bss) of a firmware, as the toolchain's `size` says."""
    out = subprocess.run([SIZE_TOOL[board], str(elf)], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout.splitlines()
    text, data, bss = (int(x) for x in out[1].split()[:3])
    return text, data, bss


def heap_figures(board, profile="full"):
    """key=value figures that tools/footprint_heap.py prints on the board.
    The boards have wsframe.py frozen in."""
    code, out = qemu_run.run(board, HEAP_SCRIPT, timeout=300, profile=profile)
    figures = dict(re.findall(r"^(\w+)=(-?\d+)\s*$", out, re.M))
    if code != 0 or "conn_heap" not in figures:
        raise SystemExit("footprint_heap.py failed on %s:\n%s" % (board, out))
    return {key: int(value) for key, value in figures.items()}


def measure(board, profile="full"):
    with_module, plain = qemu_run.firmware(board, profile=profile), qemu_run.firmware(board, plain=True)
    for elf, how in ((with_module, "make qemu-firmware" if profile == "full" else "make qemu-profiles"),
                     (plain, "make qemu-plain")):
        if not elf.is_file():
            raise SystemExit("%s is missing: build it with `%s`" % (elf, how))
    text1, data1, bss1 = berkeley_size(board, with_module)
    text0, data0, bss0 = berkeley_size(board, plain)
    return {
        "board": board,
        "target": qemu_run.BOARDS[board]["rust_target"],
        "sections": module_sections(with_module.with_suffix(".map")),
        "flash": (text1 + data1) - (text0 + data0),
        "ram": (data1 + bss1) - (data0 + bss0),
        "firmware_flash": text1 + data1,
        "heap": heap_figures(board, profile),
    }


def table(results):
    rows = []
    head = ["", *["%s (%s)" % (r["board"], r["target"]) for r in results]]
    for owner, label in (("core", "Rust core"), ("shim", "C shim")):
        for kind in KINDS:
            rows.append(["%s .%s" % (label, kind), *[r["sections"][owner][kind] for r in results]])
        rows.append(["%s, flash" % label,
                     *[sum(r["sections"][owner][k] for k in ("text", "rodata", "data")) for r in results]])
    rows.append(["firmware with - without: flash", *[r["flash"] for r in results]])
    rows.append(["firmware with - without: static RAM", *[r["ram"] for r in results]])
    rows.append(["  of which outside core and shim (flash)",
                 *[r["flash"] - sum(r["sections"][o][k] for o in ("core", "shim") for k in ("text", "rodata", "data"))
                   for r in results]])
    rows.append(["heap: one idle connection", *[r["heap"]["conn_heap"] for r in results]])
    rows.append(["heap per 1 KiB echo, recv() + send()", *[r["heap"]["echo_recv_heap"] for r in results]])
    rows.append(["heap per 1 KiB echo, recv_into() + send()", *[r["heap"]["echo_recv_into_heap"] for r in results]])
    if all("deflate_conn_heap" in r["heap"] for r in results):
        rows.append(["heap: one compressed connection (2^11 windows)",
                     *[r["heap"]["deflate_conn_heap"] for r in results]])
    widths = [max(len(str(row[i])) for row in [head] + rows) for i in range(len(head))]
    lines = ["uwebsocket footprint (bytes; MicroPython qemu port firmware, measured)",
             "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(head, widths)))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths))))
    return "\n".join(lines)


def main():
    boards = sys.argv[1:] or sorted(qemu_run.BOARDS)
    for board in boards:
        if board not in qemu_run.BOARDS:
            raise SystemExit("unknown board %s (known: %s)" % (board, ", ".join(qemu_run.BOARDS)))
    results = [measure(board) for board in boards]
    print(table(results))
    print()
    for r in results:
        crates = sorted(r["sections"]["crates"].items(), key=lambda item: -item[1])
        print("Rust core on %s by crate (.text + .rodata): %s" % (
            r["board"], ", ".join("%s %d" % item for item in crates if item[1])))
    print()
    profiles = os.environ.get("UWS_SIZE_PROFILES", "").split()
    by_profile = [("full", results)] + [(p, [measure(board, p) for board in boards]) for p in profiles]
    for name, rows in by_profile:
        print("%-8s %s" % (name, "  ".join("%s flash=%d" % (r["board"], r["flash"]) for r in rows)))
    print()
    for r in results:
        print("size %s flash=%d conn_heap=%d" % (r["target"], r["flash"], r["heap"]["conn_heap"]))
    for name, rows in by_profile:
        for r in rows:
            print("size %s %s flash=%d conn_heap=%d" % (name, r["target"], r["flash"], r["heap"]["conn_heap"]))
    for name, rows in by_profile:
        if name == "nodeflate":
            for full, plain in zip(results, rows):
                print("size deflate %s flash=%d conn_heap=%d" % (
                    full["target"], full["flash"] - plain["flash"],
                    full["heap"]["deflate_conn_heap"] - full["heap"]["conn_heap"]))


if __name__ == "__main__":
    main()
