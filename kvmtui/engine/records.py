"""StepRecord: what one step asked, the kernel functions it went through, and what changed.

Records are the engine's only output. The app, the trace printer and `compare` read them; none of them
re-derives kernel logic.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .addresses import PAGE_SHIFT
from .calls import KernelCall
from .uapi import flag_names
from .values import fast_dataclass
from .vocabulary import ACCESS_OPS, Op, Outcome

if TYPE_CHECKING:  # pragma: no cover - import cycle only for typing
    from .dirty_bitmap import DirtyPages  # (a trace with no dirty logging never imports dirty_bitmap.py)
    from .memslots import MemSlot
    from .steps import SetMemoryRegion


class SpteState(StrEnum):
    """The state of one gfn's shadow/TDP page-table entry."""

    NONE = "none"  # not present: the next access faults
    RO = "ro"  # present without write permission (read-only slot, read fault, or host page not writable)
    RW = "rw"  # present and writable
    WP = "wp"  # writable by the host but write-protected for dirty logging (the fast path restores W)
    MMIO = "mmio"  # a cached MMIO spte for a gfn with no slot


@fast_dataclass(frozen=True, slots=True)
class MmioExit:
    """struct kvm_run.mmio as userspace sees it after KVM_EXIT_MMIO."""

    phys_addr: int
    len: int
    data: bytes
    is_write: bool


@fast_dataclass(frozen=True, slots=True)
class SpteChange:
    """One gfn's spte before and after a step."""

    gfn: int
    before: SpteState
    after: SpteState


@fast_dataclass(frozen=True, slots=True)
class SlotChange:
    """One memslot before and after a step (None: no slot)."""

    before: MemSlot | None
    after: MemSlot | None

    @property
    def slot(self) -> MemSlot:
        """The slot this change is about (the old one for a delete)."""
        slot = self.after or self.before
        assert slot is not None, "a slot change has a slot on at least one side"
        return slot


@fast_dataclass(frozen=True, slots=True)
class StepRecord:
    """One step: an ioctl, a guest access or a host change, and its consequences."""

    op: Op
    args: dict[str, Any]  # the step as the engine received it (gpa, size, slot, ...)
    outcome: Outcome | str  # an Outcome, or the errno name of a refused ioctl ("EINVAL": is_errno_outcome)
    chain: tuple[KernelCall, ...] = ()
    exits: tuple[MmioExit, ...] = ()
    exit_reason: str | None = None  # what KVM_RUN handed to userspace, if it returned
    spte: tuple[SpteChange, ...] = ()
    dirtied: tuple[tuple[int, int], ...] = ()  # (slot id, page index) bits set by this step
    slot_changes: tuple[SlotChange, ...] = ()
    # accesses
    value: int | None = None
    slot: int | None = None
    hva: int | None = None
    pfn: int | None = None
    # set_memory_region
    kind: str | None = None
    # get_dirty_log
    dirty: DirtyPages | None = None
    # check_extension
    cap_value: int | None = None
    # harvest_dirty_ring: the [slot, offset] entries collected, in ring order (None on error)
    ring: tuple[tuple[int, int], ...] | None = None
    message: str = ""  # one line in words, for people (accesses and slot creates build theirs on demand: the hot paths)

    @property
    def summary(self) -> str:
        if self.message:
            return self.message
        if self.op in ACCESS_OPS:
            a = self.args
            return access_summary(self.op, a["size"], a["gpa"], self.outcome, self.value, len(self.exits))
        if self.kind == "create" and self.slot_changes:  # a slot created: its summary is made when read
            return slot_summary("create", self.slot_changes[0].after)  # type: ignore[arg-type]
        return ""

    @property
    def key_moment(self) -> bool:
        """True when a read-only write fault became an MMIO exit: the picture kvmtui exists to show."""
        return any(c.key for c in self.chain)

    @property
    def is_access(self) -> bool:
        return self.op in ACCESS_OPS


_FLAGS_TEXT: dict[int, str] = {}  # flags -> their names as a summary shows them (a handful of values)


def region_args(step: SetMemoryRegion) -> dict[str, Any]:
    """What a KVM_SET_USER_MEMORY_REGION(2) step asked, as its record carries it."""
    m = step.region
    gmem = {"name": m.guest_memfd, "offset": m.guest_memfd_offset} if m.ioctl == 2 and m.guest_memfd else None
    return {"slot": m.slot, "gpa": m.guest_phys_addr, "size": m.memory_size, "hva": m.userspace_addr, "flags": m.flags,
            "ioctl": m.ioctl, "guest_memfd": gmem}


def slot_summary(kind: str, s: MemSlot) -> str:
    """The summary of a set_memory_region that left slot s in place (created, moved, flags changed). A layout
    creates tens of thousands of slots and the trace table shows none of these lines: a create's record
    leaves its message empty and StepRecord.summary makes it here when someone reads it."""
    flags = _FLAGS_TEXT.get(s.flags)
    if flags is None:
        flags = _FLAGS_TEXT[s.flags] = ",".join(flag_names(s.flags)) or "no flags"
    # hex(n) is {n:#x} without a format spec to parse
    return f"slot {s.number} {kind}: gpa {hex(s.base_gfn << PAGE_SHIFT)}+{hex(s.npages << PAGE_SHIFT)} -> hva {hex(s.userspace_addr)} ({flags})"


# The end of an access's summary by its outcome, after "<op> <size>B at <gpa>" (ok and mmio say more: access_summary).
_ACCESS_ENDS = {
    Outcome.EFAULT._value_: ": KVM_RUN returned -EFAULT (the VMM sees a crashed vCPU)",
    Outcome.HWPOISON._value_: ": SIGBUS (hardware-poisoned host page)",
    Outcome.DIRTY_RING_FULL._value_: ": KVM_EXIT_DIRTY_RING_FULL (the vCPU waits for harvest + KVM_RESET_DIRTY_RINGS)",
    Outcome.UNSUPPORTED._value_: ": not run (unsupported)",
}


def access_summary(op: Op | str, size: int, gpa: int, outcome: Outcome | str, value: int | None, n_exits: int) -> str:
    """StepRecord.summary of an access without a message, from its parts (the JSON writer has them at hand).
    Every line of a long trace has one: each line is one f-string, numbers written with hex() (the same text
    as {n:#x} without a format spec to parse) and the op with !s (an Op is a StrEnum: str() is str's own,
    where a bare {op} goes through the enum's __format__): half the cost of building `what` and adding to it."""
    if outcome == "ok":  # the commonest: a completed access
        if value is not None and op != "write":
            return f"{op!s} {size}B at {hex(gpa)}: completed, value {hex(value)}"
        return f"{op!s} {size}B at {hex(gpa)}: completed"
    if outcome == "mmio":
        return f"{op!s} {size}B at {hex(gpa)}: {n_exits} KVM_EXIT_MMIO exit{'s' if n_exits != 1 else ''}"
    return f"{op!s} {size}B at {hex(gpa)}" + _ACCESS_ENDS.get(outcome, ": KVM_EXIT_INTERNAL_ERROR (emulation failure)")
