"""Real-size inputs, timed as whole commands from a shell (issue 10's target table).

Generates into a temporary directory (or --keep DIR):
  accesses.yaml   100,000 block-style accesses (~3.5 MB)
  layout.yaml     32,764 slots + 2,000 steps (~2.3 MB)
  big.yaml        ~326,000 steps (~13 MB)
  qemu.log        a 100,000-line QEMU kvm_set_user_memory trace
  segments.elf    an ELF image with 3,000 PT_LOAD segments
  strace.log      a 5,001-line strace of the KVM ioctls
then runs each `kvmtui ...` command in a child process (cold: a new interpreter, nothing cached) and prints
its wall time and the child's peak RSS (os.wait4's rusage, per child). The 32,764-slot figure is set beside
the real kernel creating the same slots through KVM_SET_USER_MEMORY_REGION in this same run (skipped
without /dev/kvm). The app figures drive the real app in tmux (skipped without tmux).

Run: uv run python benchmarks/real_size.py [--repeat 3] [--only NAME ...] [--keep DIR] [--timeout S]
The machine is shared and noisy: each figure is the median of --repeat runs.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

N_ACCESSES = 100_000
N_SLOTS = 32_764
SLOT_SIZE = 64 << 10
N_LAYOUT_STEPS = 2_000
N_BIG_STEPS = 326_846
N_QEMU_LINES = 100_000
N_SEGMENTS = 3_000
N_STRACE_LINES = 5_001
# The command a user types: the environment's `kvmtui` console script (python -m kvmtui where there is none; it
# also loads runpy, ~8 ms more at each start).
_SCRIPT = Path(sys.executable).with_name("kvmtui")
KVMTUI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "kvmtui"]


# -- the inputs -------------------------------------------------------------------------------------------------
def gen_accesses(path: Path, n: int = N_ACCESSES) -> None:
    """Block-style reads and writes over a 64 MiB slot and a read-only ROM (some become MMIO exits)."""
    out = ["kvmtui: 1", "title: 100,000 accesses", "host:", "  ram:", "    size: 64M", "  rom:", "    size: 64K", "    prot: r",
           "slots:", "  - slot: 0", "    gpa: 0x0", "    host: ram", "  - slot: 1", "    gpa: 0xfffe0000", "    host: rom",
           "    flags: [readonly]", "steps:"]
    for i in range(n):
        if i % 50 == 49:
            out += [f"  - write: {0xFFFE0000 + (i % 16) * 4:#x}", "    size: 4", f"    value: {i & 0xFFFF:#x}"]
        elif i % 3 == 0:
            out += [f"  - write: {(i * 4096 * 7) % (64 << 20) + (i % 8) * 8:#x}", "    size: 8", f"    value: {i:#x}"]
        else:
            out += [f"  - read: {(i * 4096 * 13) % (64 << 20):#x}", "    size: 4"]
    path.write_text("\n".join(out) + "\n")


def layout_slots() -> list[tuple[int, int, int, int]]:
    """(slot, flags, gpa, offset in the mapping) of the 32,764-slot layout: every 16th slot read-only."""
    return [(i, 2 if i % 16 == 15 else 0, i * SLOT_SIZE, i * SLOT_SIZE) for i in range(N_SLOTS)]


def gen_layout(path: Path) -> None:
    out = ["kvmtui: 1", "title: 32,764 slots", "host:", "  ram:", f"    size: {N_SLOTS * SLOT_SIZE:#x}", "slots:"]
    for slot, flags, gpa, off in layout_slots():
        out += [f"  - slot: {slot}", f"    gpa: {gpa:#x}", f"    host: ram+{off:#x}", "    size: 64K"]
        if flags:
            out.append("    flags: [readonly]")
    out.append("steps:")
    for j in range(N_LAYOUT_STEPS):
        slot = (j * 7919) % N_SLOTS
        gpa = slot * SLOT_SIZE + ((j * 31) % 16) * 4096
        if j % 3 == 0:
            out += [f"  - write: {gpa:#x}", "    size: 8", f"    value: {j:#x}"]
        else:
            out += [f"  - read: {gpa:#x}"]
    path.write_text("\n".join(out) + "\n")


def gen_big(path: Path, n: int = N_BIG_STEPS) -> None:
    """A long scenario: a few slots, then accesses, some with notes and expectations (~40 bytes a step)."""
    out = ["kvmtui: 1", "title: a long run", "host:", "  ram: {size: 1G}", "  flash: {size: 1M}", "slots:",
           "  - {slot: 0, gpa: 0, host: ram}", "  - {slot: 1, gpa: 0xffe00000, host: flash, flags: [readonly]}", "steps:"]
    for i in range(n):
        gpa = (i * 4096 * 2654435761) % (1 << 30) & ~7
        if i % 100 == 99:
            out += [f"  - write: {0xFFE00000 + (i % 64) * 8:#x}", "    size: 1", "    value: 0x5a", "    expect: mmio"]
        elif i % 2:
            out += [f"  - write: {gpa:#x}", "    size: 8", f"    value: {i:#x}"]
        else:
            out += [f"  - read: {gpa:#x}"]
    path.write_text("\n".join(out) + "\n")


def gen_qemu(path: Path, n: int = N_QEMU_LINES) -> None:
    lines = []
    base = 0x7F0000000000
    slots = [(i, i * 0x200000, base + i * 0x200000) for i in range(64)]
    for k in range(n):
        if k % 2:
            lines.append(f"1234@{1700000000 + k / 1e6:.6f}:kvm_vm_ioctl type 0xae47, arg 0x7ffd1234")
            continue
        slot, gpa, ua = slots[(k // 2) % 64]
        flags = (k // 128) % 2  # dirty logging toggled on and off, as a migration does
        lines.append(f"1234@{1700000000 + k / 1e6:.6f}:kvm_set_user_memory Slot#{slot} flags={flags:#x} gpa={gpa:#x} "
                     f"size=0x200000 ua={ua:#x} ret=0")
    path.write_text("\n".join(lines) + "\n")


def gen_elf(path: Path, n: int = N_SEGMENTS) -> None:
    from elfgen import PF_R, PF_W, PF_X, Elf, Seg

    segs = [Seg(0x100000 + i * 0x2000, bytes([i & 0xFF]) * 0x200, PF_R | (PF_W if i % 3 == 0 else PF_X)) for i in range(n)]
    path.write_bytes(Elf(segments=segs, symbols=[("start", 0x100000, 16, 2)]).build())


def gen_strace(path: Path, n: int = N_STRACE_LINES) -> None:
    lines = ["4242 10:00:00.000000 ioctl(3, KVM_CREATE_VM, 0) = 4"]
    base = 0x7F0000000000
    for k in range(n - 1):
        slot = k % 64
        flags = "KVM_MEM_LOG_DIRTY_PAGES" if (k // 64) % 2 else "0"
        lines.append(f"4242 10:00:{(k // 1000) % 60:02d}.{k % 1000:06d} ioctl(4, KVM_SET_USER_MEMORY_REGION, {{slot={slot}, flags={flags}, "
                     f"guest_phys_addr={slot * 0x200000:#x}, memory_size=2097152, userspace_addr={base + slot * 0x200000:#x}}}) = 0")
    path.write_text("\n".join(lines) + "\n")


# -- running a command -------------------------------------------------------------------------------------------
CPU: list[float] = []  # user+sys seconds of each child, in order: on a shared machine wall time is mostly waiting


def run(cmd: list[str], timeout: float, stdout=subprocess.DEVNULL) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit status) of one child process; its CPU seconds go to CPU."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT)
    deadline = t + timeout
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            CPU.append(ru.ru_utime + ru.ru_stime)  # what it used before it was given up
            return float("inf"), ru.ru_maxrss / 1024, -9
        time.sleep(0.005)
    wall = time.perf_counter() - t
    CPU.append(ru.ru_utime + ru.ru_stime)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if p.returncode not in (0, 1):
        print(f"    ! {' '.join(cmd[2:])} exited {p.returncode}: {err.strip()[:300]}")
    return wall, ru.ru_maxrss / 1024, p.returncode


def timed(cmd: list[str], repeat: int, timeout: float) -> tuple[float, float]:
    walls, rss = [], []
    for _ in range(repeat):
        w, r, _ = run(cmd, timeout)
        walls.append(w)
        rss.append(r)
        if w == float("inf"):
            break
    print(f"    ({show(cmd)}: CPU {statistics.median(CPU[-len(walls):]):.2f} s user+sys, median; load average {os.getloadavg()[0]:.1f})")
    return statistics.median(walls), statistics.median(rss)


def show(cmd: list[str]) -> str:
    return "kvmtui " + " ".join(Path(a).name if "/" in a else a for a in cmd[len(KVMTUI):])


def fmt(secs: float) -> str:
    return "timeout" if secs == float("inf") else f"{secs:.2f} s"


# -- the kernel's time for the same slots ------------------------------------------------------------------------
def kernel_slots_time() -> float | None:
    """Create the 32,764 slots of layout.yaml on the real /dev/kvm; seconds for the ioctls, None without KVM."""
    from kvmtui.live import kvmapi

    ok, why = kvmapi.kvm_available()
    if not ok:
        print(f"    (kernel half skipped: {why})")
        return None
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    vm = kvmapi.ioctl(kvm, kvmapi.KVM_CREATE_VM, 0)
    size = N_SLOTS * SLOT_SIZE
    base = kvmapi.host_mmap(size, "rw")
    try:
        import struct

        bufs = [bytearray(struct.pack("<IIQQQ", slot, flags, gpa, SLOT_SIZE, base + off)) for slot, flags, gpa, off in layout_slots()]
        t = time.perf_counter()
        for b in bufs:
            kvmapi.ioctl(vm, kvmapi.KVM_SET_USER_MEMORY_REGION, b)
        return time.perf_counter() - t
    finally:
        os.close(vm)
        os.close(kvm)
        kvmapi.host_munmap(base, size)


# -- the app in tmux -------------------------------------------------------------------------------------------
def _pane(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True, check=False).stdout


def app_figures(path: Path, timeout: float, n_steps: int = 20) -> tuple[float, float, float, float] | None:
    """(first frame, main view ready, step median, step worst) of `kvmtui FILE` in a 120x40 tmux pane."""
    if shutil.which("tmux") is None:
        print("    (app figures skipped: no tmux)")
        return None
    session = f"kvmtui-bench-{os.getpid()}"
    cmd = " ".join([*KVMTUI, str(path)])
    t = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", f"cd {ROOT} && {cmd}"], check=True)
    try:
        first = ready = None
        while time.perf_counter() - t < timeout:
            screen = _pane(session)
            if first is None and screen.strip():
                first = time.perf_counter() - t
            if "Memslots" in screen and "step 1/" in screen:
                ready = time.perf_counter() - t
                break
            time.sleep(0.01)
        if ready is None:
            return (first or float("inf"), float("inf"), float("inf"), float("inf"))
        lat = []
        for k in range(n_steps):
            want = f"step {k + 2}/"
            t = time.perf_counter()
            subprocess.run(["tmux", "send-keys", "-t", session, "n"], check=True)
            while want not in _pane(session):
                if time.perf_counter() - t > 10:
                    break
            lat.append(time.perf_counter() - t)
        return first or ready, ready, statistics.median(lat), max(lat)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)


# -- main ---------------------------------------------------------------------------------------------------------
FIGURES = ("accesses", "layout", "big", "app", "import", "elf", "strace")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the median is printed)")
    ap.add_argument("--only", nargs="*", choices=FIGURES, help="just these figures")
    ap.add_argument("--keep", help="generate into this directory and keep the files")
    ap.add_argument("--timeout", type=float, default=600, help="seconds before a command is given up")
    args = ap.parse_args()
    only = set(args.only or FIGURES)
    d = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kvmtui-bench-"))
    d.mkdir(parents=True, exist_ok=True)
    files = {"accesses": (d / "accesses.yaml", gen_accesses), "layout": (d / "layout.yaml", gen_layout), "big": (d / "big.yaml", gen_big),
             "qemu": (d / "qemu.log", gen_qemu), "elf": (d / "segments.elf", gen_elf), "strace": (d / "strace.log", gen_strace)}
    t = time.perf_counter()
    for p, gen in files.values():
        if not p.exists():
            gen(p)
    print(f"inputs in {d} ({time.perf_counter() - t:.1f} s to generate): "
          + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.1f} MB" for p, _ in files.values()))
    print(f"python {sys.version.split()[0]}; each figure the median of {args.repeat} cold runs; peak RSS per child")
    try:
        if "accesses" in only:
            cmd = [*KVMTUI, "trace", "--json", str(files["accesses"][0])]
            w, r = timed(cmd, args.repeat, args.timeout)
            print(f"{show(cmd)}: {fmt(w)}, {N_ACCESSES / w:,.0f} accesses/s, peak {r:.0f} MB   [target >= 50,000 accesses/s]")
        if "layout" in only:
            cmd = [*KVMTUI, "trace", str(files["layout"][0])]
            ws, ks = [], []
            for _ in range(args.repeat):
                ws.append(run(cmd, args.timeout)[0])
                k = kernel_slots_time()
                if k is not None:
                    ks.append(k)
            w = statistics.median(ws)
            line = f"{show(cmd)} (32,764 slots + 2,000 steps): {fmt(w)}"
            if ks:
                k = statistics.median(ks)
                line += f"; the kernel creating the same slots (ioctls, same run): {k:.2f} s; ratio {w / k:.2f}   [target <= 1.0]"
            print(line)
            cmd = [*KVMTUI, "check", str(files["layout"][0])]
            w, r = timed(cmd, args.repeat, args.timeout)
            print(f"{show(cmd)}: {fmt(w)}, peak {r:.0f} MB")
        if "big" in only:
            cmd = [*KVMTUI, "trace", "--json", str(files["big"][0])]
            w, r = timed(cmd, args.repeat, args.timeout)
            print(f"{show(cmd)} ({files['big'][0].stat().st_size / 1e6:.1f} MB, {N_BIG_STEPS:,} steps): {fmt(w)}, peak {r:.0f} MB"
                  "   [target <= 10 s, <= 500 MB]")
        if "app" in only:
            figs = []
            for _ in range(args.repeat):
                f = app_figures(files["layout"][0], args.timeout)
                if f is None:
                    break
                figs.append(f)
            if figs:
                first, ready, med, worst = (statistics.median(x) for x in zip(*figs, strict=True))
                print(f"kvmtui layout.yaml in tmux 120x40: first frame {fmt(first)}, main view {fmt(ready)}; step (key to screen) "
                      f"median {med * 1000:.0f} ms, worst {worst * 1000:.0f} ms   [target <= 2 s; <= 50 ms; <= 150 ms]")
        if "import" in only:
            out = d / "qemu.yaml"
            totals = []
            for _ in range(args.repeat):
                out.unlink(missing_ok=True)
                w1, r1, _ = run([*KVMTUI, "import", str(files["qemu"][0]), "-o", str(out)], args.timeout)
                w2, r2, _ = run([*KVMTUI, "trace", str(out)], args.timeout)
                totals.append((w1, w2, w1 + w2, max(r1, r2)))
            w1, w2, tot, r = (statistics.median(x) for x in zip(*totals, strict=True))
            print(f"kvmtui import qemu.log -o qemu.yaml ({N_QEMU_LINES:,} lines): {fmt(w1)}; kvmtui trace qemu.yaml: {fmt(w2)}; "
                  f"together {fmt(tot)}, peak {r:.0f} MB   [target <= 5 s together]")
        if "elf" in only:
            cmd = [*KVMTUI, "trace", str(files["elf"][0])]
            w, r = timed(cmd, args.repeat, args.timeout)
            print(f"{show(cmd)} ({N_SEGMENTS:,} PT_LOAD segments): {fmt(w)}, peak {r:.0f} MB   [target <= 1 s]")
        if "strace" in only:
            cmd = [*KVMTUI, "trace", str(files["strace"][0])]
            w, r = timed(cmd, args.repeat, args.timeout)
            print(f"{show(cmd)} ({N_STRACE_LINES:,} lines): {fmt(w)}, peak {r:.0f} MB   [target <= 1 s]")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
