"""Steps repaint only what they change (#10): the panes' shortcuts must draw exactly what the long way draws."""

from pathlib import Path

import pytest
from rich.markdown import Markdown
from rich.padding import Padding
from textual.geometry import Region

from kvmtui.tui.app import KvmApp
from kvmtui.tui.widgets.memslots import MemslotTable
from kvmtui.tui.widgets.panels import Narration
from kvmtui.tui.widgets.repaint import refresh_changed_rows

SAMPLES = Path(__file__).parent.parent / "samples"


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["rom.yaml", "mmio.yaml", "dirty-log.yaml"])
async def test_the_narration_in_parts_draws_what_one_markdown_draws(name):
    app = KvmApp(str(SAMPLES / name))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        nar = app.query_one(Narration)
        for i in range(len(app.run_)):
            app.goto_step(i)
            await pilot.pause()
            width = nar.text_width
            whole = nar.strips_of(Padding(Markdown(nar.source), (0, 1)), width)
            assert nar.make_strips(width) == whole, f"step {i + 1}"


@pytest.mark.asyncio
async def test_a_step_refreshes_the_rows_it_changed_and_no_others():
    app = KvmApp(str(SAMPLES / "rom.yaml"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table = app.query_one(MemslotTable)
        refreshed = []
        table.refresh = lambda *regions, **kw: refreshed.append(regions)  # type: ignore[method-assign]
        refresh_changed_rows(table, ["a", "b", "c"], ["a", "B", "c"])
        assert refreshed == [(Region(0, 1, table.size.width, 1),)]
        refreshed.clear()
        refresh_changed_rows(table, ["a", "b"], ["a", "b"])
        assert refreshed == []
        refresh_changed_rows(table, ["a"], ["a", "b"])  # another number of rows: the whole widget
        assert refreshed == [()]


@pytest.mark.asyncio
async def test_stepping_shows_the_same_rows_as_jumping_there():
    """Each step repaints a few rows: what it leaves on screen must be what a fresh drawing shows."""
    stepped, jumped = KvmApp(str(SAMPLES / "rom.yaml")), KvmApp(str(SAMPLES / "rom.yaml"))
    async with stepped.run_test(size=(120, 40)) as p1, jumped.run_test(size=(120, 40)) as p2:
        await p1.pause()
        for _ in range(6):
            await p1.press("n")
        await p1.pause()
        jumped.goto_step(6)
        await p2.pause()
        for widget in (MemslotTable, Narration):
            a, b = stepped.query_one(widget), jumped.query_one(widget)
            assert a.scroll_offset == b.scroll_offset
            assert [a.render_line(y).text for y in range(a.size.height)] == [b.render_line(y).text for y in range(b.size.height)]
