"""`kvmtui check` and `kvmtui compare` over many files: each file is run and judged on its own, a file that
fails (bad input, unmet expectations, a live run the kernel would not start) never stops the others, and
the exit status is the highest of the files' (status.py). Expectations the backend cannot show are listed
as unchecked, never counted as met (judge.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import IO, TYPE_CHECKING

from .status import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE, EXIT_UNMET

if TYPE_CHECKING:
    from .run import Run
    from .runner import TraceEntry
    from .scenario.model import Scenario

# Reads one file as a scenario; on bad input it has said why (one line on stderr) and returns None.
Load = Callable[[str], "Scenario | None"]


def live_unavailable(err: IO[str]) -> bool:
    """Say why live mode cannot run here, if it cannot."""
    from .live import kvmapi

    ok, why = kvmapi.kvm_available()
    if not ok:
        print(f"kvmtui: live mode unavailable: {why}", file=err)
    return not ok


def _on_live(path: str, work: Callable[[], int], err: IO[str]) -> tuple[int, bool]:
    """work()'s status and True; or, where the live run cannot go on, False and why: what the kernel's types
    cannot hold is bad input named in the scenario (exit 2), a VM the kernel would not make or run is a
    backend not available (exit 3)."""
    from .live.vm import LiveError
    from .scenario import ScenarioError

    try:
        return work(), True
    except ScenarioError as e:
        print(f"kvmtui: {e}", file=err)
        return EXIT_BAD_INPUT, False
    except (LiveError, OSError) as e:
        print(f"kvmtui: {path}: live run failed: {getattr(e, 'strerror', None) or e}", file=err)
        return EXIT_UNAVAILABLE, False


@dataclass
class Tally:
    """One file's expectations, counted as the run streams by (only the entries to report are kept)."""

    steps: int = 0
    expected: int = 0  # steps with an expect: for this era
    met: int = 0
    failed: list[TraceEntry] = field(default_factory=list)  # something unmet
    unchecked: list[TraceEntry] = field(default_factory=list)  # something the backend cannot show

    def add(self, e: TraceEntry) -> None:
        self.steps += 1
        if e.unmet is None:
            return
        self.expected += 1
        if e.unmet:
            self.failed.append(e)
        elif not e.unchecked:
            self.met += 1
        if e.unchecked:
            self.unchecked.append(e)

    def counts(self) -> str:
        """", 2 with unchecked parts" after the met or unmet count: expectations whose other fields held
        (or did not) while a field the backend cannot show was left unchecked, listed below the line."""
        return f", {len(self.unchecked)} with unchecked parts" if self.unchecked else ""


def _where(path: str, e: TraceEntry) -> str:
    pos = e.spec.expect.pos if e.spec.expect else e.spec.pos
    return f"  {path}:{pos.line}:{pos.col}: step {e.index} ({e.record.op})"


def report_check(path: str, run: Run, tally: Tally, out: IO[str]) -> int:
    """One file's summary line, then every unmet and every unchecked expectation with its place."""
    era = f"kernel {run.kernel}, {run.path}"
    if tally.failed:
        print(f"FAIL {path} ({era}): {len(tally.failed)} of {tally.expected} expectations unmet{tally.counts()}, {tally.steps} steps", file=out)
    else:
        print(f"ok   {path} ({era}): {tally.met} expectations met{tally.counts()}, {tally.steps} steps", file=out)
    for e in tally.failed:
        for why in e.unmet or ():
            print(f"{_where(path, e)}: {why}", file=out)
    for e in tally.unchecked:
        for why in e.unchecked:
            print(f"{_where(path, e)}: unchecked: {why}", file=out)
    return EXIT_UNMET if tally.failed else EXIT_OK


def check_files(paths: Sequence[str], load: Load, kernel: str | None, path: str | None, live: bool = False,
                out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """`kvmtui check`: every file's expectations, in the simulator (streamed) or on /dev/kvm."""
    out, err = out or sys.stdout, err or sys.stderr
    loaded = [(p, load(p)) for p in paths]  # bad input is exit 2, with or without /dev/kvm
    outcome = [EXIT_BAD_INPUT if sc is None else EXIT_OK for _, sc in loaded]
    if live and any(sc is not None for _, sc in loaded) and live_unavailable(err):
        return max(EXIT_UNAVAILABLE, *outcome)
    ran = ok = 0
    for p, scenario in loaded:
        if scenario is None:
            continue
        if live:
            status, done = _on_live(p, partial(_check_live, p, scenario, path, out), err)
        else:
            status, done = _check_simulated(p, scenario, kernel, path, out), True
        outcome.append(status)
        ran += done
        ok += status == EXIT_OK
    _sum_up("check", len(paths), ran, ok, out)
    return max(outcome)


def _check_simulated(p: str, scenario: Scenario, kernel: str | None, path: str | None, out: IO[str]) -> int:
    from .runner import ScenarioRun

    return _check(p, ScenarioRun(scenario, kernel, path), out)


def _check_live(p: str, scenario: Scenario, path: str | None, out: IO[str]) -> int:
    from .live.backend import LiveRun

    with LiveRun(scenario, path) as run:
        return _check(p, run, out)


def _check(p: str, run: Run, out: IO[str]) -> int:
    tally = Tally()
    for e in run.stream():
        tally.add(e)
    return report_check(p, run, tally, out)


def _sum_up(command: str, n: int, run: int, ok: int, out: IO[str]) -> None:
    """The last line where there were several files: how many were run, how many held."""
    if n > 1:
        print(f"{command}: {n} files, {ok} ok, {run - ok} failed, {n - run} not run", file=out)


def compare_files(paths: Sequence[str], load: Load, path: str | None, as_json: bool,
                  out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """`kvmtui compare`: each file in the simulator (modern, modelling this host) beside /dev/kvm."""
    out, err = out or sys.stdout, err or sys.stderr
    loaded = [(p, load(p)) for p in paths]  # bad input is exit 2, with or without /dev/kvm
    outcome: list[int] = [EXIT_BAD_INPUT if any(sc is None for _, sc in loaded) else EXIT_OK]
    if all(sc is None for _, sc in loaded):
        return EXIT_BAD_INPUT
    if live_unavailable(err):
        return EXIT_UNAVAILABLE
    ran = ok = 0
    for p, scenario in loaded:
        if scenario is None:
            continue
        status, done = _on_live(p, partial(_compare_one, p, scenario, path, as_json, out), err)
        outcome.append(status)
        ran += done
        ok += status == EXIT_OK
    if not as_json:
        _sum_up("compare", len(paths), ran, ok, out)
    return max(outcome)


def _compare_one(p: str, scenario: Scenario, path: str | None, as_json: bool, out: IO[str]) -> int:
    from .engine.compare import compare_records
    from .live.backend import LiveRun
    from .live.params import host_settings
    from .runner import ScenarioRun
    from .table import print_compare

    with LiveRun(scenario, path) as live:
        live_entries = live.entries()
    sim = ScenarioRun(scenario, "modern", path, host_settings())  # the simulator models this host
    sim_entries = sim.entries()
    diffs = compare_records([e.record for e in sim_entries], [e.record for e in live_entries])
    print_compare(p, sim, sim_entries, live_entries, diffs, out, out.isatty(), as_json)
    return EXIT_OK if all(d.same for d in diffs) else EXIT_UNMET
