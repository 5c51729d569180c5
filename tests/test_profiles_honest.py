"""Eras as data, honestly: every field of a Profile is read by the engine where its rule applies, every
function-name role is looked up, and the rules read their own fields (a fourth era takes the right branches)."""

from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import replace
from pathlib import Path

from helpers import RAM_HVA, machine, setmem

from kvmtui.engine import PROFILES, get_profile
from kvmtui.engine.profiles import Profile

ENGINE = Path(__file__).resolve().parent.parent / "kvmtui" / "engine"


def _engine_sources() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text()) for p in sorted(ENGINE.glob("*.py"))}


def test_every_profile_field_is_read_by_the_engine():
    """An attribute read `<something>.<field>` (profile.x, p.x, self.x inside Profile) of every field, in the
    engine's own sources: a field nobody reads is a switch that does nothing."""
    reads: set[str] = set()
    for tree in _engine_sources().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                reads.add(node.attr)
    fields = {f.name for f in dataclasses.fields(Profile)}
    assert fields - reads == set(), f"profile fields the engine never reads: {sorted(fields - reads)}"
    for p in PROFILES.values():  # and every profile gives every field a value of the declared kind
        for f in dataclasses.fields(Profile):
            assert hasattr(p, f.name)


def test_every_name_role_is_looked_up():
    """Each role in a profile's names table is asked for by name_of("role") / n("role") somewhere."""
    text = "\n".join(p.read_text() for p in ENGINE.glob("*.py"))
    text += (ENGINE.parent / "plain.py").read_text() + (ENGINE.parent / "report.py").read_text()
    text += (ENGINE.parent / "table.py").read_text()
    text += (ENGINE.parent / "tui" / "widgets" / "resolution.py").read_text()
    asked = set(re.findall(r"""(?:name_of|\bn)\(\s*["'](\w+)["']\)""", text))
    asked |= set(re.findall(r"""["'](\w+)["']""", "\n".join(re.findall(r"names_in_any_era\(([^)]*)\)", text))))
    asked |= set(re.findall(r"""^\s+["'](\w+)["']: ["']""", (ENGINE.parent / "plain.py").read_text(), re.MULTILINE))
    roles = {r for p in PROFILES.values() for r in p.names}
    assert roles - asked == set(), f"name roles never looked up: {sorted(roles - asked)}"


def test_no_rule_is_keyed_on_a_stand_in():
    """The memslot rules read their own switches, not `modern = not profile.overlap_check_every_request`."""
    for path, tree in _engine_sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "modern" for t in node.targets):
                raise AssertionError(f"{path.name}:{node.lineno}: a `modern` stand-in")


def test_a_fourth_era_mixing_switches_takes_each_rule_on_its_own():
    """Today's memslot rules, but 3.x's leniency on userspace_addr and on deleting an absent slot."""
    era = replace(get_profile("modern"), name="mixed", uaddr_change_ignored=True, delete_absent_ok=True)
    m = machine("modern")
    m.kvm.profile = era
    assert setmem(m, 0, 0, 0x10000, RAM_HVA).outcome == "ok"
    moved_hva = setmem(m, 0, 0, 0x10000, RAM_HVA + 0x10000, 1)
    assert moved_hva.outcome == "ok" and m.kvm.memslots.id_to_memslot(0).userspace_addr == RAM_HVA
    assert any("userspace_addr change ignored" in c.note for c in moved_hva.chain)
    assert setmem(m, 5, 0x100000, 0, RAM_HVA).outcome == "ok"  # delete of a slot that never existed
    strict = machine("modern")
    setmem(strict, 0, 0, 0x10000, RAM_HVA)
    assert setmem(strict, 0, 0, 0x10000, RAM_HVA + 0x10000, 1).outcome == "EINVAL"
    assert setmem(strict, 5, 0x100000, 0, RAM_HVA).outcome == "EINVAL"


def test_the_slot_number_split_follows_slot_as_id():
    """A 3.x slot number is one id; with slot_as_id the high 16 bits are the address space."""
    three = machine("3.7")
    assert setmem(three, 0x10000, 0, 0x10000, RAM_HVA).outcome == "EINVAL"  # id 65536 >= KVM_MEMORY_SLOTS
    split = machine("3.7")
    split.kvm.profile = replace(get_profile("3.7"), slot_as_id=True, address_spaces=2)
    split.kvm.memslots_by_as = (*split.kvm.memslots_by_as, type(split.kvm.memslots)())
    assert setmem(split, 0x10000, 0, 0x10000, RAM_HVA).outcome == "ok"  # as_id 1, id 0
    assert split.kvm.memslots_of(1).id_to_memslot(0) is not None
