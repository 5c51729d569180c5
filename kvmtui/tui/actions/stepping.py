"""Stepping: forward, back, first, last, run to the next exit or breakpoint (the keys of pudb and gdb)."""

from __future__ import annotations

from textual.binding import Binding

from ..commands import breakpoint_hit
from ..widgets.events import EventLog, events_of
from .base import AppCore

BINDINGS = [
    Binding("n,space", "step", "Step", tooltip="Go to the next step", id="step"),
    Binding("b,p", "step_back", "Back", tooltip="Go back one step; the view is restored exactly", id="back"),
    Binding("c,r", "run", "Run", tooltip="Run to the next exit, error, unmet expectation or breakpoint", id="run"),
    Binding("home", "first", "First step", show=False, tooltip="Go to the first step", id="first"),
    Binding("end", "last", "Last step", show=False, tooltip="Go to the last step", id="last"),
]


class SteppingActions(AppCore):
    def action_step(self) -> None:
        if self.index + 1 >= len(self.run_):
            self.notify("Already at the last step.", severity="warning", timeout=2, markup=False)
            return
        if not self._ask_before(self.index + 1):  # lesson mode: a question first
            self.goto_step(self.index + 1)

    def action_step_back(self) -> None:  # not action_back: that is Textual's own (async) action
        if self.index == 0:
            self.notify("Already at the first step.", severity="warning", timeout=2, markup=False)
            return
        self.goto_step(self.index - 1)

    def action_first(self) -> None:
        self.goto_step(0)

    def action_last(self) -> None:
        self.goto_step(len(self.run_) - 1)

    def action_run(self) -> None:
        for j in range(self.index + 1, len(self.run_)):
            entry = self.run_.entry(j)
            why = breakpoint_hit(self.breakpoints, entry.record)
            if why or events_of(entry):
                self.goto_step(j)
                self.notify(f"Stopped at step {j + 1}: {why or events_of(entry)[0][0]}", timeout=3, markup=False)
                return
        self.goto_step(len(self.run_) - 1)
        self.notify("Ran to the last step: no exit, error or breakpoint on the way.", timeout=3, markup=False)

    def on_event_log_jump(self, message: EventLog.Jump) -> None:
        self.goto_step(message.index)
