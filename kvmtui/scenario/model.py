"""A scenario as plain values: what the loader produced from the YAML, positions kept for messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..engine.values import fast_dataclass, mutable_twin

if TYPE_CHECKING:  # (the ELF reader is imported for elf: images only)
    from .elf import ElfSymbol


# (every dataclass here has a docstring: dataclass() makes one without it, from inspect.signature, at each start)
@dataclass(frozen=True, slots=True)
class Pos:
    """Where something was written in the scenario file."""

    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True, slots=True)
class HostSpec:
    """One `host:` mapping of the VMM."""

    name: str
    size: int
    prot: str
    backing: str
    fill: int
    image: bytes
    hva: int | None
    pos: Pos


@fast_dataclass(frozen=True, slots=True)  # an imported log makes one per step
class HostRef:
    """"name+offset": a place in one of the VMM's mappings."""

    name: str
    offset: int

    def __str__(self) -> str:
        return self.name if not self.offset else f"{self.name}+{self.offset:#x}"


@dataclass(frozen=True, slots=True)
class MmioDevice:
    """One `mmio:` device: a range the VMM answers reads in."""

    name: str
    gpa: int
    size: int
    read: int | None  # byte pattern for reads; None: mmio_fill


def pick_variant(table: dict[str, Any], era: str, path: str | None) -> Any:
    """The entry of a per-variant table for one run: "ERA/PATH" first, then "ERA", then "PATH"; None if none."""
    for key in (f"{era}/{path}", era, path):
        if key in table:
            return table[key]
    return None


@dataclass(frozen=True, slots=True)
class ExpectExit:
    """One MMIO exit a step expects."""

    phys_addr: int
    len: int
    data: bytes
    is_write: bool


@dataclass(frozen=True, slots=True)
class Expect:
    """A step's `expect:`: the fields given, each held to the step's record (judge.py)."""

    outcome: str | None = None
    value: int | None = None
    exits: tuple[ExpectExit, ...] | None = None
    dirty: tuple[int, ...] | None = None
    slot: int | None = None
    slot_none: bool = False  # `slot: null`: expect no slot resolved the access
    spte: str | None = None
    ring: tuple[tuple[int, int], ...] | None = None  # harvest_dirty_ring: [slot, offset] entries in ring order
    pos: Pos = Pos(0, 0)
    positions: dict[str, Pos] = field(default_factory=dict)  # where each expected field was written
    # per-variant expectations (an extension of format 1): keyed by era ("3.6"), path ("emulated") or both
    # ("3.6/emulated"); see pick_variant
    eras: dict[str, Expect | None] | None = None

    def for_era(self, era: str, path: str | None = None) -> Expect | None:
        """What this step expects under one kernel era (and access path); None when no variant is listed."""
        if self.eras is None:
            return self
        return pick_variant(self.eras, era, path)


@dataclass(frozen=True, slots=True)
class Question:
    """`question:` on a step, for lesson mode (an extension of format 1): the scenario's own wording."""

    ask: str | None = None  # the question; default: "Step N: WHAT. What will happen?"
    choices: tuple[str, ...] = ()  # outcome names to offer; default: the engine's outcomes for the step's kind
    why: str | None = None  # the explanation at the reveal; default: the step's note, else plain words


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One entry of `slots:` or `steps:`; params hold typed values (ints, HostRef, bytes, str)."""

    op: str
    params: dict[str, Any]
    note: str | None
    expect: Expect | None
    pos: Pos
    phase: str = "step"  # "setup" for slots: entries
    note_variants: dict[str, str] | None = None  # `note:` per era / path (an extension of format 1); see pick_variant
    question: Question | None = None  # `question:` for lesson mode (an extension of format 1)

    def note_for(self, era: str, path: str | None = None) -> str | None:
        """The note to show under one kernel era and access path."""
        if self.note_variants is None:
            return self.note
        return pick_variant(self.note_variants, era, path)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A whole scenario file as plain values."""

    file: str
    title: str
    description: str
    kernel: str
    path: str
    mmio_fill: int
    host: tuple[HostSpec, ...]
    mmio: tuple[MmioDevice, ...]
    setup: tuple[StepSpec, ...]
    steps: tuple[StepSpec, ...]
    version: int = 1
    symbols: tuple[ElfSymbol, ...] = ()  # from elf: images, sorted by physical address
    notes: tuple[str, ...] = ()  # what the loader wants the user to know (ELF warnings)
    # KVM_ADDRESS_SPACE_NUM of the kernel a log came from (2: it accepted as_id 1); None: the era's own
    address_spaces: int | None = None

    @property
    def all_steps(self) -> tuple[StepSpec, ...]:
        return self.setup + self.steps


# -- fast constructors ----------------------------------------------------------------------------------------
# A real-size scenario holds hundreds of thousands of steps; a frozen dataclass's __init__ sets each field
# through object.__setattr__ (several times the cost of a plain store). These build the same objects (equal,
# same hash, same repr) as a draft: an instance of the class's mutable twin (engine.values), filled by plain
# stores, then made the frozen class's by __class__ assignment (Python allows it between classes of one layout).
# Only for values the caller has already checked. (engine.values.fast_init does the same in a constructor; a
# plain function here costs less per call, and Expect has a default factory fast_init does not take.)
_PosDraft: Any = mutable_twin(Pos)
_StepDraft: Any = mutable_twin(StepSpec)
_ExpectDraft: Any = mutable_twin(Expect)


def new_pos(line: int, col: int) -> Pos:
    p = _PosDraft()
    p.line = line
    p.col = col
    p.__class__ = Pos
    return p


def new_outcome_expect(outcome: str, pos: Pos) -> Expect:
    """Expect(outcome=outcome, pos=pos, positions={"outcome": pos}): an `expect: WORD` as the loader reads it."""
    return _new_expect(outcome, None, pos, {"outcome": pos})


def new_expect(outcome: str | None, value: int | None, pos: Pos) -> Expect:
    """Expect(outcome=outcome, value=value, pos=pos): what an imported log's step expects (no positions)."""
    return _new_expect(outcome, value, pos, {})


def _new_expect(outcome: str | None, value: int | None, pos: Pos, positions: dict[str, Pos]) -> Expect:
    """An Expect of an outcome and a value only."""
    e = _ExpectDraft()
    e.outcome = outcome
    e.value = value
    e.exits = e.dirty = e.slot = e.spte = e.ring = e.eras = None
    e.slot_none = False
    e.pos = pos
    e.positions = positions
    e.__class__ = Expect
    return e


def new_step(op: str, params: dict[str, Any], expect: Expect | None, pos: Pos, phase: str = "step",
             note: str | None = None) -> StepSpec:
    """A StepSpec without note variants or question."""
    s = _StepDraft()
    s.op = op
    s.params = params
    s.note = note
    s.expect = expect
    s.pos = pos
    s.phase = phase
    s.note_variants = s.question = None
    s.__class__ = StepSpec
    return s
