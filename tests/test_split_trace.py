"""trace --json on two cores (split_trace.py): whatever the child does, the lines are those one process writes."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvmtui import split_trace
from kvmtui.cli import main
from kvmtui.report import write_json_lines
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import load_scenario
from kvmtui.scenario.generate import large_layout

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the second process is forked: no fork on this system")

SAMPLES = sorted((Path(__file__).parent.parent / "samples").glob("*.yaml"))


@pytest.fixture(scope="module")
def layout_run_scenario():
    return large_layout(n_slots=64, n_steps=3000)


def _one_process(run: ScenarioRun, path: Path) -> bytes:
    with open(path, "w", encoding="utf-8") as out:
        write_json_lines(run, run.stream(), out)
    return path.read_bytes()


def _two_processes(run: ScenarioRun, path: Path, taken=lambda step: True) -> bytes:
    """The split trace's bytes, where the child's lines started (None: the parent wrote them all) held to
    `taken`."""
    with open(path, "w", encoding="utf-8") as out:
        step = split_trace.write_json_split(run, out)
    assert taken(step), step
    return path.read_bytes()


@pytest.fixture
def look_often(monkeypatch):
    """The child looks at the parent's progress every 8 steps: a run of a few thousand steps is split."""
    monkeypatch.setattr(split_trace, "_LOOK_EVERY", 8)


@pytest.mark.parametrize("policy", ["measured", "half", "start", "never"])
def test_the_lines_are_those_one_process_writes(policy, layout_run_scenario, tmp_path, monkeypatch, look_often):
    n = len(layout_run_scenario.all_steps)
    forced = {"half": lambda c, n, p: 2 * c >= n, "start": lambda c, n, p: True, "never": lambda c, n, p: False}
    if policy in forced:
        monkeypatch.setattr(split_trace, "claims", forced[policy])
    # where the child's lines start: at the first look (every 8 steps) that claims, or where the parent was
    # if it had gone past it (a child started late, on a loaded machine)
    half = (n + 1) // 2
    taken = {"measured": lambda s: s is None or 0 < s < n, "half": lambda s: s is not None and half <= s < n,
             "start": lambda s: s is not None and 8 <= s < n, "never": lambda s: s is None}[policy]
    want = _one_process(ScenarioRun(layout_run_scenario), tmp_path / "one.jsonl")
    got = _two_processes(ScenarioRun(layout_run_scenario), tmp_path / "two.jsonl", taken)
    assert got.count(b"\n") == n > 3000
    assert got == want


def test_the_child_never_holds_more_than_its_bound(layout_run_scenario, tmp_path, monkeypatch, look_often):
    """Its lines wait in memory until the parent's are out: however eager, it takes at most CHILD_MAX_STEPS."""
    n = len(layout_run_scenario.all_steps)
    monkeypatch.setattr(split_trace, "CHILD_MAX_STEPS", 100)
    monkeypatch.setattr(split_trace, "claims", lambda c, n, p: True)
    want = _one_process(ScenarioRun(layout_run_scenario), tmp_path / "one.jsonl")
    assert _two_processes(ScenarioRun(layout_run_scenario), tmp_path / "two.jsonl", lambda s: s is None or s >= n - 100) == want


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_is_written_the_same(path, tmp_path, monkeypatch, look_often):
    monkeypatch.setattr(split_trace, "claims", lambda c, n, p: True)  # the child takes over as early as it may
    sc = load_scenario(path)
    assert _two_processes(ScenarioRun(sc), tmp_path / "two.jsonl") == _one_process(ScenarioRun(sc), tmp_path / "one.jsonl")


def test_a_failing_child_leaves_the_parent_to_write_the_rest(layout_run_scenario, tmp_path, monkeypatch, look_often):
    parent = os.getpid()

    def fails_in_the_child(run, entries, out):
        if os.getpid() != parent:
            raise RuntimeError("the child's writer broke")
        write_json_lines(run, entries, out)

    monkeypatch.setattr(split_trace, "claims", lambda c, n, p: 2 * c >= n)
    monkeypatch.setattr(split_trace, "write_json_lines", fails_in_the_child)
    forks = _count_forks(monkeypatch)
    want = _one_process(ScenarioRun(layout_run_scenario), tmp_path / "one.jsonl")
    assert _two_processes(ScenarioRun(layout_run_scenario), tmp_path / "two.jsonl", lambda s: s is None) == want
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):  # the child was waited for: nothing is left behind
        os.waitpid(forks[0], os.WNOHANG)


def test_no_second_process_today_leaves_the_parent_to_write_it_all(layout_run_scenario, tmp_path, monkeypatch):
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork() under a process limit: EAGAIN

    monkeypatch.setattr(split_trace.os, "fork", no_fork)
    want = _one_process(ScenarioRun(layout_run_scenario), tmp_path / "one.jsonl")
    assert _two_processes(ScenarioRun(layout_run_scenario), tmp_path / "two.jsonl", lambda s: s is None) == want


def test_a_reader_gone_stops_both_processes(layout_run_scenario, monkeypatch, look_often):
    class GoneAfterOneWrite(io.BytesIO):
        def write(self, b):
            if self.tell():
                raise BrokenPipeError(32, "Broken pipe")
            return super().write(b)

    out = io.TextIOWrapper(GoneAfterOneWrite(), encoding="utf-8")
    monkeypatch.setattr(split_trace, "claims", lambda c, n, p: False)  # the child replays on: the parent must end it
    forks = _count_forks(monkeypatch)
    with pytest.raises(BrokenPipeError):
        split_trace.write_json_split(ScenarioRun(layout_run_scenario), out)
    assert len(forks) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(forks[0], os.WNOHANG)


