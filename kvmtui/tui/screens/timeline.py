"""The layout timeline: every memslot update in order, the read-only flips and dirty-log toggles marked,
and the slot table as it stood after the highlighted one. Enter jumps there in the main view."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...engine.addresses import format_size
from ...engine.uapi import KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, short_flag_names
from ...engine.vocabulary import Op, Outcome
from ...run import Run
from ..view import ViewBuilder
from ..widgets.memslots import MemslotTable


def timeline_rows(run: Run) -> list[tuple[int, list[str], str]]:
    """(step position, cells, marks) for every set_memory_region step, read off the records."""
    rows = []
    last_flags: dict[int, int] = {}  # per guest address, across deletes: a flash going away and coming back
    for entry in run.entries():
        rec = entry.record
        if rec.op != Op.SET_MEMORY_REGION:
            continue
        a = rec.args
        sid = a["slot"]
        marks = []
        if rec.outcome != Outcome.OK:
            marks.append(f"✗ {rec.outcome}")
        elif a["size"]:
            before = last_flags.get(a["gpa"])
            flags = a["flags"]
            if before is not None and (before ^ flags) & KVM_MEM_READONLY:
                marks.append("RO on" if flags & KVM_MEM_READONLY else "RO off")
            if before is not None and (before ^ flags) & KVM_MEM_LOG_DIRTY_PAGES:
                marks.append("LOG on" if flags & KVM_MEM_LOG_DIRTY_PAGES else "LOG off")
            last_flags[a["gpa"]] = flags
        cells = [str(entry.index), str(sid), f"{a['gpa']:#x}", format_size(a["size"]) if a["size"] else "delete",
                 ",".join(short_flag_names(a["flags"])) or "-", rec.kind or "-"]
        rows.append((entry.index - 1, cells, " ".join(marks)))
    return rows


class TimelineScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,t", "app.pop_screen", "Back", tooltip="Return to the stepper"),
                Binding("enter", "jump", "Go there", tooltip="Show this step in the main view")]

    def __init__(self, run: Run, jump: Callable[[int], None]) -> None:
        super().__init__(id="timeline")
        self.run = run
        self.jump = jump
        self.views = ViewBuilder()
        self.rows = timeline_rows(run)

    def compose(self) -> ComposeResult:
        flips = sum(1 for _, _, m in self.rows if "RO" in m)
        toggles = sum(1 for _, _, m in self.rows if "LOG" in m)
        yield Static(f" Layout timeline · {len(self.rows):,} memslot updates · {flips} read-only flips · {toggles} dirty-log toggles",
                     id="timeline-title", markup=False)
        yield DataTable(id="timeline-table", cursor_type="row", zebra_stripes=True)
        yield MemslotTable(id="timeline-slots", classes="panel")
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("step", "slot", "gpa", "size", "flags", "kind", "marks")
        # every update, however many (a maximal layout is 32,764): one call, the table draws only what shows
        t.add_rows((*cells, Text(marks, style="bold" if marks else "")) for _, cells, marks in self.rows)
        self.query_one(MemslotTable).border_title = "Slot table after the highlighted update"
        if self.rows:
            self._show(self.rows[0][0])

    def _show(self, pos: int) -> None:
        self.query_one(MemslotTable).show(self.views.build(self.run, pos))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.rows):
            self._show(self.rows[event.cursor_row][0])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_jump()

    def action_jump(self) -> None:
        t = self.query_one(DataTable)
        if not self.rows:
            return
        pos = self.rows[t.cursor_row][0]
        self.app.pop_screen()
        self.jump(pos)
