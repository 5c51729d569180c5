"""Host memory benchmark (issue 11): bulk host operations by size, and the per-access path.

Run: uv run python benchmarks/host.py. Prints seconds per operation for 4 MiB, 1 GiB and 1 TiB ranges
(a size is skipped once the one before it took more than 5 s, as a page-by-page model would), and the
rate of get_user_pages on touched pages, which bulk operations must not slow down.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.engine.host import HostMemory, Mapping

HVA = 0x100000000000
SIZES = (("4 MiB", 4 << 20), ("1 GiB", 1 << 30), ("1 TiB", 1 << 40))


def fresh() -> HostMemory:
    h = HostMemory()
    h.mmap(Mapping("ram", HVA, 1 << 41, "rw", "anon"))
    for i in range(1000):
        h.get_user_pages(HVA + i * 4096 * 7, True, False)  # some touched pages inside every range
    return h


def bulk() -> None:
    for op in ("poison", "evict", "madvise_dontneed", "munmap"):
        slow = False
        cells = []
        for label, size in SIZES:
            if slow:
                cells.append(f"{label}: skipped")
                continue
            h = fresh()
            t = time.perf_counter()
            getattr(h, op)(HVA, size)
            dt = time.perf_counter() - t
            slow = dt > 5
            cells.append(f"{label}: {dt * 1000:9.2f} ms")
        print(f"  {op:17s} " + "   ".join(cells))


def access_rate() -> None:
    h = fresh()
    h.poison(HVA + (1 << 40), 1 << 30)  # runs exist: the lookup pays its bisect
    n = 200_000
    t = time.perf_counter()
    for i in range(n):
        h.get_user_pages(HVA + (i % 1000) * 4096 * 7, False, False)
    print(f"  get_user_pages on touched pages: {n / (time.perf_counter() - t):,.0f}/s")
    t = time.perf_counter()
    for i in range(n):
        h.page(HVA + (1 << 40) + (i % 1000) * 4096)
    print(f"  page() inside a poisoned run:    {n / (time.perf_counter() - t):,.0f}/s")


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}")
    print("bulk host operations over a range with 1,000 touched pages in it:")
    bulk()
    print("per-access path:")
    access_rate()
