"""Live benchmark: accesses/s and MMIO exits/s on the real /dev/kvm beside the simulator, same scenario.

Run: uv run python benchmarks/live.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.live.backend import LiveRun
from kvmtui.live.kvmapi import kvm_available
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.loader import parse_scenario

N = 5000
HEAD = "host:\n  ram: {size: 1M}\n  rom: {size: 64K, prot: r}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\n  - {slot: 1, gpa: 0xfffe0000, host: rom, flags: [readonly]}\n"


def scenario(kind: str, path: str):
    step = "  - read: {a:#x}\n" if kind == "read" else "  - write: 0xfffe0000\n    size: 1\n    value: 0x5a\n"
    body = "".join(step.format(a=(i % 256) * 0x1000) for i in range(N))
    return parse_scenario(f"path: {path}\n" + HEAD + "steps:\n" + body, f"<{kind}>")


def rate(make_run) -> float:
    run = make_run()
    try:
        t = time.perf_counter()
        entries = run.entries()
        dt = time.perf_counter() - t
    finally:
        getattr(run, "close", lambda: None)()
    return (len(entries) - 2) / dt


def main() -> None:
    ok, why = kvm_available()
    if not ok:
        print(f"live KVM unavailable: {why}")
        return
    for path in ("native", "emulated"):
        for kind, what in (("read", "RAM reads (accesses/s)"), ("write", "read-only writes (MMIO exits/s)")):
            sc = scenario(kind, path)
            live = rate(lambda sc=sc: LiveRun(sc))
            sim = rate(lambda sc=sc: ScenarioRun(sc, "modern"))
            print(f"{path:8s} {what:33s} live {live:>9,.0f}/s   simulator {sim:>9,.0f}/s   ({N:,} steps)")


if __name__ == "__main__":
    main()
