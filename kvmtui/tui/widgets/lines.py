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


class RenderedLines(ScrollView):
    DEFAULT_CSS = "RenderedLines { overflow-x: hidden; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._renderable: RenderableType = ""
        self._strips: list[Strip] = []
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
        self._width = width
        # Textual's own path from a renderable to strips, as a Static draws it (the same wrapping and styles)
        self._strips = Visual.to_strips(self, visualize(self, self._renderable, markup=False), width, None, self.visual_style)
        self.virtual_size = Size(width, len(self._strips))
        self.refresh()

    @property
    def shown_text(self) -> str:
        """The text shown, one line per row (for tests and copying)."""
        return "\n".join(s.text.rstrip() for s in self._strips)

    def on_resize(self) -> None:
        self._render_strips()

    def render_line(self, y: int) -> Strip:
        self._render_strips()  # first drawn before any resize: render at the width there is
        row = self.scroll_offset.y + y
        width = self.size.width
        if row >= len(self._strips):
            return Strip.blank(width, self.rich_style)
        return self._strips[row].adjust_cell_length(width, self.rich_style)
