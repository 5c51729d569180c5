"""The app's address-space tab (a) and diff screen (d), driven with Pilot."""

from pathlib import Path

import pytest
from test_address_spaces import SMM_QEMU10
from textual.widgets import DataTable, TabbedContent

from kvmtui.cli import main
from kvmtui.layouts import diff, layout_at, parse_diff_target
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.importers import scenario_from_log
from kvmtui.tui.app import KvmApp
from kvmtui.tui.screens.diff import DiffScreen
from kvmtui.tui.widgets.addrspace import AddressSpaceMap

ROOT = Path(__file__).parent.parent
IMPORT = ROOT / "tests" / "data" / "import"
LAYOUTS = ROOT / "tests" / "data" / "layouts"


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", ".": "full_stop", "/": "slash", "-": "minus", "_": "underscore"}.get(ch, ch))


async def clear_and_type(pilot, text: str) -> None:
    for _ in range(20):
        await pilot.press("backspace")
    await type_text(pilot, text)


def test_the_keys_are_in_the_footer_and_the_palette():
    app = KvmApp(str(IMPORT / "pc.log"))
    shown = {b.action: b.show for b in app.BINDINGS}
    assert shown["address_space"] and shown["diff"]
    keys = {b.action: b.key for b in app.BINDINGS}
    assert keys["address_space"] == "a" and keys["diff"] == "d"


@pytest.mark.asyncio
async def test_palette_lists_the_address_space_and_diff():
    app = KvmApp(str(IMPORT / "pc.log"))
    async with app.run_test(size=(120, 40)):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Space", "Diff"} <= titles


@pytest.mark.asyncio
async def test_address_space_tab_follows_the_step_with_names_from_mtree_and_maps():
    app = KvmApp(str(LAYOUTS / "pc.log"), mtree=str(LAYOUTS / "pc.mtree"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        assert app.query_one(TabbedContent).active == "tab-space"
        space = app.query_one(AddressSpaceMap)
        assert [r.shown for r in space.rows if r.slot] == ["pc.ram"]  # after step 1: only pc.ram
        await pilot.press("end")
        rows = space.rows
        assert rows[0].gpa == 0 and sum(r.size for r in rows) == 1 << 64
        assert [r.shown for r in rows if r.slot] == ["pc.ram", "pc.ram @0xc0000", "vga.vram", "pc.bios"]
        assert "vga-lowmem" in {r.name for r in rows if r.kind == "qemu"}
        assert "1 address space" in space.header_text() and "4 slots" in str(space.border_subtitle)
        assert any("READONLY · pc.bios" in space.line_text(r) for r in rows)

    app = KvmApp(str(LAYOUTS / "memfd.log"), maps=str(LAYOUTS / "memfd.maps"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "a")
        names = [r.name for r in app.query_one(AddressSpaceMap).rows if r.slot]
        assert names[0].startswith("/memfd:memory-backend-memfd")


@pytest.mark.asyncio
async def test_two_address_spaces_are_shown_and_said(tmp_path):
    log = tmp_path / "smm.log"
    log.write_text(SMM_QEMU10)
    app = KvmApp(str(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "a")
        space = app.query_one(AddressSpaceMap)
        assert "2 address spaces" in space.header_text()
        assert {r.as_id for r in space.rows} == {0, 1}
        assert any(r.slot is not None and r.slot.number == 65536 for r in space.rows)
        assert all(app.run_.entry(i).expect_met for i in range(len(app.run_)))


@pytest.mark.asyncio
async def test_diff_against_an_earlier_step_and_another_file():
    log = IMPORT / "migration-cancel.log"
    app = KvmApp(str(log))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "d")
        await pilot.pause()
        await pilot.press("enter")  # the prompt offers `step 0`: against the empty layout
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen)
        run = ScenarioRun(scenario_from_log(str(log)))
        want = diff(layout_at(run, "x", len(run)), layout_at(run, "x", 0))
        assert len(screen.diffs) == len(want) > 0
        assert all(d.b is None for d in screen.diffs)  # everything is only here
        assert screen.query_one(DataTable).row_count == len(want)
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)

        await pilot.press("d")
        await pilot.pause()
        await clear_and_type(pilot, str(IMPORT / "q35-5G.log"))
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DiffScreen), str(screen.query_one("#prompt-error").render())
        assert any(d.gpa == 1 << 32 and d.a is None and d.b is not None for d in screen.diffs)  # RAM above 4G only there


@pytest.mark.asyncio
async def test_bad_diff_targets_are_refused_inline():
    app = KvmApp(str(IMPORT / "pc.log"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("d")
        await clear_and_type(pilot, "step 999")
        await pilot.press("enter")
        assert "out of range" in str(app.screen.query_one("#prompt-error").render())
        await clear_and_type(pilot, "/nonexistent")
        await pilot.press("enter")
        assert "nonexistent" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape")
        assert app.is_running


def test_parse_diff_target():
    assert parse_diff_target("step 3") == (None, 3)
    assert parse_diff_target("a.log") == ("a.log", None)
    assert parse_diff_target("'my file.log' step 0x10") == ("my file.log", 16)
    for bad in ("", "step x", "step -1", "a b", "'open"):
        with pytest.raises(ValueError):
            parse_diff_target(bad)


def test_app_options_and_help(capsys):
    assert main(["--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    assert "ELF image" in out and "VMM log" in out and "scenario YAML" in out and "kvmtui map" in out and "kvmtui diff" in out
    assert main([str(ROOT / "samples" / "rom.yaml"), "--maps", str(IMPORT / "pc-maps.maps")]) == 2
    assert "not one" in capsys.readouterr().err
    assert main([str(IMPORT / "pc.log"), "--mtree", str(IMPORT / "pc.log")]) == 2
    assert "info mtree -f" in capsys.readouterr().err
