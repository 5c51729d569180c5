"""Each command's cold start, as a new user runs it from a fresh clone: PYTHONDONTWRITEBYTECODE=1 and no
bytecode cache for kvmtui or its libraries, so every module a command imports is compiled at each start.

For each command: wall and CPU time (user+sys of the child, os.wait4), the median of --repeat runs, beside
plain `python -c pass`, and the heavy libraries it imported (Textual, Rich, ruamel, PyYAML, pyelftools).
The small inputs keep the figure about start-up; benchmarks/real_size.py times the big files.

Run: uv run python benchmarks/startup.py [--repeat 5] [--elf FILE --strace FILE]  (real_size's inputs, optional)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
HEAVY = ("textual", "rich", "ruamel", "yaml", "elftools")
# Runs kvmtui's main as `python -m kvmtui` does, then names the heavy libraries it imported (on stderr).
PROBE = ("import sys, runpy\nsys.argv = ['kvmtui', *sys.argv[1:]]\ntry:\n    runpy.run_module('kvmtui', run_name='__main__')\n"
         f"except SystemExit:\n    pass\nfinally:\n    print('HEAVY', *sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})), file=sys.stderr)\n")


def cold_env() -> dict[str, str]:
    """No bytecode written; and none to read for kvmtui or its libraries, as in a fresh clone (uv installs no
    bytecode; the standard library's own stays, as everywhere)."""
    cached = [p for p in (ROOT / "kvmtui", Path(__import__("rich").__file__).parent.parent) if any(p.rglob("__pycache__"))]
    if cached:
        print(f"note: bytecode caches under {', '.join(map(str, cached))}: these figures are warm, not cold", file=sys.stderr)
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "NO_COLOR": "1"}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", PROBE, *argv], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    err = p.stderr.read()
    _, _, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    heavy = next((line.split()[1:] for line in err.splitlines() if line.startswith("HEAVY")), [])
    return wall, ru.ru_utime + ru.ru_stime, " ".join(heavy) or "-"


def baseline(repeat: int, env: dict[str, str]) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-c", "pass"], env=env)
        _, _, ru = os.wait4(p.pid, 0)
        walls.append(time.perf_counter() - t)
        cpus.append(ru.ru_utime + ru.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def commands(tmp: Path, elf: str | None, strace: str | None) -> list[list[str]]:
    from elfgen import Elf, Seg

    small_elf = tmp / "small.elf"
    small_elf.write_bytes(Elf(segments=[Seg(0x100000, b"\x90" * 64)], symbols=[("start", 0x100000, 16, 2)]).build())
    log = str(ROOT / "tests" / "data" / "import" / "pc.log")
    out = [["--version"], ["--help"], ["trace", "--help"], ["trace", "samples/rom.yaml"], ["trace", "--json", "samples/rom.yaml"],
           ["trace", str(small_elf)], ["trace", log], ["check", "samples/rom.yaml"], ["map", log],
           ["import", log, "-o", str(tmp / "pc.yaml"), "--force"]]
    out += [["trace", f] for f in (elf, strace) if f]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (the median is printed)")
    ap.add_argument("--elf", help="also time `kvmtui trace ELF` (e.g. real_size's segments.elf)")
    ap.add_argument("--strace", help="also time `kvmtui trace LOG` (e.g. real_size's strace.log)")
    args = ap.parse_args()
    env = cold_env()
    wall, cpu = baseline(args.repeat, env)
    print(f"load average {os.getloadavg()[0]:.1f}; medians of {args.repeat} cold runs")
    print(f"{'command':<58} {'wall s':>7} {'cpu s':>7}  heavy libraries imported")
    print(f"{'python -c pass':<58} {wall:7.2f} {cpu:7.2f}")
    with tempfile.TemporaryDirectory() as d:
        for argv in commands(Path(d), args.elf, args.strace):
            runs = [run_once(argv, env) for _ in range(args.repeat)]
            shown = " ".join(a if len(a) < 40 else "…" + a[-30:] for a in argv)
            print(f"kvmtui {shown:<51} {statistics.median(r[0] for r in runs):7.2f} {statistics.median(r[1] for r in runs):7.2f}  {runs[0][2]}")


if __name__ == "__main__":
    main()
