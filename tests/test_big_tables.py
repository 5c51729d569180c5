"""Big layouts in the app: `g` lands on a far slot at once (no glide through thousands of rows), and the
layout timeline lists every memslot update with the right count."""

from __future__ import annotations

import pytest
from test_app import type_text

from kvmtui.scenario.generate import large_layout
from kvmtui.tui.app import KvmApp
from kvmtui.tui.screens.timeline import TimelineScreen
from kvmtui.tui.widgets.memslots import MemslotTable

N_SLOTS = 3000


@pytest.mark.asyncio
async def test_goto_a_far_slot_shows_it_at_once():
    sc = large_layout(n_slots=N_SLOTS, n_steps=10)
    app = KvmApp(scenario=sc)
    async with app.run_test(size=(120, 40)) as pilot:
        app.goto_step(N_SLOTS + 2)
        await pilot.pause()
        table = app.query_one(MemslotTable)
        far = N_SLOTS - 12
        await pilot.press("g")
        await type_text(pilot, hex(far * (64 << 10) + 0x10))
        await pilot.press("enter")
        assert not app.animator.is_being_animated(table, "scroll_y")  # a jump, not a glide through thousands of rows
        await pilot.pause()
        assert table.selected == far
        row = table.row_of(far)
        top = table.scroll_offset.y
        assert row is not None and top <= row < top + table.size.height
        table.scroll_to_slot(N_SLOTS // 2)  # far away: the view is there the moment it is asked, not gliding towards it
        assert table.scroll_offset.y <= table.row_of(N_SLOTS // 2) < table.scroll_offset.y + table.size.height


@pytest.mark.asyncio
async def test_the_timeline_lists_every_update():
    sc = large_layout(n_slots=N_SLOTS, n_steps=10)
    app = KvmApp(scenario=sc)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TimelineScreen)
        assert len(screen.rows) == N_SLOTS
        assert screen.query_one("#timeline-table").row_count == N_SLOTS
        assert f"{N_SLOTS:,} memslot updates" in str(screen.query_one("#timeline-title").render())
        table = screen.query_one("#timeline-table")
        table.move_cursor(row=N_SLOTS - 1)
        await pilot.pause()
        await pilot.press("enter")
        assert app.index == N_SLOTS - 1
