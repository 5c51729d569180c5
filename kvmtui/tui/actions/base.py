"""The app's core: the run (engine history), the position in it and the per-step view the widgets draw.

The action mixins (stepping, navigate, eras, files, lesson, views) act on this state; the app composes
them. Widgets never reach back here: they get a StepView and post messages up.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from textual.app import App
from textual.widgets import TabbedContent

from ...layouts import Layout
from ...lesson import Ask, Score
from ...run import Run
from ...runner import ScenarioRun
from ...scenario import Scenario
from ...scenario.mtree import FlatView
from ..commands import Breakpoint
from ..view import StepView, ViewBuilder
from ..widgets.addrspace import AddressSpaceMap
from ..widgets.dirty_ring import DirtyRings
from ..widgets.events import EventLog
from ..widgets.memslots import MemslotTable
from ..widgets.pagemap import PageMap
from ..widgets.panels import DirtyLog, HostMappings, Narration, StatusLine
from ..widgets.resolution import Resolution
from ..widgets.viewpanel import ViewKeeper

VIEW_CACHE = 32  # the most recent views: stepping back to them costs no replay


@dataclass(frozen=True)
class _CachedLayout:
    tables_src: tuple
    layout: Layout


class AppCore(App[int]):
    """What every action group shares: set up by KvmApp.__init__."""

    scenario: Scenario
    scenario_path: str | None
    run_: Run
    live: bool
    mtree: list[FlatView] | None
    views: ViewBuilder
    index: int
    view: StepView | None
    breakpoints: list[Breakpoint]
    lesson: Score | None
    lesson_asks: dict[int, Ask]
    plain_words: bool
    keymap: dict[str, str]
    modified: bool
    _doc: Any
    _views: OrderedDict[int, StepView]
    _layout_cache: _CachedLayout | None

    # -- the position -------------------------------------------------------------------------------------
    def goto_step(self, index: int) -> None:
        index = max(0, min(index, len(self.run_) - 1))
        self.index = index
        view = self._views.pop(index, None) or self.views.build(self.run_, index)
        self._views[index] = view
        while len(self._views) > VIEW_CACHE:
            self._views.popitem(last=False)
        self.view = view
        self._show_status()
        self.query_one(MemslotTable).show(view)
        self.query_one(Resolution).show(view)
        # events are added, never rebuilt: kept up to date, hidden or not (a count of what happened so far)
        self.query_one(EventLog).show_upto(index + 1, self.run_.entry, self.run_.symbol)
        self._show_tabs(self.query_one(TabbedContent).active)
        self.sub_title = "live /dev/kvm" if self.live else f"kernel {self.run_.kernel}"

    def _ask_before(self, index: int) -> bool:
        """True when a question is shown before step INDEX instead of the step (lesson mode asks)."""
        return False

    def _show_status(self) -> None:
        if self.view is not None:
            self.query_one(StatusLine).show(self.view, len(self.breakpoints), self.lesson.text() if self.lesson else None)

    def _show_tabs(self, active: str) -> None:
        """The open tab's panels draw the view; the others keep it and draw when opened (a hidden panel costs
        nothing per step)."""
        view = self.view
        if view is None:
            return
        panels: tuple[tuple[str, ViewKeeper | PageMap], ...] = (
            ("tab-notes", self.query_one(Narration)), ("tab-pages", self.query_one(PageMap)), ("tab-host", self.query_one(HostMappings)),
            ("tab-dirty", self.query_one(DirtyRings)), ("tab-dirty", self.query_one(DirtyLog)))
        for tab, panel in panels:
            if tab == active:
                panel.show(view)
            else:
                panel.keep(view)
        if active == "tab-space":  # 32,764 slots: named only when looked at
            self.query_one(AddressSpaceMap).show(view, self._space_layout(view))

    def _space_layout(self, view: StepView) -> Layout:
        """The named layout of the view's slot tables, made once per table (32,764 slots: not per step)."""
        cached = self._layout_cache
        if cached is None or cached.tables_src is not view.slot_tables:
            layout = Layout(self.scenario.file, self.run_, view.index + 1, len(self.run_), dict(enumerate(view.slot_tables)), self.mtree)
            cached = self._layout_cache = _CachedLayout(view.slot_tables, layout)
        return cached.layout

    def _forget_views(self) -> None:
        """The steps changed (a probe, an edit, another era): what was computed for them no longer holds."""
        self.views.reset()
        self._views.clear()
        self._layout_cache = None

    def _rebuild(self, scenario: Scenario | None = None, kernel: str | None = None) -> None:
        """A new run (another era, or an edited scenario): the probes typed so far stay, and so does the
        position where it still exists."""
        probes_and_steps = [s for s in self.run_.specs if s.phase != "setup"]
        self.scenario = scenario or self.scenario
        self.run_ = ScenarioRun(self.scenario, kernel or self.run_.kernel, self.run_.path)
        self.run_.specs[:] = [*self.scenario.setup, *probes_and_steps]
        self._forget_views()
        self.query_one(EventLog).clear_all()
        self.goto_step(self.index)
        self._settle()

    def _settle(self) -> None:
        """The scenario, the run and its records live as long as the app: moved out of the cyclic garbage
        collector's sight (gc.freeze). Otherwise every full collection walks them all again: with 32,764
        slots that is a pause of a few hundred ms landing on some step. Acyclic garbage is still freed at
        once by reference counting; this only skips re-examining what is known to be alive."""
        gc.freeze()
