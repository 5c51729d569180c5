"""Files: edit the slots and save the scenario (comments kept), copy a step, export the trace or an SVG.
Served in a browser (`kvmtui serve`), files go to the visitor as downloads, never onto the server's disk."""

from __future__ import annotations

import io
import json
import os
from functools import partial
from pathlib import Path
from typing import Any

from textual.binding import Binding

from ...report import entry_json, write_json_lines
from ...runner import TraceEntry
from ...scenario import ScenarioError
from ...scenario.edit import edit_slot
from ...scenario.outfile import output_problem, write_output
from ...scenario.save import load_document, save_document
from ...scenario.yamlsafe import dump_yaml
from ..commands import CommandError, parse_edit
from ..screens.dialogs import Confirm, Prompt
from ..screens.edit import EditSlotsScreen
from ..widgets.resolution import chain_text
from .base import AppCore

UNREAD = object()  # the document is read on first use

BINDINGS = [
    Binding("e", "edit", "Edit slots", show=False, tooltip="Add, move, delete slots or change their flags", id="edit"),
    Binding("ctrl+s", "save", "Save", show=False, tooltip="Save the scenario (a new path, or over the file after confirmation; comments kept)", id="save"),
    Binding("y", "copy_chain", "Copy chain", show=False, tooltip="Copy the current step's kernel chain as text", id="copy_chain"),
    Binding("Y", "copy_row", "Copy row", show=False, tooltip="Copy the current step as its JSON trace line", id="copy_row"),
    Binding("x", "export_trace", "Export trace", show=False, tooltip="Write the whole trace as JSON lines", id="export_trace"),
    Binding("S", "export_svg", "Screenshot", show=False, tooltip="Save an SVG screenshot", id="export_svg"),
]


def path_problem(text: str, may_exist: bool) -> str | None:
    """What is wrong with a path typed to write to, or None: the writer's own checks (outfile.py)."""
    if not text:
        return "give a path"
    problem = output_problem(text, overwrite=may_exist)
    if problem and not may_exist and os.path.lexists(text):
        return f"{text} exists; choose another name (nothing is overwritten)"
    return f"{text}: {problem}" if problem else None


class FileActions(AppCore):
    @property
    def doc(self) -> Any:
        """The comment-keeping document behind the scenario file, read (the slow, careful way) only when the
        user first edits or saves; None when there is no file to edit."""
        if self._doc is UNREAD:
            try:
                self._doc = load_document(self.scenario_path) if self.scenario_path else None
            except ScenarioError as e:  # the file changed on disk since it was opened
                self.notify(f"Cannot edit: {e}", severity="error", markup=False)
                self._doc = None
        return self._doc

    @doc.setter
    def doc(self, value: Any) -> None:
        self._doc = value

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
        return path_problem(text, may_exist=True)

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
        return path_problem(text, may_exist=False)

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
        self._write_new(text, buf.getvalue(), f"Wrote {len(self.run_)} records to {text}.")

    def _write_new(self, path: str, content: str, done: str) -> None:
        """Write a new file the user named (never over an existing one), and say what happened."""
        try:
            write_output(path, content, overwrite=False)
        except ScenarioError as e:
            self.notify(f"Not written: {e}", severity="error", markup=False)
            return
        self.notify(done, timeout=3, markup=False)

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
        self._write_new(text, self.export_screenshot(), f"Saved {text}.")
