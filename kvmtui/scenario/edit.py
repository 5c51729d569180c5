"""Editing a scenario's YAML document in place (beside save.py): the user's comments and key order kept,
and every edit validated by loading the result, so an edit that makes the scenario invalid is refused
with the loader's own message and the document stays as it was."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from ..engine.uapi import FLAG_ALIASES
from .errors import ScenarioError
from .loader import parse_scenario
from .model import Scenario
from .save import hex_value
from .yamlsafe import dump_yaml

EDIT_VERBS = ("add", "move", "flags", "delete")


def edit_slot(doc: Any, verb: str, slot: int, fields: dict[str, Any], file: str) -> tuple[Any, Scenario]:
    """A copy of doc with one `slots:` entry added, moved, reflagged or deleted, and the scenario it makes.
    Raises ScenarioError (the document is never changed in place)."""
    doc = copy.deepcopy(doc)
    slots = doc.get("slots")
    if slots is None:
        slots = doc["slots"] = CommentedSeq()
    entry = next((s for s in slots if isinstance(s, dict) and s.get("slot") == slot), None)
    if verb == "add":
        if entry is not None:
            raise ScenarioError(file, None, None, f"slot {slot} is already in slots: (move, flags or delete it)")
        new = CommentedMap(slot=slot, gpa=hex_value(fields["gpa"]), host=fields["host"])
        if "size" in fields:
            new["size"] = fields["size"] if isinstance(fields["size"], str) else hex_value(fields["size"])
        if fields.get("flags"):
            new["flags"] = fields["flags"]
        slots.append(new)
    elif entry is None:
        raise ScenarioError(file, None, None, f"no slots: entry for slot {slot}")
    elif verb == "move":
        entry["gpa"] = hex_value(fields["gpa"])
    elif verb == "flags":
        if fields["flags"]:
            entry["flags"] = [f for f in fields["flags"] if f in FLAG_ALIASES]
        else:
            entry.pop("flags", None)
    elif verb == "delete":
        slots.remove(entry)
    else:
        raise ValueError(f"unknown edit {verb!r} (one of {', '.join(EDIT_VERBS)})")
    return doc, parse_scenario(dump_yaml(doc), file, Path(file).parent)
