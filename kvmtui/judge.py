"""Hold a step's record to its `expect:`, field by field, for every backend alike.

Each expected field is met, unmet, or unchecked: unchecked where the backend cannot show what the field is
about (the live kernel shows no sptes, and not the bytes an instruction fetch read). An unchecked field is
never counted as met: a step whose expectation is only partly checkable and otherwise met has no verdict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .engine.records import StepRecord
from .engine.vocabulary import Op, Outcome
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
        return self._whys(Verdict.UNMET)

    @property
    def unchecked(self) -> tuple[str, ...]:
        return self._whys(Verdict.UNCHECKED)

    def _whys(self, verdict: Verdict) -> tuple[str, ...]:
        js = self.judgements
        if len(js) == 1:  # most expectations hold one field (an imported log's `expect: ok`): no generator
            j = js[0]
            return (j.why,) if j.verdict is verdict else ()
        return tuple([j.why for j in js if j.verdict is verdict])


FIELDS = ("outcome", "value", "slot", "spte", "ring", "dirty", "exits")
_MET = {f: Judgement(f, Verdict.MET) for f in FIELDS}


def _unmet(field: str, why: str) -> Judgement:
    return Judgement(field, Verdict.UNMET, why)


def judge(e: Expect, r: StepRecord, sight: Sight = SIMULATED) -> Judged:
    """Every expected field of e, held to r as far as the backend shows it."""
    if not sight.every_step and r.outcome == Outcome.UNSUPPORTED and e.outcome != Outcome.UNSUPPORTED:
        return _not_performed(e, r)
    # Messages are built only for what is not met: most steps meet their expectation, and check streams.
    return Judged(tuple(j for check in _CHECKS if (j := check(e, r, sight)) is not None))


def _outcome(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.outcome is None:
        return None
    return _MET["outcome"] if r.outcome == e.outcome else _unmet("outcome", f"outcome: expected {e.outcome}, got {r.outcome}")


def _value(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.value is None:
        return None
    if r.op == Op.FETCH and not sight.fetched_bytes:
        return Judgement("value", Verdict.UNCHECKED, f"value: expected {e.value:#x}; the bytes a fetch read are not visible live")
    if r.value == e.value:
        return _MET["value"]
    got = "nothing (the access did not complete)" if r.value is None else f"{r.value:#x}"
    return _unmet("value", f"value: expected {e.value:#x}, got {got}")


def _slot(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.slot is not None:
        return _MET["slot"] if r.slot == e.slot else _unmet("slot", f"slot: expected {e.slot}, got {r.slot if r.slot is not None else 'no slot'}")
    return None


def _slot_none(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.slot_none:
        return _MET["slot"] if r.slot is None else _unmet("slot", f"slot: expected no slot, got slot {r.slot}")
    return None


def _spte(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.spte is None:
        return None
    if not sight.sptes:
        return Judgement("spte", Verdict.UNCHECKED, f"spte: expected {e.spte}; the kernel does not show its sptes")
    got = str(r.spte[0].after) if r.spte else "none"
    return _MET["spte"] if got == e.spte else _unmet("spte", f"spte: expected {e.spte}, got {got}")


def _ring(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.ring is None:
        return None
    if r.ring == e.ring:
        return _MET["ring"]
    got = [list(x) for x in r.ring] if r.ring is not None else f"an error ({r.outcome})"
    return _unmet("ring", f"ring: expected {[list(x) for x in e.ring]}, got {got}")


def _dirty(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.dirty is None:
        return None
    if r.dirty == e.dirty:
        return _MET["dirty"]
    got = str(r.dirty) if r.dirty is not None else f"an error ({r.outcome})"
    return _unmet("dirty", f"dirty: expected {list(e.dirty)}, got {got}")


def _exits(e: Expect, r: StepRecord, sight: Sight) -> Judgement | None:
    if e.exits is None:
        return None
    want = [(x.phys_addr, x.len, x.data, x.is_write) for x in e.exits]
    got = [(x.phys_addr, x.len, x.data, x.is_write) for x in r.exits]
    return _MET["exits"] if want == got else _unmet("exits", f"exits: expected {_exits_text(want)}, got {_exits_text(got)}")


# One check per expect: field, in the order messages are listed.
_CHECKS: tuple[Callable[[Expect, StepRecord, Sight], Judgement | None], ...] = (
    _outcome, _value, _slot, _slot_none, _spte, _ring, _dirty, _exits)


def _not_performed(e: Expect, r: StepRecord) -> Judged:
    """A step the backend did not perform: nothing it expected can be seen, met or unmet."""
    why = f"not performed here: {r.message or 'unsupported'}"
    fields = [f for f in FIELDS if getattr(e, f) is not None] + (["slot"] if e.slot_none else [])
    return Judged(tuple(Judgement(f, Verdict.UNCHECKED, f"{f}: {why}") for f in fields))


def _exits_text(exits: list[tuple[int, int, bytes, bool]]) -> str:
    if not exits:
        return "none"
    return "; ".join(f"{'write' if w else 'read'} {p:#x} len {n} data {d.hex()}" for p, n, d, w in exits)
