"""Issue 11: the app's prompts (probe, goto, breakpoints, slot editor) are pure parsers built on the loader's
own: units, symbols, host names, case-insensitive outcome names; anything typed ends in a value or a
CommandError, never another exception. The Pilot tests at the end drive the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvmtui.tui.commands import (
    Breakpoint,
    CommandError,
    GotoAddress,
    GotoStep,
    breakpoint_hit,
    parse_breakpoint,
    parse_edit,
    parse_goto,
    parse_probe,
)

ROOT = Path(__file__).parent.parent
HOSTS = ("ram", "rom")
SYMBOLS = {"reset_vector": 0xFFFFFFF0, "_start": 0xFFFF8000}


def sym(name: str) -> int | None:
    return SYMBOLS.get(name)


# -- editor ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,gpa", [("add 7 gpa=1M host=ram", 1 << 20), ("add 7 gpa=0x2000 host=ram size=64K", 0x2000),
                                      ("add 7 gpa=1_048_576 host=ram+4K", 1 << 20)])
def test_editor_add_takes_units(text, gpa):
    verb, slot, fields = parse_edit(text, HOSTS)
    assert (verb, slot, fields["gpa"]) == ("add", 7, gpa)


def test_editor_move_takes_units():
    assert parse_edit("move 1 gpa=4K", HOSTS) == ("move", 1, {"gpa": 4096})
    assert parse_edit("MOVE 1 gpa=0x10", HOSTS)[2] == {"gpa": 16}


@pytest.mark.parametrize("text,words", [
    ("add 7 gpa=1Q host=ram", "not a number or size"),
    ("add 7 gpa=1M host=nope", "unknown host mapping"),
    ("add 0x100000000 gpa=0 host=ram", "out of range"),
    ("add x gpa=0 host=ram", "slot id"),
    ("move 1 gpa=" + "9" * 5000, "not a number or size"),
    ("move 1 gpa=0x1" + "0" * 16, "out of range"),
    ("flags 1 bogus", "unknown flag"),
    ("frob 1", "unknown edit"),
    ("add 7 gpa=1M", "needs `host=`"),
])
def test_editor_refuses_with_a_line(text, words):
    with pytest.raises(CommandError, match=words) as e:
        parse_edit(text, HOSTS)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


# -- probe -----------------------------------------------------------------------------------------------
def test_probe_takes_symbols_and_units():
    spec = parse_probe("f reset_vector", HOSTS, sym)
    assert spec.op == "fetch" and spec.params["gpa"] == 0xFFFFFFF0
    assert parse_probe("r 1M", HOSTS, sym).params["gpa"] == 1 << 20
    assert parse_probe("w _start 1 0x5a", HOSTS, sym).params["gpa"] == 0xFFFF8000
    assert parse_probe("evict ram 1T", HOSTS).params["size"] == 1 << 40


@pytest.mark.parametrize("text", ["r nowhere", "r " + "9" * 5000, "r 0x1" + "0" * 16, "w 0 1 0x100", "mprotect ram rwx", "slot 1 gpa=0 host=x",
                                  "zz", "r", "hostwrite ram zz", "'unclosed"])
def test_probe_refuses_with_a_line(text):
    with pytest.raises(CommandError):
        parse_probe(text, HOSTS, sym)


# -- goto ------------------------------------------------------------------------------------------------
def test_goto_parses_steps_addresses_and_symbols():
    assert parse_goto("step 3", 10) == GotoStep(2)
    assert parse_goto("1G", 10) == GotoAddress(1 << 30)
    assert parse_goto("reset_vector", 10, sym) == GotoAddress(0xFFFFFFF0)
    assert parse_goto("0xffffffffffffffff", 10) == GotoAddress((1 << 64) - 1)


@pytest.mark.parametrize("text,words", [("0x10000000000000000", "out of range"), ("16E", "out of range"), ("step 11", "out of range"),
                                        ("step 0", "out of range"), ("nowhere", "not an address"), ("step x", "step number"), ("", "type")])
def test_goto_refuses_addresses_past_2_64_and_bad_steps(text, words):
    with pytest.raises(CommandError, match=words):
        parse_goto(text, 10, sym)


# -- breakpoints -----------------------------------------------------------------------------------------
def test_breakpoints_parse_with_the_loaders_parsers():
    assert parse_breakpoint("gpa 1M") == Breakpoint("gpa", 1 << 20)
    assert parse_breakpoint("gpa reset_vector", sym) == Breakpoint("gpa", 0xFFFFFFF0)
    assert parse_breakpoint("slot 3") == Breakpoint("slot", 3)
    assert parse_breakpoint("outcome EFAULT") == Breakpoint("outcome", "efault")
    assert parse_breakpoint("outcome Mmio") == Breakpoint("outcome", "mmio")
    assert parse_breakpoint("outcome einval") == Breakpoint("outcome", "EINVAL")
    assert parse_breakpoint("CLEAR") is None


@pytest.mark.parametrize("text,words", [("outcome bogus", "not known"), ("slot 0x100000000", "out of range"), ("gpa 1Q", "not a number"),
                                        ("gfn " + "9" * 5000, "must be a number"), ("where 1", "unknown breakpoint"), ("gpa", "write gpa")])
def test_breakpoints_refuse_unknown_things(text, words):
    with pytest.raises(CommandError, match=words):
        parse_breakpoint(text, sym)


# -- anything typed ----------------------------------------------------------------------------------------
@given(st.text(max_size=80))
def test_any_text_gives_a_value_or_a_command_error(text):
    for parse in (lambda t: parse_probe(t, HOSTS, sym), lambda t: parse_edit(t, HOSTS), lambda t: parse_goto(t, 5, sym),
                  lambda t: parse_breakpoint(t, sym)):
        try:
            parse(text)
        except CommandError as e:
            assert "\n" not in str(e).strip("\n") or str(e).startswith("type")


# -- the real app ----------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_the_app_answers_inline_and_never_crashes(tmp_path):
    import shutil

    from kvmtui.tui.app import KvmApp

    target = tmp_path / "elf.yaml"
    shutil.copytree(ROOT / "samples" / "firmware", tmp_path / "firmware")
    shutil.copy(ROOT / "samples" / "elf.yaml", target)
    app = KvmApp(str(target))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#edit-input").value = "add 7 gpa=1M host=ram"
        await pilot.press("enter")
        await pilot.pause()
        assert any(s.params["slot"] == 7 and s.params["gpa"] == 1 << 20 for s in app.scenario.setup)
        app.screen.query_one("#edit-input").value = "move 7 gpa=4K"
        await pilot.press("enter")
        await pilot.pause()
        assert any(s.params["slot"] == 7 and s.params["gpa"] == 4096 for s in app.scenario.setup)
        await pilot.press("escape")
        await pilot.press("g")
        app.screen.query_one("Input").value = "0x10000000000000000"
        await pilot.press("enter")
        assert "out of range" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape", "B")
        app.screen.query_one("Input").value = "outcome bogus"
        await pilot.press("enter")
        assert "not known" in str(app.screen.query_one("#prompt-error").render())
        app.screen.query_one("Input").value = "outcome EFAULT"
        await pilot.press("enter")
        await pilot.pause()
        assert app.breakpoints == [Breakpoint("outcome", "efault")]
        await pilot.press("colon")
        app.screen.query_one("Input").value = "f reset_vector"
        await pilot.press("enter")
        await pilot.pause()
        assert app.run_.entry(app.index).record.args["gpa"] == 0xFFFFFFF0


# -- breakpoints, judged on the engine's own records (pure: no app) --------------------------------------------
def _rom_records():
    from kvmtui.runner import ScenarioRun
    from kvmtui.scenario.loader import load_scenario

    return [e.record for e in ScenarioRun(load_scenario(ROOT / "samples" / "rom.yaml")).entries()]


def test_breakpoints_stop_where_their_kind_says():
    recs = _rom_records()
    stops = {text: [i for i, r in enumerate(recs) if breakpoint_hit([parse_breakpoint(text)], r)]
             for text in ("outcome MMIO", "slot 1", "gpa 0xfffe0002", "gfn 0x1", "gpa 0x1008")}
    assert stops["outcome MMIO"] == [i for i, r in enumerate(recs) if r.outcome == "mmio"] != []
    # slot 1: the accesses through it and the request that made it, not slot 0's
    assert stops["slot 1"] == [1] + [i for i, r in enumerate(recs) if r.is_access and r.slot == 1]
    # a gpa inside an access's bytes (not only its first byte); a gfn any byte of the access touches
    assert stops["gpa 0xfffe0002"] == [i for i, r in enumerate(recs) if r.is_access and r.args["gpa"] == 0xFFFE0000 and r.args["size"] > 2]
    assert stops["gfn 0x1"] == [i for i, r in enumerate(recs) if r.is_access and r.args["gpa"] == 0x1000]
    assert stops["gpa 0x1008"] == []  # one past the 8-byte write and read at 0x1000


def test_the_first_breakpoint_hit_names_the_stop():
    recs = _rom_records()
    mmio = next(r for r in recs if r.outcome == "mmio")
    bps = [parse_breakpoint("gfn 0x1"), parse_breakpoint("slot 1"), parse_breakpoint("outcome mmio")]
    assert breakpoint_hit(bps, mmio) == "slot 1"
    assert breakpoint_hit(bps[2:], mmio) == "outcome mmio"
    assert breakpoint_hit([], mmio) is None
