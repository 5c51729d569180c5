"""Import benchmark: a generated 100,000-line QEMU trace (memslot updates among other trace events).

Run: uv run python benchmarks/import.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kvmtui.runner import ScenarioRun
from kvmtui.scenario.importers import log_to_scenario, read_log, scenario_yaml

N = 100_000


def make_log(path: Path) -> int:
    lines, sets = [], 0
    base = 0x7F0000000000
    slots = [(i, i * 0x200000, base + i * 0x200000) for i in range(64)]
    for n in range(N):
        if n % 2:
            lines.append(f"1234@{1700000000 + n / 1e6:.6f}:kvm_vm_ioctl type 0xae47, arg 0x7ffd1234")
            continue
        slot, gpa, ua = slots[(n // 2) % 64]
        flags = (n // 128) % 2  # dirty logging toggled on and off, as a migration does
        lines.append(f"1234@{1700000000 + n / 1e6:.6f}:kvm_set_user_memory Slot#{slot} flags={flags:#x} gpa={gpa:#x} "
                     f"size=0x200000 ua={ua:#x} ret=0")
        sets += 1
    path.write_text("\n".join(lines) + "\n")
    return sets


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "big.log"
        sets = make_log(path)
        t = time.perf_counter()
        log = read_log(path)
        scenario = log_to_scenario(log, str(path))
        t_import = time.perf_counter() - t
        t = time.perf_counter()
        run = ScenarioRun(scenario)
        entries = run.entries()
        t_run = time.perf_counter() - t
        t = time.perf_counter()
        text = scenario_yaml(scenario)
        t_yaml = time.perf_counter() - t
        met = sum(1 for e in entries if e.expect_met)
        print(f"{N:,} lines ({sets:,} memslot updates, {log.skipped:,} other lines skipped)")
        print(f"import (parse + scenario):          {t_import:.2f} s   [target < 2 s]")
        print(f"run every step through the model:   {t_run:.2f} s   ({met:,} of {len(entries):,} agree with the log)")
        print(f"write it as an editable YAML file:  {t_yaml:.2f} s   ({len(text) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
