"""What the widgets draw for one step: the record, the VM state after it, and what changed.

The app builds one StepView per position and hands it down; widgets never call the engine themselves.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

from ..engine.kvm import Kvm
from ..engine.vocabulary import Op
from ..run import Run
from ..runner import TraceEntry


@dataclass(frozen=True)
class PendingSlot:
    """A `slots:` entry the run has not reached yet: shown greyed so the whole layout is on screen from step 1."""

    id: int
    gpa: int
    size: int
    flags: int
    step: int  # 1-based step that creates it


@dataclass(frozen=True)
class StepView:
    run: Run
    index: int  # 0-based position of the current step
    total: int
    entry: TraceEntry
    kvm: Kvm  # a private copy of the state after the current step
    changed_gfns: frozenset[int]  # sptes that changed in this step
    touched_gfns: frozenset[int]  # sptes that changed at any step so far
    focus_slot: int | None  # the slot this step used or changed
    changed_slots: frozenset[int]
    pending_slots: tuple[PendingSlot, ...] = ()

    @property
    def record(self):
        return self.entry.record


class ChangeTracker:
    """For each gfn, the first step whose record changed its spte: "changed since the start"."""

    def __init__(self) -> None:
        self._first: dict[int, int] = {}
        self._done = 0  # steps folded in so far

    def reset(self) -> None:
        self._first.clear()
        self._done = 0

    def upto(self, run: Run, index: int) -> frozenset[int]:
        while self._done <= index:
            for s in run.entry(self._done).record.spte:
                if s.before is not s.after:
                    self._first.setdefault(s.gfn, self._done)
            self._done += 1
        return frozenset(g for g, i in self._first.items() if i <= index)


def build_view(run: Run, index: int, tracker: ChangeTracker) -> StepView:
    entry = run.entry(index)
    kvm = run.state_after(index + 1)
    rec = entry.record
    changed = frozenset(s.gfn for s in rec.spte if s.before is not s.after)
    slots = frozenset(c.slot.id for c in rec.slot_changes)
    focus = rec.slot if rec.slot is not None else rec.args.get("slot") if rec.op in (Op.SET_MEMORY_REGION, Op.GET_DIRTY_LOG) else None
    return StepView(run, index, len(run), entry, kvm, changed, tracker.upto(run, index), focus, slots, pending_slots(run, index))


def pending_slots(run: Run, index: int) -> tuple[PendingSlot, ...]:
    """The setup slots created after step `index` (0-based), as the scenario asks for them."""
    out = []
    mappings = run.mappings
    for j in range(index + 1, len(run)):
        spec = run.specs[j]
        if spec.phase != "setup":
            break
        p = spec.params
        if spec.op != "set_memory_region" or "slot" not in p:
            continue
        host = p.get("host")
        size = p.get("size")
        if size is None and host is not None and host.name in mappings:
            size = max(mappings[host.name].size - host.offset, 0)
        out.append(PendingSlot(p["slot"], p.get("gpa", 0), size or 0, p.get("flags", 0), j + 1))
    return tuple(out)


def sorted_spte_gfns(kvm: Kvm) -> list[int]:
    return sorted(g for g, _ in kvm.sptes.items())


def gfns_in(sorted_gfns: list[int], lo: int, hi: int) -> list[int]:
    i = bisect_left(sorted_gfns, lo)
    out = []
    while i < len(sorted_gfns) and sorted_gfns[i] < hi:
        out.append(sorted_gfns[i])
        i += 1
    return out
