"""The VMM's address space, as much of mm/ as hva_to_pfn() leans on.

Mappings (what the VMM mmapped, by name) are split into VMAs by mprotect/munmap. Pages are sparse: a page
that was never touched is not stored at all, and its content is the mapping's initial image, so a 1 TiB
mapping costs nothing until it is used. Host pfns are handed out in order on first touch, so every run of
the same steps gives the same pfns.

Memory is held as ranges, not pages: a page the guest or the VMM touched has an entry of its own
(`pages`), and what a bulk operation (madvise, evict, poison, mprotect, munmap) did to pages nobody had
touched is one PageRun per range (`runs`), whatever its size: poisoning or evicting 1 TiB is one interval
and costs O(VMAs + runs + touched pages in the range), never O(pages). A page's own entry wins over a
run that covers it. The per-access path pays one dict lookup and, only where runs exist, one bisect.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import replace
from enum import StrEnum
from typing import Literal

from .addresses import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE
from .calls import KernelCall, error_call, make_call, route_call
from .profiles import Profile
from .values import builder, fast_dataclass

Prot = Literal["r", "rw", "none"]
Backing = Literal["anon", "file"]

HVA_LAYOUT_BASE = 0x7F0000000000
ZERO_PFN = 0x1FE0  # the shared zero page: what a read of untouched anonymous memory maps
FIRST_PFN = 0x100000  # host pfns handed out from here on first touch
_ZERO_PAGE = bytes(PAGE_SIZE)


@fast_dataclass(frozen=True, slots=True)
class Mapping:
    """One mmap() the VMM made at setup: its name, place, protection, backing and initial bytes."""

    name: str
    hva: int
    size: int
    prot: Prot
    backing: Backing
    fill: int = 0
    image: bytes = b""  # bytes at offset 0 (data: or file:), the rest is `fill`

    @property
    def end(self) -> int:
        return self.hva + self.size

    def initial_page(self, page_hva: int) -> bytes:
        off = page_hva - self.hva
        page = bytes([self.fill]) * PAGE_SIZE if self.fill else _ZERO_PAGE
        if off < len(self.image):
            chunk = self.image[off : off + PAGE_SIZE]
            page = chunk + page[len(chunk) :]
        return page

    def initial_span(self, page_hva: int, lo: int, hi: int) -> bytes:
        """initial_page(page_hva)[lo:hi], without building the page: accesses touch a few bytes of it."""
        n = hi - lo
        base = bytes([self.fill]) * n if self.fill else bytes(n)
        at = page_hva - self.hva + lo
        if at < len(self.image):
            chunk = self.image[at : at + n]
            base = chunk + base[len(chunk) :]
        return base

    def prefilled(self, page_hva: int) -> bool:
        """Anonymous pages the VMM wrote at setup (fill or data) are real pages, not the zero page."""
        return bool(self.fill) or page_hva - self.hva < len(self.image)


@fast_dataclass(frozen=True, slots=True)
class Vma:
    """A vm_area_struct of the VMM: [start, end) of one mapping, with its protection (find_vma() answers one)."""

    start: int
    end: int
    prot: Prot
    mapping: Mapping

    @property
    def vm_read(self) -> bool:
        return self.prot != "none"

    @property
    def vm_write(self) -> bool:
        return self.prot == "rw"


@fast_dataclass(frozen=True, slots=True)
class HostPage:
    """A page that has been touched: whether it is resident, under which pfn, and its bytes."""

    pfn: int | None = None  # None: not resident (never faulted in, evicted, or dropped)
    writable: bool = False  # the host PTE maps it writable (after a write or COW)
    data: bytes | None = None  # bytes written at [data_at, data_at+len(data)); the rest is the base image
    data_at: int = 0
    dropped: bool = False  # MADV_DONTNEED on anonymous memory: the base content is zeros from now on
    poisoned: bool = False
    needs_io: bool = False  # content is in the page cache or swap, not in memory


@fast_dataclass(frozen=True, slots=True)
class PageRun:
    """Pages [lo, hi) (page numbers) that one bulk operation left in one state. Page k has the template's
    flags and, where the template has a pfn, pfn + (k - lo): pfns handed out to a range are consecutive,
    in page order, exactly as one-by-one allocation would give them. Templates never hold data."""

    lo: int
    hi: int
    page: HostPage

    def at(self, key: int) -> HostPage:
        p = self.page
        return p if p.pfn is None or key == self.lo else replace(p, pfn=p.pfn + key - self.lo)

    def cut(self, lo: int, hi: int) -> PageRun:
        return PageRun(lo, hi, self.at(lo))

    def joins(self, nxt: PageRun) -> bool:
        """Whether nxt continues this run: adjacent, same flags, pfns (if any) still consecutive."""
        a, b = self.page, nxt.page
        if self.hi != nxt.lo or replace(a, pfn=None) != replace(b, pfn=None):
            return False
        return (a.pfn is None) == (b.pfn is None) and (a.pfn is None or b.pfn == a.pfn + self.hi - self.lo)


class PfnError(StrEnum):
    FAULT = "pfn_fault"
    HWPOISON = "pfn_hwpoison"
    NOSLOT = "pfn_noslot"
    RO_FAULT = "pfn_ro_fault"
    NEEDS_IO = "pfn_needs_io"


@fast_dataclass(frozen=True, slots=True)
class GupResult:
    """What get_user_pages() gave for one hva: the pfn and whether it is mapped writable, or why not."""

    pfn: int | None  # None on failure
    writable: bool
    error: str = ""  # "no vma", "EFAULT", "EHWPOISON", "needs I/O"


_page, _gup = builder(HostPage), builder(GupResult)  # HostPage(...), GupResult(...) as plain functions: one per fault
_GUP_NOT_PRESENT = GupResult(None, False, "not present and writable")
_GUP_NOT_WRITABLE = GupResult(None, False, "not writable")
# A read of untouched anonymous memory maps the shared zero page: one state and one answer for every such page.
_ZERO_PAGE_STATE = HostPage(ZERO_PFN, False)
_GUP_ZERO_PAGE = GupResult(ZERO_PFN, False)


def vma_is_valid(vma: Vma, write_fault: bool) -> bool:
    """virt/kvm/kvm_main.c (3.7+): may the fault be retried asynchronously?"""
    if not vma.vm_read:
        return False
    return not (write_fault and not vma.vm_write)


class HostMemory:
    """The VMM process's memory: VMAs over named mappings, and the pages touched so far."""

    __slots__ = ("_run_starts", "_starts", "_top", "_vmas", "mappings", "next_pfn", "pages", "runs")

    def __init__(self) -> None:
        self.mappings: dict[str, Mapping] = {}
        self._vmas: list[Vma] = []
        self._starts: list[int] = []
        self.pages: dict[int, HostPage] = {}  # keyed by hva >> PAGE_SHIFT: pages touched one by one
        self.runs: list[PageRun] = []  # sorted, disjoint: what bulk operations did to untouched pages
        self._run_starts: list[int] = []
        self.next_pfn = FIRST_PFN
        self._top = 0  # the highest mapping end so far: laying out n mappings stays linear

    # -- setup --------------------------------------------------------------------------------------
    def next_free_hva(self) -> int:
        """Mappings are laid out upward from HVA_LAYOUT_BASE, one unmapped guard page apart."""
        if not self.mappings:
            return HVA_LAYOUT_BASE
        return max(HVA_LAYOUT_BASE, ((self._top + PAGE_MASK) & ~PAGE_MASK) + PAGE_SIZE)

    def mmap(self, mapping: Mapping) -> None:
        if mapping.name in self.mappings:
            raise ValueError(f"mapping {mapping.name!r} exists")
        if mapping.hva & PAGE_MASK or mapping.size <= 0:
            raise ValueError(f"mapping {mapping.name!r}: hva must be page aligned and size positive")
        if self.vmas_in(mapping.hva, mapping.hva + _page_up(mapping.size)):
            raise ValueError(f"mapping {mapping.name!r} at {mapping.hva:#x} overlaps another mapping")
        self.mappings[mapping.name] = mapping
        self._top = max(self._top, mapping.end)
        self._insert(Vma(mapping.hva, mapping.hva + _page_up(mapping.size), mapping.prot, mapping))

    # -- VMAs ---------------------------------------------------------------------------------------
    def find_vma(self, hva: int) -> Vma | None:
        i = bisect_right(self._starts, hva) - 1
        if i >= 0:
            v = self._vmas[i]
            if hva < v.end:
                return v
        return None

    def vmas_in(self, start: int, end: int) -> list[Vma]:
        i = max(bisect_right(self._starts, start) - 1, 0)
        out = []
        while i < len(self._vmas) and self._vmas[i].start < end:
            if self._vmas[i].end > start:
                out.append(self._vmas[i])
            i += 1
        return out

    @property
    def vmas(self) -> list[Vma]:
        return self._vmas

    def _insert(self, vma: Vma) -> None:
        i = bisect_right(self._starts, vma.start)
        self._vmas.insert(i, vma)
        self._starts.insert(i, vma.start)

    def _carve(self, start: int, end: int) -> list[Vma]:
        """Split VMAs at start and end, remove the part inside, and return the removed pieces."""
        removed: list[Vma] = []
        if start >= end:  # a zero-length request changes nothing (it used to leave an empty VMA behind)
            return removed
        for v in self.vmas_in(start, end):
            i = self._vmas.index(v)
            del self._vmas[i]
            del self._starts[i]
            if v.start < start:
                self._insert(replace(v, end=start))
            if v.end > end:
                self._insert(replace(v, start=end))
            removed.append(replace(v, start=max(v.start, start), end=min(v.end, end)))
        return removed

    # -- pages --------------------------------------------------------------------------------------
    def page(self, hva: int) -> HostPage | None:
        return self._state(hva >> PAGE_SHIFT)

    def _state(self, key: int) -> HostPage | None:
        """The page's own entry, else what a run says, else None (never touched)."""
        p = self.pages.get(key)
        if p is None and self.runs:
            i = bisect_right(self._run_starts, key) - 1
            if i >= 0 and key < self.runs[i].hi:
                return self.runs[i].at(key)
        return p

    def _alloc_pfn(self) -> int:
        pfn = self.next_pfn
        self.next_pfn += 1
        return pfn

    def _base_page(self, page_hva: int, p: HostPage | None) -> bytes:
        if p is not None and p.dropped:
            return _ZERO_PAGE
        vma = self.find_vma(page_hva)
        return _ZERO_PAGE if vma is None else vma.mapping.initial_page(page_hva)

    def page_bytes(self, page_hva: int) -> bytes:
        p = self.pages.get(page_hva >> PAGE_SHIFT)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(page_hva >> PAGE_SHIFT)
        base = self._base_page(page_hva, p)
        if p is None or p.data is None:
            return base
        return base[: p.data_at] + p.data + base[p.data_at + len(p.data) :]

    def _span(self, page_hva: int, p: HostPage | None, lo: int, hi: int) -> bytes:
        """page_bytes(page_hva)[lo:hi] for the page whose state is p, built only over [lo, hi)."""
        if p is not None and p.dropped:
            base = bytes(hi - lo)
        else:
            vma = self.find_vma(page_hva)
            base = bytes(hi - lo) if vma is None else vma.mapping.initial_span(page_hva, lo, hi)
        if p is None or p.data is None:
            return base
        d0 = p.data_at
        d1 = d0 + len(p.data)
        if d1 <= lo or d0 >= hi:
            return base
        a, b = max(lo, d0), min(hi, d1)
        return base[: a - lo] + p.data[a - d0 : b - d0] + base[b - lo :]

    def read(self, hva: int, n: int) -> bytes:
        """Bytes at [hva, hva+n) within one page (the caller splits at page boundaries)."""
        off = hva & PAGE_MASK
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(hva >> PAGE_SHIFT)
        if p is not None:
            if p is _ZERO_PAGE_STATE:  # the shared zero page (a read of untouched anonymous memory): all zeros
                return bytes(n)
            data = p.data
            if data is not None:
                at = p.data_at
                end = at + len(data)
                if at <= off and off + n <= end:
                    return data[off - at : off - at + n]  # the common case: reading back what was written
                if off < end and at < off + n:  # partly what was written: the page's bytes built over the span
                    return self._span(hva - off, p, off, off + n)
                # beside what was written (another word of the page): the bytes below it, as for an unwritten page
            if p.dropped:
                return bytes(n)
        vma = self.find_vma(hva)  # nothing written here: the mapping's initial bytes (what _span does, inlined)
        return bytes(n) if vma is None else vma.mapping.initial_span(hva - off, off, off + n)

    def resident(self, hva: int) -> bool:
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(hva >> PAGE_SHIFT)
        return p is not None and p.pfn is not None

    def needs_io(self, hva: int, vma: Vma) -> bool:
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(hva >> PAGE_SHIFT)
        if p is not None:
            return p.pfn is None and p.needs_io
        return vma.mapping.backing == "file"

    def get_user_pages_fast_only(self, hva: int) -> GupResult:
        """__get_user_pages_fast(addr, 1, write=1): only a present, host-writable page succeeds."""
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(hva >> PAGE_SHIFT)
        if p is None or p.pfn is None or not p.writable or p.poisoned:
            return _GUP_NOT_PRESENT
        vma = self.find_vma(hva)
        if vma is None or not vma.vm_write:
            return _GUP_NOT_WRITABLE
        return _gup(p.pfn, True)

    def get_user_pages(self, hva: int, write: bool, nowait: bool) -> GupResult:
        """get_user_pages(): fault the page in (unless it needs I/O and nowait) and pin it."""
        vma = self.find_vma(hva)
        if vma is None:
            return _gup(None, False, "no vma")
        prot = vma.prot
        if prot == "none" or (write and prot != "rw"):  # not vm_read, or a write without vm_write (read here once)
            return _gup(None, False, "EFAULT")
        key = hva >> PAGE_SHIFT
        p = self.pages.get(key)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(key)
        if p is not None and p.poisoned:
            return _gup(None, False, "EHWPOISON")
        if nowait and (p.pfn is None and p.needs_io if p is not None else vma.mapping.backing == "file"):  # needs_io()
            return _gup(None, False, "needs I/O")
        if write:
            p = self._faultin_write(p)
        elif p is None or p.pfn is None:
            p = self._faultin_read(p, vma, key << PAGE_SHIFT)
        self.pages[key] = p
        return _GUP_ZERO_PAGE if p is _ZERO_PAGE_STATE else _gup(p.pfn, p.writable)

    # The new page states are built field by field: dataclasses.replace() cost more than the rest of a fault.
    def _faultin_write(self, p: HostPage | None) -> HostPage:
        """A write fault: the page is faulted in, or COWed away from the zero page, and mapped writable."""
        if p is None:  # a first touch, the commonest fault of all
            new = self.next_pfn  # _alloc_pfn(), inlined
            self.next_pfn = new + 1
            return _page(new, True)
        pfn = p.pfn
        if pfn is None or pfn == ZERO_PFN:
            pfn = self._alloc_pfn()
        return _page(pfn, True, p.data, p.data_at, p.dropped, p.poisoned, False)

    def _faultin_read(self, p: HostPage | None, vma: Vma, page_hva: int) -> HostPage:
        """A read fault of a page with no pfn: the shared zero page for untouched anonymous memory, else a
        page of its own (one the VMM filled, or read back from the page cache / swap)."""
        anon = vma.mapping.backing == "anon"
        if p is None:
            if anon and not vma.mapping.prefilled(page_hva):
                return _ZERO_PAGE_STATE
            return _page(self._alloc_pfn(), anon and vma.vm_write)
        if anon and (p.dropped or not vma.mapping.prefilled(page_hva)) and p.data is None:
            return _page(ZERO_PFN, False, p.data, p.data_at, p.dropped, p.poisoned, p.needs_io)
        return _page(self._alloc_pfn(), anon and vma.vm_write, p.data, p.data_at, p.dropped, p.poisoned, False)

    def write(self, hva: int, data: bytes) -> None:
        """Store bytes within one page. Only the written span is kept, so touched pages stay small."""
        off = hva & PAGE_MASK
        key = hva >> PAGE_SHIFT
        p = self.pages.get(key)
        if p is None and self.runs:  # only where a bulk operation left runs
            p = self._state(key)
        if p is None:
            self.pages[key] = _page(data=data, data_at=off)
            return
        end = off + len(data)
        if p.data is None or (off <= p.data_at and p.data_at + len(p.data) <= end):  # nothing written, or all of it written over
            lo, span = off, data
        else:
            lo, hi = min(off, p.data_at), max(end, p.data_at + len(p.data))
            cur = self._span(hva - off, p, lo, hi)
            span = cur[: off - lo] + data + cur[end - lo :]
        # `dropped` stays: it says the base under the written span is zeros, not the mapping's image.
        self.pages[key] = _page(p.pfn, p.writable, span, lo, p.dropped, p.poisoned, p.needs_io)

    # -- the VMM's own changes (each returns the hva range the mmu notifier must invalidate) ----------
    # Each walks the VMAs, runs and touched pages of the range, never its pages: see the module docstring.
    def mprotect(self, start: int, size: int, prot: Prot, try_change_writable: bool = False) -> tuple[int, int] | None:
        """change_protection(): without PROT_WRITE the PTEs lose write permission. Back to PROT_WRITE, a PTE
        that may be written without a write fault regains it at once: a dirty page of a shared file mapping
        (every era: dirty_accountable / can_change_pte_writable()) and, with MM_CP_TRY_CHANGE_WRITABLE
        (v6.0+, `try_change_writable`), an exclusive anonymous page. The rest wait for a write fault.
        A VMA that already has the protection is left alone (mprotect_fixup(): newflags == oldflags), so
        nothing is invalidated there. Returns the hva span whose PTEs changed, or None."""
        end = start + _page_up(size)
        if all(v.prot == prot for v in self.vmas_in(start, end)):
            return None
        pieces = self._carve(start, end)
        changed = [piece for piece in pieces if piece.prot != prot]
        if not changed:  # a zero-length request
            return None
        for piece in pieces:
            self._insert(replace(piece, prot=prot))
        for piece in changed:
            backing = piece.mapping.backing
            for key in self._keys_in(piece.start, piece.end):
                p = self.pages[key]
                if prot != "rw":
                    if p.writable:
                        self.pages[key] = replace(p, writable=False)
                    continue
                if p.writable or p.pfn is None or p.pfn == ZERO_PFN or p.poisoned:
                    continue
                if (backing == "anon" and try_change_writable) or (backing == "file" and p.data is not None):
                    self.pages[key] = replace(p, writable=True)
        return min(p.start for p in changed), max(p.end for p in changed)

    def munmap(self, start: int, size: int) -> tuple[int, int]:
        end = start + _page_up(size)
        self._carve(start, end)
        for key in self._keys_in(start, end):
            del self.pages[key]
        self._set_runs(start >> PAGE_SHIFT, end >> PAGE_SHIFT, [])
        return start, end

    def madvise_dontneed(self, start: int, size: int) -> tuple[int, int]:
        def dontneed(p: HostPage | None, vma: Vma, a: int, b: int) -> HostPage | None:
            if vma.mapping.backing == "anon":
                return HostPage(dropped=True, poisoned=p.poisoned if p else False)
            if p is not None and p.pfn is not None:
                # Shared file mapping: the PTE goes, the page cache keeps the page and its bytes.
                return replace(p, writable=False)
            return p

        end = start + _page_up(size)
        self._bulk(start, end, dontneed)
        return start, end

    def evict(self, start: int, size: int, swap: bool = True) -> tuple[int, int] | None:
        """Reclaim: file pages are written back and dropped from the page cache; anonymous pages go to swap,
        and only if the host has swap (shrink_folio_list(): without it add_to_swap() fails and the page stays
        mapped, so no mmu notifier runs). Returns the hva span that was unmapped, or None."""
        span: list[int] = []

        def evict(p: HostPage | None, vma: Vma, a: int, b: int) -> HostPage | None:
            if vma.mapping.backing == "anon" and not swap:
                return p
            if p is None:
                if vma.mapping.backing == "file" or not vma.mapping.prefilled(a << PAGE_SHIFT):
                    return None  # nothing resident to evict
                p = HostPage()
            span[:] = [span[0] if span else a, b]
            return replace(p, pfn=None, writable=False, needs_io=True)

        end = start + _page_up(size)
        self._bulk(start, end, evict, split_prefill=True)
        return (span[0] << PAGE_SHIFT, span[1] << PAGE_SHIFT) if span else None

    def poison(self, start: int, size: int) -> tuple[int, int]:
        def poison(p: HostPage | None, vma: Vma, a: int, b: int) -> HostPage | None:
            p = p or HostPage()
            pfn = p.pfn
            if not pfn:  # a block of consecutive pfns for the range, in page order
                pfn = self.next_pfn
                self.next_pfn += b - a
            return replace(p, poisoned=True, pfn=pfn, writable=False)

        end = start + _page_up(size)
        self._bulk(start, end, poison)
        return start, end

    def _bulk(self, start: int, end: int, fn, need_vma: bool = True, split_prefill: bool = False) -> None:
        """Apply fn(state, vma, lo, hi) to every page of [start, end), in page order: once per touched page
        and once per stretch of untouched or run pages (whose result becomes one run). fn sees a run's
        state at its first page; pfns it hands out are for all hi - lo pages. Holes between VMAs are
        skipped when need_vma (nothing is there to act on)."""
        pieces: list[tuple[int, int, Vma | None]]
        if need_vma:
            pieces = [(max(start, v.start), min(end, v.end), v) for v in self.vmas_in(start, end)]
        else:
            pieces = [(start, end, None)]
        for lo_hva, hi_hva, vma in pieces:
            lo, hi = lo_hva >> PAGE_SHIFT, hi_hva >> PAGE_SHIFT
            cuts = set()
            if split_prefill and vma is not None:
                m = vma.mapping
                cuts.add((m.hva + _page_up(len(m.image))) >> PAGE_SHIFT if not m.fill else hi)
            new_runs: list[PageRun] = []
            for a, b, run in self._segments(lo, hi, cuts):
                if run == "page":
                    out = fn(self.pages[a], vma, a, b)
                    if out is None:
                        del self.pages[a]
                    else:
                        self.pages[a] = out
                    continue
                before = run.at(a) if run is not None else None
                out = fn(before, vma, a, b)
                if out is not None:
                    new_runs.append(PageRun(a, b, out))
            self._set_runs(lo, hi, new_runs)

    def _segments(self, lo: int, hi: int, cuts: set[int] = frozenset()):  # type: ignore[assignment]
        """(a, b, what) over [lo, hi) in page order: what is "page" for a touched page (b = a + 1), the
        PageRun covering [a, b), or None for pages never touched. Also split at `cuts`."""
        keys = sorted(self._keys_in(lo << PAGE_SHIFT, hi << PAGE_SHIFT))
        stops = sorted(c for c in cuts if lo < c < hi)
        ki = 0
        for a, b, run in self._run_pieces(lo, hi, stops):
            while a < b:
                if ki < len(keys) and keys[ki] < b:
                    k = keys[ki]
                    ki += 1
                    if a < k:
                        yield a, k, run
                    yield k, k + 1, "page"
                    a = k + 1
                else:
                    yield a, b, run
                    a = b

    def _run_pieces(self, lo: int, hi: int, stops: list[int]):
        runs = self.runs
        pos = lo
        i = max(bisect_right(self._run_starts, lo) - 1, 0)
        bounds: list[tuple[int, int, PageRun | None]] = []
        while i < len(runs) and runs[i].lo < hi:
            run = runs[i]
            if run.hi > pos:
                if run.lo > pos:
                    bounds.append((pos, run.lo, None))
                bounds.append((max(run.lo, pos), min(run.hi, hi), run))
                pos = min(run.hi, hi)
            i += 1
        if pos < hi:
            bounds.append((pos, hi, None))
        for a, b, r in bounds:
            for c in stops:
                if a < c < b:
                    yield a, c, r
                    a = c
            yield a, b, r

    def _set_runs(self, lo: int, hi: int, new: list[PageRun]) -> None:
        """Make the runs over [lo, hi) exactly `new` (sorted, inside [lo, hi)); runs outside stay, cut at
        lo and hi; neighbours that continue each other are merged, so repeated operations stay one run."""
        runs = self.runs
        i = bisect_right(self._run_starts, lo) - 1
        if i < 0 or runs[i].hi <= lo:
            i += 1
        j = i
        while j < len(runs) and runs[j].lo < hi:
            j += 1
        if i == j and not new:
            return
        middle: list[PageRun] = []
        if i < j and runs[i].lo < lo:
            middle.append(runs[i].cut(runs[i].lo, lo))
        middle.extend(new)
        if i < j and runs[j - 1].hi > hi:
            middle.append(runs[j - 1].cut(hi, runs[j - 1].hi))
        if i > 0:
            i -= 1
            middle.insert(0, runs[i])
        if j < len(runs):
            middle.append(runs[j])
            j += 1
        merged: list[PageRun] = []
        for r in middle:
            if merged and merged[-1].joins(r):
                merged[-1] = PageRun(merged[-1].lo, r.hi, merged[-1].page)
            else:
                merged.append(r)
        runs[i:j] = merged
        self._run_starts[i:j] = [r.lo for r in merged]

    def _keys_in(self, start: int, end: int) -> list[int]:
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if hi - lo <= len(self.pages):
            return [k for k in range(lo, hi) if k in self.pages]
        return [k for k in self.pages if lo <= k < hi]

    def count_pages(self, start: int, end: int) -> tuple[int, int, int]:
        """(resident, not resident, poisoned) among the pages of [start, end) that were ever touched or
        acted on: O(runs + touched pages), for views."""
        res = out = psn = 0
        for a, b, run in self._segments(start >> PAGE_SHIFT, (end + PAGE_MASK) >> PAGE_SHIFT):
            p = self.pages[a] if run == "page" else (run.page if run is not None else None)
            if p is None:
                continue
            n = b - a
            if p.poisoned:
                psn += n
            elif p.pfn is None:
                out += n
            else:
                res += n
        return res, out, psn

    # -- snapshots ----------------------------------------------------------------------------------
    def copy(self) -> HostMemory:
        other = HostMemory.__new__(HostMemory)
        other.mappings = self.mappings.copy()
        other._vmas = self._vmas.copy()
        other._starts = self._starts.copy()
        other.pages = self.pages.copy()
        other.runs = self.runs.copy()
        other._run_starts = self._run_starts.copy()
        other.next_pfn = self.next_pfn
        other._top = self._top
        return other