def _count_forks(monkeypatch) -> list[int]:
    pids: list[int] = []
    fork = os.fork

    def counting_fork() -> int:
        pid = fork()
        if pid:
            pids.append(pid)
        return pid

    monkeypatch.setattr(split_trace.os, "fork", counting_fork)
    return pids


def _shared(progress: int = 0, claim: int = 0) -> memoryview:
    shared = memoryview(bytearray(16)).cast("q")
    shared[split_trace._PROGRESS], shared[split_trace._CLAIM] = progress, claim
    return shared


def test_the_parent_stops_at_the_claimed_step_and_leaves_the_stream_there():
    shared = _shared(claim=3)
    stream = iter(range(10))
    stop = [10]
    assert list(split_trace._until_claimed(stream, shared, stop)) == [0, 1, 2]
    assert stop == [3]
    assert shared[split_trace._PROGRESS] == 3
    assert next(stream) == 3  # what the parent writes itself should the child fail


def test_a_claim_the_parent_has_passed_stops_it_at_once():
    shared = _shared()
    stream = iter(range(10))
    stop = [10]
    parent = split_trace._until_claimed(stream, shared, stop)
    assert [next(parent) for _ in range(5)] == [0, 1, 2, 3, 4]
    shared[split_trace._CLAIM] = 2  # the child was held up between reading the progress and claiming
    assert list(parent) == []
    assert stop == [5]  # lines 2-4 are the parent's: 3 of the child's lines are skipped


def test_no_claim_lets_the_parent_write_every_line():
    stop = [10]
    assert list(split_trace._until_claimed(iter(range(10)), _shared(), stop)) == list(range(10))
    assert stop == [10]


@pytest.mark.parametrize("skip", [0, 1, 2, 7, 40])
def test_the_copy_skips_whole_lines(skip, monkeypatch):
    monkeypatch.setattr(split_trace, "_COPY", 5)  # lines cross the reads
    lines = [f'{{"step":{i},"x":"{"y" * (i % 4)}"}}\n'.encode() for i in range(30)]
    fd = split_trace._memory_file()
    try:
        os.write(fd, b"".join(lines))
        out = io.BytesIO()
        split_trace._copy(fd, out, skip)
        assert out.getvalue() == b"".join(lines[skip:])
    finally:
        os.close(fd)


def test_the_child_claims_when_its_lines_match_the_parents_way_to_them():
    assert not split_trace.claims(499, 1000, 0)  # 499 lines of the parent's way vs 501 of the child's
    assert split_trace.claims(500, 1000, 0)  # 500 and 500: they end together
    assert not split_trace.claims(600, 1000, 300)  # 300 lines of the parent's way vs 400 of the child's
    assert split_trace.claims(650, 1000, 300)


def test_only_a_long_trace_with_a_second_cpu_is_split():
    assert split_trace.use_second_core(split_trace.MIN_STEPS, cpus=2)
    assert not split_trace.use_second_core(split_trace.MIN_STEPS - 1, cpus=2)
    assert not split_trace.use_second_core(10**6, cpus=1)


def _long_scenario(tmp_path: Path, n: int) -> Path:
    """n accesses and a write to a ROM: reads and writes over 4,096 pages (faults, then spte hits)."""
    steps = "".join(f"  - {{write: {(i * 7 % 4096) << 12:#x}, size: 8, value: {i:#x}}}\n" if i % 3 == 0
                    else f"  - {{read: {(i * 13 % 4096) << 12:#x}}}\n" for i in range(n))
    sc = tmp_path / "long.yaml"
    sc.write_text("host:\n  ram: {size: 16M}\n  rom: {size: 64K, prot: r}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\n"
                  "  - {slot: 1, gpa: 0xfffe0000, host: rom, flags: [readonly]}\nsteps:\n"
                  "  - {write: 0xfffe0010, size: 4, value: 0x1}\n" + steps)
    return sc


@pytest.mark.parametrize("n, split", [(split_trace.MIN_STEPS, True), (split_trace.MIN_STEPS - 1, False)])
def test_trace_json_splits_a_long_trace_only(n, split, tmp_path, monkeypatch, capsys):
    calls = []
    write_json_split = split_trace.write_json_split

    def recorded(run, out):
        calls.append(len(run))
        return write_json_split(run, out)

    monkeypatch.setattr(split_trace, "usable_cpus", lambda: 2)
    monkeypatch.setattr(split_trace, "write_json_split", recorded)
    sc = _long_scenario(tmp_path, n - 3)  # the two slots and the ROM write make n steps
    assert main(["trace", "--json", str(sc)]) == 0
    assert calls == ([n] if split else [])
    assert capsys.readouterr().out.encode() == _one_process(ScenarioRun(load_scenario(sc)), tmp_path / "one.jsonl")


def test_trace_json_from_the_shell_writes_the_same_and_stops_with_its_reader(tmp_path):
    """The command itself, on a trace long enough to be split, and a reader that leaves after one line."""
    sc = _long_scenario(tmp_path, split_trace.MIN_STEPS + 500)
    want = _one_process(ScenarioRun(load_scenario(sc)), tmp_path / "one.jsonl")
    cmd = [sys.executable, "-m", "kvmtui", "trace", "--json", str(sc)]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    assert done.stdout == want
    # | head -n 1: the reader goes after the first line; no traceback, status 0, and no process left running
    head = subprocess.run(f"{' '.join(cmd)} | head -n 1; echo \"status ${{PIPESTATUS[0]}}\"", shell=True,
                          executable="/bin/bash", capture_output=True, timeout=120)
    assert head.stdout.splitlines() == [want.split(b"\n", 1)[0], b"status 0"]
    assert head.stderr == b""
    assert not _running_on(sc)


def _running_on(path: Path) -> list[int]:
    """The processes whose command line names path."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:  # gone while we looked
            pass
    return pids
