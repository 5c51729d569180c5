"""Two layouts side by side: the guest-physical ranges where they disagree (what `kvmtui diff` prints)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ...engine.layout import LayoutDiff
from ...layouts import Layout, describe_size, diff, range_text, slot_text

_MARKS = {"-": ("only a has a slot", "red"), "+": ("only b has a slot", "green"), "!": ("different flags", "yellow")}


def mark(d: LayoutDiff) -> str:
    return "+" if d.a is None else "-" if d.b is None else "!"


class DiffScreen(Screen[None]):
    BINDINGS = [Binding("escape,q,d", "app.pop_screen", "Back", tooltip="Return to the stepper")]

    def __init__(self, a: Layout, b: Layout, label_a: str, label_b: str) -> None:
        super().__init__(id="diff-screen")
        self.a, self.b = a, b
        self.label_a, self.label_b = label_a, label_b
        self.diffs = diff(a, b)

    def compose(self) -> ComposeResult:
        n = len(self.diffs)
        verdict = (f"{n} range{'s differ' if n != 1 else ' differs'} ({describe_size(sum(d.size for d in self.diffs))})"
                   if n else "the layouts are the same (slot ids and host addresses aside)")
        yield Static(f" Layout diff · a: {self.label_a} ({self.a.spaces_note})\n"
                     f"              b: {self.label_b} ({self.b.spaces_note})\n {verdict}", id="diff-title", markup=False)
        yield DataTable(id="diff-table", cursor_type="row", zebra_stripes=True)
        yield Static(" - only a has a slot · + only b has one · ! both, with different flags", id="diff-legend", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("", "as", "gpa range", "size", "a", "b")
        for d in self.diffs:
            m = mark(d)
            t.add_row(Text(m, style=f"bold {_MARKS[m][1]}"), str(d.as_id), Text(range_text(d.gpa, d.size), style=_MARKS[m][1]),
                      describe_size(d.size), slot_text(self.a, d.a), slot_text(self.b, d.b))