def _page_up(n: int) -> int:
    return (n + PAGE_MASK) & ~PAGE_MASK


@fast_dataclass(frozen=True, slots=True)
class HvaToPfn:
    """What hva_to_pfn() returned: a pfn or an error pfn, whether it may be mapped writable, and async."""

    pfn: int | None
    error: PfnError | None
    writable: bool
    async_: bool


_pfn_result = builder(HvaToPfn)  # HvaToPfn(...) as a plain function (values.builder): one per fault
_PFN_ZERO_PAGE = HvaToPfn(ZERO_PFN, None, False, False)


def hva_to_pfn(
    profile: Profile, host: HostMemory, hva: int, write_fault: bool, map_writable: bool, chain: list[KernelCall],
    nowait: bool,
) -> HvaToPfn:
    """hva_to_pfn() of the era: fast GUP, slow GUP (nowait when async is allowed), then the VMA checks.
    The calls it makes go onto `chain`."""
    addr = f"addr={hex(hva)}"  # hex(n): f"{n:#x}" without parsing a format spec (the fault path is hot)
    # fast path: only when the caller can use a writable page
    if profile.has_fast_gup_step and (write_fault or map_writable):
        r = host.get_user_pages_fast_only(hva)
        if r.pfn is not None:
            chain.append(make_call("hva_to_pfn_fast", addr, f"pfn {hex(r.pfn)}"))
            return _pfn_result(r.pfn, None, True, False)
        chain.append(make_call("hva_to_pfn_fast", addr, "false"))
    r = host.get_user_pages(hva, write_fault, nowait)
    chain.append(_slow_call(profile.has_fast_gup_step, addr, write_fault, nowait, r, map_writable))
    if r.pfn is not None:
        if r is _GUP_ZERO_PAGE:  # a read of untouched anonymous memory: the shared zero page's one answer
            return _PFN_ZERO_PAGE
        return _pfn_result(r.pfn, None, r.writable and map_writable, False)
    return _hva_to_pfn_failed(profile, host, hva, write_fault, nowait, r.error, chain)


