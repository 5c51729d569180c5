"""The Textual app, driven as a user would with Pilot: what each key shows, in meaning, not pixels."""

import shutil
from pathlib import Path

import pytest

from kvmtui.engine.records import SpteState
from kvmtui.scenario import load_scenario
from kvmtui.tui.app import KvmApp
from kvmtui.tui.screens.compare import CompareScreen
from kvmtui.tui.screens.dialogs import Prompt
from kvmtui.tui.widgets.events import EventLog
from kvmtui.tui.widgets.memslots import MemslotTable
from kvmtui.tui.widgets.pagemap import LABEL as LABEL_WIDTH
from kvmtui.tui.widgets.pagemap import PageMap
from kvmtui.tui.widgets.resolution import Resolution

ROOT = Path(__file__).parent.parent
ROM = str(ROOT / "samples" / "rom.yaml")
BEFORE_AFTER = str(ROOT / "samples" / "before-after.yaml")
RO_WRITE = 5  # 0-based position of the write to the ROM in rom.yaml
ROM_GFN = 0xFFFE0


def resolution_text(app: KvmApp) -> str:
    return app.query_one(Resolution).text


def screen_lines(app) -> list[str]:
    """The visible screen as text lines, read from the SVG export (which holds only what is on screen)."""
    import html
    import re

    rows: dict[float, list[tuple[float, str]]] = {}
    for x, y, body in re.findall(r'<text [^>]*x="([\d.]+)" y="([\d.]+)"[^>]*>([^<]*)</text>', app.export_screenshot()):
        rows.setdefault(float(y), []).append((float(x), html.unescape(body).replace("\xa0", " ")))
    return ["".join(t for _, t in sorted(cells)) for _, cells in sorted(rows.items())]


async def type_text(pilot, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", ":": "colon", "=": "equals_sign", "+": "plus", ",": "comma"}.get(ch, ch))


@pytest.mark.asyncio
async def test_stepping_to_the_ro_write_shows_the_mmio_exit_highlighted():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(RO_WRITE - 1):
            await pilot.press("n")
        rows_before = app.query_one(EventLog).row_count
        assert not app.query_one(Resolution).has_class("-key-moment")
        await pilot.press("n")
        res = app.query_one(Resolution)
        assert app.index == RO_WRITE
        assert res.has_class("-key-moment")
        text = resolution_text(app)
        assert "READ-ONLY WRITE → KVM_EXIT_MMIO" in text and "KVM_HVA_ERR_RO_BAD" in text
        assert app.query_one(EventLog).row_count == rows_before + 1
        assert app.view.sptes is not None and app.view.sptes.state(ROM_GFN) is SpteState.RO  # never mmio
        pm = app.query_one(PageMap)
        assert pm.cell_state(ROM_GFN, ROM_GFN + 1)[0] is SpteState.RO


@pytest.mark.asyncio
async def test_step_back_restores_the_previous_view_exactly():
    app = KvmApp(ROM)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(4):
            await pilot.press("n")
        await pilot.pause()
        before = app.export_screenshot()
        await pilot.press("n", "n")
        await pilot.pause()
        assert app.export_screenshot() != before
        await pilot.press("b", "b")
        await pilot.pause()
        assert app.export_screenshot() == before


@pytest.mark.asyncio
async def test_probe_accepts_a_write_and_rejects_bad_input_inline():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("colon")
        await type_text(pilot, "w 0x10 3 1")
        await pilot.press("enter")
        assert isinstance(app.screen, Prompt)
        error = app.screen.query_one("#prompt-error")
        assert error.has_class("-shown") and "size 3 is not an access size" in str(error.render())
        await pilot.press("escape", "n", "colon")  # after step 2 the ROM slot exists
        await type_text(pilot, "w 0xfffe0010 1 0x77")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, Prompt)
        assert app.index == 2 and len(app.run_) == 12
        rec = app.run_.entry(2).record
        assert (rec.op, rec.outcome, rec.exits[0].data) == ("write", "mmio", b"\x77")
        assert app.query_one(Resolution).has_class("-key-moment")


