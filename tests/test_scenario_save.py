"""Saving keeps the user's comments and key order, validates first, and never overwrites unasked."""

import shutil
from pathlib import Path

import pytest

from kvmtui.scenario import ScenarioError, load_scenario
from kvmtui.scenario.save import hex_value, load_document, save_document

ROM = Path(__file__).parent.parent / "samples" / "rom.yaml"


def test_save_round_trips_with_comments_and_edits(tmp_path):
    doc = load_document(ROM)
    doc["slots"][1]["gpa"] = hex_value(0xFFFC0000)
    out = tmp_path / "rom-moved.yaml"
    save_document(doc, out)
    text = out.read_text()
    assert "# The seed's story" in text and "# the VMM maps its firmware read-only" in text
    changed = [(a, b) for a, b in zip(ROM.read_text().splitlines(), text.splitlines(), strict=True) if a != b]
    assert changed == [("    gpa: 0xfffe0000", "    gpa: 0xfffc0000")]  # everything else byte for byte
    assert len(text.splitlines()) == len(ROM.read_text().splitlines())
    assert load_scenario(out).setup[1].params["gpa"] == 0xFFFC0000


def test_save_refuses_to_overwrite_unless_asked(tmp_path):
    target = tmp_path / "rom.yaml"
    shutil.copy(ROM, target)
    before = target.read_text()
    doc = load_document(target)
    doc["title"] = "changed"
    with pytest.raises(ScenarioError, match="exists"):
        save_document(doc, target)
    assert target.read_text() == before
    save_document(doc, target, overwrite=True)
    assert load_scenario(target).title == "changed"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_never_writes_an_invalid_scenario(tmp_path):
    doc = load_document(ROM)
    doc["steps"][0]["sise"] = 4
    out = tmp_path / "bad.yaml"
    with pytest.raises(ScenarioError, match="unknown key 'sise'"):
        save_document(doc, out)
    assert not out.exists()
