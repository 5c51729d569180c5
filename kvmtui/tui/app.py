"""kvmtui's Textual app: step through a scenario and watch a read-only write become an MMIO exit.

The app holds the run (engine history) and the position; widgets get a StepView and draw it. Every
action is declared once in BINDINGS: the footer, the help screen and the command palette read it.
"""

from __future__ import annotations

import io
import json
import os
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from ..engine.addresses import PAGE_SHIFT, page_offset
from ..engine.profiles import KERNEL_ERAS
from ..layouts import Layout, layout_at, open_layout, parse_diff_target
from ..lesson import Ask, Score, ask_for, asks_about, reveal_text
from ..live.vm import LiveError
from ..report import describe_step, entry_json, write_json_lines
from ..run import Run
from ..runner import ScenarioRun, TraceEntry
from ..scenario import Scenario, ScenarioError, load_scenario
from ..scenario.edit import edit_slot
from ..scenario.elf import is_elf
from ..scenario.firmware import scenario_from_elf
from ..scenario.importers import looks_like_log, scenario_from_log
from ..scenario.mtree import read_mtree
from ..scenario.outfile import output_problem, write_output
from ..scenario.save import load_document, save_document
from ..scenario.yamlsafe import dump_yaml
from .commands import (
    BREAKPOINT_HELP,
    GOTO_HELP,
    PROBE_HELP,
    Breakpoint,
    CommandError,
    GotoStep,
    breakpoint_hit,
    parse_breakpoint,
    parse_edit,
    parse_goto,
    parse_probe,
)
from .screens.compare import CompareScreen
from .screens.dialogs import Confirm, Prompt
from .screens.diff import DiffScreen
from .screens.edit import EditSlotsScreen
from .screens.help import HelpScreen
from .screens.lesson import QuestionScreen, SummaryScreen
from .screens.timeline import TimelineScreen
from .theme import DEFAULT_THEME, HIGH_CONTRAST, theme_names
from .view import StepView, ViewBuilder
from .widgets.addrspace import AddressSpaceMap
from .widgets.dirty_ring import DirtyRings
from .widgets.events import EventLog, events_of
from .widgets.memslots import MemslotTable
from .widgets.pagemap import PageMap
from .widgets.panels import DirtyLog, HostMappings, Narration, StatusLine
from .widgets.resolution import Resolution, chain_text
from .widgets.viewpanel import ViewKeeper

VIEW_CACHE = 32
_UNREAD = object()  # the document is read on first use
TABS = ("tab-notes", "tab-pages", "tab-events", "tab-host", "tab-dirty", "tab-space")


@dataclass(frozen=True)
class _CachedLayout:
    tables_src: tuple
    layout: Layout


def _path_problem(text: str, may_exist: bool) -> str | None:
    """What is wrong with a path typed to write to, or None: the writer's own checks (outfile.py)."""
    if not text:
        return "give a path"
    problem = output_problem(text, overwrite=may_exist)
    if problem and not may_exist and os.path.lexists(text):
        return f"{text} exists; choose another name (nothing is overwritten)"
    return f"{text}: {problem}" if problem else None


class KvmApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "kvmtui"
    BINDINGS = [
        Binding("n,space", "step", "Step", tooltip="Go to the next step", id="step"),
        Binding("b,p", "step_back", "Back", tooltip="Go back one step; the view is restored exactly", id="back"),
        Binding("c,r", "run", "Run", tooltip="Run to the next exit, error, unmet expectation or breakpoint", id="run"),
        Binding("g", "goto", "Goto", tooltip="Go to an address (shows which slot owns it) or 'step N'", id="goto"),
        Binding("colon", "probe", "Probe", key_display=":", tooltip="Type a guest access or an ioctl and see it resolved as a new step", id="probe"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="All keys, the probe syntax and the legend", id="help"),
        Binding("q", "quit", "Quit", tooltip="Leave kvmtui", id="quit"),
        Binding("home", "first", "First step", show=False, tooltip="Go to the first step", id="first"),
        Binding("end", "last", "Last step", show=False, tooltip="Go to the last step", id="last"),
        Binding("B", "breakpoint", "Breakpoints", show=False, tooltip="Break on a gpa, gfn, slot or outcome", id="breakpoint"),
        Binding("k", "era", "Switch era", show=False, tooltip="Re-run the same steps under the next kernel era (3.6, 3.7, modern)", id="era"),
        Binding("v", "compare", "3.6 beside 3.7", show=False, tooltip="The seed's before/after: every step under 3.6 and 3.7, differences marked", id="compare"),
        Binding("t", "timeline", "Layout timeline", show=False, tooltip="Every memslot update in order, read-only flips and dirty-log toggles marked", id="timeline"),
        Binding("e", "edit", "Edit slots", show=False, tooltip="Add, move, delete slots or change their flags", id="edit"),
        Binding("ctrl+s", "save", "Save", show=False, tooltip="Save the scenario (a new path, or over the file after confirmation; comments kept)", id="save"),
        Binding("y", "copy_chain", "Copy chain", show=False, tooltip="Copy the current step's kernel chain as text", id="copy_chain"),
        Binding("Y", "copy_row", "Copy row", show=False, tooltip="Copy the current step as its JSON trace line", id="copy_row"),
        Binding("x", "export_trace", "Export trace", show=False, tooltip="Write the whole trace as JSON lines", id="export_trace"),
        Binding("S", "export_svg", "Screenshot", show=False, tooltip="Save an SVG screenshot", id="export_svg"),
        Binding("l", "lesson", "Lesson", tooltip="Lesson mode on or off: guess what each step will do before you see it", id="lesson"),
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

    def __init__(self, scenario_path: str | None = None, *, scenario: Scenario | None = None,
                 kernel: str | None = None, path: str | None = None, maps: str | None = None, live: bool = False,
                 theme: str | None = None, keymap: dict[str, str] | None = None, plain_words: bool = True,
                 lesson: bool = False, mtree: str | None = None) -> None:
        super().__init__()
        self.mtree = read_mtree(mtree) if mtree else None  # QEMU's info mtree -f: names for the address-space view
        self.lesson: Score | None = Score() if lesson else None
        self.lesson_asks: dict[int, Ask] = {}
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
        self._doc: Any = _UNREAD if scenario_path and not generated and not live else None
        self.scenario = scenario
        self.live = live
        self.run_: Run
        if live:
            from ..live.backend import LiveRun

            self.run_ = LiveRun(scenario, path)  # a live run is not edited (no doc): the kernel cannot go back
        else:
            self.run_ = ScenarioRun(scenario, kernel, path)
        self.views = ViewBuilder()
        self._views: OrderedDict[int, StepView] = OrderedDict()
        self.index = 0
        self.view: StepView | None = None
        self.breakpoints: list[Breakpoint] = []
        self.modified = False
        self._pending_diff: DiffScreen | None = None
        self._layout_cache: _CachedLayout | None = None

    @property
    def doc(self) -> Any:
        """The comment-keeping document behind the scenario file, read (the slow, careful way) only when the
        user first edits or saves; None when there is no file to edit."""
        if self._doc is _UNREAD:
            try:
                self._doc = load_document(self.scenario_path) if self.scenario_path else None
            except ScenarioError as e:  # the file changed on disk since it was opened
                self.notify(f"Cannot edit: {e}", severity="error", markup=False)
                self._doc = None
        return self._doc

    @doc.setter
    def doc(self, value: Any) -> None:
        self._doc = value

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
        if not self.scenario.steps:  # an ELF opened alone: the layout is set up, the probe is ready
            self.goto_step(len(self.run_) - 1)
            self.call_after_refresh(self.action_probe)

    # -- the position -------------------------------------------------------------------------------------
    def goto_step(self, index: int) -> None:
        index = max(0, min(index, len(self.run_) - 1))
        self.index = index
        view = self._views.pop(index, None) or self.views.build(self.run_, index)
        self._views[index] = view  # the most recent views: stepping back to them costs no replay
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

    # -- stepping -------------------------------------------------------------------------------------------
    def action_step(self) -> None:
        if self.index + 1 >= len(self.run_):
            self.notify("Already at the last step.", severity="warning", timeout=2, markup=False)
            return
        nxt = self.index + 1
        if self.lesson is not None and nxt not in self.lesson.answers and asks_about(self.run_, nxt):
            ask = ask_for(self.run_, nxt, describe_step(self.run_, self.run_.entry(nxt)))
            self.lesson_asks[nxt] = ask
            self.push_screen(QuestionScreen(ask, self.lesson), partial(self._answered, ask))
            return
        self.goto_step(nxt)

    # -- lesson mode ----------------------------------------------------------------------------------------------
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

    def _show_status(self) -> None:
        if self.view is not None:
            self.query_one(StatusLine).show(self.view, len(self.breakpoints), self.lesson.text() if self.lesson else None)

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

    def on_memslot_table_picked(self, message: MemslotTable.Picked) -> None:
        self.query_one(PageMap).scroll_to_gfn(message.slot.base_gfn)
        self.notify(message.slot.describe(), timeout=4, markup=False)

    def on_event_log_jump(self, message: EventLog.Jump) -> None:
        self.goto_step(message.index)

    # -- goto, breakpoints, probe -------------------------------------------------------------------------------
    def action_goto(self) -> None:
        self.push_screen(Prompt("Go to", GOTO_HELP, self._goto, prompt_id="goto"))

    def _goto(self, text: str) -> str | None:
        try:
            where = parse_goto(text, len(self.run_), self.run_.symbol_address)
        except CommandError as e:
            return str(e)
        if isinstance(where, GotoStep):
            self.goto_step(where.index)
            return None
        gpa = where.gpa
        assert self.view is not None
        slot = self.view.slot_at(gpa >> PAGE_SHIFT)
        self.query_one(MemslotTable).select(slot.id if slot else None)
        if slot is None:
            self.notify(f"gpa {gpa:#x}: no memslot owns it", title="Goto", timeout=5, markup=False)
            return None
        self.query_one(PageMap).scroll_to_gfn(gpa >> PAGE_SHIFT)
        hva = slot.hva_of(gpa >> PAGE_SHIFT) + page_offset(gpa)
        self.notify(f"gpa {gpa:#x} is in slot {slot.id} (gfn {gpa >> PAGE_SHIFT:#x}, hva {hva:#x})", title="Goto", timeout=5, markup=False)
        return None

    def action_breakpoint(self) -> None:
        self.push_screen(Prompt("Breakpoints", BREAKPOINT_HELP, self._breakpoint, prompt_id="breakpoint"))

    def _breakpoint(self, text: str) -> str | None:
        try:
            bp = parse_breakpoint(text, self.run_.symbol_address)
        except CommandError as e:
            return str(e)
        if bp is None:
            self.breakpoints.clear()
        else:
            self.breakpoints.append(bp)
        if self.view:
            self._show_status()
        return None

    def action_probe(self) -> None:
        self.push_screen(Prompt("Probe: a guest access or an ioctl, run as a new step after this one", PROBE_HELP, self._probe,
                                value="", prompt_id="probe"))

    def _probe(self, text: str) -> str | None:
        try:
            spec = parse_probe(text, tuple(self.run_.mappings), self.run_.symbol_address)
            self.run_.insert_step(self.index + 1, spec)
        except (CommandError, LiveError) as e:
            return str(e)
        self._forget_views()
        self.goto_step(self.index + 1)
        return None

    # -- eras ---------------------------------------------------------------------------------------------------
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

    def action_address_space(self) -> None:
        self.query_one(TabbedContent).active = "tab-space"

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._show_tabs(event.pane.id)

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

    def action_timeline(self) -> None:
        self.push_screen(TimelineScreen(self.run_, self.goto_step))

    # -- editing and saving -------------------------------------------------------------------------------------
    def action_edit(self) -> None:
        if self._doc is None:  # no file to edit (the document itself is read on the first edit or save)
            self.notify("This scenario has no file to edit (for a log, `kvmtui import LOG -o FILE` makes one).", severity="warning", markup=False)
            return
        self.push_screen(EditSlotsScreen(lambda: self.scenario, self.apply_edit))

    def apply_edit(self, text: str) -> str | None:
        assert self.doc is not None
        try:
            verb, slot, fields = parse_edit(text, tuple(self.run_.mappings))
        except CommandError as e:
            return str(e)
        try:
            doc, scenario = edit_slot(self.doc, verb, slot, fields, self.scenario.file)
        except ScenarioError as e:
            return e.message
        self.doc = doc
        self.modified = True
        self._rebuild(scenario)
        return None

    @property
    def in_browser(self) -> bool:
        """Served by `kvmtui serve`: files go to the visitor's browser, never onto the server's disk."""
        return self.is_web

    def _deliver(self, text: str, name: str, what: str) -> None:
        self.deliver_text(io.StringIO(text), save_filename=name, mime_type="text/plain")
        self.notify(f"Sent {what} to your browser as a download: {name}.", timeout=4, markup=False)

    def action_save(self) -> None:
        if self._doc is None:  # no file to edit (the document itself is read on the first edit or save)
            self.notify("This scenario has no file behind it to save.", severity="warning", markup=False)
            return
        if self.in_browser:
            self._deliver(dump_yaml(self.doc), Path(self.scenario_path or "scenario.yaml").name, "the scenario")
            return
        self.push_screen(Prompt("Save the scenario as", "a path; the scenario's own file asks before overwriting", self._save_check,
                                value=self.scenario_path or "", prompt_id="save"), self._save_chosen)

    def _save_check(self, text: str) -> str | None:
        return _path_problem(text, may_exist=True)

    def _save_chosen(self, text: str | None) -> None:
        if not text:
            return
        if os.path.lexists(text):  # a dangling link too: writing it creates its target
            self.push_screen(Confirm(f"Overwrite {text}? (comments are kept)"), partial(self._save_to, text))
        else:
            self._save_to(text, True)

    def _save_to(self, text: str, confirmed: bool | None) -> None:
        if not confirmed:
            self.notify("Not saved.", timeout=2, markup=False)
            return
        try:
            save_document(self.doc, text, overwrite=True)
        except (ScenarioError, OSError) as e:
            self.notify(f"Not saved: {e}", severity="error", markup=False)
            return
        self.scenario_path = text
        self.modified = False
        self.notify(f"Saved {text}.", timeout=3, markup=False)

    # -- copy and export -----------------------------------------------------------------------------------------
    def _entry(self) -> TraceEntry:
        return self.run_.entry(self.index)

    def _copy(self, text: str, what: str) -> None:
        """Textual can only ask the terminal to copy (OSC 52) and never learns whether it did: say so."""
        self.copy_to_clipboard(text)
        self.notify(f"Sent {what} ({len(text.splitlines())} lines) to the terminal's clipboard with OSC 52. "
                    "Terminals that ignore OSC 52 copy nothing: x exports the trace to a file.", timeout=5, markup=False)

    def action_copy_chain(self) -> None:
        self._copy(chain_text(self._entry()), "the chain")

    def action_copy_row(self) -> None:
        self._copy(json.dumps(entry_json(self.run_, self._entry())), "the step's JSON line")

    def _new_file(self, text: str) -> str | None:
        return _path_problem(text, may_exist=False)

    def action_export_trace(self) -> None:
        stem = Path(self.scenario.file).stem
        if self.in_browser:
            buf = io.StringIO()
            write_json_lines(self.run_, self.run_.entries(), buf)
            self._deliver(buf.getvalue(), f"{stem}.{self.run_.kernel}.trace.jsonl", f"the trace ({len(self.run_)} records)")
            return
        self.push_screen(Prompt("Export the trace (JSON lines) to", "a new file", self._new_file,
                                value=f"{stem}.{self.run_.kernel}.trace.jsonl", prompt_id="export"), self._export)

    def _export(self, text: str | None) -> None:
        if not text:
            return
        buf = io.StringIO()
        write_json_lines(self.run_, self.run_.entries(), buf)
        try:
            write_output(text, buf.getvalue(), overwrite=False)
        except ScenarioError as e:
            self.notify(f"Not written: {e}", severity="error", markup=False)
            return
        self.notify(f"Wrote {len(self.run_)} records to {text}.", timeout=3, markup=False)

    def action_export_svg(self) -> None:
        stem = Path(self.scenario.file).stem
        if self.in_browser:
            name = f"{stem}-step{self.index + 1}.svg"
            self.deliver_screenshot(filename=name)
            self.notify(f"Sent a screenshot to your browser as a download: {name}.", timeout=4, markup=False)
            return
        self.push_screen(Prompt("Save a screenshot (SVG) to", "a new file", self._new_file,
                                value=f"{stem}-step{self.index + 1}.svg", prompt_id="screenshot"), self._svg)

    def _svg(self, text: str | None) -> None:
        if not text:
            return
        try:
            write_output(text, self.export_screenshot(), overwrite=False)
        except ScenarioError as e:
            self.notify(f"Not written: {e}", severity="error", markup=False)
            return
        self.notify(f"Saved {text}.", timeout=3, markup=False)

    # -- view controls --------------------------------------------------------------------------------------------
    def action_plain_words(self) -> None:
        res = self.query_one(Resolution)
        res.plain = not res.plain
        res.redraw()
        self.notify("Plain words shown under the chain." if res.plain else "Plain words hidden (w shows them).", timeout=2, markup=False)

    # Keys of the stepper act on the main screen only: on the compare view or the timeline they would change
    # a screen nobody sees.
    GLOBAL_ACTIONS = frozenset({"help", "quit", "command_palette"})

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.screen is not self.screen_stack[0] and action not in self.GLOBAL_ACTIONS and any(
            isinstance(b, Binding) and b.action.split("(")[0] == action for b in self.BINDINGS))

    def action_zoom_in(self) -> None:
        self.query_one(PageMap).zoom_in()

    def action_zoom_out(self) -> None:
        self.query_one(PageMap).zoom_out()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

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

