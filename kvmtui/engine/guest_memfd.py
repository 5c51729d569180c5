"""guest_memfd (virt/kvm/guest_memfd.c): KVM_CREATE_GUEST_MEMFD, kvm_gmem_bind() for REGION2 slots, and the
native fault path of a gmem-only slot (kvm_gmem_get_pfn).

On this machine's default VM nothing is private (KVM_CAP_MEMORY_ATTRIBUTES = 0), so a guest_memfd slot is
used in one of two ways (kvm-semantics.md §i F1-F5):
- the file was made without GUEST_MEMFD_FLAG_MMAP: the guest ignores the file and uses userspace_addr on
  both paths, exactly like a RAM slot;
- with GUEST_MEMFD_FLAG_MMAP the slot is KVM_MEMSLOT_GMEM_ONLY: the MMU (native path) maps the file's pages
  and ignores userspace_addr, while the instruction emulator still goes through userspace_addr. The two
  paths agree only when userspace_addr is the file's own mmap.
The model keeps the bytes of an mmap-able file at the VMM's mapping of it (one place for both views).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .addresses import PAGE_MASK, PAGE_SHIFT
from .calls import KernelCall, errno_call
from .mmu_internal import FIXED, Fault
from .mmu_state import Spte
from .records import SpteState
from .uapi import EBADF, EINVAL, GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, errno_name
from .vmstate import GmemFile

if TYPE_CHECKING:  # pragma: no cover
    from .kvm import Kvm
    from .memslots import MemSlot

GMEM_SUPPORTED_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED  # KVM_CAP_GUEST_MEMFD_FLAGS = 3
OTHER_VM = "other_vm"  # a guest_memfd made by another VM: kvm_gmem_bind() refuses it
GMEM_PFN_BASE = 0x4000000  # pfns of guest_memfd pages in the model: apart from the host's page pfns
LOFF_MAX = (1 << 63) - 1


def create_errno(size: int, flags: int) -> tuple[int, str]:
    """kvm_gmem_create(): flags first, then size (a positive loff_t, page aligned). F20."""
    if flags & ~GMEM_SUPPORTED_FLAGS:
        return EINVAL, f"flag bits {flags & ~GMEM_SUPPORTED_FLAGS:#x} not supported (KVM_CAP_GUEST_MEMFD_FLAGS = {GMEM_SUPPORTED_FLAGS})"
    if size <= 0 or size > LOFF_MAX or size & PAGE_MASK:
        return EINVAL, "size must be positive and page aligned"
    return 0, ""


def gmem_host_prot(flags: int) -> str:
    """The VMM's view through its mmap: without INIT_SHARED every page is private, and a touch is SIGBUS (F3)."""
    return "rw" if flags & GUEST_MEMFD_FLAG_INIT_SHARED else "none"


def make_binder(kvm: Kvm):
    """kvm_gmem_bind() for memslots.kvm_set_memory_region: checks only; machine commits the binding."""

    def bind(slot: MemSlot, name: str | None, offset: int) -> tuple[int, tuple[KernelCall, ...], int | None]:
        size = slot.npages << PAGE_SHIFT
        args = f"slot={slot.id}, fd={name or -1}, offset={offset:#x}"

        def fail(err: int, why: str) -> tuple[int, tuple[KernelCall, ...], int | None]:
            return err, (errno_call("kvm_gmem_bind", args, errno_name(err), bad=True, note=why),), None

        f = kvm.vm.gmem.get(name) if name else None
        if name == OTHER_VM:
            return fail(EINVAL, "the guest_memfd belongs to another VM")
        if f is None or not f.fd_valid:
            return fail(EBADF, "fget(fd) failed: not an open file (fd -1)")
        if offset > LOFF_MAX or offset + size > f.size:
            return fail(EINVAL, f"offset + size ({offset + size:#x}) runs past the file's end ({f.size:#x})")
        start, end = offset >> PAGE_SHIFT, (offset >> PAGE_SHIFT) + slot.npages
        for sid, lo, hi in f.bindings:
            if lo < end and start < hi:
                return fail(EINVAL, f"pages {lo:#x}-{hi:#x} of {name} are bound by slot {sid} already")
        gmem_only = bool(f.flags & GUEST_MEMFD_FLAG_MMAP)
        note = "KVM_MEMSLOT_GMEM_ONLY: the MMU maps the file, userspace_addr is for the emulator only" if gmem_only else \
            "the file has no GUEST_MEMFD_FLAG_MMAP: guest accesses use userspace_addr (nothing is private here)"
        hva = (f.hva + offset) if gmem_only and f.hva is not None else None
        return 0, (KernelCall("kvm_gmem_bind", args, "0", note=note),), hva

    return bind


def commit_binding(kvm: Kvm, old: MemSlot | None, new: MemSlot | None) -> None:
    """Record kvm_gmem_bind() on commit and kvm_gmem_unbind() when a slot goes away."""
    files = kvm.vm.gmem
    if old is not None and old.gmem in files and (new is None or new.gmem != old.gmem):
        f = files[old.gmem]
        files[old.gmem] = _with_bindings(f, tuple(b for b in f.bindings if b[0] != old.id))
    if new is not None and new.gmem in files and (old is None or old.gmem != new.gmem):
        f = files[new.gmem]
        start = new.gmem_offset >> PAGE_SHIFT
        files[new.gmem] = _with_bindings(f, (*f.bindings, (new.id, start, start + new.npages)))


def _with_bindings(f: GmemFile, bindings: tuple[tuple[int, int, int], ...]) -> GmemFile:
    return GmemFile(f.name, f.size, f.flags, f.fd_valid, f.hva, bindings)


def gmem_fault(kvm: Kvm, slot: MemSlot, gfn: int, write: bool, chain: list[KernelCall]) -> Fault:
    """kvm_mmu_faultin_pfn() for a gmem-only slot: the pfn comes from the file (kvm_gmem_get_pfn), never from
    userspace_addr, so no host mapping is consulted (F2: works with userspace_addr 0)."""
    assert slot.gmem_hva is not None
    index = (slot.gmem_offset >> PAGE_SHIFT) + gfn - slot.base_gfn
    pfn = _gmem_pfn(kvm, slot.gmem or "", index)
    chain.append(KernelCall("kvm_gmem_get_pfn", f"slot={slot.id}, gfn={gfn:#x}, index={index:#x}", f"pfn {pfn:#x}",
                            note=f"{slot.gmem}+{index << PAGE_SHIFT:#x}: KVM_MEMSLOT_GMEM_ONLY, userspace_addr is not used"))
    state = SpteState.RW if write else SpteState.RO
    kvm.sptes.install(gfn, Spte(state, pfn))
    chain.append(KernelCall(kvm.profile.name_of("set_spte"), f"gfn={gfn:#x}, pfn={pfn:#x}, {'writable' if write else 'read-only'}",
                            "RET_PF_FIXED", note="" if write else "read through a clean guest PTE: mapped without W until the first write"))
    return FIXED


def _gmem_pfn(kvm: Kvm, name: str, index: int) -> int:
    """A stable pfn per file page: files numbered in creation order, 2^24 pages apart."""
    order = list(kvm.vm.gmem).index(name) if name in kvm.vm.gmem else 0
    return GMEM_PFN_BASE + (order << 24) + index
