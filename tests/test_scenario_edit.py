"""Editing a scenario document beside save.py: pure, validated, comments kept, the original untouched."""

from pathlib import Path

import pytest

from kvmtui.scenario import ScenarioError
from kvmtui.scenario.edit import edit_slot
from kvmtui.scenario.save import load_document
from kvmtui.scenario.yamlsafe import dump_yaml

ROM = Path(__file__).parent.parent / "samples" / "rom.yaml"


def _doc():
    return load_document(ROM)


def test_move_changes_one_value_and_keeps_the_rest():
    doc = _doc()
    before = dump_yaml(doc)
    new, scenario = edit_slot(doc, "move", 1, {"gpa": 0xFFFC0000}, str(ROM))
    assert dump_yaml(doc) == before  # the original document is untouched
    changed = [(a, b) for a, b in zip(before.splitlines(), dump_yaml(new).splitlines(), strict=True) if a != b]
    assert changed == [("    gpa: 0xfffe0000", "    gpa: 0xfffc0000")]  # comments and order kept
    assert next(s for s in scenario.setup if s.params.get("slot") == 1).params["gpa"] == 0xFFFC0000


def test_add_flags_delete():
    doc, sc = edit_slot(_doc(), "add", 5, {"gpa": 0x40000000, "host": "ram", "size": 4096}, str(ROM))
    assert any(s.params.get("slot") == 5 for s in sc.setup)
    doc, sc = edit_slot(doc, "flags", 5, {"flags": ["log_dirty_pages"]}, str(ROM))
    assert "flags: [log_dirty_pages]" in dump_yaml(doc) or "- log_dirty_pages" in dump_yaml(doc)
    doc, sc = edit_slot(doc, "delete", 5, {}, str(ROM))
    assert not any(s.params.get("slot") == 5 for s in sc.setup)


@pytest.mark.parametrize("verb,slot,fields,why", [
    ("add", 0, {"gpa": 0x1000, "host": "ram"}, "slot 0 is already in slots"),
    ("move", 9, {"gpa": 0}, "no slots: entry for slot 9"),
    ("add", 7, {"gpa": 0x1000, "host": "nosuch"}, "nosuch"),
])
def test_refusals_leave_the_document_alone(verb, slot, fields, why):
    doc = _doc()
    before = dump_yaml(doc)
    with pytest.raises(ScenarioError) as e:
        edit_slot(doc, verb, slot, fields, str(ROM))
    assert why in str(e.value)
    assert dump_yaml(doc) == before
