"""The scenario load alone, in process, by phase: read (bounded read + UTF-8), scan items (runs of plain
list items read by regex: fastitems), parse rest (the rest through libyaml, fastyaml), validate/build
(values to the Scenario model); then the whole load_scenario once more, and the child's peak RSS.

Each file is measured in a fresh child interpreter (so one file's peak RSS is not another's), each phase
with wall and CPU (user+sys) time: the machine is shared, CPU time is the steadier figure.

Run: uv run python benchmarks/load.py [FILE ...] [--repeat N]
Default files: the real-size inputs in /work/bench/in (or benchmarks/real_size.py --keep DIR to make them):
accesses.yaml (100k block-style accesses), big.yaml (~326k steps, 12 MB), layout.yaml (32,764 slots).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = Path(os.environ.get("KVMTUI_BENCH_IN", "/work/bench/in"))
DEFAULT_FILES = ("accesses.yaml", "big.yaml", "layout.yaml")


def _clock() -> tuple[float, float]:
    t = os.times()
    return time.perf_counter(), t.user + t.system


def _child(path: str, repeat: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from kvmtui.scenario import fastitems, loader
    from kvmtui.scenario.fastyaml import load_fast
    from kvmtui.scenario.yamlsafe import read_text

    rows: dict[str, list[tuple[float, float]]] = {}
    steps = 0
    p = Path(path)

    def timed(phase: str, t0: tuple[float, float]) -> None:
        w1, c1 = _clock()
        rows.setdefault(phase, []).append((w1 - t0[0], c1 - t0[1]))

    for _ in range(repeat):
        gc.disable()  # as parse_scenario does while it builds
        # the phases of parse_scenario's path: plain items by regex, the rest through libyaml, then the model
        t = _clock()
        text = read_text(p)
        timed("read", t)
        t = _clock()
        hosts: set[str] = set()
        scan = fastitems.scan(text, loader.fast_step, loader.fast_rows, partial(loader.fast_slot_rows, hosts=hosts))
        timed("scan items", t)
        t = _clock()
        doc = load_fast(scan.text if scan is not None else text, path)
        timed("parse rest", t)
        t = _clock()
        sc = loader._Loader(path, p.parent, scan.runs if scan is not None else None, hosts).load(doc)
        timed("validate/build", t)
        steps = len(sc.setup) + len(sc.steps)
        gc.enable()
        del text, scan, doc, sc
        t = _clock()
        sc = loader.load_scenario(p)
        timed("load_scenario", t)
        del sc
    best = {k: min(v) for k, v in rows.items()}  # the least disturbed run of each phase
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"file": path, "steps": steps, "phases": best, "peak_rss_mb": rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.repeat)))
        return
    files = args.files or [str(DEFAULT_DIR / f) for f in DEFAULT_FILES if (DEFAULT_DIR / f).exists()]
    if not files:
        sys.exit(f"no input files (give paths, or generate them: benchmarks/real_size.py --keep {DEFAULT_DIR})")
    print(f"{'file':<16} {'steps':>8}  {'phase':<15} {'wall s':>7} {'cpu s':>7}")
    for f in files:
        out = subprocess.run([sys.executable, __file__, "--child", f, "--repeat", str(args.repeat)],
                             capture_output=True, text=True, check=False)
        if out.returncode:
            print(f"{Path(f).name}: failed\n{out.stderr.strip()}")
            continue
        r = json.loads(out.stdout)
        for i, (phase, (wall, cpu)) in enumerate(r["phases"].items()):
            name, steps = (Path(f).name, f"{r['steps']:,}") if i == 0 else ("", "")
            print(f"{name:<16} {steps:>8}  {phase:<15} {wall:7.3f} {cpu:7.3f}")
        print(f"{'':<16} {'':>8}  {'peak RSS':<15} {r['peak_rss_mb']:6.0f} MB")


if __name__ == "__main__":
    main()
