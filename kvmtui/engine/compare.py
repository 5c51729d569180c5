"""Eras side by side: the same steps under another profile, compared step by step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .machine import Machine
from .records import StepRecord
from .steps import Step
from .vocabulary import Op

# What `kvmtui compare` holds two records to (trace-format.md).
COMPARED_FIELDS: tuple[str, ...] = ("op", "outcome", "value", "exits", "dirty", "ring")


@dataclass(frozen=True, slots=True)
class StepDiff:
    index: int
    left: StepRecord
    right: StepRecord
    fields: tuple[str, ...]  # the compared fields that differ; empty when the step agrees

    @property
    def same(self) -> bool:
        return not self.fields


def _view(r: StepRecord, name: str) -> object:
    if name == "value":
        # reads, and the counts today's memory API returns (reset_dirty_rings, enable_cap)
        return r.value if r.op in (Op.READ, Op.RESET_DIRTY_RINGS, Op.ENABLE_CAP) else None
    return getattr(r, name)


def compare_records(left: Sequence[StepRecord], right: Sequence[StepRecord]) -> list[StepDiff]:
    return [
        StepDiff(i, a, b, tuple(f for f in COMPARED_FIELDS if _view(a, f) != _view(b, f)))
        for i, (a, b) in enumerate(zip(left, right, strict=False))
    ]


def rerun(make_machine: Callable[[], Machine], steps: Iterable[Step]) -> list[StepRecord]:
    m = make_machine()
    return [m.apply(s) for s in steps]
