"""Output fingerprints: sha256 of `kvmtui trace --json` (and the piped table) for every sample under every era
and path, and for the real-size inputs. Speed work must leave every one unchanged.

  uv run python benchmarks/golden.py --record FILE    write the fingerprints of this checkout to FILE
  uv run python benchmarks/golden.py --check FILE     compare with FILE; exit 1 on any difference
  --root DIR runs another checkout (its own kvmtui, from its directory).
  --quick skips the real-size inputs in /work/bench/in (or --big DIR) that take most of the time.

Each case runs the whole command in its own process (two at a time), as a user runs it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ERAS = ("3.6", "3.7", "modern")
PATHS = ("native", "emulated")


def cases(root: Path, big: Path | None) -> list[list[str]]:
    out: list[list[str]] = []
    files = sorted((root / "samples").glob("*.yaml")) + sorted((root / "samples").glob("*/*.elf"))
    files += sorted((root / "tests" / "data").glob("*.yaml"))
    for f in (p.relative_to(root) for p in files):  # relative: fingerprints of two checkouts compare
        for era in ERAS:
            for path in PATHS:
                out.append(["--json", "--kernel", era, "--path", path, str(f)])
        out.append([str(f)])  # the piped table, default era and path
    if big is not None:
        for name in ("accesses.yaml", "big.yaml", "qemu.yaml"):
            out.append(["--json", str(big / name)])
        out.append([str(big / "qemu.yaml")])
        out.append(["--kernel", "3.6", "--path", "emulated", "--json", str(big / "accesses.yaml")])
    return out


def fingerprint(root: Path, args: list[str]) -> str:
    p = subprocess.run([sys.executable, "-m", "kvmtui", "trace", *args], check=False, capture_output=True, cwd=root)
    return f"rc={p.returncode} out={hashlib.sha256(p.stdout).hexdigest()} err={hashlib.sha256(p.stderr).hexdigest()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", type=Path)
    g.add_argument("--check", type=Path)
    ap.add_argument("--quick", action="store_true", help="samples only")
    ap.add_argument("--big", type=Path, default=Path("/work/bench/in"))
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout to run (default: this one)")
    ap.add_argument("-j", type=int, default=2)
    a = ap.parse_args()
    todo = cases(a.root, None if a.quick else a.big)
    with ThreadPoolExecutor(a.j) as pool:
        got = dict(zip((" ".join(c) for c in todo), pool.map(lambda c: fingerprint(a.root, c), todo), strict=True))
    if a.record:
        a.record.write_text(json.dumps(got, indent=1) + "\n")
        print(f"{len(got)} fingerprints written to {a.record}")
        return 0
    want = json.loads(a.check.read_text())
    bad = [k for k, v in got.items() if k in want and want[k] != v]
    missing = [k for k in got if k not in want]
    for k in bad:
        print(f"DIFFERS: trace {k}")
    for k in missing:
        print(f"not recorded: trace {k}")
    print(f"{len(got) - len(bad) - len(missing)} of {len(got)} unchanged")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
