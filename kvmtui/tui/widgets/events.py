"""Exits and events up to the current step: MMIO exits, -EFAULT, SIGBUS, emulation failures, refused ioctls."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...runner import TraceEntry


def events_of(entry: TraceEntry) -> list[tuple[str, str]]:
    """(event, detail) rows for one step, read off its record."""
    rec = entry.record
    rows: list[tuple[str, str]] = []
    for x in rec.exits:
        rows.append(("◆ MMIO" if rec.key_moment and x.is_write else "MMIO",
                     f"{'W' if x.is_write else 'R'} {x.phys_addr:#x} len {x.len} data {x.data.hex()}"))
    if rec.outcome == "efault":
        rows.append(("EFAULT", f"KVM_RUN -EFAULT at {rec.args['gpa']:#x}"))
    elif rec.outcome == "hwpoison":
        rows.append(("SIGBUS", f"hwpoison at {rec.args['gpa']:#x}"))
    elif rec.outcome == "internal_error":
        rows.append(("INTERNAL", f"emulation failure at {rec.args['gpa']:#x}"))
    elif not rec.is_access and rec.outcome not in ("ok", "unsupported"):
        what = f"slot {rec.args['slot']}" if "slot" in rec.args else rec.op
        rows.append((rec.outcome, f"{rec.op} {what}"))
    if entry.unmet:
        rows.append(("✗ EXPECT", "; ".join(entry.unmet)))
    return rows


class EventLog(DataTable):
    """Choosing a row posts Jump(step), and the app goes to that step."""

    class Jump(Message):
        def __init__(self, index: int) -> None:
            self.index = index  # 0-based step position
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self._shown = 0  # steps whose events are in the table
        self._rows: list[tuple[int, str]] = []  # (step position, row key)

    def on_mount(self) -> None:
        self.add_columns("step", "event", "detail")

    def clear_all(self) -> None:
        self.clear()
        self._shown = 0
        self._rows = []

    def show_upto(self, n: int, entry: Callable[[int], TraceEntry], symbol: Callable[[int], str | None] = lambda _gpa: None) -> None:
        """Rows for steps at positions 0..n-1: added or removed at the end, never rebuilt."""
        while self._rows and self._rows[-1][0] >= n:
            self.remove_row(self._rows.pop()[1])
        for pos in range(min(self._shown, n), n):
            e = entry(pos)
            sym = symbol(e.record.args["gpa"]) if e.record.is_access else None
            for k, (event, detail) in enumerate(events_of(e)):
                key = f"{pos}:{k}"
                if sym:
                    detail = f"{detail} <{sym}>"
                self.add_row(str(pos + 1), Text(event), Text(detail), key=key)  # Text: never parsed as markup
                self._rows.append((pos, key))
        self._shown = n
        self.border_subtitle = f"{len(self._rows)} events"
        if self._rows:
            self.move_cursor(row=len(self._rows) - 1, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        pos = int(str(event.row_key.value).split(":")[0])
        self.post_message(self.Jump(pos))
