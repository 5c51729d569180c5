"""A slot's dirty bitmap (memslot->dirty_bitmap) as runs of set bits, and the pages a call reports as a value.

The kernel keeps one bit per page; the model keeps sorted, disjoint runs [start, end) of set bits, so cost
follows the runs, not the slot's size: KVM_DIRTY_LOG_INITIALLY_SET on a 1 TiB slot sets one run, not 2^28
bits, and a GET_DIRTY_LOG of it reports one run.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import overload

Run = tuple[int, int]  # [start, end) of page indices


def _start(run: Run) -> int:
    return run[0]


class DirtyPages(Sequence[int]):
    """Page indices in ascending order, held as runs: what GET_DIRTY_LOG reports, or CLEAR_DIRTY_LOG cleared.

    A value: equal to any sequence of the same indices (a tuple an expectation names, the live kernel's)."""

    __slots__ = ("_counts", "runs")

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self.runs: tuple[Run, ...] = tuple(runs)
        counts, total = [], 0
        for s, e in self.runs:
            total += e - s
            counts.append(total)
        self._counts: tuple[int, ...] = tuple(counts)  # pages up to and including each run

    @classmethod
    def of(cls, indices: Iterable[int]) -> DirtyPages:
        """From page indices in any order (duplicates once)."""
        runs: list[list[int]] = []
        for i in sorted(set(indices)):
            if runs and runs[-1][1] == i:
                runs[-1][1] = i + 1
            else:
                runs.append([i, i + 1])
        return cls((s, e) for s, e in runs)

    def __len__(self) -> int:
        return self._counts[-1] if self._counts else 0

    def __iter__(self) -> Iterator[int]:
        for s, e in self.runs:
            yield from range(s, e)

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[int, ...]: ...
    def __getitem__(self, i: int | slice) -> int | tuple[int, ...]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            return tuple(islice(self, start, stop, step))
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("page index out of range")
        r = bisect_right(self._counts, i)
        before = self._counts[r - 1] if r else 0
        return self.runs[r][0] + i - before

    def __contains__(self, page: object) -> bool:
        if not isinstance(page, int):
            return False
        r = bisect_right(self.runs, page, key=_start) - 1
        return r >= 0 and page < self.runs[r][1]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DirtyPages):
            return self.runs == other.runs
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.runs)

    def __repr__(self) -> str:
        return f"DirtyPages({list(self.runs)!r})"

    def __str__(self) -> str:
        """The pages as a list, or as ranges where a list would be long: "[0, 1, 5]", "[0..268435455]"."""
        if len(self) <= 64:
            return str(list(self))
        return "[" + ", ".join(f"{s}..{e - 1}" if e - s > 1 else str(s) for s, e in self.runs[:16]) + (", …" if len(self.runs) > 16 else "") + "]"


class DirtyBitmap:
    """memslot->dirty_bitmap: the one mutable part of a slot table (mark_page_dirty() sets bits in it)."""

    __slots__ = ("_count", "_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._count = 0

    def copy(self) -> DirtyBitmap:
        other = DirtyBitmap()
        other._starts, other._ends, other._count = self._starts.copy(), self._ends.copy(), self._count
        return other

    def __len__(self) -> int:
        """The number of bits set."""
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __contains__(self, page: int) -> bool:
        r = bisect_right(self._starts, page) - 1
        return r >= 0 and page < self._ends[r]

    def __iter__(self) -> Iterator[int]:
        for s, e in zip(self._starts, self._ends, strict=True):
            yield from range(s, e)

    def add(self, page: int) -> None:
        """set_bit_le(): one page dirty."""
        self.set_range(page, page + 1)

    def set_range(self, start: int, end: int) -> None:
        """Bits [start, end) set, merged with the runs they touch."""
        if start >= end:
            return
        starts, ends = self._starts, self._ends
        a = bisect_left(ends, start)  # the first run ending at or after start: it touches or follows
        b = bisect_right(starts, end)  # runs starting at or before end touch
        if a < b:
            start, end = min(start, starts[a]), max(end, ends[b - 1])
            self._count -= sum(e - s for s, e in zip(starts[a:b], ends[a:b], strict=True))
        starts[a:b], ends[a:b] = [start], [end]
        self._count += end - start

    def clear_range(self, start: int, end: int) -> DirtyPages:
        """Bits [start, end) cleared; the pages that were set there."""
        if start >= end:  # nothing to clear (KVM_CLEAR_DIRTY_LOG with num_pages 0): no run is split
            return DirtyPages()
        starts, ends = self._starts, self._ends
        a = bisect_right(ends, start)  # the first run ending after start
        b = bisect_left(starts, end)  # runs starting before end overlap
        if a >= b:
            return DirtyPages()
        cleared = [(max(s, start), min(e, end)) for s, e in zip(starts[a:b], ends[a:b], strict=True)]
        keep_s, keep_e = [], []
        if starts[a] < start:  # the part of the first run before the range stays
            keep_s.append(starts[a])
            keep_e.append(start)
        if ends[b - 1] > end:  # and the part of the last run after it
            keep_s.append(end)
            keep_e.append(ends[b - 1])
        starts[a:b], ends[a:b] = keep_s, keep_e
        self._count -= sum(e - s for s, e in cleared)
        return DirtyPages(cleared)

    def clear(self) -> None:
        self._starts.clear()
        self._ends.clear()
        self._count = 0

    def pages(self) -> DirtyPages:
        """The bits set now, as a value (a snapshot of the bitmap)."""
        return DirtyPages(zip(self._starts, self._ends, strict=True))