@pytest.mark.asyncio
async def test_probe_slot_and_dirty_commands():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "colon")
        await type_text(pilot, "slot 5 gpa=0x2000000 host=ram size=64K flags=log_dirty_pages")
        await pilot.press("enter")
        assert app.run_.entry(app.index).record.kind == "create"
        await pilot.press("colon")
        await type_text(pilot, "dirty 5")
        await pilot.press("enter")
        assert app.run_.entry(app.index).record.dirty == ()


@pytest.mark.asyncio
async def test_editor_moves_a_slot_and_refuses_unknown_ones(tmp_path):
    target = tmp_path / "rom.yaml"
    shutil.copy(ROM, target)
    app = KvmApp(str(target))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await pilot.pause()  # the editor mounts and focuses its input before typing (flaky under load otherwise)
        await type_text(pilot, "move 9 gpa=0x0")
        await pilot.press("enter")
        assert "no slots: entry for slot 9" in str(app.screen.query_one("#edit-error").render())
        app.screen.query_one("#edit-input").value = ""
        await type_text(pilot, "move 1 gpa=0xfffc0000")
        await pilot.press("enter")
        assert app.scenario.setup[1].params["gpa"] == 0xFFFC0000
        assert app.modified
        await pilot.press("escape")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, Prompt)
        await pilot.press("enter")  # the scenario's own file: asks first
        await pilot.press("y")
        await pilot.pause()
    text = target.read_text()
    assert "gpa: 0xfffc0000" in text and "# the VMM maps its firmware read-only" in text
    assert load_scenario(target).setup[1].params["gpa"] == 0xFFFC0000


@pytest.mark.asyncio
async def test_saving_over_the_file_can_be_declined(tmp_path):
    target = tmp_path / "rom.yaml"
    shutil.copy(ROM, target)
    before = target.read_text()
    app = KvmApp(str(target))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("e")
        await pilot.pause()  # the editor mounts and focuses its input before typing (flaky under load otherwise)
        await type_text(pilot, "delete 1")
        await pilot.press("enter", "escape", "ctrl+s", "enter", "n")
        await pilot.pause()
    assert target.read_text() == before


@pytest.mark.asyncio
async def test_era_switch_changes_outcomes_as_the_engine_says():
    app = KvmApp(BEFORE_AFTER)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        assert app.run_.kernel == "3.6" and app.run_.entry(app.index).record.outcome == "efault"
        assert app.query_one(Resolution).has_class("-failed")
        await pilot.press("k")
        assert app.run_.kernel == "3.7" and app.index == 3
        assert app.run_.entry(app.index).record.outcome == "ok"
        assert not app.query_one(Resolution).has_class("-failed")


@pytest.mark.asyncio
async def test_goto_finds_the_owning_slot():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "g")
        await type_text(pilot, "0xfffe0010")
        await pilot.press("enter")
        assert app.query_one(MemslotTable).selected == 1
        assert any("slot 1" in n.message for n in app._notifications)
        await pilot.press("g")
        await type_text(pilot, "0x80000000")
        await pilot.press("enter")
        assert app.query_one(MemslotTable).selected is None
        await pilot.press("g")
        await type_text(pilot, "step 7")
        await pilot.press("enter")
        assert app.index == 6


@pytest.mark.asyncio
async def test_run_stops_at_the_next_exit_and_at_breakpoints():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        assert app.index == RO_WRITE
        await pilot.press("c")
        assert app.index == 7  # the next ROM write, the next exit
        await pilot.press("B")
        await type_text(pilot, "gpa 0x1004")
        await pilot.press("enter")
        await pilot.press("c")
        assert app.index == 8  # write 8 bytes at 0x1000 covers 0x1004
        await pilot.press("c")
        assert app.index == 9  # read 8 bytes at 0x1000 too
        await pilot.press("B")
        await type_text(pilot, "clear")
        await pilot.press("enter")
        await pilot.press("c")
        assert app.index == 10 and not app.breakpoints  # no more exits: runs to the end


@pytest.mark.asyncio
async def test_choosing_an_event_jumps_to_its_step():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("end", "3")
        events = app.query_one(EventLog)
        events.focus()
        events.move_cursor(row=0)
        await pilot.press("enter")
        assert app.index == RO_WRITE


