"""The help screen, written from the app's BINDINGS: one source for footer, palette and help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ..commands import EDIT_HELP, PROBE_HELP
from ..widgets.pagemap import LEGEND

_KEY_NAMES = {"space": "space", "colon": ":", "question_mark": "?", "plus": "+", "minus": "-", "equals_sign": "=",
              "home": "Home", "end": "End", "escape": "Esc"}


def key_label(keys: str) -> str:
    return " ".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


def help_markdown(bindings: list[Binding], keymap: dict[str, str] | None = None, theme: str = "") -> str:
    """The keys in force: a binding remapped by the config file's [keymap] shows its new keys (and its id)."""
    keymap = keymap or {}
    rows = "\n".join(f"| `{key_label(keymap.get(b.id or '', b.key))}` | {b.description}{' (remapped)' if b.id in keymap else ''} "
                     f"| {b.tooltip} | `{b.id}` |" for b in bindings if b.description)
    return f"""# kvmtui keys

| key | action | what it does | id (for the config file's `[keymap]`) |
|---|---|---|---|
{rows}

Theme: `{theme}` (`--theme NAME` or `theme = "NAME"` in the config file; `high-contrast` for projectors).
Keys are remapped in the settings file (`--config FILE`, `$KVMTUI_CONFIG`, else `config.toml` in the platform's
config directory: `~/.config/kvmtui/` on Linux) under `[keymap]`, by id:
`step = "n,space,j"`.

Every action is also in the command palette (`ctrl+p`). The mouse works too: click a slot, a tab, an
event (to jump to its step).

## Probe (`:`)

{PROBE_HELP}

## Slot editor (`e`)

{EDIT_HELP}

## Breakpoints (`B`)

`gpa ADDR`, `gfn N`, `slot N`, `outcome NAME` (`mmio`, `efault`, `EINVAL`…); `clear` removes them all.

## Page map

{LEGEND}. `+` / `-` zoom; zoomed out, a cell stands for many pages and shows the most telling state
among them (mmio, rw, wp, ro, none).

Press `escape`, `q` or `?` to close.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def __init__(self, bindings: list[Binding], keymap: dict[str, str] | None = None, theme: str = "") -> None:
        super().__init__(id="help")
        self.bindings_ = bindings
        self.keys_in_force = keymap or {}
        self.theme_name = theme

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="help-body"):
            yield Markdown(help_markdown(self.bindings_, self.keys_in_force, self.theme_name))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
