"""Lesson mode's two screens: the question before a step (answered with a number key) and the summary at the end."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ...lesson import Ask, Score


class QuestionScreen(ModalScreen[str | None]):
    """What will happen? One choice per number key; escape leaves the step unanswered (and unvisited)."""

    BINDINGS = [
        *[Binding(str(i), f"choose({i})", f"Choice {i}", show=False) for i in range(1, 10)],
        Binding("escape", "choose(0)", "Not now"),
    ]

    def __init__(self, ask: Ask, score: Score) -> None:
        super().__init__(id="lesson-question")
        self.ask = ask
        self.score = score

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog lesson"):
            yield Label(f"Lesson · {self.score.text()} · guess, then see", classes="dialog-title", markup=False)
            yield Static(self.ask.prompt, id="lesson-prompt", markup=False)
            t = Text()
            for i, (_, label) in enumerate(self.ask.choices, 1):
                t.append(f" {i} ", style="bold reverse")
                t.append(f" {label}\n")
            yield Static(t, id="lesson-choices")
            yield Static("Press the number of your answer (escape: not now).", classes="dialog-hint", markup=False)

    def action_choose(self, n: int) -> None:
        if n == 0:
            self.dismiss(None)
        elif n <= len(self.ask.choices):
            self.dismiss(self.ask.choices[n - 1][0])
        else:
            self.app.bell()


class SummaryScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, score: Score, asks: dict[int, Ask]) -> None:
        super().__init__(id="lesson-summary")
        self.score = score
        self.asks = asks

    def compose(self) -> ComposeResult:
        t = Text()
        for index, (chosen, right) in sorted(self.score.answers.items()):
            ask = self.asks[index]
            labels = dict(ask.choices)
            t.append(f"{'✓' if right else '✗'} step {index + 1}: ", style="bold")
            t.append(f"{labels.get(ask.answer, ask.answer)}" + ("" if right else f" (you said: {labels.get(chosen, chosen)})") + "\n")
        with Vertical(classes="dialog lesson"):
            yield Label(f"Lesson finished: {self.score.right} of {self.score.asked} right", classes="dialog-title", markup=False)
            with VerticalScroll(id="lesson-summary-body"):
                yield Static(t)
            yield Static("Enter closes. l turns lesson mode off (l again starts a new lesson from the step you are on).",
                         classes="dialog-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
