"""trace --json and check read a run as a stream: the same entries as the app's history gives, written as
they are produced, none kept."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.report import JSON_BATCH, entry_json, write_json_lines
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import load_scenario
from kvmtui.scenario.generate import large_layout

SAMPLES = sorted((Path(__file__).parent.parent / "samples").glob("*.yaml"))


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_stream_gives_the_entries_history_gives(path, era):
    sc = load_scenario(path)
    kept = ScenarioRun(sc, era).entries()
    streamed = ScenarioRun(sc, era)
    got = list(streamed.stream())
    assert [(e.index, e.spec, e.record, e.unmet) for e in got] == [(e.index, e.spec, e.record, e.unmet) for e in kept]
    assert streamed.history.records == []  # the stream kept nothing in the run


def test_json_lines_are_written_as_they_come():
    sc = large_layout(n_slots=64, n_steps=3 * JSON_BATCH)
    run = ScenarioRun(sc)
    out = io.StringIO()
    produced = 0

    def counting():
        nonlocal produced
        for e in run.stream():
            produced += 1
            if produced == 2 * JSON_BATCH + 1:  # by now at least one batch is out, the rest of the run is not made
                assert out.getvalue().count("\n") >= JSON_BATCH
                assert out.getvalue().count("\n") < produced
            yield e

    write_json_lines(run, counting(), out)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(run) == produced
    again = ScenarioRun(sc)
    assert [json.loads(x) for x in lines] == [entry_json(again, e) for e in again.entries()]


def test_check_streams_and_still_reports_each_unmet_expectation(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n"
                   "  - read: 0\n    expect: mmio\n  - read: 0x1000\n  - read: 0x2000\n    expect: {outcome: ok, value: 7}\n")
    assert main(["check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "2 of 2 expectations unmet, 4 steps" in out
    assert f"{bad}:7:13: step 2 (read): outcome: expected mmio, got ok" in out
    assert "step 4 (read): value: expected 0x7, got 0x0" in out


def test_a_wide_fetch_value_is_written_whole(tmp_path, capsys):
    """A 15-byte fetch reads a 120-bit value: orjson stops at 64 bits, the line must still be written."""
    sc = tmp_path / "wide.yaml"
    sc.write_text("host:\n  ram: {size: 64K, data: '" + " ".join(f"{b:02x}" for b in range(1, 17)) + "'}\n"
                  "slots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - fetch: 0x0\n    size: 15\n  - read: 0x0\n    size: 8\n")
    assert main(["trace", "--json", str(sc)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["value"] for x in lines[-2:]] == [int.from_bytes(bytes(range(1, 16)), "little"), int.from_bytes(bytes(range(1, 9)), "little")]
    run = ScenarioRun(load_scenario(sc))
    assert lines == [entry_json(run, e) for e in run.entries()]
