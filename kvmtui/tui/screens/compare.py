"""The seed's before/after: the same steps under two eras, side by side, differences marked."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...engine.compare import compare_records
from ...run import Run
from ..widgets.resolution import chain_text


class CompareScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,v", "app.pop_screen", "Back", tooltip="Return to the stepper")]

    def __init__(self, left: Run, right: Run) -> None:
        super().__init__(id="compare")
        self.left = left
        self.right = right
        self.left_entries = left.entries()
        self.right_entries = right.entries()
        self.diffs = compare_records([e.record for e in self.left_entries], [e.record for e in self.right_entries])

    def compose(self) -> ComposeResult:
        n = sum(1 for d in self.diffs if not d.same)
        yield Static(f" {self.left.scenario.title} │ kernel {self.left.kernel} beside {self.right.kernel} │ {n} of {len(self.diffs)} steps differ",
                     id="compare-title", markup=False)
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="compare-chains"):
            with VerticalScroll(id="compare-left", classes="panel"):
                yield Static(id="compare-left-body", markup=False)
            with VerticalScroll(id="compare-right", classes="panel"):
                yield Static(id="compare-right-body", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("step", "op", self.left.kernel, self.right.kernel, "differs")
        for d in self.diffs:
            a, b = d.left, d.right
            t.add_row(str(d.index + 1), a.op, a.outcome, b.outcome, Text("✗ " + ",".join(d.fields), style="bold") if d.fields else "", key=str(d.index))
        self.query_one("#compare-left", VerticalScroll).border_title = f"kernel {self.left.kernel}"
        self.query_one("#compare-right", VerticalScroll).border_title = f"kernel {self.right.kernel}"
        first = next((d.index for d in self.diffs if not d.same), 0)
        t.move_cursor(row=first)
        self._show(first)

    def _show(self, i: int) -> None:
        if not self.diffs:
            return
        self.query_one("#compare-left-body", Static).update(chain_text(self.left_entries[i]))
        self.query_one("#compare-right-body", Static).update(chain_text(self.right_entries[i]))
        for side in ("#compare-left", "#compare-right"):
            self.query_one(side).set_class(not self.diffs[i].same, "-differs")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._show(int(event.row_key.value))
