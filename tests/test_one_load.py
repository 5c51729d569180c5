"""One load per command: the app gets the scenario the command line loaded, and the comment-keeping document
(the slow, careful parse) is read only when the user first edits or saves."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_app import type_text

import kvmtui.cli as cli
import kvmtui.scenario.loader as loader
import kvmtui.tui.actions.files as files_actions  # where the app reads the document (on edit or save)
import kvmtui.tui.app as app_module
from kvmtui.scenario import load_scenario
from kvmtui.tui.app import KvmApp

ROM = Path(__file__).parent.parent / "samples" / "rom.yaml"


def _count(monkeypatch, module, name: str) -> list[int]:
    calls = [0]
    real = getattr(module, name)

    def counted(*a, **kw):
        calls[0] += 1
        return real(*a, **kw)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_the_app_command_parses_the_file_once_and_hands_the_scenario_over(monkeypatch):
    parses = _count(monkeypatch, loader, "load_fast")
    careful = _count(monkeypatch, loader, "load_yaml")
    documents = _count(monkeypatch, files_actions, "load_document")
    seen = {}

    def fake_run_app(path, kernel=None, run_path=None, live=False, scenario=None, **settings):
        seen["scenario"] = scenario
        KvmApp(path, scenario=scenario, kernel=kernel, path=run_path, live=live, **settings)  # what run_app builds, without a terminal
        return 0

    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    assert cli.main([str(ROM)]) == 0
    counts = (parses[0], careful[0], documents[0])
    assert counts == (1, 0, 0)
    assert seen["scenario"] is not None and seen["scenario"].title == load_scenario(ROM).title


@pytest.mark.asyncio
async def test_the_document_is_read_on_the_first_edit_only(tmp_path, monkeypatch):
    target = tmp_path / "rom.yaml"
    shutil.copy(ROM, target)
    documents = _count(monkeypatch, files_actions, "load_document")
    app = KvmApp(str(target), scenario=load_scenario(target))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n")
        assert documents[0] == 0
        await pilot.press("e")
        await type_text(pilot, "move 1 gpa=0xfffc0000")
        await pilot.press("enter")
        await pilot.pause()
        assert documents[0] == 1
        assert app.modified
        await pilot.press("escape", "e")
        await pilot.pause()
        assert documents[0] == 1  # kept, with the edit in it
