"""Exits and events up to the current step: MMIO exits, -EFAULT, SIGBUS, emulation failures, refused ioctls.

An OptionList, not a table: each event wraps to the panel's width, so an exit's details are never cut.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...engine.vocabulary import Outcome
from ...runner import TraceEntry


def events_of(entry: TraceEntry) -> list[tuple[str, str]]:
    """(event, detail) rows for one step, read off its record."""
    rec = entry.record
    rows: list[tuple[str, str]] = []
    for x in rec.exits:
        rows.append(("◆ MMIO" if rec.key_moment and x.is_write else "MMIO",
                     f"{'write' if x.is_write else 'read'} {x.phys_addr:#x} len {x.len} data {x.data.hex()}"))
    if rec.outcome == Outcome.EFAULT:
        rows.append(("EFAULT", f"KVM_RUN -EFAULT at {rec.args['gpa']:#x}"))
    elif rec.outcome == Outcome.HWPOISON:
        rows.append(("SIGBUS", f"hwpoison at {rec.args['gpa']:#x}"))
    elif rec.outcome == Outcome.INTERNAL_ERROR:
        rows.append(("INTERNAL", f"emulation failure at {rec.args['gpa']:#x}"))
    elif not rec.is_access and rec.outcome not in (Outcome.OK, Outcome.UNSUPPORTED):
        what = f"slot {rec.args['slot']}" if "slot" in rec.args else rec.op
        rows.append((rec.outcome, f"{rec.op} {what}"))
    if entry.unmet:
        rows.append(("✗ EXPECT", "; ".join(entry.unmet)))
    return rows


class EventLog(OptionList):
    """Choosing an event posts Jump(step), and the app goes to that step."""

    class Jump(Message):
        def __init__(self, index: int) -> None:
            self.index = index  # 0-based step position
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._shown = 0  # steps whose events are in the list
        self._rows: list[int] = []  # step position of each option

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def clear_all(self) -> None:
        self.clear_options()
        self._shown = 0
        self._rows = []

    def show_upto(self, n: int, entry: Callable[[int], TraceEntry], symbol: Callable[[int], str | None] = lambda _gpa: None) -> None:
        """Events of steps at positions 0..n-1: added or removed at the end, never rebuilt."""
        if self._rows and self._rows[-1] >= n:
            keep = next((i for i, pos in enumerate(self._rows) if pos >= n), len(self._rows))
            for i in range(len(self._rows) - 1, keep - 1, -1):
                self.remove_option_at_index(i)
            del self._rows[keep:]
        new = []
        for pos in range(min(self._shown, n), n):
            e = entry(pos)
            sym = symbol(e.record.args["gpa"]) if e.record.is_access else None
            for event, detail in events_of(e):
                t = Text()  # Text: never parsed as markup
                t.append(f"{pos + 1:>3} {event} ", style="bold")
                t.append(detail + (f" <{sym}>" if sym else ""))
                new.append(Option(t))
                self._rows.append(pos)
        if new:
            self.add_options(new)
        self._shown = n
        self.border_subtitle = f"{len(self._rows)} events"
        if self._rows:
            self.highlighted = len(self._rows) - 1

    def move_cursor(self, row: int, animate: bool = False) -> None:
        self.highlighted = row

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Jump(self._rows[event.option_index]))
