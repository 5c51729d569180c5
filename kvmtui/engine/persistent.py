"""Persistent (immutable, structure-sharing) containers for the memslot table.

A commit makes a new table and leaves the old one whole, as kvm_swap_active_memslots() swaps in a new
`struct kvm_memslots` (and as rust-vmm's GuestMemoryMmap is replaced, never edited). Copying a 32,764-slot
array on every commit would make creating the slots quadratic, so both containers here are short lists of
short lists: an update copies one inner list and the outer one, O(sqrt n), and shares every other inner
list with the version it came from. The lists are private and never changed once a version holds them:
that is what makes each version immutable (lists rather than tuples because list.copy() + insert() is the
cheapest copy-on-write Python has).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from itertools import chain, islice
from typing import Generic, TypeVar

T = TypeVar("T")

ID_BITS = 5
ID_FAN = 1 << ID_BITS  # entries per leaf and per middle node of an IdArray
ID_MASK = ID_FAN - 1
CHUNK_MAX = 256  # a SortedChunks chunk splits in two above this: about sqrt(2 * 32,764)


class IdArray(Generic[T]):
    """An immutable map from small ints (slot ids) to values: a radix tree of 32-way leaves and middle nodes
    under a root that grows (1,024 ids per root entry). A set copies one leaf, one middle node and the root:
    about 80 references for 32,764 slots, where two levels of 128 copied about 256 (copying a list increfs
    every reference in it: that is what a commit pays)."""

    __slots__ = ("_root",)

    def __init__(self, root: list[list[list[T | None]]] | None = None) -> None:
        self._root: list[list[list[T | None]]] = root if root is not None else []

    def get(self, i: int) -> T | None:
        root = self._root
        r = i >> (2 * ID_BITS)
        return root[r][(i >> ID_BITS) & ID_MASK][i & ID_MASK] if 0 <= r < len(root) else None

    def set(self, i: int, value: T | None) -> IdArray[T]:
        """A new array with i mapped to value (None: unmapped); this one is unchanged."""
        r = i >> (2 * ID_BITS)
        root = self._root
        if r >= len(root):
            if value is None:
                return self
            root = [*root, *[_EMPTY_MIDDLE] * (r + 1 - len(root))]  # type: ignore[list-item]
        else:
            root = root.copy()
        middle = root[r].copy()
        m = (i >> ID_BITS) & ID_MASK
        leaf = middle[m].copy()
        leaf[i & ID_MASK] = value
        middle[m] = leaf
        root[r] = middle
        return IdArray(root)


# Shared by every IdArray for ids never set: never changed (a set copies a node before writing into it).
_EMPTY_LEAF: list = [None] * ID_FAN
_EMPTY_MIDDLE: list = [_EMPTY_LEAF] * ID_FAN


class SortedChunks(Generic[T]):
    """An immutable sequence of values kept sorted by an int key (a slot's base_gfn), in chunks of at most
    CHUNK_MAX. Lookups bisect the chunks' first keys, then the chunk: O(log n). Inserting or removing copies
    one chunk and the outer lists: O(sqrt n)."""

    __slots__ = ("_chunks", "_firsts", "_key", "_n")

    def __init__(self, key: Callable[[T], int], chunks: list[list[T]] | None = None, firsts: list[int] | None = None,
                 n: int = 0) -> None:
        self._key = key  # a C-level getter (operator.attrgetter): bisect calls it O(log n) times
        self._chunks: list[list[T]] = chunks if chunks is not None else []  # sorted by key across chunks
        self._firsts: list[int] = firsts if firsts is not None else []  # the key of each chunk's first value
        self._n = n

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[T]:
        return chain.from_iterable(self._chunks)

    def floor(self, key: int) -> tuple[int, int]:
        """(chunk, index) of the last value whose key is <= key; (0, -1) when there is none."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return 0, -1
        return c, bisect_right(self._chunks[c], key, key=self._key) - 1

    def floor_and_next(self, key: int) -> tuple[T | None, T | None]:
        """The last value whose key is <= key and the value after it (None where there is none): floor() and
        after() in one search, for the overlap check of every new slot."""
        chunks = self._chunks
        if chunks:
            last = chunks[-1][-1]
            if self._key(last) <= key:  # at or after the last value (slots made in gpa order): nothing to search
                return last, None
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None, (chunks[0][0] if chunks else None)
        chunk = chunks[c]
        i = bisect_right(chunk, key, key=self._key)  # >= 1: the chunk's first key is <= key
        if i < len(chunk):
            return chunk[i - 1], chunk[i]
        return chunk[i - 1], (chunks[c + 1][0] if c + 1 < len(chunks) else None)

    def at(self, c: int, i: int) -> T:
        return self._chunks[c][i]

    def after(self, c: int, i: int) -> T | None:
        """The value after position (c, i) (i = -1: the first of chunk c), or None at the end."""
        chunks = self._chunks
        if c < len(chunks):
            if i + 1 < len(chunks[c]):
                return chunks[c][i + 1]
            if c + 1 < len(chunks):
                return chunks[c + 1][0]
        return None

    def iter_from(self, c: int, i: int) -> Iterator[T]:
        """The values from position (c, i) on, in key order."""
        chunks = self._chunks
        if c >= len(chunks):
            return iter(())
        return chain(chunks[c][max(i, 0) :], chain.from_iterable(islice(chunks, c + 1, None)))

    def insert(self, value: T) -> SortedChunks[T]:
        """A new sequence with value added after any values of an equal key."""
        key = self._key(value)
        if not self._chunks:
            return SortedChunks(self._key, [[value]], [key], 1)
        last = self._chunks[-1]
        if key >= self._key(last[-1]):  # after every value (slots made in gpa order)
            chunks = self._chunks.copy()
            if len(last) < CHUNK_MAX:
                chunks[-1] = [*last, value]
                return SortedChunks(self._key, chunks, self._firsts, self._n + 1)
            # a full last chunk stays full and a new one starts: appends in order fill chunks rather than split
            # them in halves, so the last chunk a commit copies holds 128 values on average, not 192
            chunks.append([value])
            return SortedChunks(self._key, chunks, [*self._firsts, key], self._n + 1)
        chunks, firsts = self._chunks.copy(), self._firsts
        c = max(bisect_right(firsts, key) - 1, 0)
        chunk = chunks[c].copy()
        i = bisect_right(chunk, key, key=self._key)
        chunk.insert(i, value)
        if len(chunk) > CHUNK_MAX:
            h = len(chunk) // 2
            chunks[c : c + 1] = [chunk[:h], chunk[h:]]
            firsts = firsts.copy()
            firsts[c : c + 1] = [self._key(chunk[0]), self._key(chunk[h])]
        else:
            chunks[c] = chunk
            if i == 0:
                firsts = firsts.copy()
                firsts[c] = key
        return SortedChunks(self._key, chunks, firsts, self._n + 1)

    def replace_at(self, c: int, i: int, value: T) -> SortedChunks[T]:
        """A new sequence with the value at (c, i) replaced by one of the same key."""
        chunks = self._chunks.copy()
        chunk = chunks[c].copy()
        chunk[i] = value
        chunks[c] = chunk
        return SortedChunks(self._key, chunks, self._firsts, self._n)

    def remove(self, c: int, i: int) -> SortedChunks[T]:
        """A new sequence without the value at position (c, i)."""
        chunks, firsts = self._chunks.copy(), self._firsts.copy()
        if len(chunks[c]) == 1:
            del chunks[c]
            del firsts[c]
        else:
            chunk = chunks[c].copy()
            del chunk[i]
            chunks[c] = chunk
            firsts[c] = self._key(chunk[0])
        return SortedChunks(self._key, chunks, firsts, self._n - 1)

    def position(self, key: int, match: Callable[[T], bool]) -> tuple[int, int] | None:
        """(chunk, index) of the value with this key for which match(value) is true, looking back from the
        last value of that key (equal keys are rare: only empty ranges share a base)."""
        c, i = self.floor(key)
        chunks, get = self._chunks, self._key
        while i >= 0 or c > 0:
            if i < 0:
                c -= 1
                i = len(chunks[c]) - 1
                continue
            v = chunks[c][i]
            if get(v) != key:
                return None
            if match(v):
                return c, i
            i -= 1
        return None
