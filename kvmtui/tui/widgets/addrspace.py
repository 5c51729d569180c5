"""The address-space view: the whole guest-physical space at the current step, as `info mtree -f` shows
it: each slot with its name and flags, the holes (an access there is an MMIO exit), the MMIO devices.
Drawn line by line, so a layout of 32,764 slots costs only the rows on screen."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...engine.uapi import short_flag_names
from ...layouts import Layout, MapRow, describe_size, map_rows, range_text
from ..view import StepView

_AS_NAMES = {0: "memory", 1: "SMM"}


class AddressSpaceMap(ScrollView):
    """One line per flat range; the slot the step used or changed is highlighted."""

    COMPONENT_CLASSES = {"addrspace--header", "addrspace--hole", "addrspace--device", "addrspace--ro", "addrspace--log",
                         "addrspace--focus"}
    DEFAULT_CSS = "AddressSpaceMap { height: 1fr; overflow-x: hidden; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.space_layout: Layout | None = None
        self.rows: list[MapRow] = []
        self._focus: int | None = None

    def show(self, view: StepView, layout: Layout) -> None:
        """The view's step, named by `layout` (the app's: names come from the run's mappings and symbols)."""
        if layout is not self.space_layout:
            self.space_layout = layout
            self.rows = map_rows(layout)
        self._focus = view.focus_slot
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)
        assert self.space_layout is not None
        nslots = sum(len(t) for t in self.space_layout.tables.values())
        self.border_subtitle = f"{nslots} slot{'s' if nslots != 1 else ''} · {self.space_layout.spaces_note.split(' (')[0]}"
        self.refresh()

    def wide(self) -> bool:
        return self.size.width >= 96

    def header_text(self) -> str:
        note = self.space_layout.spaces_note if self.space_layout else ""
        if self.wide():
            return f"{'gpa range':<33} {'size':>8} {'slot':>6} flags · name   ({note})"
        return f"{'gpa':>12} {'size':>7} {'slot':>5} flags · name ({note.split(' (')[0]})"

    def line_text(self, r: MapRow) -> str:
        """QEMU's spelling where there is room (start-end, 16 digits); in a narrow pane, the start alone
        (the range ends where the next line starts)."""
        space = f"as{r.as_id} " if self.space_layout and self.space_layout.address_spaces > 1 else ""
        if self.wide():
            head, slotw = f"{space}{range_text(r.gpa, r.size)} {describe_size(r.size):>8}", 6
        else:
            head, slotw = f"{space}{r.gpa:>#12x} {describe_size(r.size):>7}", 5
        if r.slot is not None:
            flags = ",".join(short_flag_names(r.slot.flags)) or "-"
            name = r.shown
            if r.shadowed:
                name += f" (over mmio {', '.join(r.shadowed)})"
            return f"{head} {r.slot.number:>{slotw}} {flags} · {name}"
        what = {"hole": "no slot: MMIO exit", "mmio": f"mmio device {r.name}", "qemu": f"{r.name} (QEMU: MMIO exit)"}[r.kind]
        return f"{head} {'':>{slotw}} {what}"

    def row_style(self, r: MapRow) -> Style:
        if r.slot is None:
            return self.get_component_rich_style("addrspace--hole" if r.kind == "hole" else "addrspace--device")
        if self._focus is not None and r.slot.number == self._focus:
            return self.get_component_rich_style("addrspace--focus")
        if r.slot.readonly:
            return self.get_component_rich_style("addrspace--ro")
        if r.slot.log_dirty:
            return self.get_component_rich_style("addrspace--log")
        return Style()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            return Strip([Segment(self.header_text().ljust(width)[:width], self.get_component_rich_style("addrspace--header"))])
        row = self.scroll_offset.y + y - 1
        if row >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        r = self.rows[row]
        return Strip([Segment(self.line_text(r).ljust(width)[:width], self.row_style(r))])
