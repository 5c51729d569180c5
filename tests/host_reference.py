"""The page-by-page host memory kvmtui had before ranges (issue 11): the reference the range version is checked against.

One fix is applied here as in the engine: a zero-length mprotect/munmap no longer leaves an empty VMA.

The VMM's address space, as much of mm/ as hva_to_pfn() leans on.

Mappings (what the VMM mmapped, by name) are split into VMAs by mprotect/munmap. Pages are sparse: a page
that was never touched is not stored at all, and its content is the mapping's initial image, so a 1 TiB
mapping costs nothing until it is used. Host pfns are handed out in order on first touch, so every run of
the same steps gives the same pfns.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from kvmtui.engine.addresses import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE
from kvmtui.engine.calls import KernelCall
from kvmtui.engine.profiles import Profile

Prot = Literal["r", "rw", "none"]
Backing = Literal["anon", "file"]

HVA_LAYOUT_BASE = 0x7F0000000000
ZERO_PFN = 0x1FE0  # the shared zero page: what a read of untouched anonymous memory maps
FIRST_PFN = 0x100000  # host pfns handed out from here on first touch
_ZERO_PAGE = bytes(PAGE_SIZE)


@dataclass(frozen=True, slots=True)
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

    def prefilled(self, page_hva: int) -> bool:
        """Anonymous pages the VMM wrote at setup (fill or data) are real pages, not the zero page."""
        return bool(self.fill) or page_hva - self.hva < len(self.image)


@dataclass(frozen=True, slots=True)
class Vma:
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


@dataclass(frozen=True, slots=True)
class HostPage:
    """A page that has been touched: whether it is resident, under which pfn, and its bytes."""

    pfn: int | None = None  # None: not resident (never faulted in, evicted, or dropped)
    writable: bool = False  # the host PTE maps it writable (after a write or COW)
    data: bytes | None = None  # bytes written at [data_at, data_at+len(data)); the rest is the base image
    data_at: int = 0
    dropped: bool = False  # MADV_DONTNEED on anonymous memory: the base content is zeros from now on
    poisoned: bool = False
    needs_io: bool = False  # content is in the page cache or swap, not in memory


class PfnError(StrEnum):
    FAULT = "pfn_fault"
    HWPOISON = "pfn_hwpoison"
    NOSLOT = "pfn_noslot"
    RO_FAULT = "pfn_ro_fault"
    NEEDS_IO = "pfn_needs_io"


@dataclass(frozen=True, slots=True)
class GupResult:
    pfn: int | None  # None on failure
    writable: bool
    error: str = ""  # "no vma", "EFAULT", "EHWPOISON", "needs I/O"


def vma_is_valid(vma: Vma, write_fault: bool) -> bool:
    """virt/kvm/kvm_main.c (3.7+): may the fault be retried asynchronously?"""
    if not vma.vm_read:
        return False
    return not (write_fault and not vma.vm_write)


class HostMemory:
    """The VMM process's memory: VMAs over named mappings, and the pages touched so far."""

    __slots__ = ("_starts", "_vmas", "mappings", "next_pfn", "pages")

    def __init__(self) -> None:
        self.mappings: dict[str, Mapping] = {}
        self._vmas: list[Vma] = []
        self._starts: list[int] = []
        self.pages: dict[int, HostPage] = {}  # keyed by hva >> PAGE_SHIFT
        self.next_pfn = FIRST_PFN

    # -- setup --------------------------------------------------------------------------------------
    def next_free_hva(self) -> int:
        """Mappings are laid out upward from HVA_LAYOUT_BASE, one unmapped guard page apart."""
        if not self.mappings:
            return HVA_LAYOUT_BASE
        top = max(m.end for m in self.mappings.values())
        return max(HVA_LAYOUT_BASE, ((top + PAGE_MASK) & ~PAGE_MASK) + PAGE_SIZE)

    def mmap(self, mapping: Mapping) -> None:
        if mapping.name in self.mappings:
            raise ValueError(f"mapping {mapping.name!r} exists")
        if mapping.hva & PAGE_MASK or mapping.size <= 0:
            raise ValueError(f"mapping {mapping.name!r}: hva must be page aligned and size positive")
        if self.vmas_in(mapping.hva, mapping.hva + _page_up(mapping.size)):
            raise ValueError(f"mapping {mapping.name!r} at {mapping.hva:#x} overlaps another mapping")
        self.mappings[mapping.name] = mapping
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
        return self.pages.get(hva >> PAGE_SHIFT)

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
        base = self._base_page(page_hva, p)
        if p is None or p.data is None:
            return base
        return base[: p.data_at] + p.data + base[p.data_at + len(p.data) :]

    def read(self, hva: int, n: int) -> bytes:
        """Bytes at [hva, hva+n) within one page (the caller splits at page boundaries)."""
        off = hva & PAGE_MASK
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is not None and p.data is not None and p.data_at <= off and off + n <= p.data_at + len(p.data):
            return p.data[off - p.data_at : off - p.data_at + n]  # the common case: reading back what was written
        return self.page_bytes(hva - off)[off : off + n]

    def resident(self, hva: int) -> bool:
        p = self.pages.get(hva >> PAGE_SHIFT)
        return p is not None and p.pfn is not None

    def needs_io(self, hva: int, vma: Vma) -> bool:
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is not None:
            return p.pfn is None and p.needs_io
        return vma.mapping.backing == "file"

    def get_user_pages_fast_only(self, hva: int) -> GupResult:
        """__get_user_pages_fast(addr, 1, write=1): only a present, host-writable page succeeds."""
        p = self.pages.get(hva >> PAGE_SHIFT)
        if p is None or p.pfn is None or not p.writable or p.poisoned:
            return GupResult(None, False, "not present and writable")
        vma = self.find_vma(hva)
        if vma is None or not vma.vm_write:
            return GupResult(None, False, "not writable")
        return GupResult(p.pfn, True)

    def get_user_pages(self, hva: int, write: bool, nowait: bool) -> GupResult:
        """get_user_pages(): fault the page in (unless it needs I/O and nowait) and pin it."""
        vma = self.find_vma(hva)
        if vma is None:
            return GupResult(None, False, "no vma")
        if not vma.vm_read or (write and not vma.vm_write):
            return GupResult(None, False, "EFAULT")
        key = hva >> PAGE_SHIFT
        p = self.pages.get(key)
        if p is not None and p.poisoned:
            return GupResult(None, False, "EHWPOISON")
        if nowait and self.needs_io(hva, vma):
            return GupResult(None, False, "needs I/O")
        page_hva = key << PAGE_SHIFT
        if p is None:
            p = HostPage(needs_io=vma.mapping.backing == "file")
        if write:
            if p.pfn is None or p.pfn == ZERO_PFN:
                p = replace(p, pfn=self._alloc_pfn())  # fault in, or COW away from the zero page
            p = replace(p, writable=True, needs_io=False)
        elif p.pfn is None:
            anon = vma.mapping.backing == "anon"
            if anon and (p.dropped or not vma.mapping.prefilled(page_hva)) and p.data is None:
                p = replace(p, pfn=ZERO_PFN, writable=False)
            else:
                # A page the VMM filled, or one read back from the page cache / swap.
                p = replace(p, pfn=self._alloc_pfn(), writable=anon and vma.vm_write, needs_io=False)
        self.pages[key] = p
        return GupResult(p.pfn, p.writable)

    def write(self, hva: int, data: bytes) -> None:
        """Store bytes within one page. Only the written span is kept, so touched pages stay small."""
        off = hva & PAGE_MASK
        page_hva = hva - off
        key = page_hva >> PAGE_SHIFT
        p = self.pages.get(key) or HostPage()
        if p.data is None:
            lo, hi = off, off + len(data)
        else:
            lo, hi = min(off, p.data_at), max(off + len(data), p.data_at + len(p.data))
        whole = self.page_bytes(page_hva)
        span = whole[lo:off] + data + whole[off + len(data) : hi]
        # `dropped` stays: it says the base under the written span is zeros, not the mapping's image.
        self.pages[key] = replace(p, data=span, data_at=lo)

    # -- the VMM's own changes (each returns the hva range the mmu notifier must invalidate) ----------
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
        return start, end

    def madvise_dontneed(self, start: int, size: int) -> tuple[int, int]:
        end = start + _page_up(size)
        for key in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            vma = self.find_vma(key << PAGE_SHIFT)
            if vma is None:
                continue
            p = self.pages.get(key)
            if vma.mapping.backing == "anon":
                self.pages[key] = HostPage(dropped=True, poisoned=p.poisoned if p else False)
            elif p is not None and p.pfn is not None:
                # Shared file mapping: the PTE goes, the page cache keeps the page and its bytes.
                self.pages[key] = replace(p, writable=False)
        return start, end

    def evict(self, start: int, size: int, swap: bool = True) -> tuple[int, int] | None:
        """Reclaim: file pages are written back and dropped from the page cache; anonymous pages go to swap,
        and only if the host has swap (shrink_folio_list(): without it add_to_swap() fails and the page stays
        mapped, so no mmu notifier runs). Returns the hva span that was unmapped, or None."""
        end = start + _page_up(size)
        lo = hi = None
        for key in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            page_hva = key << PAGE_SHIFT
            vma = self.find_vma(page_hva)
            if vma is None or (vma.mapping.backing == "anon" and not swap):
                continue
            p = self.pages.get(key)
            if p is None:
                if vma.mapping.backing == "file" or not vma.mapping.prefilled(page_hva):
                    continue  # nothing resident to evict
                p = HostPage()
            self.pages[key] = replace(p, pfn=None, writable=False, needs_io=True)
            lo = page_hva if lo is None else lo
            hi = page_hva + PAGE_SIZE
        return None if lo is None or hi is None else (lo, hi)

    def poison(self, start: int, size: int) -> tuple[int, int]:
        end = start + _page_up(size)
        for key in range(start >> PAGE_SHIFT, end >> PAGE_SHIFT):
            if self.find_vma(key << PAGE_SHIFT) is None:
                continue
            p = self.pages.get(key) or HostPage()
            self.pages[key] = replace(p, poisoned=True, pfn=p.pfn or self._alloc_pfn(), writable=False)
        return start, end

    def _keys_in(self, start: int, end: int) -> list[int]:
        lo, hi = start >> PAGE_SHIFT, end >> PAGE_SHIFT
        if hi - lo <= len(self.pages):
            return [k for k in range(lo, hi) if k in self.pages]
        return [k for k in self.pages if lo <= k < hi]

    # -- snapshots ----------------------------------------------------------------------------------
    def copy(self) -> HostMemory:
        other = HostMemory.__new__(HostMemory)
        other.mappings = self.mappings.copy()
        other._vmas = self._vmas.copy()
        other._starts = self._starts.copy()
        other.pages = self.pages.copy()
        other.next_pfn = self.next_pfn
        return other


