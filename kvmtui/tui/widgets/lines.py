"""A scrolling panel of pre-rendered lines (Textual's Line API).

A step's text is rendered once into strips at the panel's width; the panel then hands out the rows on
screen. A new step repaints this panel alone: unlike a Static inside a scroll container, a change of
height does not lay out children and resize them a frame later.
"""

from __future__ import annotations

from rich.console import RenderableType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.visual import Visual, visualize

from .repaint import refresh_changed_rows, set_virtual_size
from .stylecache import StyleCache


class RenderedLines(ScrollView):
    DEFAULT_CSS = "RenderedLines { overflow-x: hidden; }"

    def __init__(self, **kw) -> None:
        self._style_cache = StyleCache(self)  # before Textual can ask for a style update
        super().__init__(**kw)
        self._renderable: RenderableType = ""
        self._strips: list[Strip] = []
        self._width = 0  # the width the strips are for; 0: render again at the next draw
        self._drawn_width = 0  # the width of the strips on screen

    def notify_style_update(self) -> None:
        """Another theme or class: the rows are drawn again in the new styles."""
        super().notify_style_update()
        self._style_cache.clear()
        self._width = 0

    def set_renderable(self, renderable: RenderableType) -> None:
        self._renderable = renderable
        self._width = 0  # rendered again at the next draw, at the width then
        self._render_strips()

    @property
    def text_width(self) -> int:
        """Columns for the text: the panel less the vertical scrollbar when it shows."""
        return max(self.scrollable_content_region.width, 1)

    def _render_strips(self) -> None:
        width = self.text_width
        if not self.size.width or width == self._width:
            return
        same_width = width == self._drawn_width
        self._width = self._drawn_width = width
        before = self._strips
        self._strips = self.make_strips(width)
        if same_width and len(before) == len(self._strips):  # a new step's text: repaint the rows that changed
            top = self.scroll_offset.y
            rows = range(top, min(top + self.size.height, len(self._strips)))
            refresh_changed_rows(self, [before[r] for r in rows], [self._strips[r] for r in rows])
            return
        set_virtual_size(self, Size(width, len(self._strips)))
        self.refresh()

    def make_strips(self, width: int) -> list[Strip]:
        """The panel's rows at this width (a subclass may assemble them from parts it keeps)."""
        return self.strips_of(self._renderable, width)

    def strips_of(self, renderable: RenderableType, width: int) -> list[Strip]:
        # Textual's own path from a renderable to strips, as a Static draws it (the same wrapping and styles)
        return Visual.to_strips(self, visualize(self, renderable, markup=False), width, None, self.visual_style)

    @property
    def shown_text(self) -> str:
        """The text shown, one line per row (for tests and copying)."""
        return "\n".join(s.text.rstrip() for s in self._strips)

    def on_resize(self) -> None:
        self._render_strips()

    def render_line(self, y: int) -> Strip:
        if y == 0 or not self._width:  # first drawn before any resize: render at the width there is (once a pass)
            self._render_strips()
        row = self.scroll_offset.y + y
        width = self.size.width
        style = self._style_cache.base
        if row >= len(self._strips):
            return Strip.blank(width, style)
        return self._strips[row].adjust_cell_length(width, style)
