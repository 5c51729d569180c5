"""What the widgets draw for one step: an immutable view built once per step.

The app builds one StepView per position and hands it down; widgets draw it and never read the run or the
engine's state. The view holds values only (frozen dataclasses, tuples, frozensets), so a view cached for
stepping back is exactly what was shown. A backend that does not show something (the live kernel: sptes,
host pages, dirty rings) leaves that part None, and the widget says "not visible live".

Cost follows the step, not the VM: the slot tables are shared between the views of one memslot
generation (32,764 slots are not copied per step), the scenario's slots still to come are a slice of one
list made once per run, and nothing copies the VM.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ..engine.dirty_bitmap import DirtyPages
from ..engine.kvm import Kvm
from ..engine.memslots import MemSlot
from ..engine.records import SpteState, StepRecord
from ..engine.vocabulary import Op
from ..run import Run
from ..runner import TraceEntry
from ..scenario.model import Scenario


@dataclass(frozen=True, slots=True)
class PendingSlot:
    """A `slots:` entry the run has not reached yet: shown greyed so the whole layout is on screen from step 1."""

    id: int
    gpa: int
    size: int
    flags: int
    step: int  # 1-based step that creates it


@dataclass(frozen=True, slots=True)
class SpteMap:
    """The sptes after a step, in gfn order: what the page map draws."""

    gfns: tuple[int, ...]
    states: tuple[SpteState, ...]

    def state(self, gfn: int) -> SpteState:
        i = bisect_left(self.gfns, gfn)
        return self.states[i] if i < len(self.gfns) and self.gfns[i] == gfn else SpteState.NONE

    def span(self, lo: int, hi: int) -> range:
        """Indexes of the sptes of gfns in [lo, hi)."""
        return range(bisect_left(self.gfns, lo), bisect_left(self.gfns, hi))

    def __len__(self) -> int:
        return len(self.gfns)


@dataclass(frozen=True, slots=True)
class DirtyBitmap:
    """One logging slot's dirty bitmap: the page indexes set (as runs: a 1 TiB slot all set is one)."""

    slot: int
    npages: int
    pages: DirtyPages


@dataclass(frozen=True, slots=True)
class HostRow:
    """One VMA of the VMM, with how many of its touched pages are resident, swapped/dropped or poisoned."""

    name: str
    start: int
    end: int
    prot: str
    backing: str
    resident: int
    out: int
    poisoned: int


@dataclass(frozen=True, slots=True)
class RingView:
    vcpu: int
    entries: tuple[tuple[int, int], ...]
    harvested: int
    pushed_total: int
    reset_total: int
    soft_full: bool


@dataclass(frozen=True, slots=True)
class DirtyRingsView:
    manual_protect: int
    ring_size: int  # bytes per vCPU; 0 = no ring
    rings: tuple[RingView, ...]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a view says about the run it comes from (the same object for every step of a run)."""

    scenario: Scenario
    kernel: str
    path: str
    shows_internals: bool


@dataclass(frozen=True, slots=True, eq=False)  # one per step: compared by identity, never field by field
class StepView:
    info: RunInfo
    index: int  # 0-based position of the current step
    total: int
    entry: TraceEntry
    slot_tables: tuple[tuple[MemSlot, ...], ...]  # per address space, in base_gfn order
    generations: tuple[int, ...]  # the memslot generation of each address space (a table changes with it)
    changed_gfns: frozenset[int]  # sptes that changed in this step
    touched_gfns: frozenset[int]  # sptes that changed at any step so far
    focus_slot: int | None  # the slot this step used or changed
    changed_slots: frozenset[int]
    pending_slots: tuple[PendingSlot, ...] = ()
    symbol: str | None = None  # the ELF symbol at the access's gpa
    used_slot: MemSlot | None = None  # the slot the access went through, as it is after the step
    sptes: SpteMap | None = None  # None: the backend does not show them (live)
    dirty: tuple[DirtyBitmap, ...] | None = None
    host: tuple[HostRow, ...] | None = None
    rings: DirtyRingsView | None = None

    @property
    def record(self) -> StepRecord:
        return self.entry.record

    @property
    def slots(self) -> tuple[MemSlot, ...]:
        """Address space 0's slots, the one every vCPU here runs in."""
        return self.slot_tables[0]

    @property
    def generation(self) -> int:
        return self.generations[0]

    def slot(self, slot_id: int) -> MemSlot | None:
        return next((s for s in self.slots if s.id == slot_id), None)

    def slot_at(self, gfn: int) -> MemSlot | None:
        """The slot of address space 0 that owns gfn, as search_memslots() finds it."""
        return slot_at(self.slots, gfn)


def slot_at(slots: tuple[MemSlot, ...], gfn: int) -> MemSlot | None:
    lo, hi = 0, len(slots)
    while lo < hi:  # the last slot whose base_gfn <= gfn
        mid = (lo + hi) // 2
        if slots[mid].base_gfn <= gfn:
            lo = mid + 1
        else:
            hi = mid
    return slots[lo - 1] if lo and gfn < slots[lo - 1].end_gfn else None


