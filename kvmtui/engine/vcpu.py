"""One guest access by a vCPU: through the sptes and the fault path (native) or the emulator.

Native (hardware + MMU): the pages are taken in order; a page whose spte permits the access needs
nothing; otherwise it faults. A fault that installs an spte lets the access go on; one that ends in
-EFAULT or SIGBUS ends it; one that needs emulation hands the whole access to the emulator, which then
does every fragment by its own rules (kvm-semantics.md h).
Emulated: every access goes through the instruction emulator, as CPL0 code does on this host.

This is the hot loop of every long trace: enum members are compared by identity and their text read from
`_value_` (a plain attribute; `.value` and `str()` go through Python-level enum code), and each record is
built once, directly.
"""

from __future__ import annotations

from collections.abc import Sequence

from .addresses import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, split_at_pages
from .calls import KernelCall, make_call
from .emulator import AccessDone, MmioRead, emulate_access
from .kvm import Kvm, Vcpu
from .memslots import MemSlot
from .mmu import page_fault
from .mmu_internal import PfResult
from .records import SpteChange, SpteState, StepRecord
from .uapi import KVM_EXIT_DIRTY_RING_FULL, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_MMIO
from .values import builder
from .vocabulary import OP_OF_ACCESS, AccessKind, AccessPath, Outcome

# StepRecord(...), SpteChange(...), AccessDone(...) as plain functions (values.builder): one or more per access
_record, _spte_change, _done = builder(StepRecord), builder(SpteChange), builder(AccessDone)
_WRITE, _FETCH = AccessKind.WRITE, AccessKind.FETCH
_OK, _MMIO = Outcome.OK, Outcome.MMIO
_NONE, _RW, _RO, _WP = SpteState.NONE, SpteState.RW, SpteState.RO, SpteState.WP
_FIXED, _EMULATE, _EFAULT = PfResult.FIXED, PfResult.EMULATE, PfResult.EFAULT
_HIT_NOTE = "translated by the existing spte: KVM is not involved"
_HIT_RET = {st: f"spte {st._value_}: no exit" for st in SpteState}  # a hit's return, by the spte's state: spelled once
_CPL0 = "emulated access path (CPL0 code on this host)"
# What KVM_RUN hands to userspace for an access that ends this way (None: it does not return).
_EXIT_REASON = {Outcome.MMIO.value: KVM_EXIT_MMIO, Outcome.INTERNAL_ERROR.value: KVM_EXIT_INTERNAL_ERROR,
                Outcome.DIRTY_RING_FULL.value: KVM_EXIT_DIRTY_RING_FULL}


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
    """The access as the guest's instruction makes it: the hardware alone when the sptes allow it, else
    KVM's fault path (native) or its instruction emulator (emulated)."""
    sptes = kvm.sptes
    native = path == "native"
    gfn = gpa >> PAGE_SHIFT
    if (gpa & PAGE_MASK) + size <= PAGE_SIZE:
        spte = sptes.get(gfn)
        if spte is not None and native and kind is not _FETCH:
            st = spte.state
            if st is _RW or (kind is not _WRITE and (st is _RO or st is _WP)):  # spte_permits(), inlined: the hot test
                # An spte hit: the hardware does the access alone, KVM is not involved. Written here rather than
                # in a function of its own: most accesses of a long trace are hits, and a call with seven
                # arguments was a tenth of one.
                slot = kvm.memslots.search_memslots(gfn)
                assert slot is not None, "an spte that permits access always belongs to a slot"
                base = slot.userspace_addr if slot.gmem_hva is None else slot.gmem_hva  # slot.native_hva(gfn), inlined
                hva = base + ((gfn - slot.base_gfn) << PAGE_SHIFT) + (gpa & PAGE_MASK)
                if kind is _WRITE:
                    kvm.host.write(hva, value.to_bytes(size, "little"))  # type: ignore[union-attr]
                    got = value
                    args = {"vcpu": vcpu_id, "gpa": gpa, "size": size, "value": value}
                else:
                    got = int.from_bytes(kvm.host.read(hva, size), "little")
                    args = {"vcpu": vcpu_id, "gpa": gpa, "size": size}
                return _record(
                    OP_OF_ACCESS[kind], args, _OK,
                    (make_call("(hardware)", f"{kind._value_} gpa={hex(gpa)}, {size} bytes", _HIT_RET[st], _HIT_NOTE),),
                    (), None, (_spte_change(gfn, st, st),), (), (), got, slot.id, hva, spte.pfn,
                )
        frags: Sequence[tuple[int, int]] = ((gpa, size),)
        before: tuple[SpteState, ...] = (_NONE if spte is None else spte.state,)
    else:
        frags = split_at_pages(gpa, size)
        state = sptes.state
        before = tuple(state(f >> PAGE_SHIFT) for f, _ in frags)
    vcpu = kvm.vcpu(vcpu_id)
    data = (value or 0).to_bytes(size, "little") if kind is _WRITE else b""
    # The slot of the first page and where its bytes are (the MMU's view natively, userspace_addr for the
    # emulator: §i F4), found once: the record names them, and the hardware's access through the sptes uses
    # them (an access never changes the memslots).
    slot0 = kvm.memslots.search_memslots(gfn)
    hva0 = None if slot0 is None else (slot0.native_hva(gfn) if native else slot0.hva_of(gfn)) + (gpa & PAGE_MASK)
    if native:
        done = _native_access(kvm, vcpu, kind, gpa, size, data, frags, before, hva0, mmio_read)
    else:
        done = emulate_access(kvm, vcpu, kind, gpa, size, data, mmio_read, _CPL0, [], [])
    return _access_record(kvm, vcpu_id, kind, gpa, size, value, frags, before, slot0, hva0, done)


