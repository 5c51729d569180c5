"""Goto (an address, a symbol or a step), breakpoints and the probe: typed in a prompt, parsed by the pure
functions of tui/commands.py; the app only shows where they lead."""

from __future__ import annotations

from textual.binding import Binding

from ...engine.addresses import PAGE_SHIFT, page_offset
from ...live.vm import LiveError
from ..commands import (
    BREAKPOINT_HELP,
    GOTO_HELP,
    PROBE_HELP,
    CommandError,
    GotoStep,
    parse_breakpoint,
    parse_goto,
    parse_probe,
)
from ..screens.dialogs import Prompt
from ..widgets.memslots import MemslotTable
from ..widgets.pagemap import PageMap
from .base import AppCore

BINDINGS = [
    Binding("g", "goto", "Goto", tooltip="Go to an address (shows which slot owns it) or 'step N'", id="goto"),
    Binding("colon", "probe", "Probe", key_display=":", tooltip="Type a guest access or an ioctl and see it resolved as a new step", id="probe"),
    Binding("B", "breakpoint", "Breakpoints", show=False, tooltip="Break on a gpa, gfn, slot or outcome", id="breakpoint"),
]


class NavigateActions(AppCore):
    def action_goto(self) -> None:
        self.push_screen(Prompt("Go to", GOTO_HELP, self._goto, prompt_id="goto"))

    def _goto(self, text: str) -> str | None:
        try:
            where = parse_goto(text, len(self.run_), self.run_.symbol_address)
        except CommandError as e:
            return str(e)
        if isinstance(where, GotoStep):
            self.goto_step(where.index)
            return None
        gpa = where.gpa
        assert self.view is not None
        slot = self.view.slot_at(gpa >> PAGE_SHIFT)
        self.query_one(MemslotTable).select(slot.id if slot else None)
        if slot is None:
            self.notify(f"gpa {gpa:#x}: no memslot owns it", title="Goto", timeout=5, markup=False)
            return None
        self.query_one(PageMap).scroll_to_gfn(gpa >> PAGE_SHIFT)
        hva = slot.hva_of(gpa >> PAGE_SHIFT) + page_offset(gpa)
        self.notify(f"gpa {gpa:#x} is in slot {slot.id} (gfn {gpa >> PAGE_SHIFT:#x}, hva {hva:#x})", title="Goto", timeout=5, markup=False)
        return None

    def action_breakpoint(self) -> None:
        self.push_screen(Prompt("Breakpoints", BREAKPOINT_HELP, self._breakpoint, prompt_id="breakpoint"))

    def _breakpoint(self, text: str) -> str | None:
        try:
            bp = parse_breakpoint(text, self.run_.symbol_address)
        except CommandError as e:
            return str(e)
        if bp is None:
            self.breakpoints.clear()
        else:
            self.breakpoints.append(bp)
        if self.view:
            self._show_status()
        return None

    def action_probe(self) -> None:
        self.push_screen(Prompt("Probe: a guest access or an ioctl, run as a new step after this one", PROBE_HELP, self._probe,
                                value="", prompt_id="probe"))

    def _probe(self, text: str) -> str | None:
        try:
            spec = parse_probe(text, tuple(self.run_.mappings), self.run_.symbol_address)
            self.run_.insert_step(self.index + 1, spec)
        except (CommandError, LiveError) as e:
            return str(e)
        self._forget_views()
        self.goto_step(self.index + 1)
        return None

    def on_memslot_table_picked(self, message: MemslotTable.Picked) -> None:
        self.query_one(PageMap).scroll_to_gfn(message.slot.base_gfn)
        self.notify(message.slot.describe(), timeout=4, markup=False)
