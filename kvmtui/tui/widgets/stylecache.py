"""Rich styles for the Line-API widgets, looked up once per style change instead of once per row drawn.

Textual computes a widget's `rich_style` anew on each read (walking its ancestors for the background) and
drops its component-style cache on every refresh: ~0.2-1 ms a lookup, paid per row and per step. These
styles change only when the widget's own rules do (a theme, a class such as -failed, :hover, :focus), and
Textual says so by calling the widget's `notify_style_update`, which clears this cache.
"""

from __future__ import annotations

from rich.style import Style
from textual.widget import Widget


class StyleCache:
    def __init__(self, widget: Widget) -> None:
        self._widget = widget
        self._styles: dict[str, Style] = {}

    @property
    def base(self) -> Style:
        """The widget's own style (blank rows, padding)."""
        style = self._styles.get("")
        if style is None:
            style = self._styles[""] = self._widget.rich_style
        return style

    def component(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = self._widget.get_component_rich_style(name)
        return style

    def clear(self) -> None:
        self._styles.clear()
