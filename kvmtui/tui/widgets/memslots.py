"""The memslot table, drawn line by line so that 32,764 slots cost only the rows on screen."""

from __future__ import annotations

import textwrap

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...engine.addresses import PAGE_SHIFT, format_size
from ...engine.memslots import MemSlot
from ...engine.uapi import short_flag_names
from ...engine.vocabulary import Op, Outcome
from ..view import StepView
from .repaint import refresh_changed_rows, set_border_text, set_virtual_size
from .stylecache import StyleCache

_TINY = {"READONLY": "RO", "LOG_DIRTY": "LOG", "GUEST_MEMFD": "GMEM"}


def slot_origin(s: MemSlot, width: int) -> str:
    """The guest_memfd binding (name+offset) and the ioctl that made the slot, when it was REGION2."""
    out = ""
    if s.gmem:
        out += f" {s.gmem}+{s.gmem_offset:#x}"
        if s.gmem_hva is not None and width >= 60:
            out += " (gmem-only)"
    if s.ioctl == 2:
        out += " ·R2" if width < 60 else " ·REGION2"
    return out


class MemslotTable(ScrollView):
    """id, gpa range, pages, hva, flags; the slot the step uses is marked ▶, slots it changed *; the
    scenario's slots still to be created ○ with the step that creates them."""

    COMPONENT_CLASSES = {"memslots--header", "memslots--focus", "memslots--changed", "memslots--refused", "memslots--pending"}
    DEFAULT_CSS = "MemslotTable { height: 1fr; overflow-x: hidden; }"

    def __init__(self, **kw) -> None:
        self._style_cache = StyleCache(self)  # before Textual can ask for a style update
        super().__init__(**kw)
        self._slots: tuple[MemSlot, ...] = ()
        self._focus: int | None = None
        self._changed: frozenset[int] = frozenset()
        self._refused: list[str] = []  # a refused ioctl's message, wrapped to the width: never cut
        self._pending: tuple = ()
        self._view: StepView | None = None
        self.selected: int | None = None  # a slot picked by goto
        self._rows: dict[int, int] | None = None  # row of each slot id, made when first asked

    def show(self, view: StepView) -> None:
        top, height = self.scroll_offset.y, self.size.height
        before = [self.row(y) for y in range(height)] if height else None
        if view.slots is not self._slots:  # the views of one memslot generation share one table
            self._slots = view.slots
            self._rows = None
        self._focus = view.focus_slot
        self._changed = view.changed_slots
        self._pending = view.pending_slots
        self._view = view
        self._layout_rows()
        n = len(self._slots)
        set_border_text(self, subtitle=f"{n} slot{'s' if n != 1 else ''}" + (f" · {len(self._pending)} to come" if self._pending else ""))
        if self._focus is not None:
            if self.size.height:  # laid out: scroll in this frame (a second frame per step costs a repaint)
                self.scroll_to_slot(self._focus, False)
            else:
                self.call_after_refresh(self.scroll_to_slot, self._focus, False)
        if before is not None and self.scroll_offset.y == top and self.size.height == height:
            refresh_changed_rows(self, before, [self.row(y) for y in range(height)])  # the rows the step changed
        else:
            self.refresh()

    def _layout_rows(self) -> None:
        view = self._view
        self._refused = []
        if view is not None:
            rec = view.record
            if rec.op == Op.SET_MEMORY_REGION and rec.outcome != Outcome.OK:
                why = next((c.note for c in reversed(rec.chain) if c.bad), "")
                width = max(self.size.width, 20)
                self._refused = textwrap.wrap(f"✗ slot {rec.args['slot']}: -{rec.outcome} {why}", width, subsequent_indent="  ") or [""]
        set_virtual_size(self, Size(self.size.width, len(self._slots) + 1 + len(self._refused) + len(self._pending)))

    def on_resize(self) -> None:
        self._layout_rows()

    def get_content_height(self, container, viewport, width: int) -> int:
        return len(self._slots) + 1 + len(self._refused) + len(self._pending)

    class Picked(Message):
        """A slot was clicked."""

        def __init__(self, slot: MemSlot) -> None:
            self.slot = slot
            super().__init__()

    def on_click(self, event: events.Click) -> None:
        at = event.get_content_offset(self)
        if at is None:
            return
        row = self.scroll_offset.y + at.y - 1 - len(self._refused)
        if 0 <= row < len(self._slots):
            self.select(self._slots[row].id)
            self.post_message(self.Picked(self._slots[row]))

    def row_of(self, slot_id: int) -> int | None:
        if self._rows is None:
            self._rows = {s.id: i for i, s in enumerate(self._slots)}
        return self._rows.get(slot_id)

    def scroll_to_slot(self, slot_id: int, animate: bool = True) -> None:
        row = self.row_of(slot_id)
        if row is None:
            return
        top = self.scroll_offset.y
        height = max(self.size.height - 1, 1)
        if not top <= row < top + height:
            target = max(row - height // 2, 0)
            # a glide for a nearby slot; a jump across a big table (gliding past 32,000 rows took a minute)
            self.scroll_to(y=target, animate=animate and abs(target - top) <= 2 * height)

    def select(self, slot_id: int | None) -> None:
        self.selected = slot_id
        if slot_id is not None:
            self.scroll_to_slot(slot_id)
        self.refresh()

    def line_text(self, s: MemSlot, width: int) -> str:
        start = s.base_gfn << PAGE_SHIFT
        mark = "▶" if s.id == self._focus else ("›" if s.id == self.selected else " ")
        changed = "*" if s.id in self._changed else " "
        names = short_flag_names(s.flags)
        flags = ",".join(_TINY.get(f, f) for f in names) if width < 60 else ",".join(names)
        flags = flags or "-"
        text = f"{mark}{changed}{s.id:>5} {start:#014x} {format_size(s.npages << PAGE_SHIFT):>6}"
        if width >= 64:
            text += f" {s.userspace_addr:#016x}"
        return f"{text} {flags}{slot_origin(s, width)}"

    def pending_text(self, p, width: int) -> str:
        names = short_flag_names(p.flags)
        flags = ",".join(_TINY.get(f, f) for f in names) if width < 60 else ",".join(names)
        return f"○ {p.id:>5} {p.gpa:#014x} {format_size(p.size):>6} {flags or '-'} (step {p.step})"

    def header_text(self, width: int) -> str:
        return f"{'':2}{'slot':>5} {'gpa':<14} {'size':>6}" + (f" {'hva':<16}" if width >= 64 else "") + " flags"

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache.clear()

    def _style(self, name: str) -> Style:
        return self._style_cache.component(name)

    def _strip(self, text: str, width: int, style: Style) -> Strip:
        return Strip([Segment(text.ljust(width)[:width], style)], width)

    def row(self, y: int) -> tuple[str, str | None] | None:
        """Row y on screen as (text, component style; None: plain), or None past the end: what render_line
        draws, cheap enough to compare before and after a step."""
        width = self.size.width
        if y == 0:  # the header stays on top
            return self.header_text(width), "memslots--header"
        extra = len(self._refused)
        if 1 <= y <= extra:
            return self._refused[y - 1], "memslots--refused"
        row = self.scroll_offset.y + y - 1 - extra
        if len(self._slots) <= row < len(self._slots) + len(self._pending):
            p = self._pending[row - len(self._slots)]
            return self.pending_text(p, width), "memslots--pending"
        if row >= len(self._slots):
            return None
        s = self._slots[row]
        style = None
        if s.id in self._changed:
            style = "memslots--changed"
        if s.id == self._focus or s.id == self.selected:
            style = "memslots--focus"
        return self.line_text(s, width), style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        row = self.row(y)
        if row is None:
            return Strip.blank(width, self._style_cache.base)
        text, style = row
        return self._strip(text, width, self._style(style) if style else Style())