class ViewBuilder:
    """Builds the StepViews of one run, keeping what steps share: each memslot generation's table, the
    scenario's pending slots, and for each gfn the first step whose record changed its spte ("changed since
    the start"). reset() when the steps change (a probe, an edit, another era)."""

    def __init__(self) -> None:
        self._first: dict[int, int] = {}
        self._done = 0  # steps folded in so far
        self._tables: dict[tuple[int, int], tuple[object, tuple[MemSlot, ...]]] = {}
        self._pending: tuple[tuple[int, ...], tuple[PendingSlot, ...]] | None = None
        self._info: RunInfo | None = None

    def reset(self) -> None:
        self._first.clear()
        self._done = 0
        self._tables.clear()
        self._pending = None
        self._info = None

    def touched(self, run: Run, index: int) -> frozenset[int]:
        while self._done <= index:
            for s in run.entry(self._done).record.spte:
                if s.before is not s.after:
                    self._first.setdefault(s.gfn, self._done)
            self._done += 1
        return frozenset(g for g, i in self._first.items() if i <= index)

    def pending(self, run: Run, index: int) -> tuple[PendingSlot, ...]:
        """The setup slots created after step `index` (0-based): a slice of the list made once per run."""
        if self._pending is None:
            found = _all_pending(run)
            self._pending = (tuple(j for j, _ in found), tuple(p for _, p in found))
        steps, slots = self._pending
        return slots[bisect_right(steps, index):]

    def table(self, memslots) -> tuple[MemSlot, ...]:
        """The slots of one address space as a tuple, made once per memslot generation. The key holds the
        table object itself: a backend that builds a fresh one per step (live) is never served a stale one."""
        key = (id(memslots), memslots.generation)
        hit = self._tables.get(key)
        if hit is not None and hit[0] is memslots:
            return hit[1]
        if len(self._tables) > 64:  # stepping through 32,764 slot creations keeps only the recent tables
            self._tables.clear()
        t = tuple(memslots)
        self._tables[key] = (memslots, t)
        return t

    def info(self, run: Run) -> RunInfo:
        if self._info is None:
            self._info = RunInfo(run.scenario, run.kernel, run.path, run.shows_internals)
        return self._info

    def build(self, run: Run, index: int) -> StepView:
        entry = run.entry(index)
        touched = self.touched(run, index)
        kvm = run.state_at(index + 1)  # borrowed: read now, before the run moves again
        rec = entry.record
        changed = frozenset(s.gfn for s in rec.spte if s.before is not s.after)
        slots = frozenset(c.slot.id for c in rec.slot_changes)
        focus = rec.slot if rec.slot is not None else rec.args.get("slot") if rec.op in (Op.SET_MEMORY_REGION, Op.GET_DIRTY_LOG) else None
        info = self.info(run)
        tables = tuple(self.table(m) for m in kvm.memslots_by_as)
        generations = tuple(m.generation for m in kvm.memslots_by_as)
        symbol = run.symbol(rec.args["gpa"]) if rec.is_access else None
        used = kvm.memslots.id_to_memslot(rec.slot) if rec.slot is not None else None
        internals = info.shows_internals
        return StepView(info, index, len(run), entry, tables, generations, changed, touched, focus, slots,
                        self.pending(run, index), symbol, used,
                        _spte_map(kvm) if internals else None,
                        _dirty(kvm) if internals else None,
                        _host_rows(kvm) if internals else None,
                        _rings(kvm) if internals else None)


def _all_pending(run: Run) -> list[tuple[int, PendingSlot]]:
    """(0-based step, slot) of every slot the setup creates, in step order."""
    out = []
    mappings = run.mappings
    for j, spec in enumerate(run.specs):
        if spec.phase != "setup":
            break
        p = spec.params
        if spec.op != Op.SET_MEMORY_REGION or "slot" not in p:
            continue
        host = p.get("host")
        size = p.get("size")
        if size is None and host is not None and host.name in mappings:
            size = max(mappings[host.name].size - host.offset, 0)
        out.append((j, PendingSlot(p["slot"], p.get("gpa", 0), size or 0, p.get("flags", 0), j + 1)))
    return out


def _spte_map(kvm: Kvm) -> SpteMap:
    items = sorted((g, s.state) for g, s in kvm.sptes.items())
    return SpteMap(tuple(g for g, _ in items), tuple(st for _, st in items))


def _dirty(kvm: Kvm) -> tuple[DirtyBitmap, ...]:
    slots = kvm.memslots
    out = []
    for sid, bits in sorted(slots.dirty_bitmaps.items()):
        s = slots.id_to_memslot(sid)
        if s is not None:
            out.append(DirtyBitmap(sid, s.npages, bits.pages()))
    return tuple(out)


def _host_rows(kvm: Kvm) -> tuple[HostRow, ...]:
    host = kvm.host
    rows = []
    for v in host.vmas:
        res, out, psn = host.count_pages(v.start, v.end)  # O(ranges + touched pages)
        rows.append(HostRow(v.mapping.name, v.start, v.end, v.prot, v.mapping.backing, res, out, psn))
    return tuple(rows)


def _rings(kvm: Kvm) -> DirtyRingsView:
    st = kvm.vm
    rings = tuple(RingView(vcpu, tuple(r.entries), r.harvested, r.pushed_total, r.reset_total, r.soft_full)
                  for vcpu, r in sorted(st.rings.items()))
    return DirtyRingsView(st.manual_protect, st.dirty_ring_size, rings)
