"""Small modal screens: a one-line prompt with an inline error, and a yes/no confirmation."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class Prompt(ModalScreen[str | None]):
    """Ask for one line. `check` returns an error message (shown inline, the prompt stays) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str, check: Callable[[str], str | None], value: str = "", prompt_id: str = "prompt") -> None:
        super().__init__(id=prompt_id)
        self.title_text = title
        self.hint = hint
        self.check = check
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title", markup=False)
            yield Input(value=self.value, placeholder=self.hint, id="prompt-input")
            yield Static(self.hint, id="prompt-hint", classes="dialog-hint", markup=False)
            yield Label("", id="prompt-error", classes="dialog-error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            error = self.check(text)
        except Exception as e:  # noqa: BLE001 -- the app never crashes on what a user types
            error = f"{type(e).__name__}: {e}"
        if error:
            label = self.query_one("#prompt-error", Label)
            label.update(f"✗ {error}")
            label.add_class("-shown")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__(id="confirm")
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, classes="dialog-title", markup=False)
            yield Label("y: yes · n / escape: no", classes="dialog-hint", markup=False)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
