"""A panel drawn from the current step's view, and only when it can be seen.

The app hands every panel each step's view. A panel on a hidden tab only keeps it (`keep`): drawing a
renderable nobody sees would still cost a layout and a repaint per step. It draws when its tab is opened
(`show`) or when something asks it to render.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from ..view import StepView


class ViewKeeper:
    """keep/show/redraw for any widget that draws a StepView (a Static, or a panel of rendered lines)."""

    _view: StepView | None = None
    _stale = False
    _drawn_key: Any = object()  # what the panel shows now: a step that changes none of it draws nothing

    def keep(self, view: StepView) -> None:
        self._view = view
        self._stale = True

    def show(self, view: StepView) -> None:
        self._view = view
        self._stale = False
        key = self.key(view)
        if key != self._drawn_key:
            self._drawn_key = key
            self.draw(view)

    def key(self, view: StepView) -> Any:
        """What the panel's content depends on (equal keys: nothing to draw)."""
        return view

    def draw(self, view: StepView) -> None:
        raise NotImplementedError

    def redraw(self) -> None:
        """Draw again at the new size or settings, whatever the key."""
        self._drawn_key = object()
        if self._view is not None:
            self.show(self._view)



class ViewPanel(ViewKeeper, Static):
    def render(self):
        if self._stale and self._view is not None:  # asked to render while hidden: draw what was kept
            self.show(self._view)
        return super().render()