@pytest.mark.asyncio
async def test_copy_chain_and_compare_and_help():
    app = KvmApp(BEFORE_AFTER)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        await pilot.press("y")
        assert "kvm_handle_bad_page" in app.clipboard and "-EFAULT" in app.clipboard
        await pilot.press("v")
        assert isinstance(app.screen, CompareScreen)
        assert any(not d.same for d in app.screen.diffs)
        await pilot.press("escape", "question_mark")
        assert app.screen.id == "help"
        body = str(app.screen.query_one("Markdown").source)
        assert "Probe" in body and "3.6 beside 3.7" in body and "`:`" in body
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert {"Step", "Back", "Probe", "Switch era", "Save", "Export trace"} <= set(titles)


@pytest.mark.asyncio
async def test_export_trace_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("x", "enter")
        await pilot.pause()
        out = tmp_path / "rom.modern.trace.jsonl"
        assert len(out.read_text().splitlines()) == 11
        await pilot.press("x", "enter")
        assert "exists" in str(app.screen.query_one("#prompt-error").render())


@pytest.mark.asyncio
async def test_zoom_changes_pages_per_cell():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        pm = app.query_one(PageMap)
        ppc = pm.pages_per_cell
        await pilot.press("minus")
        assert pm.pages_per_cell == ppc * 2
        await pilot.press("plus", "plus")
        assert pm.pages_per_cell == max(ppc // 2, 1)


@pytest.mark.asyncio
async def test_clicking_a_slot_selects_it():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        table = app.query_one(MemslotTable)
        await pilot.click(MemslotTable, offset=(5, 3))  # border, header, slot 0, slot 1
        assert table.selected == 1
        assert any("slot 1: gpa 0xfffe0000" in n.message for n in app._notifications)


@pytest.mark.asyncio
async def test_a_1_tib_slot_is_drawn_zoomed_out_and_zooms_in(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text("host:\n  ram: {size: 1T, hva: 0x100000000000}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\n"
                 "steps:\n  - write: 0x8000000000\n    size: 8\n    value: 1\n")
    app = KvmApp(str(f))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("end", "2")
        pm = app.query_one(PageMap)
        ppc = pm.pages_per_cell
        assert ppc >= (1 << 28) // (pm.cells * 8)  # the whole slot fits in a few rows
        gfn = 0x8000000000 >> 12
        cell = gfn - gfn % ppc
        assert pm.cell_state(cell, cell + ppc) == (SpteState.RW, True, False)
        for _ in range(3):
            await pilot.press("plus")
        assert pm.pages_per_cell == ppc // 8


@pytest.mark.asyncio
async def test_an_elf_opens_with_its_layout_and_the_probe_ready():
    app = KvmApp(str(ROOT / "samples" / "firmware" / "firmware.elf"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, Prompt) and app.screen.id == "probe"
        await type_text(pilot, "f 0xfffffff0 2")
        await pilot.press("enter")
        assert "symbol <reset_vector>" in resolution_text(app)
        await pilot.press("g")
        await type_text(pilot, "banner")
        await pilot.press("enter")
        assert app.query_one(MemslotTable).selected == 2
        await pilot.press("e")
        await pilot.pause()  # the editor mounts and focuses its input before typing (flaky under load otherwise)
        assert any("no file to edit" in n.message for n in app._notifications)


@pytest.mark.asyncio
async def test_a_captured_log_opens_with_its_layout_timeline():
    log = ROOT / "tests" / "data" / "import" / "migration-cancel.log"
    app = KvmApp(str(log))
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.scenario.title == "migration-cancel.log (qemu-trace)"
        await pilot.press("t")
        screen = app.screen
        marks = [m for _, _, m in screen.rows]
        assert marks.count("LOG on") == 8 and marks.count("LOG off") == 8  # every RAM slot, on then off
        table = screen.query_one("#timeline-table")
        target = next(i for i, (_, _, m) in enumerate(screen.rows) if m == "LOG off")
        table.move_cursor(row=target)
        slots = screen.query_one("#timeline-slots")
        for _ in range(50):  # the highlight message is handled asynchronously: slow machines need more than one pause
            await pilot.pause()
            if any(s.log_dirty for s in slots._slots):
                break
        assert any(s.log_dirty for s in slots._slots)  # the table as it stood then: some slots still logging
        await pilot.press("enter")
        assert app.index == screen.rows[target][0]
        await pilot.press("colon")
        await type_text(pilot, "r 0x1000 4")
        await pilot.press("enter")
        assert app.run_.entry(app.index).record.outcome == "ok"  # probing a gpa at that point in time


@pytest.mark.asyncio
async def test_the_note_follows_the_era_after_k():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(RO_WRITE):
            await pilot.press("n")
        narration = app.query_one("#narration")
        assert "KVM_HVA_ERR_RO_BAD" in narration.source
        await pilot.press("k")  # the eras cycle 3.6, 3.7, modern: from modern, k goes to 3.6
        assert app.run_.kernel == "3.6"
        step_note = narration.source.split("---")[0]
        assert "no slot" in step_note.lower() and "KVM_HVA_ERR_RO_BAD" not in step_note


@pytest.mark.asyncio
async def test_the_reset_vector_fetch_finds_the_jump():
    app = KvmApp(ROM)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(3):
            await pilot.press("n")
        rec = app.run_.entry(app.index).record
        assert rec.op == "fetch" and rec.args["gpa"] == 0xFFFFFFF0
        assert rec.value == 0xF000E05BEA  # ea 5b e0 00 f0: jmp f000:e05b


@pytest.mark.asyncio
async def test_keys_on_the_compare_view_do_not_move_the_hidden_stepper():
    app = KvmApp(BEFORE_AFTER)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        before = (app.index, app.run_.kernel)
        await pilot.press("v")
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("n", "n", "k", "end", "2")
        assert (app.index, app.run_.kernel) == before
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape", "n")
        assert app.index == before[0] + 1


@pytest.mark.asyncio
async def test_copy_says_what_really_happened(monkeypatch):
    app = KvmApp(ROM)
    said = []
    async with app.run_test(size=(120, 40)) as pilot:
        monkeypatch.setattr(app, "notify", lambda msg, **kw: said.append(msg))
        await pilot.press("y")
        assert "OSC 52" in said[-1] and "Copied" not in said[-1]


@pytest.mark.asyncio
async def test_at_80x24_the_ro_write_shows_the_readonly_slot_chain_and_exit_line():
    app = KvmApp(ROM)
    async with app.run_test(size=(80, 24)) as pilot:
        rows = [str(app.query_one(MemslotTable).render_line(y).text) for y in range(3)]
        assert "RO" in rows[2] and "step 2" in rows[2]  # the ROM slot is on screen before it exists
        for _ in range(RO_WRITE):
            await pilot.press("n")
        await pilot.pause()
        res = app.query_one(Resolution)
        text = resolution_text(app)
        exit_at = text.index("⇒ KVM_EXIT_MMIO write phys_addr=0xfffe0000 len=1 data=5a")
        last_call_at = text.index("vcpu_mmio_write")
        # what is on screen (the SVG holds only the visible cells): the exit line, the chain's last call, the RO slot
        screen = "\n".join(screen_lines(app))
        screen = " ".join(ln.strip(" ┃│") for ln in screen.split("\n"))  # the exit line may wrap in the panel
        for shown in ("⇒ KVM_EXIT_MMIO write phys_addr=0xfffe0000", "len=1 data=5a", "◆ vcpu_mmio_write = KVM_EXIT_MMIO",
                      "__gfn_to_hva_many = KVM_HVA_ERR_RO_BAD", "128K RO"):
            assert shown in screen, shown
        assert res.compact and exit_at < last_call_at
        slots = [str(app.query_one(MemslotTable).render_line(y).text) for y in range(3)]
        assert any("RO" in r for r in slots)


@pytest.mark.asyncio
async def test_page_map_rows_end_before_the_scrollbar_and_the_note_starts_at_its_top():
    app = KvmApp(ROM)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("end", "2", "plus", "plus")  # zoomed in: more rows than fit
        await pilot.pause()
        pm = app.query_one(PageMap)
        assert pm.max_scroll_y > 0  # the scrollbar shows at this size
        assert LABEL_WIDTH + pm.cells <= pm.scrollable_content_region.width
        await pilot.press("home", "1")
        await pilot.pause()
        scroll = app.query_one("#narration")
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert scroll.scroll_y > 0
        await pilot.press("n")
        await pilot.pause()
        assert scroll.scroll_y == 0
