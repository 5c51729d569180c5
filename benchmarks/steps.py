"""The runner's step loop with records, and the JSON output, each timed on its own, in-process (issue 10).

For each input (by default the real-size accesses.yaml and big.yaml, generated as benchmarks/real_size.py
does; or the files given) the scenario is loaded once, untimed, then:
  steps   `for e in run.stream()`: every StepRecord and TraceEntry built, none kept (what `trace --json` runs)
  json    `write_json_lines()` of those entries (computed beforehand) into a byte sink (/dev/null's cost)
Each figure is the best of --repeat runs, as CPU seconds (process time: the machine is shared) and wall.

Run: uv run python benchmarks/steps.py [--repeat 3] [--limit N] [FILE ...]
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from real_size import gen_accesses, gen_big  # noqa: E402

from kvmtui.report import write_json_lines  # noqa: E402
from kvmtui.runner import ScenarioRun  # noqa: E402
from kvmtui.scenario import load_scenario  # noqa: E402


class _Sink(io.TextIOBase):
    """A text stream over a binary sink that drops the bytes: the cost of writing, not of the disk."""

    def __init__(self) -> None:
        self.buffer = io.BufferedWriter(io.FileIO("/dev/null", "w"))
        self.bytes = 0

    def write(self, s: str) -> int:
        self.bytes += len(s)
        return len(s)


def best(fn, repeat: int) -> tuple[float, float, object]:
    """(CPU s, wall s, result) of the run with the least CPU time."""
    runs = []
    for _ in range(repeat):
        gc.collect()
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        runs.append((time.process_time() - c, time.perf_counter() - w, out))
    return min(runs, key=lambda r: r[0])


def measure(path: Path, repeat: int, limit: int | None) -> None:
    t = time.perf_counter()
    scenario = load_scenario(path)
    run = ScenarioRun(scenario)
    if limit is not None:
        del run.specs[limit:]
    n = len(run)
    print(f"{path.name}: {n:,} steps (loaded in {time.perf_counter() - t:.1f} s, not counted)")

    def steps() -> int:
        k = 0
        for _ in run.stream():
            k += 1
        return k

    cpu, wall, _ = best(steps, repeat)
    print(f"  step loop with records  CPU {cpu:6.2f} s  wall {wall:6.2f} s   {n / cpu:>9,.0f} steps/s (CPU)  [target >= 100,000]")
    entries = list(run.stream())

    def json_out() -> None:
        write_json_lines(run, entries, _Sink())  # type: ignore[arg-type]

    cpu_j, wall_j, _ = best(json_out, repeat)
    print(f"  JSON output             CPU {cpu_j:6.2f} s  wall {wall_j:6.2f} s   {n / cpu_j:>9,.0f} lines/s (CPU)")
    print(f"  both                    CPU {cpu + cpu_j:6.2f} s                   {n / (cpu + cpu_j):>9,.0f} steps/s (CPU)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, help="scenarios (default: generated accesses.yaml and big.yaml)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure (the least CPU time is printed)")
    ap.add_argument("--limit", type=int, help="only the first N steps of each scenario")
    args = ap.parse_args()
    print(f"python {sys.version.split()[0]}")
    if args.files:
        for f in args.files:
            measure(f, args.repeat, args.limit)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for name, gen in (("accesses.yaml", gen_accesses), ("big.yaml", gen_big)):
            path = Path(tmp) / name
            gen(path)
            measure(path, args.repeat, args.limit)


if __name__ == "__main__":
    main()
