"""kvmtui's Textual app: step through a scenario and watch a read-only write become an MMIO exit.

The app holds the run (engine history) and the position (actions/base.py); widgets get a StepView and draw
it. The actions live by job in tui/actions/ (stepping, navigate, eras, files, lesson, views), each module with
its keys: this class composes them, lays out the screen and wires footer, help and command palette to the
one list of BINDINGS.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from functools import partial

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from ..lesson import Score
from ..runner import ScenarioRun
from ..scenario import Scenario, load_scenario
from ..scenario.elf import is_elf
from ..scenario.firmware import scenario_from_elf
from ..scenario.importers import looks_like_log, scenario_from_log
from ..scenario.mtree import read_mtree
from .actions import eras, files, lesson, navigate, stepping, views
from .actions.eras import EraActions
from .actions.files import UNREAD, FileActions
from .actions.lesson import LessonActions
from .actions.navigate import NavigateActions
from .actions.stepping import SteppingActions
from .actions.views import ViewActions
from .screens.help import HelpScreen
from .theme import DEFAULT_THEME, HIGH_CONTRAST, theme_names
from .view import ViewBuilder
from .widgets.addrspace import AddressSpaceMap
from .widgets.dirty_ring import DirtyRings
from .widgets.events import EventLog
from .widgets.memslots import MemslotTable
from .widgets.pagemap import PageMap
from .widgets.panels import DirtyLog, HostMappings, Narration, StatusLine
from .widgets.resolution import Resolution

APP_BINDINGS = [
    Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="All keys, the probe syntax and the legend", id="help"),
    Binding("q", "quit", "Quit", tooltip="Leave kvmtui", id="quit"),
]


class KvmApp(SteppingActions, NavigateActions, EraActions, FileActions, LessonActions, ViewActions):
    CSS_PATH = "app.tcss"
    TITLE = "kvmtui"
    # One list, in footer order: the footer, the help screen and the command palette all read it.
    BINDINGS = [*stepping.BINDINGS, *navigate.BINDINGS, *APP_BINDINGS, *eras.BINDINGS, *files.BINDINGS, *lesson.BINDINGS,
                *views.BINDINGS]

    def __init__(self, scenario_path: str | None = None, *, scenario: Scenario | None = None,
                 kernel: str | None = None, path: str | None = None, maps: str | None = None, live: bool = False,
                 theme: str | None = None, keymap: dict[str, str] | None = None, plain_words: bool = True,
                 lesson: bool = False, mtree: str | None = None) -> None:
        super().__init__()
        self.mtree = read_mtree(mtree) if mtree else None  # QEMU's info mtree -f: names for the address-space view
        self.lesson = Score() if lesson else None
        self.lesson_asks = {}
        self.register_theme(HIGH_CONTRAST)
        self.theme = theme or DEFAULT_THEME
        self.keymap = dict(keymap or {})
        if self.keymap:
            self.set_keymap(self.keymap)
        self.plain_words = plain_words
        generated = scenario_path is not None and (is_elf(scenario_path) or looks_like_log(scenario_path))
        if scenario is None:
            if scenario_path is None:
                raise ValueError("a scenario or a path is needed")
            if not generated:
                scenario = load_scenario(scenario_path)
            elif is_elf(scenario_path):
                scenario = scenario_from_elf(scenario_path)
            else:
                scenario = scenario_from_log(scenario_path, maps)
        self.scenario_path = None if generated else scenario_path
        self._doc = UNREAD if scenario_path and not generated and not live else None
        self.scenario = scenario
        self.live = live
        if live:
            from ..live.backend import LiveRun

            self.run_ = LiveRun(scenario, path)  # a live run is not edited (no doc): the kernel cannot go back
        else:
            self.run_ = ScenarioRun(scenario, kernel, path)
        self.views = ViewBuilder()
        self._views = OrderedDict()
        self.index = 0
        self.view = None
        self.breakpoints = []
        self.modified = False
        self._layout_cache = None

    # -- layout ------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield MemslotTable(id="memslots", classes="panel")
                yield Resolution(id="resolution", classes="panel")
            with TabbedContent(id="right"):
                with TabPane("Note", id="tab-notes"):
                    yield Narration(id="narration")
                with TabPane("Map", id="tab-pages"):
                    yield PageMap(id="pagemap")
                with TabPane("Exits", id="tab-events"):
                    yield EventLog(id="events")
                with TabPane("Host", id="tab-host"):
                    yield HostMappings(id="hostmaps")
                with TabPane("Dirty", id="tab-dirty"), VerticalScroll(id="dirty-scroll"):
                    yield DirtyRings(id="dirtyrings")
                    yield DirtyLog(id="dirtylog")
                with TabPane("Space", id="tab-space"):
                    yield AddressSpaceMap(id="addrspace")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Resolution).plain = self.plain_words
        self.query_one("#memslots").border_title = "Memslots"
        self.query_one("#resolution").border_title = "Resolution"
        self.goto_step(0)
        self._settle()
        if not self.scenario.steps:  # an ELF opened alone: the layout is set up, the probe is ready
            self.goto_step(len(self.run_) - 1)
            self.call_after_refresh(self.action_probe)

    # Keys of the stepper act on the main screen only: on the compare view or the timeline they would change
    # a screen nobody sees.
    GLOBAL_ACTIONS = frozenset({"help", "quit", "command_palette"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.screen is not self.screen_stack[0] and action not in self.GLOBAL_ACTIONS and any(
            isinstance(b, Binding) and b.action.split("(")[0] == action for b in self.BINDINGS))

    def action_help(self) -> None:
        self.push_screen(HelpScreen([b for b in self.BINDINGS if isinstance(b, Binding)], self.keymap, self.theme))

    def on_unmount(self) -> None:
        close = getattr(self.run_, "close", None)
        if close is not None:  # a live run owns a VM, fds and mappings
            close()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.description and b.action != "quit":
                yield SystemCommand(b.description, b.tooltip or b.description, partial(self.run_action, b.action))


def settings_problem(theme: str | None, keymap: dict[str, str]) -> str | None:
    """What is wrong with a theme name or a keymap's binding ids, before the app takes the terminal."""
    if theme is not None and theme not in theme_names():
        return f"unknown theme {theme!r} (known: {', '.join(theme_names())})"
    ids = {b.id for b in KvmApp.BINDINGS if isinstance(b, Binding) and b.id}
    bad = sorted(k for k in keymap if k not in ids)
    if bad:
        return f"keymap: unknown binding id {bad[0]!r} (known: {', '.join(sorted(ids))})"
    return None


def run_app(scenario_path: str, kernel: str | None = None, path: str | None = None, live: bool = False,
            theme: str | None = None, keymap: dict[str, str] | None = None, plain_words: bool = True, lesson: bool = False,
            scenario: Scenario | None = None, maps: str | None = None, mtree: str | None = None) -> int:
    """The app on SCENARIO_PATH; `scenario` is what the command line already loaded from it (one load per command)."""
    KvmApp(scenario_path, scenario=scenario, kernel=kernel, path=path, live=live, theme=theme, keymap=keymap,
           plain_words=plain_words, lesson=lesson, maps=maps, mtree=mtree).run()
    return 0