def _slow_call(split: bool, addr: str, write_fault: bool, nowait: bool, r: GupResult, map_writable: bool) -> KernelCall:
    """The slow GUP's chain entry: hva_to_pfn_slow (3.7+: `split`), or 3.6's get_user_page_nowait /
    get_user_pages_fast, with the pfn it got or "0 pages" and why."""
    fn = "hva_to_pfn_slow" if split else ("get_user_page_nowait" if nowait else "get_user_pages_fast")
    args = f"{addr}, write={1 if write_fault else 0}, nowait" if nowait else f"{addr}, write={1 if write_fault else 0}"
    pfn = r.pfn
    if pfn is None:
        return make_call(fn, args, "0 pages", r.error)
    if pfn == ZERO_PFN:
        return make_call(fn, args, f"pfn {hex(pfn)}", "zero page: mapped read-only")
    return make_call(fn, args, f"pfn {hex(pfn)}", "read fault mapped writable" if r.writable and map_writable and not write_fault else "")


def _hva_to_pfn_failed(
    profile: Profile, host: HostMemory, hva: int, write_fault: bool, nowait: bool, error: str, chain: list[KernelCall]
) -> HvaToPfn:
    """GUP got no page: a poisoned one, no VMA, or a VMA that says whether the fault may go async."""
    n = profile.name_of
    if error == "EHWPOISON":
        chain.append(error_call("hva_to_pfn", "", n("pfn_hwpoison"), note="page is hardware-poisoned"))
        return _pfn_result(None, PfnError.HWPOISON, False, False)
    vma = host.find_vma(hva)
    if vma is None:
        chain.append(make_call("find_vma_intersection", f"addr={hva:#x}", "NULL"))
        chain.append(error_call("hva_to_pfn", "", n("pfn_fault"), note="no VMA at this hva"))
        return _pfn_result(None, PfnError.FAULT, False, False)
    if profile.vma_is_valid:
        valid = vma_is_valid(vma, write_fault)
        chain.append(make_call("vma_is_valid", f"vma prot={vma.prot}, write_fault={1 if write_fault else 0}", "true" if valid else "false"))
    else:
        valid = vma.vm_write  # 3.6 asked only for VM_WRITE before going async
        chain.append(make_call("vma->vm_flags & VM_WRITE", f"vma prot={vma.prot}", "VM_WRITE" if valid else "0"))
    if nowait and valid:
        if "pfn_needs_io" in profile.names:
            chain.append(error_call("hva_to_pfn", "", n("pfn_needs_io")))
            return _pfn_result(None, PfnError.NEEDS_IO, False, True)
        chain.append(route_call("hva_to_pfn", "", n("pfn_fault"), ret=f"{n('pfn_fault')}, *async = true"))
        return _pfn_result(None, PfnError.FAULT, False, True)
    chain.append(error_call("hva_to_pfn", "", n("pfn_fault"), bad=True))
    return _pfn_result(None, PfnError.FAULT, False, False)
