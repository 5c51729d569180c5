"""Engine benchmark: prints figures for issue 2's targets. Run: uv run python benchmarks/engine.py"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.engine import Access, AccessKind, Machine, Mapping, SetMemoryRegion, UserMemoryRegion, get_profile
from kvmtui.engine.uapi import KVM_MEM_READONLY

HVA = 0x7F0000000000
N_SLOTS = 32764


def fill_slots() -> tuple[Machine, float]:
    m = Machine(get_profile("modern"), [Mapping("ram", HVA, 1 << 30, "rw", "anon")])
    t = time.perf_counter()
    for i in range(N_SLOTS):
        r = m.apply(SetMemoryRegion(UserMemoryRegion(i, 0, i << 12, 4096, HVA + ((i % 1024) << 12))))
        assert r.outcome == "ok"
    return m, time.perf_counter() - t


def rate(fn, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def access_rates(m: Machine, base_gpa: int, npages: int, ro_gpa: int) -> dict[str, float]:
    apply = m.apply
    # first-touch RAM faults: a write to a page never mapped
    first = rate(lambda i: apply(Access(AccessKind.WRITE, base_gpa + ((i % npages) << 12), 4, i & 0xFF)), npages)
    hits = rate(lambda i: apply(Access(AccessKind.READ, base_gpa + ((i % npages) << 12), 4)), 200_000)
    ro = rate(lambda i: apply(Access(AccessKind.WRITE, ro_gpa, 1, 0x5A)), 50_000)
    return {"spte-hit reads/s": hits, "first-touch RAM faults/s": first, "read-only writes (MMIO exits)/s": ro}


def one_slot() -> Machine:
    m = Machine(get_profile("modern"), [Mapping("ram", HVA, 1 << 30, "rw", "anon"), Mapping("rom", HVA + (2 << 30), 1 << 20, "r", "file")])
    m.apply(SetMemoryRegion(UserMemoryRegion(0, 0, 0, 1 << 30, HVA)))
    m.apply(SetMemoryRegion(UserMemoryRegion(1, KVM_MEM_READONLY, 0xFFF00000, 1 << 20, HVA + (2 << 30))))
    return m


RSS_CHILD = """
import resource, sys
sys.path.insert(0, %r)
from kvmtui.engine import Access, AccessKind, Machine, Mapping, SetMemoryRegion, UserMemoryRegion, get_profile
HVA = 0x100000000000
m = Machine(get_profile("modern"), [Mapping("ram", HVA, 1 << 40, "rw", "anon")])
m.apply(SetMemoryRegion(UserMemoryRegion(0, 0, 0, 1 << 40, HVA)))
for i in range(100_000):
    m.apply(Access(AccessKind.WRITE, (i * 2654435761 %% (1 << 28)) << 12, 8, i))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main() -> None:
    print(f"python {sys.version.split()[0]}")
    m, secs = fill_slots()
    print(f"(a) fill all {N_SLOTS} modern slots: {secs:.3f} s total, {N_SLOTS / secs:,.0f} creates/s  [target < 0.5 s]")

    small = access_rates(one_slot(), 0, 4096, 0xFFF00000)
    m.apply(SetMemoryRegion(UserMemoryRegion(N_SLOTS - 1, 0, 0, 0, 0)))  # make room for a ROM slot among the 32,764
    m.apply(SetMemoryRegion(UserMemoryRegion(N_SLOTS - 1, KVM_MEM_READONLY, 0x100000000, 4096, HVA)))
    # touch pages spread across all slots so the lookup cannot live in the last-used cache
    big = access_rates(m, 0, N_SLOTS - 1, 0x100000000)
    print("(b) accesses with full records:")
    for k in small:
        print(f"    {k:34s} 1 slot: {small[k]:>10,.0f}   {N_SLOTS} slots: {big[k]:>10,.0f}   ratio {small[k] / big[k]:.2f}x")
    print("    [targets: >= 200,000 spte-hit reads/s, >= 50,000 read-only writes/s, 32,764 slots no more than 1.5x slower]")
    out = subprocess.run([sys.executable, "-c", RSS_CHILD % str(Path(__file__).resolve().parent.parent)], capture_output=True, text=True, check=True)
    rss_mb = int(out.stdout.strip()) / 1024
    print(f"(c) peak RSS of a 1 TiB guest (one slot) after 100,000 pages written: {rss_mb:.0f} MB  [target < 200 MB]")


if __name__ == "__main__":
    main()