def _page_up(n: int) -> int:
    return (n + PAGE_MASK) & ~PAGE_MASK


@dataclass(frozen=True, slots=True)
class HvaToPfn:
    """What hva_to_pfn() returned: a pfn or an error pfn, whether it may be mapped writable, and async."""

    pfn: int | None
    error: PfnError | None
    writable: bool
    async_: bool
    chain: tuple[KernelCall, ...]


def hva_to_pfn(
    profile: Profile, host: HostMemory, hva: int, write_fault: bool, map_writable: bool, nowait: bool
) -> HvaToPfn:
    """hva_to_pfn() of the era: fast GUP, slow GUP (nowait when async is allowed), then the VMA checks."""
    n = profile.name_of
    calls: list[KernelCall] = []
    w = int(write_fault)
    # fast path: only when the caller can use a writable page
    if profile.has_fast_gup_step and (write_fault or map_writable):
        r = host.get_user_pages_fast_only(hva)
        calls.append(KernelCall("hva_to_pfn_fast", f"addr={hva:#x}", f"pfn {r.pfn:#x}" if r.pfn is not None else "false"))
        if r.pfn is not None:
            return HvaToPfn(r.pfn, None, True, False, tuple(calls))
    slow_fn = "hva_to_pfn_slow" if profile.has_fast_gup_step else ("get_user_page_nowait" if nowait else "get_user_pages_fast")
    r = host.get_user_pages(hva, write_fault, nowait)
    writable = r.writable and map_writable
    if r.pfn is not None:
        note = "zero page: mapped read-only" if r.pfn == ZERO_PFN else ("read fault mapped writable" if writable and not write_fault else "")
        calls.append(KernelCall(slow_fn, f"addr={hva:#x}, write={w}{', nowait' if nowait else ''}", f"pfn {r.pfn:#x}", note=note))
        return HvaToPfn(r.pfn, None, writable, False, tuple(calls))
    calls.append(KernelCall(slow_fn, f"addr={hva:#x}, write={w}{', nowait' if nowait else ''}", "0 pages", note=r.error))
    if r.error == "EHWPOISON":
        return HvaToPfn(None, PfnError.HWPOISON, False, False, (*calls, KernelCall("hva_to_pfn", "", n("pfn_hwpoison"), note="page is hardware-poisoned")))
    vma = host.find_vma(hva)
    if vma is None:
        calls.append(KernelCall("find_vma_intersection", f"addr={hva:#x}", "NULL"))
        return HvaToPfn(None, PfnError.FAULT, False, False, (*calls, KernelCall("hva_to_pfn", "", n("pfn_fault"), note="no VMA at this hva")))
    if profile.vma_is_valid:
        valid = vma_is_valid(vma, write_fault)
        calls.append(KernelCall("vma_is_valid", f"vma prot={vma.prot}, write_fault={w}", "true" if valid else "false"))
    else:
        valid = vma.vm_write  # 3.6 asked only for VM_WRITE before going async
        calls.append(KernelCall("vma->vm_flags & VM_WRITE", f"vma prot={vma.prot}", "VM_WRITE" if valid else "0"))
    if nowait and valid:
        if "pfn_needs_io" in profile.names:
            return HvaToPfn(None, PfnError.NEEDS_IO, False, True, (*calls, KernelCall("hva_to_pfn", "", n("pfn_needs_io"))))
        return HvaToPfn(None, PfnError.FAULT, False, True, (*calls, KernelCall("hva_to_pfn", "", f"{n('pfn_fault')}, *async = true")))
    return HvaToPfn(None, PfnError.FAULT, False, False, (*calls, KernelCall("hva_to_pfn", "", n("pfn_fault"), bad=True)))
