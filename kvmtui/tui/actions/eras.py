"""Kernel eras: re-run the same steps under another era, or see 3.6 beside 3.7 (the seed's before/after).
A live run has one era, this machine's kernel."""

from __future__ import annotations

from textual.binding import Binding

from ...engine.profiles import KERNEL_ERAS
from ...runner import ScenarioRun
from ..screens.compare import CompareScreen
from .base import AppCore

BINDINGS = [
    Binding("k", "era", "Switch era", show=False, tooltip="Re-run the same steps under the next kernel era (3.6, 3.7, modern)", id="era"),
    Binding("v", "compare", "3.6 beside 3.7", show=False, tooltip="The seed's before/after: every step under 3.6 and 3.7, differences marked", id="compare"),
]


class EraActions(AppCore):
    def action_era(self) -> None:
        if self.live:
            self.notify("Live mode runs on this machine's kernel: there is no other era to switch to.", severity="warning", markup=False)
            return
        eras = list(KERNEL_ERAS)
        nxt = eras[(eras.index(self.run_.kernel) + 1) % len(eras)]
        self._rebuild(kernel=nxt)
        self.notify(f"Re-ran {len(self.run_)} steps under kernel {nxt}.", timeout=3, markup=False)

    def action_compare(self) -> None:
        left = ScenarioRun(self.scenario, "3.6", self.run_.path)
        right = ScenarioRun(self.scenario, "3.7", self.run_.path)
        left.specs[:] = self.run_.specs
        right.specs[:] = self.run_.specs
        self.push_screen(CompareScreen(left, right))
