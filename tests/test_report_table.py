"""The piped trace table is written directly (Rich takes minutes on 100,000 rows); it must be exactly what
Rich prints for the same table."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from kvmtui import table
from kvmtui.cli import _load
from kvmtui.runner import ScenarioRun

ROOT = Path(__file__).parent.parent
INPUTS = sorted([*(ROOT / "samples").glob("*.yaml"), *(ROOT / "tests" / "data" / "import").glob("*.log"),
                 ROOT / "tests" / "data" / "import" / "pc.strace"])


def _rich(run, entries) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, color_system=None, width=table.PLAIN_WIDTH, highlight=False, soft_wrap=True)
    sc = run.scenario
    console.print(f"{sc.title} — kernel {run.kernel}, {run.path} path, {len(entries)} steps")
    for note in sc.notes:
        console.print(f"note: {note}")
    table._rich_table(console, [table._row(run, e) for e in entries], False)
    return out.getvalue()


@pytest.mark.parametrize("path", INPUTS, ids=lambda p: p.name)
def test_plain_table_is_what_rich_prints(path):
    scenario, err = _load(str(path))
    assert err is None
    run = ScenarioRun(scenario)
    entries = run.entries()
    out = io.StringIO()
    table.print_table(run, entries, out, terminal=False)
    assert out.getvalue() == _rich(run, entries)


def test_markup_in_cells_reads_as_rich_reads_it(tmp_path):
    p = tmp_path / "m.yaml"
    p.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n"
                 "  - read: 0\n    expect: {outcome: ok, value: 7}\n  - get_dirty_log: 0\n    expect: {dirty: [1]}\n")
    scenario, _ = _load(str(p))
    run = ScenarioRun(scenario)
    entries = run.entries()
    out = io.StringIO()
    table.print_table(run, entries, out, terminal=False)
    assert out.getvalue() == _rich(run, entries)
    assert "expected [1]" in out.getvalue()


def test_a_long_table_on_a_terminal_is_the_piped_table_in_rich_s_colours(monkeypatch):
    """Above BIG_TABLE rows a terminal gets the piped layout (Rich took 200 s for 34,764 rows), with the
    outcome coloured as Rich colours it and the title and header bold; without the colours it is the piped
    table exactly."""
    import re

    monkeypatch.setattr(table, "BIG_TABLE", 3)  # the name table.py reads
    scenario, err = _load(str(ROOT / "samples" / "rom.yaml"))
    assert err is None
    run = ScenarioRun(scenario)
    entries = run.entries()
    assert len(entries) > 3
    term, piped = io.StringIO(), io.StringIO()
    table.print_table(run, entries, term, terminal=True)
    table.print_table(run, entries, piped, terminal=False)
    assert re.sub(r"\x1b\[[0-9;]*m", "", term.getvalue()) == piped.getvalue()
    lines = term.getvalue().splitlines()
    assert lines[0].startswith("\x1b[1m") and lines[1].startswith("\x1b[1m#")
    rows = [table._row(run, e) for e in entries]
    for line, (cells, colour) in zip(lines[2:], rows, strict=True):
        first = cells[2].split(" ◆")[0]
        assert f"\x1b[{table.SGR[colour]}m{first}\x1b[0m" in line
