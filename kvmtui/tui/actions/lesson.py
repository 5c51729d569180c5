"""Lesson mode: before each step with an outcome the student guesses what will happen, then sees it."""

from __future__ import annotations

from functools import partial

from textual.binding import Binding
from textual.widgets import TabbedContent

from ...lesson import Ask, Score, ask_for, asks_about, reveal_text
from ...table import describe_step
from ..screens.lesson import QuestionScreen, SummaryScreen
from ..widgets.panels import Narration
from ..widgets.resolution import Resolution
from .base import AppCore

BINDINGS = [
    Binding("l", "lesson", "Lesson", tooltip="Lesson mode on or off: guess what each step will do before you see it", id="lesson"),
]


class LessonActions(AppCore):
    def action_lesson(self) -> None:
        if self.lesson is None:
            self.lesson = Score()
            self.lesson_asks = {}
            self.notify("Lesson mode: before each step with an outcome you are asked what will happen "
                        "(answer with a number key).", timeout=5, markup=False)
        else:
            self.lesson = None
            self.query_one(Resolution).reveal = None
            self.notify("Lesson mode off.", timeout=2, markup=False)
        self._show_status()
        if self.view is not None:
            self.query_one(Resolution).redraw()

    def _ask_before(self, index: int) -> bool:
        if self.lesson is None or index in self.lesson.answers or not asks_about(self.run_, index):
            return False
        ask = ask_for(self.run_, index, describe_step(self.run_, self.run_.entry(index)))
        self.lesson_asks[index] = ask
        self.push_screen(QuestionScreen(ask, self.lesson), partial(self._answered, ask))
        return True

    def _answered(self, ask: Ask, chosen: str | None) -> None:
        if chosen is None or self.lesson is None:
            return
        self.lesson.record(ask, chosen)
        right, verdict = reveal_text(ask, chosen)
        self.query_one(Resolution).reveal = (ask.index, right, verdict)
        self.query_one(Narration).reveal = (ask.index, verdict, ask.why)
        self.goto_step(ask.index)
        self.query_one(TabbedContent).active = "tab-notes"
        if not any(asks_about(self.run_, j) for j in range(ask.index + 1, len(self.run_))):
            self.push_screen(SummaryScreen(self.lesson, dict(self.lesson_asks)))