def _native_access(
    kvm: Kvm, vcpu: Vcpu, kind: AccessKind, gpa: int, size: int, data: bytes,
    frags: Sequence[tuple[int, int]], before: tuple[SpteState, ...], hva0: int | None, mmio_read: MmioRead,
) -> AccessDone:
    """The MMU's way, page by page: kvm_mmu_page_fault() for each page whose spte does not allow the access.

    A fetch takes the same fault path as a read: __kvm_faultin_pfn() asks hva_to_pfn() for write access only
    when fault->write, so a fetch through a writable slot over host memory without PROT_WRITE is mapped like
    a read of it (kvm-semantics.md h, measured on this machine)."""
    write = kind is _WRITE
    fetch = kind is _FETCH
    get = kvm.sptes.get
    chain: list[KernelCall] = []
    dirtied: list[tuple[int, int]] = []
    for fgpa, _ in frags:
        spte = get(fgpa >> PAGE_SHIFT)
        if spte is not None and (spte.state is _RW or (not write and (spte.state is _RO or spte.state is _WP))):  # spte_permits(), inlined
            continue
        f = page_fault(kvm, vcpu, fgpa, write, fetch, chain)
        if f.dirtied:
            dirtied += f.dirtied
        if f.result is _FIXED:
            if f.dirtied and kvm.vm.dirty_ring_size and kvm.vm.ring(vcpu.id).soft_full:
                # kvm_dirty_ring_check_request() on the way back in: the vCPU stops before the instruction
                # is retried, so the write does not land (kvm-semantics §i F11)
                return _done(Outcome.DIRTY_RING_FULL, tuple(chain), (), b"", tuple(dirtied))
            continue
        if f.result is _EMULATE:
            return emulate_access(kvm, vcpu, kind, gpa, size, data, mmio_read, f"page fault at {hex(fgpa)} asked for emulation", chain, dirtied)
        return _done(Outcome.EFAULT if f.result is _EFAULT else Outcome.HWPOISON, tuple(chain), (), b"", tuple(dirtied))
    # Every page has an spte that allows the access: the hardware completes it.
    result = _through_sptes(kvm, frags, write, data, hva0)
    if not chain:
        states = "/".join(s._value_ for s in before)
        chain.append(make_call("(hardware)", f"{kind._value_} gpa={gpa:#x}, {size} bytes", f"spte {states}: no exit", _HIT_NOTE))
    return _done(_OK, tuple(chain), (), result, tuple(dirtied) if dirtied else ())


def _access_record(
    kvm: Kvm, vcpu_id: int, kind: AccessKind, gpa: int, size: int, value: int | None,
    frags: Sequence[tuple[int, int]], before: tuple[SpteState, ...], slot: MemSlot | None, hva: int | None, done: AccessDone,
) -> StepRecord:
    """The record of an access that went through KVM: what it returned, and the sptes of its pages after."""
    gfn0 = gpa >> PAGE_SHIFT
    sptes = kvm.sptes
    spte0 = sptes.get(gfn0)
    write = kind is _WRITE
    outcome = done.outcome._value_
    got = None  # the access did not complete
    if outcome == "ok" or outcome == "mmio":
        got = value if write else int.from_bytes(done.data, "little")
    if len(frags) == 1:
        spte: tuple[SpteChange, ...] = (_spte_change(gfn0, before[0], _NONE if spte0 is None else spte0.state),)
    else:
        spte = tuple(_spte_change(f >> PAGE_SHIFT, b, sptes.state(f >> PAGE_SHIFT)) for (f, _), b in zip(frags, before, strict=True))
    # positional, in the field order: op, args, outcome, chain, exits, exit_reason, spte, dirtied, slot_changes,
    # value, slot, hva, pfn (the record is built once per step: keywords cost more)
    return _record(
        OP_OF_ACCESS[kind],
        {"vcpu": vcpu_id, "gpa": gpa, "size": size, "value": value} if write else {"vcpu": vcpu_id, "gpa": gpa, "size": size},
        done.outcome, done.chain, done.exits, _EXIT_REASON.get(outcome), spte,
        tuple(dict.fromkeys(done.dirtied)) if done.dirtied else (), (),
        got, slot.id if slot else None, hva, spte0.pfn if spte0 is not None else None,
    )


def _through_sptes(kvm: Kvm, frags: Sequence[tuple[int, int]], write: bool, data: bytes, hva0: int | None) -> bytes:
    """The access done by the hardware through present sptes: host memory is read or written directly.
    hva0 is where the first page's bytes are; a later page's slot is looked up."""
    out = b""
    pos = 0
    host = kvm.host
    hva = hva0
    for fgpa, flen in frags:
        if pos:
            gfn = fgpa >> PAGE_SHIFT
            slot = kvm.memslots.search_memslots(gfn)
            assert slot is not None, "an spte that permits access always belongs to a slot"
            hva = slot.native_hva(gfn) + (fgpa & PAGE_MASK)
        assert hva is not None, "an spte that permits access always belongs to a slot"
        if write:
            host.write(hva, data[pos : pos + flen])
        else:
            out += host.read(hva, flen)
        pos += flen
    return out
