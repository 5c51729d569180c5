"""Persistent (immutable, structure-sharing) containers for the memslot table.

A commit makes a new table and leaves the old one whole, as kvm_swap_active_memslots() swaps in a new
`struct kvm_memslots` (and as rust-vmm's GuestMemoryMmap is replaced, never edited). Copying a 32,764-slot
array on every commit would make creating the slots quadratic, so both containers here are short lists of
short lists: an update copies one inner list and the outer one, O(sqrt n), and shares every other inner
list with the version it came from. The lists are private and never changed once a version holds them:
that is what makes each version immutable (lists rather than tuples because list.copy() + insert() is the
cheapest copy-on-write Python has). The one exception is an append at the end (slots made in gpa order, a
whole layout's worth): the last chunk of a SortedChunks grows in place, past what any older version reads
(each version knows how much of its last chunk is its own), so that append copies nothing.
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
        # built without __init__ (its default to test): one per commit
        other = _new_id_array(IdArray)
        other._root = root
        return other


# Shared by every IdArray for ids never set: never changed (a set copies a node before writing into it).
_EMPTY_LEAF: list = [None] * ID_FAN
_EMPTY_MIDDLE: list = [_EMPTY_LEAF] * ID_FAN
_new_id_array = object.__new__


class SortedChunks(Generic[T]):
    """An immutable sequence of values kept sorted by an int key (a slot's base_gfn), in chunks of at most
    CHUNK_MAX. Lookups bisect the chunks' first keys, then the chunk: O(log n). Inserting or removing copies
    one chunk and the outer lists: O(sqrt n). Appending after the last value copies nothing (a new chunk, every
    CHUNK_MAX appends, copies the outer lists).

    The last chunk may be longer than this version: a version appended from this one grew it in place. This
    version's values are its first `_tail` (the other chunks are whole), so every read of the last chunk is
    bounded by `_tail` (`_size`), and only the version whose `_tail` is the whole chunk may grow it."""

    __slots__ = ("_chunks", "_firsts", "_key", "_n", "_tail")

    def __init__(self, key: Callable[[T], int]) -> None:
        """An empty sequence ordered by key: a C-level getter (operator.attrgetter), that bisect calls O(log n)
        times."""
        self._key = key
        self._chunks: list[list[T]] = []  # sorted by key across chunks
        self._firsts: list[int] = []  # the key of each chunk's first value
        self._n = 0
        self._tail = 0  # how many values of the last chunk are this version's

    def _version(self, chunks: list[list[T]], firsts: list[int], n: int, tail: int) -> SortedChunks[T]:
        """A new version (of the same key) over these lists; built without __init__: one per commit."""
        other = _new_sorted_chunks(SortedChunks)
        other._key, other._chunks, other._firsts, other._n, other._tail = self._key, chunks, firsts, n, tail
        return other

    def _size(self, c: int) -> int:
        """How many values of chunk c are this version's: all of them but in the last chunk (see the class)."""
        return self._tail if c == len(self._chunks) - 1 else len(self._chunks[c])

    def _tail_of(self, chunks: list[list[T]]) -> int:
        """How many values of the last of these chunks (this version's, some replaced) a new version holds:
        as many as this one when it is still this version's last chunk, else all (a private copy, or a chunk
        that was not last and so is whole)."""
        if not chunks:
            return 0
        return self._tail if chunks[-1] is self._chunks[-1] else len(chunks[-1])

    def _own(self, c: int) -> list[T]:
        """A private copy of chunk c as this version holds it, to change and put in a new version."""
        return self._chunks[c][: self._size(c)]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[T]:
        chunks = self._chunks
        if not chunks or len(chunks[-1]) == self._tail:
            return chain.from_iterable(chunks)
        return chain(chain.from_iterable(islice(chunks, len(chunks) - 1)), islice(chunks[-1], self._tail))

    def floor(self, key: int) -> tuple[int, int]:
        """(chunk, index) of the last value whose key is <= key; (0, -1) when there is none."""
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return 0, -1
        chunks = self._chunks
        chunk = chunks[c]
        # _size(c), written out: floor is the lookup of every access that misses the last-used slot
        return c, bisect_right(chunk, key, 0, self._tail if c == len(chunks) - 1 else len(chunk), key=self._key) - 1

    def floor_and_next(self, key: int) -> tuple[T | None, T | None]:
        """The last value whose key is <= key and the value after it (None where there is none): floor() and
        after() in one search, for the overlap check of every new slot."""
        chunks = self._chunks
        if chunks:
            last = chunks[-1][self._tail - 1]
            if self._key(last) <= key:  # at or after the last value (slots made in gpa order): nothing to search
                return last, None
        c = bisect_right(self._firsts, key) - 1
        if c < 0:
            return None, (chunks[0][0] if chunks else None)
        chunk = chunks[c]
        size = self._size(c)
        i = bisect_right(chunk, key, 0, size, key=self._key)  # >= 1: the chunk's first key is <= key
        if i < size:
            return chunk[i - 1], chunk[i]
        return chunk[i - 1], (chunks[c + 1][0] if c + 1 < len(chunks) else None)

    def at(self, c: int, i: int) -> T:
        return self._chunks[c][i]

    def after(self, c: int, i: int) -> T | None:
        """The value after position (c, i) (i = -1: the first of chunk c), or None at the end."""
        chunks = self._chunks
        if c < len(chunks):
            if i + 1 < self._size(c):
                return chunks[c][i + 1]
            if c + 1 < len(chunks):
                return chunks[c + 1][0]
        return None

    def iter_from(self, c: int, i: int) -> Iterator[T]:
        """The values from position (c, i) on, in key order."""
        chunks = self._chunks
        if c >= len(chunks):
            return iter(())
        if c == len(chunks) - 1:
            return islice(chunks[c], max(i, 0), self._tail)
        rest = islice(chunks, c + 1, len(chunks) - 1)
        return chain(chunks[c][max(i, 0) :], chain.from_iterable(rest), islice(chunks[-1], self._tail))

    def insert(self, value: T) -> SortedChunks[T]:
        """A new sequence with value added after any values of an equal key."""
        key = self._key(value)
        chunks, tail = self._chunks, self._tail
        if not chunks:
            return self._version([[value]], [key], 1, 1)
        last = chunks[-1]
        if key >= self._key(last[tail - 1]):  # after every value (slots made in gpa order)
            if tail < CHUNK_MAX:
                if len(last) == tail:  # no version has grown the last chunk past this one: it grows in place
                    last.append(value)
                    return self._version(chunks, self._firsts, self._n + 1, tail + 1)
                chunks = chunks.copy()
                chunks[-1] = [*last[:tail], value]
                return self._version(chunks, self._firsts, self._n + 1, tail + 1)
            # a full last chunk stays full and a new one starts: appends in order fill chunks rather than split
            # them in halves
            return self._version([*chunks, [value]], [*self._firsts, key], self._n + 1, 1)
        chunks, firsts = chunks.copy(), self._firsts
        c = max(bisect_right(firsts, key) - 1, 0)
        chunk = self._own(c)
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
        return self._version(chunks, firsts, self._n + 1, self._tail_of(chunks))

    def replace_at(self, c: int, i: int, value: T) -> SortedChunks[T]:
        """A new sequence with the value at (c, i) replaced by one of the same key."""
        chunks = self._chunks.copy()
        chunk = self._own(c)
        chunk[i] = value
        chunks[c] = chunk
        return self._version(chunks, self._firsts, self._n, self._tail)

    def remove(self, c: int, i: int) -> SortedChunks[T]:
        """A new sequence without the value at position (c, i)."""
        chunks, firsts = self._chunks.copy(), self._firsts.copy()
        if self._size(c) == 1:
            del chunks[c]
            del firsts[c]
        else:
            chunk = self._own(c)
            del chunk[i]
            chunks[c] = chunk
            firsts[c] = self._key(chunk[0])
        return self._version(chunks, firsts, self._n - 1, self._tail_of(chunks))

    def position(self, key: int, match: Callable[[T], bool]) -> tuple[int, int] | None:
        """(chunk, index) of the value with this key for which match(value) is true, looking back from the
        last value of that key (equal keys are rare: only empty ranges share a base)."""
        c, i = self.floor(key)
        chunks, get = self._chunks, self._key
        while i >= 0 or c > 0:
            if i < 0:
                c -= 1
                i = len(chunks[c]) - 1  # not the last chunk: whole
                continue
            v = chunks[c][i]
            if get(v) != key:
                return None
            if match(v):
                return c, i
            i -= 1
        return None


_new_sorted_chunks = object.__new__
