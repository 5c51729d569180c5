"""The views around the stepper: the address space, a layout diff, the layout timeline, the tabs, the page
map's zoom and the plain words under the chain."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding
from textual.widgets import TabbedContent

from ...layouts import Layout, layout_at, open_layout, parse_diff_target
from ..screens.dialogs import Prompt
from ..screens.diff import DiffScreen
from ..screens.timeline import TimelineScreen
from ..widgets.pagemap import PageMap
from ..widgets.resolution import Resolution
from .base import AppCore

TABS = ("tab-notes", "tab-pages", "tab-events", "tab-host", "tab-dirty", "tab-space")

BINDINGS = [
    Binding("t", "timeline", "Layout timeline", show=False, tooltip="Every memslot update in order, read-only flips and dirty-log toggles marked", id="timeline"),
    Binding("a", "address_space", "Space", tooltip="The address space: the whole guest-physical space at this step: slots with names and flags, holes, MMIO devices", id="address_space"),
    Binding("d", "diff", "Diff", tooltip="Compare this step's layout with another file, or with an earlier step of this one", id="diff"),
    Binding("w", "plain_words", "Plain words", show=False, tooltip="Show or hide the plain-language sentences under the chain", id="plain_words"),
    Binding("plus,equals_sign", "zoom_in", "Zoom in", show=False, key_display="+", tooltip="Page map: fewer pages per cell", id="zoom_in"),
    Binding("minus", "zoom_out", "Zoom out", show=False, key_display="-", tooltip="Page map: more pages per cell", id="zoom_out"),
    *[
        Binding(str(i + 1), f"tab('{t}')", f"{t[4:].title()} tab", show=False, tooltip=f"Show the {t[4:]} panel", id=t)
        for i, t in enumerate(TABS)
    ],
]


class ViewActions(AppCore):
    _pending_diff: DiffScreen | None = None

    def action_timeline(self) -> None:
        self.push_screen(TimelineScreen(self.run_, self.goto_step))

    def action_address_space(self) -> None:
        self.query_one(TabbedContent).active = "tab-space"

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._show_tabs(event.pane.id)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_diff(self) -> None:
        self.push_screen(Prompt("Diff this step's layout with", "step N (this file after step N) · a file (scenario, ELF, log) · FILE step N",
                                self._diff, value="step 0", prompt_id="diff"), self._show_diff)

    def _diff(self, text: str) -> str | None:
        try:
            path, step = parse_diff_target(text)
        except ValueError as e:
            return str(e)
        assert self.view is not None
        view = self.view
        here = Layout(self.scenario.file, self.run_, view.index + 1, len(self.run_), dict(enumerate(view.slot_tables)), self.mtree)
        name = Path(self.scenario.file).name
        if path is None:
            assert step is not None
            try:
                there = layout_at(self.run_, self.scenario.file, step, self.mtree)
            except ValueError as e:
                return str(e)
            label_b = f"{name} after step {step}"
        else:
            other, err = open_layout(path, step, None, None)
            if other is None:
                return err
            there = other
            label_b = f"{Path(path).name} after step {there.step} of {there.steps}"
        self._pending_diff = DiffScreen(here, there, f"{name} after step {self.index + 1} (here)", label_b)
        return None

    def _show_diff(self, text: str | None) -> None:
        screen, self._pending_diff = self._pending_diff, None
        if text and screen is not None:  # the prompt has closed: the diff goes on top of the stepper
            self.push_screen(screen)

    def action_plain_words(self) -> None:
        res = self.query_one(Resolution)
        res.plain = not res.plain
        res.redraw()
        self.notify("Plain words shown under the chain." if res.plain else "Plain words hidden (w shows them).", timeout=2, markup=False)

    def action_zoom_in(self) -> None:
        self.query_one(PageMap).zoom_in()

    def action_zoom_out(self) -> None:
        self.query_one(PageMap).zoom_out()
