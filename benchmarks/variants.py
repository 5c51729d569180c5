"""Real-size inputs the fast paths were not written for, timed as whole commands (issue 10: "large files that
you have not seen (layouts, imports, long traces)" must not fall off a cliff).

Each variant is a plausible way a person or a tool writes a big scenario: 100,000 steps with `expect:` and
`note:` on them, comments between and after items, keys in another order, decimal numbers, quoted strings,
flow mappings, CRLF line ends, a 32,764-slot layout with names, flags and guest_memfd, REGION2-style steps,
host and dirty-log steps, and the YAML `kvmtui import` writes from an strace log. Each is run through
`kvmtui trace --json FILE` and `kvmtui check FILE` in a child process (cold), and the CPU seconds per 1,000
items are printed beside the plain variant's, so a shape that misses the fast path shows as a large ratio.

Run: uv run python benchmarks/variants.py [--keep DIR] [--only NAME ...] [--repeat N] [--n 100000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_SCRIPT = Path(sys.executable).with_name("kvmtui")  # the console script, as a user runs it (else python -m kvmtui)
KVMTUI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kvmtui"]
HEAD = ["kvmtui: 1", "title: variant", "host:", "  ram:", "    size: 64M", "  rom:", "    size: 64K", "    prot: r",
        "slots:", "  - slot: 0", "    gpa: 0x0", "    host: ram", "  - slot: 1", "    gpa: 0xfffe0000", "    host: rom",
        "    flags: [readonly]", "steps:"]


def _gpa(i: int) -> int:
    return (i * 4096 * 13) % (64 << 20) + (i % 8) * 8


def _access(i: int) -> tuple[str, int, int, int | None, str]:
    """(op, gpa, size, value, outcome) of step i: reads, writes, and now and then a write to the ROM (MMIO)."""
    if i % 50 == 49:
        return "write", 0xFFFE0000 + (i % 16) * 4, 4, i & 0xFFFF, "mmio"
    if i % 3 == 0:
        return "write", _gpa(i), 8, i, "ok"
    return "read", _gpa(i), 4, None, "ok"


def steps_block(n: int, *, expect: bool = False, note: bool = False, comments: bool = False, trailing: bool = False,
                order: str = "usual", dec: bool = False, quoted: bool = False, vcpu: bool = False) -> list[str]:
    out = []
    for i in range(n):
        op, gpa, size, value, outcome = _access(i)
        num = str if dec else hex
        keys = [(op, f'"{num(gpa)}"' if quoted else num(gpa)), ("size", str(size))]
        if value is not None:
            keys.append(("value", num(value)))
        if vcpu:
            keys.append(("vcpu", str(i % 4)))
        if expect:
            keys.append(("expect", outcome))
        if note:
            keys.append(("note", f'"step {i}: {op} {gpa:#x}"' if quoted else f"step {i} {op}s {gpa:#x}"))
        if order == "reversed":
            keys = keys[1:][::-1] + keys[:1]
        elif order == "note_first" and note:
            keys = [keys[-1], *keys[:-1]]
        tail = "  # why" if trailing else ""
        out.append(f"  - {keys[0][0]}: {keys[0][1]}{tail}")
        out += [f"    {k}: {v}{tail}" for k, v in keys[1:]]
        if comments and i % 10 == 0:
            out.append(f"  # --- block {i // 10} ---")
    return out


def steps_flow(n: int, *, expect: bool = False, note: bool = False, dec: bool = False) -> list[str]:
    out = []
    for i in range(n):
        op, gpa, size, value, outcome = _access(i)
        num = str if dec else hex
        parts = [f"{op}: {num(gpa)}", f"size: {size}"]
        if value is not None:
            parts.append(f"value: {num(value)}")
        if expect:
            parts.append(f"expect: {outcome}")
        if note:
            parts.append(f'note: "step {i}"')
        out.append("  - {" + ", ".join(parts) + "}")
    return out


def mixed_steps(n: int) -> list[str]:
    """Memslot updates, REGION2 steps, host ops and dirty-log steps among accesses, as a migration test has."""
    out = []
    for i in range(n):
        k = i % 20
        if k == 0:
            out.append(f"  - set_memory_region: {{slot: 2, gpa: 0x10000000, host: \"ram+0x{(i % 64) * 0x1000:x}\", size: 0x1000, flags: [log_dirty_pages]}}")
            out.append("    expect: ok")
        elif k == 1:
            out.append("  - get_dirty_log: 0")
        elif k == 2:
            out.append("  - delete_slot: 2")
        elif k == 3:
            out.append(f"  - madvise_dontneed: {{host: \"ram+{(i % 512) * 4096:#x}\", size: 4K}}")
        elif k == 4:
            out.append(f"  - host_write: {{host: \"ram+{(i % 512) * 4096:#x}\", data: \"01 02 03 04\"}}")
        elif k == 5:
            out.append("  - set_memory_region: {slot: 3, gpa: 0x20000000, host: ram, size: 4K, ioctl: 2}")
        elif k == 6:
            out.append("  - delete_slot: 3")
        elif k == 7:
            out.append("  - check_extension: KVM_CAP_READONLY_MEM")
            out.append("    expect: {value: 1}")
        else:
            op, gpa, size, value, _ = _access(i)
            out.append(f"  - {op}: {gpa:#x}")
            out.append(f"    size: {size}")
            if value is not None:
                out.append(f"    value: {value:#x}")
    return out


N_SLOTS = 32_764


def layout(named: bool = False, gmem: bool = False, flow: bool = False, dec: bool = False, notes: bool = False) -> list[str]:
    """A maximal layout: 32,764 slots of 64K, every 16th read-only, every 7th logging dirty pages."""
    out = ["kvmtui: 1", "title: layout variant", "host:", "  ram:", f"    size: {N_SLOTS * 0x10000:#x}"]
    if gmem:
        out += ["guest_memfd:", "  gmem0: {size: 0x10000000}"]
    out.append("slots:")
    for i in range(N_SLOTS):
        flags = []
        if i % 16 == 15 and not (gmem and i % 5 == 0):
            flags.append("readonly")
        elif i % 7 == 3 and not (gmem and i % 5 == 0):
            flags.append("log_dirty_pages")
        gpa = str(i * 0x10000) if dec else f"{i * 0x10000:#x}"
        host = f"ram+{i * 0x10000:#x}"
        fields = [("slot", str(i)), ("gpa", gpa), ("host", f'"{host}"' if named else host), ("size", "64K")]
        if flags:
            fields.append(("flags", "[" + ", ".join(flags) + "]"))
        if gmem and i % 5 == 0 and i < 4096 * 5:
            fields.append(("guest_memfd", f'"gmem0+{(i // 5) * 0x10000:#x}"'))
            fields = [(k, "[guest_memfd]" if k == "flags" else v) for k, v in fields]
            if not any(k == "flags" for k, _ in fields):
                fields.append(("flags", "[guest_memfd]"))
        if notes:
            fields.append(("note", f'"slot {i}: 64K of ram at {i * 0x10000:#x}"'))
            fields.append(("expect", "ok"))
        if flow:
            out.append("  - {" + ", ".join(f"{k}: {v}" for k, v in fields) + "}")
        else:
            out.append(f"  - {fields[0][0]}: {fields[0][1]}")
            out += [f"    {k}: {v}" for k, v in fields[1:]]
        if named and i % 100 == 0:
            out.append(f"  # bank {i // 100}")
    out.append("steps:")
    for j in range(2000):
        slot = (j * 7919) % N_SLOTS
        gpa = slot * 0x10000 + ((j * 31) % 16) * 4096
        out += [f"  - write: {gpa:#x}", "    size: 8", f"    value: {j:#x}"] if j % 3 == 0 else [f"  - read: {gpa:#x}"]
    return out


def strace_yaml(d: Path, n: int) -> Path:
    """The YAML `kvmtui import` writes for an n-line strace log (REGION and REGION2 lines, dirty logging on and off)."""
    log = d / "variant-strace.log"
    lines = ["4242 10:00:00.000000 ioctl(3, KVM_CREATE_VM, 0) = 4"]
    base = 0x7F0000000000
    for k in range(n):
        slot = k % 64
        flags = "KVM_MEM_LOG_DIRTY_PAGES" if (k // 64) % 2 else "0"
        if k % 97 == 5:
            lines.append(f"4242 10:00:00.{k % 1000:06d} ioctl(4, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) = 1")
        lines.append(f"4242 10:00:{(k // 1000) % 60:02d}.{k % 1000:06d} ioctl(4, KVM_SET_USER_MEMORY_REGION, {{slot={slot}, flags={flags}, "
                     f"guest_phys_addr={slot * 0x200000:#x}, memory_size=2097152, userspace_addr={base + slot * 0x200000:#x}}}) = 0")
    log.write_text("\n".join(lines) + "\n")
    out = d / "imported_strace.yaml"
    subprocess.run([*KVMTUI, "import", str(log), "-o", str(out), "--force"], check=True, cwd=ROOT, capture_output=True)
    return out


def variants(n: int) -> dict[str, Callable[[Path], None]]:
    def text(lines: list[str], crlf: bool = False) -> Callable[[Path], None]:
        return lambda p: p.write_bytes(("\r\n" if crlf else "\n").join(lines).encode() + (b"\r\n" if crlf else b"\n"))

    return {
        "plain": text(HEAD + steps_block(n)),
        "expect": text(HEAD + steps_block(n, expect=True)),
        "expect_note": text(HEAD + steps_block(n, expect=True, note=True)),
        "quoted_note": text(HEAD + steps_block(n, note=True, quoted=True)),
        "comments": text(HEAD + steps_block(n, comments=True)),
        "trailing_comments": text(HEAD + steps_block(n, trailing=True)),
        "key_order": text(HEAD + steps_block(n, expect=True, order="reversed")),
        "note_first": text(HEAD + steps_block(n, note=True, order="note_first")),
        "decimal": text(HEAD + steps_block(n, dec=True, vcpu=True)),
        "flow": text(HEAD + steps_flow(n)),
        "flow_expect_note": text(HEAD + steps_flow(n, expect=True, note=True, dec=True)),
        "crlf": text(HEAD + steps_block(n, expect=True), crlf=True),
        "mixed_ops": text(HEAD + mixed_steps(n)),
        "layout": text(layout()),
        "layout_named": text(layout(named=True)),
        "layout_flow_dec": text(layout(flow=True, dec=True)),
        "layout_gmem": text(layout(gmem=True)),
        "layout_notes": text(layout(notes=True)),
    }


def cpu_of(cmd: list[str], timeout: float) -> tuple[float, float, int]:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace").strip() if p.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        print(f"    ! {' '.join(cmd[2:])}: exit {code}: {err[:300]}")
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", help="generate into this directory and keep the files")
    ap.add_argument("--only", nargs="*", help="just these variants")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--n", type=int, default=100_000, help="steps in the step variants")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    d = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kvmtui-variants-"))
    d.mkdir(parents=True, exist_ok=True)
    gens = variants(args.n)
    names = args.only or [*gens, "imported_strace"]
    try:
        files = {}
        for name in names:
            p = d / f"{name}.yaml"
            if name == "imported_strace":
                files[name] = p if p.exists() else strace_yaml(d, min(args.n, 40_000))  # 16 MB: the loader's bound
                continue
            if not p.exists():
                gens[name](p)
            files[name] = p
        print(f"variants in {d}; CPU (user+sys) median of {args.repeat} cold runs; whole commands")
        print(f"{'variant':20} {'MB':>5} {'trace --json':>18} {'check':>18}")
        for name, p in files.items():
            row = []
            for cmd in (["trace", "--json"], ["check"]):
                runs = [cpu_of([*KVMTUI, *cmd, str(p)], args.timeout) for _ in range(args.repeat)]
                row.append(f"{statistics.median(r[1] for r in runs):6.2f} s cpu {statistics.median(r[0] for r in runs):5.2f} s")
            print(f"{name:20} {p.stat().st_size / 1e6:5.1f} {row[0]:>18} {row[1]:>18}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
