"""Lesson mode: before a step with an outcome, ask what will happen; after the answer, say right or wrong and why.

Plain Python over a run's records (no Textual): the app asks and reveals, this module decides what to ask,
which choices to offer (the engine's own outcome vocabulary), and keeps the score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .engine.uapi import EEXIST, EFAULT, EINVAL, ENOENT, errno_name
from .engine.vocabulary import Outcome
from .plain import explain
from .run import Run
from .scenario.model import Question

# What a student can answer, in the engine's own words, with a label a student understands.
ACCESS_CHOICES: tuple[tuple[str, str], ...] = (
    (Outcome.OK, "it completes: the guest gets its bytes (or its write lands), no exit"),
    (Outcome.MMIO, "KVM_EXIT_MMIO: KVM_RUN returns and the VMM must handle the access"),
    (Outcome.EFAULT, "KVM_RUN fails with -EFAULT (the VM looks crashed)"),
    (Outcome.HWPOISON, "SIGBUS: the host page is hardware-poisoned"),
    (Outcome.INTERNAL_ERROR, "KVM_EXIT_INTERNAL_ERROR: the emulator gives up"),
)
IOCTL_CHOICES: tuple[tuple[str, str], ...] = (
    ("ok", "the ioctl succeeds (returns 0)"),
    (errno_name(EINVAL), "it fails with EINVAL: the request breaks a rule"),
    (errno_name(EEXIST), "it fails with EEXIST: it overlaps another slot"),
    (errno_name(ENOENT), "it fails with ENOENT: no such slot"),
    (errno_name(EFAULT), "it fails with EFAULT: a bad userspace address"),
)
ASKED_OPS = frozenset({"read", "write", "fetch", "set_memory_region", "get_dirty_log"})


def choices_for(op: str) -> tuple[tuple[str, str], ...]:
    return ACCESS_CHOICES if op in ("read", "write", "fetch") else IOCTL_CHOICES


@dataclass(frozen=True)
class Ask:
    """One question: about the step at `index` (0-based)."""

    index: int
    prompt: str
    choices: tuple[tuple[str, str], ...]  # (outcome, label)
    answer: str  # the outcome the run gives
    why: str  # the scenario's own explanation, else the step's note, else plain words from the chain


def asks_about(run: Run, index: int) -> bool:
    """Steps with an outcome a student can predict: accesses and memslot / dirty-log ioctls."""
    return run.specs[index].op in ASKED_OPS


def ask_for(run: Run, index: int, what: str) -> Ask:
    """The question before step `index`; `what` describes the step without its result."""
    spec = run.specs[index]
    rec = run.entry(index).record
    q: Question | None = spec.question
    base = choices_for(spec.op)
    if q is not None and q.choices:
        labels = dict(base)
        choices = tuple((c, labels.get(c, c)) for c in q.choices)
    else:
        choices = base
    if rec.outcome not in {c for c, _ in choices}:  # the true answer is always offered
        choices = (*choices, (rec.outcome, rec.outcome))
    prompt = q.ask if q is not None and q.ask else f"Step {index + 1}: {what}. What will happen?"
    note = spec.note_for(run.kernel, run.path)
    why = (q.why if q is not None and q.why else None) or note or explain(rec)
    return Ask(index, prompt, choices, rec.outcome, why)


@dataclass
class Score:
    answers: dict[int, tuple[str, bool]] = field(default_factory=dict)  # step index -> (chosen, right)

    def record(self, ask: Ask, chosen: str) -> bool:
        right = chosen == ask.answer
        self.answers[ask.index] = (chosen, right)
        return right

    @property
    def right(self) -> int:
        return sum(1 for _, ok in self.answers.values() if ok)

    @property
    def asked(self) -> int:
        return len(self.answers)

    def text(self) -> str:
        return f"score {self.right}/{self.asked}"


def reveal_text(ask: Ask, chosen: str) -> tuple[bool, str]:
    """Right or wrong, and why, in words."""
    labels = dict(ask.choices)
    if chosen == ask.answer:
        return True, f"✓ Right: {labels.get(ask.answer, ask.answer)}."
    return False, f"✗ Not quite: you said {labels.get(chosen, chosen)}; it was {labels.get(ask.answer, ask.answer)}."
