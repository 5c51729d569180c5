"""Guest-physical layouts: the flat ranges of committed slot tables, and the difference of two of them.

This reads only committed memslot tables (the values `Memslots` holds after a step); it is never on the
per-access path. A layout is what `info mtree -f` shows for the KVM side of a VM: the guest-physical
space cut into ranges, each owned by one slot or by none (a hole: an access there has no memslot and
becomes an MMIO exit). Everything is in intervals, so a 1 TiB slot costs what a 4 KiB one does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .addresses import PAGE_SHIFT
from .memslots import MemSlot

GPA_SPACE_END = 1 << 64  # the guest-physical space as QEMU's flat views span it: 0 .. 2^64-1


@dataclass(frozen=True, slots=True)
class FlatRange:
    """[gpa, gpa + size) owned by `slot`, or a hole when slot is None."""

    gpa: int
    size: int
    slot: MemSlot | None
    as_id: int = 0

    @property
    def end(self) -> int:
        return self.gpa + self.size

    @property
    def hva(self) -> int | None:
        """The userspace address backing the range's first byte (__gfn_to_hva_memslot)."""
        s = self.slot
        if s is None:
            return None
        return s.userspace_addr + self.gpa - (s.base_gfn << PAGE_SHIFT)


@dataclass(frozen=True, slots=True)
class LayoutDiff:
    """A range where layout A and layout B disagree: one has a slot and the other none, or both have
    slots with different flags. `a` / `b` are the owning slots (None: a hole there)."""

    gpa: int
    size: int
    a: MemSlot | None
    b: MemSlot | None
    as_id: int = 0

    @property
    def end(self) -> int:
        return self.gpa + self.size

    def hva_a(self) -> int | None:
        return FlatRange(self.gpa, self.size, self.a).hva

    def hva_b(self) -> int | None:
        return FlatRange(self.gpa, self.size, self.b).hva


def _sorted(slots: Iterable[MemSlot]) -> list[MemSlot]:
    out = sorted(slots, key=lambda s: s.base_gfn)
    for x, y in itertools.pairwise(out):
        if x.end_gfn > y.base_gfn:
            raise ValueError(f"slots {x.number} and {y.number} overlap: not a committed table")
    return out


def flat_ranges(slots: Iterable[MemSlot], as_id: int = 0, end: int = GPA_SPACE_END) -> list[FlatRange]:
    """The whole guest-physical space [0, end) in gpa order: each slot's range and the holes between."""
    out: list[FlatRange] = []
    pos = 0
    for s in _sorted(slots):
        lo, hi = s.base_gfn << PAGE_SHIFT, s.end_gfn << PAGE_SHIFT
        if lo >= end:
            break
        if lo > pos:
            out.append(FlatRange(pos, lo - pos, None, as_id))
        hi = min(hi, end)
        out.append(FlatRange(lo, hi - lo, s, as_id))
        pos = hi
    if pos < end:
        out.append(FlatRange(pos, end - pos, None, as_id))
    return out


def _differs(a: MemSlot | None, b: MemSlot | None) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return a.flags != b.flags  # slot ids and userspace addresses alone are not a difference


def _key(s: MemSlot | None) -> tuple[int, int] | None:
    return None if s is None else (s.as_id, s.id)


def diff_layouts(a: Iterable[MemSlot], b: Iterable[MemSlot], as_id: int = 0) -> list[LayoutDiff]:
    """The ranges, in gpa order, where the two slot tables of one address space disagree; adjacent
    pieces are merged while the pair of owning slots stays the same. Linear in the number of slots."""
    ra, rb = flat_ranges(a, as_id), flat_ranges(b, as_id)
    out: list[LayoutDiff] = []
    i = j = 0
    pos = 0
    while pos < GPA_SPACE_END:
        x, y = ra[i], rb[j]
        nxt = min(x.end, y.end)
        if _differs(x.slot, y.slot):
            last = out[-1] if out else None
            if last is not None and last.end == pos and _key(last.a) == _key(x.slot) and _key(last.b) == _key(y.slot):
                out[-1] = LayoutDiff(last.gpa, nxt - last.gpa, last.a, last.b, as_id)
            else:
                out.append(LayoutDiff(pos, nxt - pos, x.slot, y.slot, as_id))
        pos = nxt
        if x.end == pos:
            i += 1
        if y.end == pos:
            j += 1
    return out


def diff_address_spaces(a: Mapping[int, Sequence[MemSlot]], b: Mapping[int, Sequence[MemSlot]]) -> list[LayoutDiff]:
    """diff_layouts over every address space either side has, address space 0 first."""
    out: list[LayoutDiff] = []
    for as_id in sorted(set(a) | set(b)):
        out.extend(diff_layouts(a.get(as_id, ()), b.get(as_id, ()), as_id))
    return out
