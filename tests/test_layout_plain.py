"""Piped `kvmtui map` and `kvmtui diff` are written without Rich's table (which took 90 s for 32,764 slots);
what they print is what Rich printed, for every layout in the test data, the samples, and names that Rich
reads as markup or draws wide."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from kvmtui import layout_report
from kvmtui.layouts import diff, map_rows, open_layout

ROOT = Path(__file__).resolve().parent.parent
LOGS = sorted((ROOT / "tests" / "data" / "layouts").glob("*.log"))
ODD = """\
kvmtui: 1
host:
  "[bold]ram:smile:": {size: 64K}
  "wide→ram": {size: 64K}
slots:
  - {slot: 0, gpa: 0, host: "[bold]ram:smile:"}
  - {slot: 1, gpa: 0x100000, host: "wide→ram", flags: [readonly]}
mmio:
  - {name: "uart[x]", gpa: 0x200000, size: 0x1000}
"""


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("odd") / "odd.yaml"
    p.write_text(ODD)
    return p


def _open(path: Path, mtree: Path | None = None):
    layout, err = open_layout(str(path), None, None, str(mtree) if mtree else None)
    assert layout is not None, err
    return layout


def _both(monkeypatch, name: str, print_it) -> tuple[str, str]:
    direct = io.StringIO()
    print_it(direct)
    with monkeypatch.context() as m:
        m.setattr(layout_report, name, lambda *_: False)  # as if too wide: Rich lays it out
        rich = io.StringIO()
        print_it(rich)
    return direct.getvalue(), rich.getvalue()


@pytest.mark.parametrize("name", [p.name for p in LOGS] + ["rom.yaml", "elf.yaml", "odd"])
def test_piped_map_is_what_rich_prints(name, odd, monkeypatch):
    path = odd if name == "odd" else (ROOT / "samples" / name if name.endswith(".yaml") else ROOT / "tests" / "data" / "layouts" / name)
    mtree = path.with_suffix(".mtree")
    layout = _open(path, mtree if mtree.exists() else None)
    rows = map_rows(layout)
    direct, rich = _both(monkeypatch, "_plain_map", lambda f: layout_report.print_map(layout, rows, f, False, False))
    assert direct == rich and len(direct.splitlines()) >= len(rows)


@pytest.mark.parametrize("pair", [("pc.log", "q35.log"), ("q35.log", "q35-4G.log"), ("microvm.log", "microvm.log"), ("ovmf-pc.log", "odd")])
def test_piped_diff_is_what_rich_prints(pair, odd, monkeypatch):
    a, b = (_open(odd if n == "odd" else ROOT / "tests" / "data" / "layouts" / n) for n in pair)
    diffs = diff(a, b)
    direct, rich = _both(monkeypatch, "_plain_diff", lambda f: layout_report.print_diff(a, b, diffs, f, False, False))
    assert direct == rich and (len(direct.splitlines()) > len(diffs) + 2 if diffs else "the same" in direct)


def test_a_long_map_and_diff_on_a_terminal_are_the_piped_ones_in_colour(odd, monkeypatch):
    """Above BIG_TABLE rows a terminal gets the piped layout (Rich took 90 s for 32,764 slots) with Rich's
    colours: without them it is the piped output exactly."""
    import re

    monkeypatch.setattr(layout_report, "BIG_TABLE", 2)
    strip = re.compile(r"\x1b\[[0-9;]*m")
    layout = _open(odd)
    rows = map_rows(layout)
    term, piped = io.StringIO(), io.StringIO()
    layout_report.print_map(layout, rows, term, True, False)
    layout_report.print_map(layout, rows, piped, False, False)
    assert strip.sub("", term.getvalue()) == piped.getvalue()
    assert "\x1b[33mREADONLY\x1b[0m" in term.getvalue() and "\x1b[35mmmio device uart[x]\x1b[0m" in term.getvalue()
    a, b = _open(ROOT / "tests" / "data" / "layouts" / "ovmf-pc.log"), _open(odd)
    diffs = diff(a, b)
    assert len(diffs) > 2
    term, piped = io.StringIO(), io.StringIO()
    layout_report.print_diff(a, b, diffs, term, True, False)
    layout_report.print_diff(a, b, diffs, piped, False, False)
    assert strip.sub("", term.getvalue()) == piped.getvalue() and term.getvalue().startswith("\x1b[1;31m--- ")
