"""Hold a step's record to its `expect:`, field by field, for every backend alike.

Each expected field is met, unmet, or unchecked: unchecked where the backend cannot show what the field is
about (the live kernel shows no sptes, and not the bytes an instruction fetch read). An unchecked field is
never counted as met: a step whose expectation is only partly checkable and otherwise met has no verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .engine.records import StepRecord
from .engine.vocabulary import Op
from .scenario.model import Expect


class Verdict(StrEnum):
    MET = "met"
    UNMET = "unmet"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class Sight:
    """What a backend can show of a step: the simulator everything, the live kernel less."""

    sptes: bool = True
    fetched_bytes: bool = True  # the value an instruction fetch read
    every_step: bool = True  # False: some steps are not performed (outcome `unsupported`), e.g. poison live


SIMULATED = Sight()
LIVE = Sight(sptes=False, fetched_bytes=False, every_step=False)


@dataclass(frozen=True, slots=True)
class Judgement:
    """One expected field held to the record: its verdict and, unless met, why in words."""

    field: str  # the expect: key (outcome, value, slot, spte, ring, dirty, exits)
    verdict: Verdict
    why: str = ""


@dataclass(frozen=True, slots=True)
class Judged:
    """A whole expectation held to a record."""

    judgements: tuple[Judgement, ...]

    @property
    def unmet(self) -> tuple[str, ...]:
        return tuple(j.why for j in self.judgements if j.verdict is Verdict.UNMET)

    @property
    def unchecked(self) -> tuple[str, ...]:
        return tuple(j.why for j in self.judgements if j.verdict is Verdict.UNCHECKED)


FIELDS = ("outcome", "value", "slot", "spte", "ring", "dirty", "exits")
_MET = {f: Judgement(f, Verdict.MET) for f in FIELDS}


def _unmet(field: str, why: str) -> Judgement:
    return Judgement(field, Verdict.UNMET, why)


def judge(e: Expect, r: StepRecord, sight: Sight = SIMULATED) -> Judged:
    """Every expected field of e, held to r as far as the backend shows it."""
    if not sight.every_step and r.outcome == "unsupported" and e.outcome != "unsupported":
        return _not_performed(e, r)
    out: list[Judgement] = []
    # Messages are built only for what is not met: most steps meet their expectation, and check streams.
    if e.outcome is not None:
        out.append(_MET["outcome"] if r.outcome == e.outcome else _unmet("outcome", f"outcome: expected {e.outcome}, got {r.outcome}"))
    if e.value is not None:
        if r.op == Op.FETCH and not sight.fetched_bytes:
            out.append(Judgement("value", Verdict.UNCHECKED, f"value: expected {e.value:#x}; the bytes a fetch read are not visible live"))
        elif r.value == e.value:
            out.append(_MET["value"])
        else:
            got = "nothing (the access did not complete)" if r.value is None else f"{r.value:#x}"
            out.append(_unmet("value", f"value: expected {e.value:#x}, got {got}"))
    if e.slot is not None:
        out.append(_MET["slot"] if r.slot == e.slot else _unmet("slot", f"slot: expected {e.slot}, got {r.slot if r.slot is not None else 'no slot'}"))
    if e.slot_none:
        out.append(_MET["slot"] if r.slot is None else _unmet("slot", f"slot: expected no slot, got slot {r.slot}"))
    if e.spte is not None:
        if not sight.sptes:
            out.append(Judgement("spte", Verdict.UNCHECKED, f"spte: expected {e.spte}; the kernel does not show its sptes"))
        else:
            got_spte = str(r.spte[0].after) if r.spte else "none"
            out.append(_MET["spte"] if got_spte == e.spte else _unmet("spte", f"spte: expected {e.spte}, got {got_spte}"))
    if e.ring is not None:
        if r.ring == e.ring:
            out.append(_MET["ring"])
        else:
            got_ring = [list(x) for x in r.ring] if r.ring is not None else f"an error ({r.outcome})"
            out.append(_unmet("ring", f"ring: expected {[list(x) for x in e.ring]}, got {got_ring}"))
    if e.dirty is not None:
        if r.dirty == e.dirty:
            out.append(_MET["dirty"])
        else:
            got_dirty = list(r.dirty) if r.dirty is not None else f"an error ({r.outcome})"
            out.append(_unmet("dirty", f"dirty: expected {list(e.dirty)}, got {got_dirty}"))
    if e.exits is not None:
        want = [(x.phys_addr, x.len, x.data, x.is_write) for x in e.exits]
        got_exits = [(x.phys_addr, x.len, x.data, x.is_write) for x in r.exits]
        out.append(_MET["exits"] if want == got_exits else _unmet("exits", f"exits: expected {_exits_text(want)}, got {_exits_text(got_exits)}"))
    return Judged(tuple(out))


def _not_performed(e: Expect, r: StepRecord) -> Judged:
    """A step the backend did not perform: nothing it expected can be seen, met or unmet."""
    why = f"not performed here: {r.message or 'unsupported'}"
    fields = [f for f in FIELDS if getattr(e, f) is not None] + (["slot"] if e.slot_none else [])
    return Judged(tuple(Judgement(f, Verdict.UNCHECKED, f"{f}: {why}") for f in fields))


def _exits_text(exits: list[tuple[int, int, bytes, bool]]) -> str:
    if not exits:
        return "none"
    return "; ".join(f"{'write' if w else 'read'} {p:#x} len {n} data {d.hex()}" for p, n, d, w in exits)
