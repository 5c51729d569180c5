"""Repaint only what a step changed.

Textual repaints every row of a refreshed widget, and each row costs its styling pass (~0.1-0.2 ms); a
step that changes two rows of a 36-row panel need not pay for 36. These helpers compare the rows on
screen before and after a change and refresh just the rows that differ; a border title that changed
refreshes its own border row, not the widget.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.widget import Widget


def refresh_changed_rows(widget: Widget, before: Sequence[object], after: Sequence[object]) -> None:
    """Refresh the content rows that differ between two renderings of the same scroll position (the rows as
    strips, or anything that stands for what a row shows)."""
    if len(before) != len(after):
        widget.refresh()
        return
    width = widget.size.width
    rows = [Region(0, y, width, 1) for y, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    if rows:
        widget.refresh(*rows)


def set_border_text(widget: Widget, title: str | None = None, subtitle: str | None = None) -> None:
    """Set a border title or subtitle (plain text) and repaint only that border row when it changed.

    Textual's border_title setter repaints the whole widget every time, changed or not."""
    for text, attr, top in ((title, "_border_title", True), (subtitle, "_border_subtitle", False)):
        if text is None:
            continue
        old = getattr(widget, attr, None)
        if old is not None and old.plain == text:
            continue
        if not hasattr(widget, attr) or not widget.size.height:
            setattr(widget, attr[1:], text)  # not laid out yet (or another Textual): the public way
            continue
        setattr(widget, attr, widget.render_str(text).expand_tabs(4).split()[0])  # as the public setter stores it
        offset = widget.content_offset  # refresh() regions are content-relative: the border lies above/below
        outer = widget.outer_size
        y = -offset.y if top else outer.height - 1 - offset.y
        widget.refresh(Region(-offset.x, y, outer.width, 1))


def set_virtual_size(widget: ScrollView, size: Size) -> None:
    """A Line-API widget's scrollable size, without laying out the screen when the widget's own size does not
    follow its content (height in fr or cells, as every panel here has).

    Textual's virtual_size is a layout reactive: each change (a step whose text is one row longer) lays out
    the whole screen, ~20 ms and a full repaint. Only the widget's scrollbars depend on it: they are
    updated here, and a scrollbar appearing or going still lays out, as it must."""
    if widget.virtual_size == size:
        return
    height = widget.styles.height
    if height is None or height.is_auto or not widget.size.height:
        widget.virtual_size = size  # sized by its content, or not laid out yet: the full way
        return
    widget.set_reactive(ScrollView.virtual_size, size)
    widget._scroll_update(size)  # the scrollbars' window, shown or hidden, and a scroll position still valid
    widget.refresh()
