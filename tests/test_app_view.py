"""The per-step view the widgets draw: values built once per step, shared where steps share them, and
nothing the backend does not show."""

from __future__ import annotations

from pathlib import Path

from kvmtui.runner import ScenarioRun
from kvmtui.scenario import load_scenario
from kvmtui.scenario.generate import large_layout
from kvmtui.tui.view import ViewBuilder, slot_at

ROOT = Path(__file__).resolve().parent.parent
ROM = ROOT / "samples" / "rom.yaml"


def test_pending_slots_are_the_setup_slots_still_to_come():
    sc = large_layout(n_slots=50, n_steps=5)
    run = ScenarioRun(sc)
    views = ViewBuilder()
    first = views.build(run, 0)
    assert [p.id for p in first.pending_slots] == list(range(1, 50))
    assert [p.step for p in first.pending_slots[:2]] == [2, 3]  # 1-based steps that create them
    mid = views.build(run, 19)
    assert [p.id for p in mid.pending_slots] == list(range(20, 50)) and [s.id for s in mid.slots] == list(range(20))
    assert views.build(run, 54).pending_slots == ()


def test_views_of_one_memslot_generation_share_the_slot_table():
    sc = large_layout(n_slots=50, n_steps=5)
    run = ScenarioRun(sc)
    views = ViewBuilder()
    a, b = views.build(run, 51), views.build(run, 52)  # two accesses: no slot changes between them
    assert a.generation == b.generation and a.slots is b.slots
    c = views.build(run, 10)
    assert c.generation != a.generation and len(c.slots) == 11


def test_a_view_is_a_value_the_run_moving_on_does_not_change():
    run = ScenarioRun(load_scenario(str(ROM)))
    views = ViewBuilder()
    last = len(run) - 1
    early = views.build(run, 1)
    before = (early.slots, early.sptes, early.host, early.dirty, early.rings)
    views.build(run, last)  # the machine runs to the end and back: the early view stays as it was
    assert (early.slots, early.sptes, early.host, early.dirty, early.rings) == before
    ro_write = next(i for i, e in enumerate(run.entries()) if e.record.key_moment)
    v = views.build(run, ro_write)
    assert v.sptes is not None and v.host is not None and v.rings is not None and v.dirty is not None
    assert v.used_slot is not None and v.used_slot.id == v.record.slot
    assert v.slot_at(0xFFFF0000 >> 12) == v.slot(v.record.slot)


def test_slot_at_finds_the_owner_or_none():
    run = ScenarioRun(large_layout(n_slots=20, n_steps=1))
    v = ViewBuilder().build(run, 19)
    gfns_per_slot = v.slots[0].npages
    assert slot_at(v.slots, 0) is v.slots[0]
    assert slot_at(v.slots, 5 * gfns_per_slot + 3).id == 5
    assert slot_at(v.slots, 20 * gfns_per_slot) is None and slot_at((), 0) is None


class _FreshTables(ScenarioRun):
    """A backend that builds a fresh state per question and never bumps the generation (as the live run does)."""

    shows_internals = False

    def state_at(self, n: int):
        return self.state_after(n)

    def state_after(self, n: int):
        kvm = super().state_after(n)
        for m in kvm.memslots_by_as:
            m.generation = 0
        return kvm


def test_a_backend_without_internals_fills_only_the_slots_and_is_never_served_a_stale_table():
    run = _FreshTables(large_layout(n_slots=5, n_steps=1))
    views = ViewBuilder()
    seen = [len(views.build(run, i).slots) for i in range(5)]
    assert seen == [1, 2, 3, 4, 5]
    v = views.build(run, 4)
    assert v.sptes is None and v.host is None and v.dirty is None and v.rings is None
