"""One guest access by a vCPU: through the sptes and the fault path (native) or the emulator.

Native (hardware + MMU): the pages are taken in order; a page whose spte permits the access needs
nothing; otherwise it faults. A fault that installs an spte lets the access go on; one that ends in
-EFAULT or SIGBUS ends it; one that needs emulation hands the whole access to the emulator, which then
does every fragment by its own rules (kvm-semantics.md h).
Emulated: every access goes through the instruction emulator, as CPL0 code does on this host.
"""

from __future__ import annotations

from typing import Literal

from .addresses import PAGE_MASK, PAGE_SHIFT, split_at_pages
from .emulator import MmioRead, emulate_access
from .kvm import Kvm
from .mmu import PfResult, page_fault, spte_permits
from .records import KernelCall, MmioExit, SpteChange, StepRecord
from .uapi import KVM_EXIT_DIRTY_RING_FULL, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_MMIO, AccessKind, Outcome

AccessPath = Literal["native", "emulated"]
_WRITE, _FETCH = AccessKind.WRITE, AccessKind.FETCH
_HIT_NOTE = "translated by the existing spte: KVM is not involved"
ACCESS_PATHS: tuple[str, ...] = ("native", "emulated")


def kvm_access(
    kvm: Kvm,
    vcpu_id: int,
    kind: AccessKind,
    gpa: int,
    size: int,
    value: int | None,
    path: AccessPath,
    mmio_read: MmioRead,
) -> StepRecord:
    write = kind is _WRITE
    sptes = kvm.sptes
    if path == "native" and kind is not _FETCH and (gpa & PAGE_MASK) + size <= 4096:
        # The hot path: a read or write of one page whose spte already allows it. The hardware does it alone.
        gfn = gpa >> PAGE_SHIFT
        spte = sptes.get(gfn)
        if spte_permits(spte, write):
            slot = kvm.memslots.search_memslots(gfn)
            assert slot is not None, "an spte that permits access always belongs to a slot"
            hva = slot.native_hva(gfn) + (gpa & PAGE_MASK)
            if write:
                kvm.host.write(hva, value.to_bytes(size, "little"))  # type: ignore[union-attr]
                got = value
            else:
                got = int.from_bytes(kvm.host.read(hva, size), "little")
            assert spte is not None  # spte_permits(None, ...) is False
            st = spte.state
            return StepRecord(
                op=kind.value,
                args={"vcpu": vcpu_id, "gpa": gpa, "size": size, "value": value} if write else {"vcpu": vcpu_id, "gpa": gpa, "size": size},
                outcome="ok",
                chain=(KernelCall("(hardware)", f"{kind.value} gpa={gpa:#x}, {size} bytes", f"spte {st.value}: no exit", note=_HIT_NOTE),),
                spte=(SpteChange(gfn, st, st),),
                value=got,
                slot=slot.id,
                hva=hva,
                pfn=spte.pfn,
            )
    vcpu = kvm.vcpu(vcpu_id)
    fetch = kind is AccessKind.FETCH
    data = (value or 0).to_bytes(size, "little") if write else b""
    frags = split_at_pages(gpa, size) if (gpa & PAGE_MASK) + size > 4096 else [(gpa, size)]
    before = [sptes.state(f[0] >> PAGE_SHIFT) for f in frags]
    chain: list[KernelCall] = []
    dirtied: list[tuple[int, int]] = []
    outcome = Outcome.OK
    exits: tuple[MmioExit, ...] = ()
    result = b""

    if path == "native":
        emulate_why = ""
        # A fetch takes the same fault path as a read: __kvm_faultin_pfn() asks hva_to_pfn() for write access
        # only when fault->write, so a fetch through a writable slot over host memory without PROT_WRITE is
        # mapped like a read of it (kvm-semantics.md h, measured on this machine).
        for fgpa, _ in frags:
            if spte_permits(sptes.get(fgpa >> PAGE_SHIFT), write):
                continue
            f = page_fault(kvm, vcpu, fgpa, write, fetch)
            chain.extend(f.chain)
            dirtied.extend(f.dirtied)
            if f.result is PfResult.FIXED:
                if f.dirtied and kvm.vm.dirty_ring_size and kvm.vm.ring(vcpu_id).soft_full:
                    # kvm_dirty_ring_check_request() on the way back in: the vCPU stops before the instruction
                    # is retried, so the write does not land (kvm-semantics §i F11)
                    outcome = Outcome.DIRTY_RING_FULL
                    break
                continue
            if f.result is PfResult.EMULATE:
                emulate_why = f"page fault at {fgpa:#x} asked for emulation"
                break
            outcome = Outcome.EFAULT if f.result is PfResult.EFAULT else Outcome.HWPOISON
            break
        else:
            # Every page has an spte that allows the access: the hardware completes it.
            result = _through_sptes(kvm, frags, write, data)
            if not chain:
                states = "/".join(str(s) for s in before)
                chain.append(KernelCall("(hardware)", f"{kind} gpa={gpa:#x}, {size} bytes", f"spte {states}: no exit", note=_HIT_NOTE))
        if emulate_why:
            em = emulate_access(kvm, vcpu, kind, gpa, size, data, mmio_read, emulate_why)
            chain.extend(em.chain)
            dirtied.extend(em.dirtied)
            outcome, exits, result = em.outcome, em.exits, em.data
    else:
        em = emulate_access(kvm, vcpu, kind, gpa, size, data, mmio_read, "emulated access path (CPL0 code on this host)")
        chain.extend(em.chain)
        dirtied.extend(em.dirtied)
        outcome, exits, result = em.outcome, em.exits, em.data

    gfn0 = gpa >> PAGE_SHIFT
    slot = kvm.memslots.search_memslots(gfn0)
    spte0 = sptes.get(gfn0)
    if outcome is Outcome.OK or outcome is Outcome.MMIO:
        got = value if write else int.from_bytes(result, "little")
    else:
        got = None
    exit_reason = {Outcome.MMIO: KVM_EXIT_MMIO, Outcome.INTERNAL_ERROR: KVM_EXIT_INTERNAL_ERROR,
                   Outcome.DIRTY_RING_FULL: KVM_EXIT_DIRTY_RING_FULL}.get(outcome)
    return StepRecord(
        op=str(kind),
        args={"vcpu": vcpu_id, "gpa": gpa, "size": size, **({"value": value} if write else {})},
        outcome=str(outcome),
        chain=tuple(chain),
        exits=tuple(exits),
        exit_reason=exit_reason,
        spte=tuple(SpteChange(f[0] >> PAGE_SHIFT, b, sptes.state(f[0] >> PAGE_SHIFT)) for f, b in zip(frags, before, strict=True)),
        dirtied=tuple(dict.fromkeys(dirtied)),
        value=got,
        slot=slot.id if slot else None,
        hva=(slot.native_hva(gfn0) if path == "native" else slot.hva_of(gfn0)) + (gpa & PAGE_MASK) if slot else None,
        pfn=spte0.pfn if spte0 is not None else None,
    )


def _through_sptes(kvm: Kvm, frags: list[tuple[int, int]], write: bool, data: bytes) -> bytes:
    """The access done by the hardware through present sptes: host memory is read or written directly."""
    out = b""
    pos = 0
    search = kvm.memslots.search_memslots
    host = kvm.host
    for fgpa, flen in frags:
        gfn = fgpa >> PAGE_SHIFT
        slot = search(gfn)
        assert slot is not None, "an spte that permits access always belongs to a slot"
        hva = slot.native_hva(gfn) + (fgpa & PAGE_MASK)
        if write:
            host.write(hva, data[pos : pos + flen])
        else:
            out += host.read(hva, flen)
        pos += flen
    return out
