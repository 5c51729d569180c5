"""The differential suite, by hand and as large as you like: N generated scenarios (tests/live_scenarios.py)
run by the simulator (modern, modelling this host) and on this machine's /dev/kvm, step by step.

Run: uv run python scripts/differential.py [N] [--flavour mixed|dirty|many_slots|edges] [--seed S] [--show K]
Prints how many scenarios and steps agreed, per flavour and access path, and the first K disagreements.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from live_scenarios import FLAVOURS, _scenario  # noqa: E402

from kvmtui.engine.compare import compare_records  # noqa: E402
from kvmtui.live.backend import LiveRun  # noqa: E402
from kvmtui.live.kvmapi import kvm_available  # noqa: E402
from kvmtui.live.params import host_settings  # noqa: E402
from kvmtui.runner import ScenarioRun  # noqa: E402


def to_yaml(sc) -> str:
    """A generated scenario as a file `kvmtui compare` reads (flow style: one line per step)."""
    flags = {0: "[]", 1: "[log_dirty_pages]", 2: "[readonly]", 3: "[log_dirty_pages, readonly]"}

    def val(k, v):
        if k == "flags":
            return flags[v]
        if k == "data":
            return '"' + v.hex(" ") + '"'
        if isinstance(v, int):
            return hex(v)
        return f'"{v}"'

    out = [f"path: {sc.path}", "host:"]
    for h in sc.host:
        extra = (f", fill: {h.fill:#x}" if h.fill else "") + (f', data: "{h.image.hex(" ")}"' if h.image else "")
        out.append(f"  {h.name}: {{size: {h.size:#x}, prot: {h.prot}, backing: {h.backing}{extra}}}")
    out.append("steps:")
    for spec in sc.steps:
        p = dict(spec.params)
        if spec.op in ("read", "write", "fetch"):
            gpa = p.pop("gpa")
            p.pop("vcpu", None)
            out.append(f"  - {{{spec.op}: {gpa:#x}" + "".join(f", {k}: {val(k, v)}" for k, v in p.items()) + "}")
        elif spec.op in ("delete_slot", "get_dirty_log", "check_extension"):
            out.append(f"  - {spec.op}: {next(iter(p.values()))}")
        else:
            out.append(f"  - {spec.op}: {{" + ", ".join(f"{k}: {val(k, v)}" for k, v in p.items()) + "}")
    return "\n".join(out) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--flavour", choices=sorted(FLAVOURS), action="append")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--show", type=int, default=10)
    ap.add_argument("--dump", type=Path, help="write each scenario that disagrees there, as YAML for kvmtui compare")
    args = ap.parse_args()
    ok, why = kvm_available()
    if not ok:
        print(f"live KVM unavailable: {why}", file=sys.stderr)
        return 3
    flavours = tuple(args.flavour or FLAVOURS)
    host = host_settings()
    scen = Counter()
    steps = Counter()
    shown: list[str] = []
    t0 = time.perf_counter()

    @st.composite
    def labelled(draw):
        flavour = draw(st.sampled_from(flavours))
        path = draw(st.sampled_from(["native", "emulated"]))
        return flavour, path, _scenario(draw(FLAVOURS[flavour]()), path)

    @seed(args.seed)
    @settings(max_examples=args.n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(labelled())
    def run(case):
        flavour, path, sc = case
        sim = [e.record for e in ScenarioRun(sc, "modern", settings=host).entries()]
        with LiveRun(sc) as live:
            real = [e.record for e in live.entries()]
        diffs = [d for d in compare_records(sim, real) if not d.same]
        key = f"{flavour}/{path}"
        scen[key, "all"] += 1
        scen[key, "agreed"] += not diffs
        steps[key, "all"] += len(sim)
        steps[key, "agreed"] += len(sim) - len(diffs)
        if diffs and args.dump:
            args.dump.mkdir(parents=True, exist_ok=True)
            (args.dump / f"{key.replace('/', '-')}-{scen[key, 'all']}.yaml").write_text(to_yaml(sc))
        for d in diffs:
            if len(shown) < args.show:
                shown.append(f"{key} step {d.index + 1} {d.left.op} {d.left.args}: {', '.join(d.fields)}: "
                             f"sim {d.left.outcome} {d.left.value} {d.left.dirty} / live {d.right.outcome} {d.right.value} {d.right.dirty}")

    run()
    took = time.perf_counter() - t0
    print(f"host: kvm.mmio_caching={'Y' if host.mmio_caching else 'N'}, {'swap' if host.swap else 'no swap'}")
    keys = sorted({k for k, _ in scen})
    for k in keys:
        print(f"{k:22} scenarios {scen[k, 'agreed']:5}/{scen[k, 'all']:<5} steps {steps[k, 'agreed']:6}/{steps[k, 'all']}")
    total_s = sum(scen[k, "all"] for k in keys)
    print(f"{'total':22} scenarios {sum(scen[k, 'agreed'] for k in keys):5}/{total_s:<5} "
          f"steps {sum(steps[k, 'agreed'] for k in keys):6}/{sum(steps[k, 'all'] for k in keys)}  ({took:.0f} s)")
    for line in shown:
        print("  ✗", line)
    return 0 if all(scen[k, "agreed"] == scen[k, "all"] for k in keys) else 1


if __name__ == "__main__":
    sys.exit(main())
