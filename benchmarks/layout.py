"""Layout benchmark: `kvmtui map` and `kvmtui diff` figures on 32,764 slots (and a 1 TiB one).

Run: uv run python benchmarks/layout.py
Prints the layout functions' own times, then whole commands (`kvmtui diff --json`, `kvmtui map --json`)
on two generated QEMU traces of 32,764 slots each, one with every 7th slot's flags changed.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.engine.layout import diff_layouts, flat_ranges
from kvmtui.engine.memslots import MemSlot

N = 32_764


def slots(flip: int) -> list[MemSlot]:
    out = [MemSlot(i, i * 0x200, 0x100, 0x7F0000000000 + i * 0x200000, 1 if flip and i % flip == 0 else 0) for i in range(N - 1)]
    out.append(MemSlot(N - 1, 1 << 40 >> 12, 1 << 28, 0x100000000, 0))  # 1 TiB at 1 TiB
    return out


def write_log(path: Path, flip: int) -> None:
    lines = [f"kvm_set_user_memory Slot#{s.id} flags={s.flags:#x} gpa={s.base_gfn << 12:#x} size={s.npages << 12:#x} "
             f"ua={s.userspace_addr:#x} ret=0" for s in slots(flip)[:-1]]
    path.write_text("\n".join(lines) + "\n")


def timed(label: str, fn) -> object:
    t = time.perf_counter()
    out = fn()
    print(f"{label:<48} {time.perf_counter() - t:8.3f} s")
    return out


def main() -> None:
    a, b = slots(0), slots(7)
    ranges = timed(f"flat_ranges, {N} slots", lambda: flat_ranges(a))
    d = timed(f"diff_layouts, {N} slots each", lambda: diff_layouts(a, b))
    print(f"  {len(ranges)} flat ranges, {len(d)} differing ranges")  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        la, lb = Path(tmp) / "a.log", Path(tmp) / "b.log"
        write_log(la, 0)
        write_log(lb, 7)
        for argv in (["diff", str(la), str(lb), "--json"], ["map", str(la), "--json"]):
            t = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "kvmtui", *argv], capture_output=True, text=True, check=False)
            lines = r.stdout.count("\n")
            print(f"kvmtui {argv[0]} --json, {N - 1} slots (whole command){'':<8} {time.perf_counter() - t:8.3f} s"
                  f"  exit {r.returncode}, {lines} lines")


if __name__ == "__main__":
    main()
