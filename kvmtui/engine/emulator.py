"""The instruction emulator's guest-memory accesses (arch/x86/kvm/x86.c, emulator_read_write()).

The emulator splits an access at page boundaries and handles each fragment on its own: RAM fragments are
copied to or from host memory (writes are dirty-logged); a fragment that cannot be done in the kernel
(no slot, a read-only slot for a write, a host mapping that faults) becomes an MMIO fragment, one
KVM_EXIT_MMIO each. An instruction fetch that cannot be done is an emulation failure.
"""

from __future__ import annotations

from collections.abc import Callable

from .addresses import PAGE_SHIFT, PAGE_SIZE, page_base, page_offset, split_at_pages
from .calls import KernelCall, errno_call, exit_call, make_call
from .kvm import Kvm, Vcpu
from .records import MmioExit
from .uapi import KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_MMIO
from .values import builder, fast_dataclass
from .vocabulary import AccessKind, Outcome

MmioRead = Callable[[int, int], bytes]  # (phys_addr, len) -> the bytes userspace answers


@fast_dataclass(frozen=True, slots=True)
class AccessDone:
    """What an access did inside KVM (the emulator's, or the MMU's way): how it ended, the calls on its path,
    its MMIO exits, the bytes a read or fetch got (complete only when outcome is ok or mmio), pages dirtied."""

    outcome: Outcome
    chain: tuple[KernelCall, ...]
    exits: tuple[MmioExit, ...]
    data: bytes
    dirtied: tuple[tuple[int, int], ...]


# AccessDone(...), MmioExit(...) as plain functions (values.builder): one or more per emulated access
_done, _mmio_exit = builder(AccessDone), builder(MmioExit)


def emulate_access(
    kvm: Kvm, vcpu: Vcpu, kind: AccessKind, gpa: int, size: int, data: bytes, mmio_read: MmioRead, why: str,
    chain: list[KernelCall], dirtied: list[tuple[int, int]],
) -> AccessDone:
    """x86_emulate_instruction() for the access. Its calls and the pages it dirties are added to `chain` and
    `dirtied`: what the access did before it came here (a page fault asking for emulation) comes first."""
    chain.append(make_call("x86_emulate_instruction", f"{kind._value_} gpa={hex(gpa)}, {size} bytes", "", note=why))
    frags = split_at_pages(gpa, size)
    if len(frags) > 1:
        chain.append(make_call("emulator_read_write", f"gpa={gpa:#x}, bytes={size}", f"{len(frags)} fragments", note="split at the page boundary"))
    exits: list[MmioExit] = []
    out = bytearray()
    pos = 0
    write = kind is AccessKind.WRITE
    for fgpa, flen in frags:
        chunk = data[pos : pos + flen] if write else b""
        pos += flen
        done, ro_write = _in_kernel(kvm, vcpu, kind, fgpa, flen, chunk, chain, out, dirtied)
        if done:
            continue
        if kind is AccessKind.FETCH:
            chain.append(
                exit_call("handle_emulation_failure", "", KVM_EXIT_INTERNAL_ERROR, bad=True,
                           note="suberror KVM_INTERNAL_ERROR_EMULATION: cannot fetch an instruction from MMIO")
            )
            return _done(Outcome.INTERNAL_ERROR, tuple(chain), tuple(exits), bytes(out), tuple(dirtied))
        answer = chunk if write else mmio_read(fgpa, flen)
        exits.append(_mmio_exit(fgpa, flen, answer, write))
        if not write:
            out += answer
        chain.append(
            exit_call("vcpu_mmio_write" if write else "vcpu_mmio_read", f"gpa={hex(fgpa)}, len={flen}", KVM_EXIT_MMIO,
                       key=ro_write, note="no in-kernel device: exit to userspace" + (" (read-only slot)" if ro_write else ""))
        )
    return _done(Outcome.MMIO if exits else Outcome.OK, tuple(chain), tuple(exits), bytes(out), tuple(dirtied))


def _in_kernel(
    kvm: Kvm, vcpu: Vcpu, kind: AccessKind, fgpa: int, flen: int, chunk: bytes,
    chain: list[KernelCall], out: bytearray, dirtied: list[tuple[int, int]],
) -> tuple[bool, bool]:
    """One fragment as emulator_read_write_onepage() tries it in the kernel: (done, a write to a read-only
    slot). Not done: it becomes an MMIO fragment (or, for a fetch, an emulation failure)."""
    gfn = fgpa >> PAGE_SHIFT
    if kvm.vcpu_mmio_info_valid(vcpu, gfn):
        chain.append(make_call("vcpu_match_mmio_gpa", f"gpa={fgpa:#x}", "true", note="gfn cached as MMIO by an earlier no-slot fault"))
        return False, False
    n = kvm.names
    write = kind is AccessKind.WRITE
    if write:
        # emulator_read_write_onepage() -> vcpu_mmio_gva_to_gpa() walks the guest page tables for a
        # write: the PTE's Dirty bit is set, whatever the gpa turns out to hold.
        kvm.gpte_dirty.add(gfn)
    slot = kvm.memslots.search_memslots(gfn)
    fn = n.write_guest if write else ("kvm_fetch_guest_virt" if kind is AccessKind.FETCH else n.read_guest)
    if slot is None:
        chain.append(errno_call(fn, f"gpa={hex(fgpa)}, len={flen}", "EFAULT", note=f"{n.hva_bad}: no slot"))
        return False, False
    if write and slot.readonly:
        chain.append(errno_call(fn, f"gpa={hex(fgpa)}, len={flen}", "EFAULT", note=f"__gfn_to_hva_many(write=1) = {n.hva_ro_bad}"))
        return False, True
    hva = slot.hva_of(gfn) + page_offset(fgpa)
    before = kvm.host.page(hva)
    r = kvm.host.get_user_pages(hva, write, nowait=False)  # copy_{to,from}_user faults it in
    if r.pfn is None:
        chain.append(errno_call(fn, f"gpa={fgpa:#x}, len={flen}, hva={hva:#x}", "EFAULT", note=f"copy_{'to' if write else 'from'}_user failed: {r.error}"))
        return False, False
    if before is None or before.pfn != r.pfn:
        # The host page changed under the guest (faulted in, or COW from the zero page).
        kvm.mmu_notifier_invalidate(page_base(hva), page_base(hva) + PAGE_SIZE)
    note = "through userspace_addr, not the guest_memfd (kvm-semantics §i F4)" if slot.gmem_hva is not None else ""
    if not write:
        out += kvm.host.read(hva, flen)
        chain.append(make_call(fn, f"gpa={fgpa:#x}, len={flen}, hva={hva:#x}", "0", note=note))
        return True, False
    kvm.host.write(hva, chunk)
    d = kvm.mark_page_dirty(slot, gfn, vcpu.id)
    chain.append(make_call(fn, f"gpa={fgpa:#x}, len={flen}, hva={hva:#x}", "0", note=note))
    if d is not None:
        dirtied.append(d)
        chain.append(kvm.dirty_call(vcpu.id, d))
    return True, False
