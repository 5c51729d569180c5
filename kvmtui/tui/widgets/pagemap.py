"""The guest pages of every slot as a map of spte states, drawn line by line.

One row shows `cells` cells of `pages_per_cell` pages each; a cell shows the most telling state among its
pages (mmio > rw > wp > ro > none). Zoomed out, a 1 TiB slot fits in a few rows; zoomed in, a cell is a page.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...engine.addresses import PAGE_SHIFT, format_size
from ...engine.memslots import MemSlot
from ...engine.records import SpteState
from ..view import SpteMap, StepView

GLYPH = {SpteState.NONE: "·", SpteState.RO: "r", SpteState.RW: "W", SpteState.WP: "w", SpteState.MMIO: "M"}
PRIORITY = {SpteState.NONE: 0, SpteState.RO: 1, SpteState.WP: 2, SpteState.RW: 3, SpteState.MMIO: 4}
LEGEND = "· none  r ro  W rw  w wp  M mmio │ reverse: this step · underline: since start"
LABEL = 16
MAX_ROWS_PER_SLOT = 8


class PageMap(ScrollView):
    COMPONENT_CLASSES = {"pagemap--label", "pagemap--changed", "pagemap--touched", "pagemap--ro", "pagemap--rw",
                         "pagemap--wp", "pagemap--mmio", "pagemap--none"}
    DEFAULT_CSS = "PageMap { height: 1fr; overflow-x: hidden; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._slots: tuple[MemSlot, ...] = ()
        self._sptes = SpteMap((), ())
        self._changed: list[int] = []  # sorted gfns
        self._touched: list[int] = []
        self._row_start: list[int] = [0]  # first row of each slot
        self.zoom = 0  # pages per cell = auto * 2**zoom (negative zooms in)
        self._ppc = 1
        self._biggest = 1
        self._laid_out = True
        self._styles: dict[str, Style] = {}
        self.internals = True

    # -- data -------------------------------------------------------------------------------------------
    def keep(self, view: StepView) -> None:
        """The view's data, drawn when the map is next shown (a hidden map costs nothing per step)."""
        self.internals = view.sptes is not None
        # The slot table only changes with the memslot generation (the views of one share it): the rows are
        # laid out again only then.
        if view.slots is not self._slots:
            self._slots = view.slots  # already sorted by base_gfn
            self._biggest = max((s.npages for s in self._slots), default=1)
            self._laid_out = False
        self._sptes = view.sptes or SpteMap((), ())
        self._changed = sorted(view.changed_gfns)
        self._touched = sorted(view.touched_gfns)

    def show(self, view: StepView) -> None:
        self.keep(view)
        self._styles = {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES}
        if not self._laid_out:
            self._layout()
        else:
            self.refresh()
        if view.record.is_access:
            self.call_after_refresh(self.scroll_to_gfn, view.record.args["gpa"] >> PAGE_SHIFT, True)

    def _ensure_layout(self) -> None:
        if not self._laid_out:
            self._layout()

    @property
    def cells(self) -> int:
        # The vertical scrollbar is drawn over the last columns when it shows: keep them free always, so a row's
        # last cells (the reset vector's page) are never hidden under it.
        return max(self.size.width - LABEL - self.styles.scrollbar_size_vertical, 8)

    @property
    def pages_per_cell(self) -> int:
        self._ensure_layout()
        return self._ppc

    def _auto_ppc(self) -> int:
        ppc = 1
        while self._biggest > ppc * self.cells * MAX_ROWS_PER_SLOT:
            ppc *= 2
        return ppc

    def _layout(self) -> None:
        base = self._auto_ppc()
        self._ppc = max(1, base << self.zoom if self.zoom >= 0 else base >> -self.zoom)
        span = self._ppc * self.cells
        starts, row = [], 0
        for s in self._slots:
            starts.append(row)
            row += max(1, -(-s.npages // span))
        self._row_start = starts
        self._laid_out = True
        self.virtual_size = Size(self.size.width, row + 1)
        self.border_subtitle = f"1 cell = {format_size(self._ppc << PAGE_SHIFT)}"
        self.refresh()

    def on_resize(self) -> None:
        self._layout()

    def zoom_in(self) -> None:
        if self.pages_per_cell > 1:
            self.zoom -= 1
            self._layout()

    def zoom_out(self) -> None:
        self.zoom += 1
        self._layout()

    def scroll_to_gfn(self, gfn: int, only_if_hidden: bool = False) -> None:
        self._ensure_layout()
        i = self._slot_index(gfn)
        if i < 0 or not self._slots[i].base_gfn <= gfn < self._slots[i].end_gfn:
            return
        s = self._slots[i]
        row = self._row_start[i] + (gfn - s.base_gfn) // (self._ppc * self.cells)
        top = self.scroll_offset.y
        if only_if_hidden and top <= row < top + self.size.height - 1:
            return
        self.scroll_to(y=max(row - 1, 0), animate=False)

    def _slot_index(self, gfn: int) -> int:
        lo, hi = 0, len(self._slots)
        while lo < hi:  # the last slot whose base_gfn <= gfn
            mid = (lo + hi) // 2
            if self._slots[mid].base_gfn <= gfn:
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    # -- drawing --------------------------------------------------------------------------------------------
    def cell_state(self, lo: int, hi: int) -> tuple[SpteState, bool, bool]:
        best = SpteState.NONE
        states = self._sptes.states
        for i in self._sptes.span(lo, hi):
            st = states[i]
            if PRIORITY[st] > PRIORITY[best]:
                best = st
        # changes include zaps, whose gfns have no spte any more
        changed = _any_in(self._changed, lo, hi)
        touched = not changed and _any_in(self._touched, lo, hi)
        return best, changed, touched

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y == 0:
            text = LEGEND if self.internals else "live: the kernel does not show its sptes"
            return Strip([Segment(text.ljust(width)[:width], self.get_component_rich_style("pagemap--label"))])
        if not self.internals:
            return Strip.blank(width, self.rich_style)
        self._ensure_layout()
        row = self.scroll_offset.y + y - 1
        i = bisect_right(self._row_start, row) - 1
        if i < 0 or i >= len(self._slots):
            return Strip.blank(width, self.rich_style)
        s = self._slots[i]
        span = self._ppc * self.cells
        lo = s.base_gfn + (row - self._row_start[i]) * span
        if lo >= s.end_gfn:
            return Strip.blank(width, self.rich_style)
        gpa = f"{lo << PAGE_SHIFT:x}"
        gpa = gpa if len(gpa) <= 10 else "…" + gpa[-9:]
        label = f"{s.id:>4} {gpa:>10} "
        styles = self._styles or {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES}
        segs = [Segment(label, styles["pagemap--label"])]
        for c in range(self.cells):
            a = lo + c * self._ppc
            if a >= s.end_gfn:
                break
            st, changed, touched = self.cell_state(a, min(a + self._ppc, s.end_gfn))
            style = styles[f"pagemap--{st.value}"]
            if changed:
                style += styles["pagemap--changed"]
            elif touched:
                style += styles["pagemap--touched"]
            segs.append(Segment(GLYPH[st], style))
        strip = Strip(segs)
        return strip.adjust_cell_length(width, self.rich_style)


def _any_in(sorted_gfns: list[int], lo: int, hi: int) -> bool:
    i = bisect_left(sorted_gfns, lo)
    return i < len(sorted_gfns) and sorted_gfns[i] < hi
