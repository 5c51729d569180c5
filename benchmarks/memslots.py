"""Memslot-table benchmark: the engine's KVM_SET_USER_MEMORY_REGION path on real-size tables.

Run: uv run python benchmarks/memslots.py [--whole]
Prints, wall and CPU (user+sys) seconds each:
- 32,764 slot creations (the maximal layout of /work/bench/in/layout.yaml), in gpa order and shuffled;
- 50,000 set_memory_region steps over 64 slots that toggle dirty logging (what an imported QEMU migration
  log does), each followed by a snapshot every 32 steps, as the app's history takes them;
- one snapshot of the 32,764-slot VM and 2,000 deletes + re-creates in its middle.
With --whole, also the whole commands `kvmtui trace layout.yaml` and `kvmtui trace qemu.yaml` when the
real-size inputs are in /work/bench/in (see benchmarks/real_size.py).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.engine import Machine, Mapping, SetMemoryRegion, UserMemoryRegion, get_profile
from kvmtui.engine.uapi import KVM_MEM_LOG_DIRTY_PAGES

N = 32_764
HVA = 0x7F0000000000
SLOT_PAGES = 16  # 64 KiB slots, as layout.yaml has them


def cpu() -> float:
    t = os.times()
    return t.user + t.system


def timed(label: str, fn) -> object:
    w, c = time.perf_counter(), cpu()
    out = fn()
    print(f"{label:<58} {time.perf_counter() - w:8.3f} s wall {cpu() - c:8.3f} s cpu")
    return out


def machine() -> Machine:
    return Machine(get_profile("modern"), [Mapping("ram", HVA, N * SLOT_PAGES << 12, "rw", "anon")])


def region(slot: int, gfn: int, flags: int = 0, npages: int = SLOT_PAGES) -> SetMemoryRegion:
    return SetMemoryRegion(UserMemoryRegion(slot, flags, gfn << 12, npages << 12, HVA + (gfn << 12)))


def create_all(order: list[int]) -> Machine:
    m = machine()
    for i in order:
        r = m.apply(region(i, i * SLOT_PAGES))
        assert r.outcome == "ok", r.message
    return m


def toggle_logging(steps: int = 50_000, slots: int = 64) -> None:
    m = machine()
    for i in range(slots):
        m.apply(region(i, i * SLOT_PAGES * 64, npages=SLOT_PAGES * 64))
    snaps = []
    for j in range(steps):
        i = j % slots
        flags = KVM_MEM_LOG_DIRTY_PAGES if (j // slots) % 2 == 0 else 0
        r = m.apply(region(i, i * SLOT_PAGES * 64, flags, npages=SLOT_PAGES * 64))
        assert r.outcome == "ok", r.message
        if j % 32 == 0:
            snaps.append(m.snapshot())


def churn(m: Machine, n: int = 2_000) -> None:
    mid = N // 2
    for k in range(n):
        i = mid + k
        m.apply(region(i, i * SLOT_PAGES, npages=0))
        m.apply(region(i, i * SLOT_PAGES))


def whole(argv: list[str]) -> None:
    w, c0 = time.perf_counter(), os.times()
    r = subprocess.run([sys.executable, "-m", "kvmtui", *argv], capture_output=True, check=False)
    c1 = os.times()
    used = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    print(f"kvmtui {' '.join(argv):<51} {time.perf_counter() - w:8.3f} s wall {used:8.3f} s cpu  exit {r.returncode}")


def main() -> None:
    m = timed(f"{N} slot creations, gpa order", lambda: create_all(list(range(N))))
    shuffled = list(range(N))
    random.Random(1).shuffle(shuffled)
    timed(f"{N} slot creations, random order", lambda: create_all(shuffled))
    timed("one snapshot of the 32,764-slot VM", m.snapshot)  # type: ignore[attr-defined]
    timed("2,000 deletes + re-creates among 32,764 slots", lambda: churn(m))  # type: ignore[arg-type]
    timed("50,000 dirty-logging toggles over 64 slots, snapshot/32", toggle_logging)
    if "--whole" in sys.argv:
        src = Path("/work/bench/in")
        if (src / "layout.yaml").exists():
            whole(["trace", str(src / "layout.yaml")])
        if (src / "qemu.yaml").exists():
            whole(["trace", str(src / "qemu.yaml")])


if __name__ == "__main__":
    main()
