"""The slot table editor: edits the scenario's `slots:` entries; the app re-runs and can save them."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from ...engine.addresses import format_size
from ...scenario.model import Scenario
from ..commands import EDIT_HELP


class EditSlotsScreen(ModalScreen[None]):
    """`apply` takes one editor command and returns an error message or None (then the table refreshes)."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Done")]

    def __init__(self, scenario: Callable[[], Scenario], apply: Callable[[str], str | None]) -> None:
        super().__init__(id="edit")
        self.scenario = scenario
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Edit the slot table (the scenario's slots:)", classes="dialog-title", markup=False)
            yield DataTable(id="edit-table", cursor_type="row")
            yield Input(placeholder="add 3 gpa=0x200000 host=ram size=64K flags=readonly", id="edit-input")
            yield Static(EDIT_HELP + " · escape: done · ctrl+s in the main view saves", classes="dialog-hint", markup=False)
            yield Label("", id="edit-error", classes="dialog-error", markup=False)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("slot", "gpa", "host", "size", "flags")
        self.refresh_table()
        self.query_one(Input).focus()

    def refresh_table(self) -> None:
        t = self.query_one(DataTable)
        t.clear()
        for spec in self.scenario().setup:
            p = spec.params
            flags = p.get("flags", 0)
            t.add_row(str(p["slot"]), f"{p.get('gpa', 0):#x}", Text(str(p.get("host", ""))),
                      format_size(p["size"]) if "size" in p else "(rest)", f"{flags:#x}" if flags else "-")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.apply(event.value.strip())
        label = self.query_one("#edit-error", Label)
        if error:
            label.update(f"✗ {error}")
            label.add_class("-shown")
            return
        label.update("")
        label.remove_class("-shown")
        event.input.value = ""
        self.refresh_table()
