"""The x86 MMU's page-fault path (arch/x86/kvm/mmu.c, paging_tmpl.h) for one gfn.

The model is the shadow MMU of this machine's host (nested PVM: shadow paging, no TDP) with guest page
tables that map every gpa to itself, their PTEs starting clean (Accessed/Dirty clear), as the live harness
builds them (kvm-semantics.md h):

- the guest walk of a faulting write sets the Dirty bit of the guest PTE (FNAME(update_accessed_dirty_bits));
  it stays set (Kvm.gpte_dirty).
- a read or fetch fault keeps write permission in the spte only when that guest PTE is dirty
  (FNAME(protect_clean_gpte) strips ACC_WRITE_MASK from a clean one) and hva_to_pfn() could map the host
  page writable (present and writable in the VMM's page tables: never the shared zero page, never a
  read-only slot). So a first-touch read maps `ro` and logs nothing; a read after the page was written
  and its spte zapped maps `rw` and make_spte() calls mark_page_dirty_in_slot() (live case
  dirtylog_read_fault_guest_pte_dirty; issue 13's dirty-log miss).
- a write fault maps `rw`; in a dirty-logged slot it calls mark_page_dirty.
- write-protection for dirty logging turns `rw` into `wp`; the next write faults and restores `rw`.
"""

from __future__ import annotations

from .addresses import PAGE_SHIFT
from .calls import KernelCall, errno_call, error_call, make_call, route_call
from .guest_memfd import gmem_fault
from .host import ZERO_PFN, HvaToPfn, PfnError, hva_to_pfn
from .kvm import Kvm, Vcpu
from .memslots import MemSlot
from .mmu_internal import EFAULT, EMULATE, FIXED, HWPOISON, Fault, PfResult
from .mmu_state import Spte
from .records import SpteState
from .uapi import KVM_MEM_READONLY
from .values import builder

_spte, _fault = builder(Spte), builder(Fault)  # Spte(...), Fault(...) as plain functions (values.builder)
_RW, _RO, _WP, _MMIO = SpteState.RW, SpteState.RO, SpteState.WP, SpteState.MMIO
_NEEDS_IO = PfnError.NEEDS_IO  # read once: an Enum class attribute costs ~100 ns a lookup, and every fault asked


# (write, fetch) -> the fault's error code as the chain shows it
_ERROR_CODE = {(True, False): "PFERR_WRITE|PFERR_USER", (False, True): "PFERR_FETCH|PFERR_USER",
               (False, False): "PFERR_READ|PFERR_USER", (True, True): "PFERR_WRITE|PFERR_USER"}


def page_fault(kvm: Kvm, vcpu: Vcpu, gpa: int, write: bool, fetch: bool, chain: list[KernelCall]) -> Fault:
    """kvm_mmu_page_fault() for the page of gpa, as the era handles it: a cached mmio spte first, then the
    guest walk, the memslot, the pfn (kvm_faultin_pfn), and the spte (FNAME(fetch) -> mmu_set_spte).
    The calls it makes go onto `chain`.

    Numbers are written with hex(n) on this path, the same text as f"{n:#x}" without parsing a format spec
    (a fault writes about eight)."""
    gfn = gpa >> PAGE_SHIFT
    spte = kvm.sptes.get(gfn)
    if spte is not None and spte.state is _MMIO and handle_mmio_page_fault(kvm, gpa, spte, chain):
        return EMULATE
    names = kvm.names
    chain.append(make_call(names.page_fault, f"cr2_or_gpa={hex(gpa)}, error_code={_ERROR_CODE[write, fetch]}"))
    gpte_dirty = _walk_addr(kvm, gfn, write)
    slot = kvm.memslots.search_memslots(gfn)
    chain.append(make_call(names.gfn_to_memslot, f"gfn={hex(gfn)}", f"slot {slot.id}" if slot else "NULL"))
    if slot is None:
        return _noslot_fault(kvm, vcpu, gfn, chain)
    if slot.gmem_hva is not None:
        return gmem_fault(kvm, slot, gfn, write, chain)
    if write and slot.flags & KVM_MEM_READONLY:  # slot.readonly, without the property call
        return _readonly_write_fault(kvm, slot, gfn, chain)
    r = kvm_faultin_pfn(kvm, slot, gfn, write, chain)
    if r.error is not None:
        return kvm_handle_error_pfn(kvm, r.error, chain)
    assert r.pfn is not None
    return mmu_set_spte(kvm, vcpu, slot, gfn, write, gpte_dirty, r.pfn, r.writable, chain)


def handle_mmio_page_fault(kvm: Kvm, gpa: int, spte: Spte, chain: list[KernelCall]) -> bool:
    """A cached mmio spte: emulate without looking up a memslot (True), or, modern, a stale one of an older
    memslot generation: zap it and fault normally (False)."""
    if kvm.profile.mmio_spte_generation and spte.gen != kvm.memslots.generation:
        chain.append(
            make_call("handle_mmio_page_fault", f"addr={gpa:#x}", "RET_PF_INVALID",
                       note=f"mmio spte of generation {spte.gen}, memslots are at {kvm.memslots.generation}: stale, fault normally")
        )
        kvm.sptes.zap(gpa >> PAGE_SHIFT)
        return False
    chain.append(
        route_call("handle_mmio_page_fault", f"addr={gpa:#x}", kvm.profile.name_of("ret_mmio_emulate"),
                   note="cached mmio spte: emulate without looking up a memslot")
    )
    return True


def _walk_addr(kvm: Kvm, gfn: int, write: bool) -> bool:
    """FNAME(walk_addr_generic): whether the guest PTE was dirty before this fault. A faulting write sets its
    Dirty bit (FNAME(update_accessed_dirty_bits)); the walk comes before the memslot lookup, so the bit is set
    whatever the gpa holds. (Not a chain entry: it matters only to a later read fault, whose set_spte note
    says so.)"""
    gpte_dirty = kvm.gpte_dirty
    if gfn in gpte_dirty:
        return True
    if write:
        gpte_dirty.add(gfn)
    return False


def _readonly_write_fault(kvm: Kvm, slot: MemSlot, gfn: int, chain: list[KernelCall]) -> Fault:
    """The seed: the read-only decision is taken from the slot flag alone, before any host lookup."""
    n = kvm.names
    chain.append(error_call(n.gfn_to_hva, f"slot={slot.id}, gfn={hex(gfn)}, write=1", n.hva_ro_bad, note="write to a KVM_MEM_READONLY slot"))
    chain.append(error_call(n.gfn_to_pfn, f"gfn={hex(gfn)}", n.pfn_ro_fault))
    chain.append(
        route_call(n.handle_error, f"pfn={n.pfn_ro_fault}", n.ret_emulate, key=True,
                   note="no spte installed and no mmio info cached: later reads still hit the ROM")
    )
    return EMULATE


def kvm_faultin_pfn(kvm: Kvm, slot: MemSlot, gfn: int, write: bool, chain: list[KernelCall]) -> HvaToPfn:
    """__gfn_to_hva_memslot() then hva_to_pfn(), first without waiting for I/O; when that would wait (async
    pf, or KVM_PFN_ERR_NEEDS_IO), again synchronously: the guest has not enabled async page faults."""
    p = kvm.profile
    hva = slot.userspace_addr + ((gfn - slot.base_gfn) << PAGE_SHIFT)  # slot.hva_of(gfn)
    chain.append(make_call(kvm.names.gfn_to_hva, f"slot={slot.id}, gfn={hex(gfn)}, write={1 if write else 0}", hex(hva)))
    map_writable = not slot.flags & KVM_MEM_READONLY  # not slot.readonly
    r = hva_to_pfn(p, kvm.host, hva, write, map_writable, chain, nowait=True)
    if r.async_ or r.error is _NEEDS_IO:
        chain.append(
            make_call(p.name_of("async_pf"), "", "false",
                       note="the guest has not enabled async page faults: fault the page in synchronously")
        )
        r = hva_to_pfn(p, kvm.host, hva, write, map_writable, chain, nowait=False)
    return r


def kvm_handle_error_pfn(kvm: Kvm, error: PfnError, chain: list[KernelCall]) -> Fault:
    """An error pfn: SIGBUS for a poisoned page, else KVM_RUN returns -EFAULT."""
    n = kvm.profile.name_of
    if error is PfnError.HWPOISON:
        chain.append(
            route_call(n("handle_error"), f"pfn={n('pfn_hwpoison')}", n("ret_retry"), bad=True,
                       note="kvm_send_hwpoison_signal(): SIGBUS (BUS_MCEERR_AR) to the vCPU thread")
        )
        return HWPOISON
    chain.append(errno_call(n("handle_error"), f"pfn={n('pfn_fault')}", "EFAULT", bad=True, note="KVM_RUN returns -EFAULT"))
    return EFAULT


def mmu_set_spte(
    kvm: Kvm, vcpu: Vcpu, slot: MemSlot, gfn: int, write: bool, gpte_dirty: bool, pfn: int, host_writable: bool,
    chain: list[KernelCall],
) -> Fault:
    """Install the spte. FNAME(protect_clean_gpte): a read or fetch through a clean guest PTE loses
    ACC_WRITE_MASK; through a dirty one it keeps it, and make_spte() then maps the page writable if
    hva_to_pfn() said it may, and marks it dirty in the slot (mark_page_dirty_in_slot)."""
    writable = write or (gpte_dirty and host_writable)
    kvm.sptes.install(gfn, _spte(_RW if writable else _RO, pfn))
    names = kvm.names
    chain.append(
        make_call(names.set_spte, f"gfn={hex(gfn)}, pfn={hex(pfn)}, {'writable' if writable else 'read-only'}",
                   names.ret_fixed, "" if write else _spte_note(slot, write, gpte_dirty, writable, pfn))
    )
    if writable:
        d = kvm.mark_page_dirty(slot, gfn, vcpu.id)
        if d is not None:
            chain.append(kvm.dirty_call(vcpu.id, d))
            return _fault(PfResult.FIXED, (d,))
    return FIXED


def _spte_note(slot: MemSlot, write: bool, gpte_dirty: bool, writable: bool, pfn: int) -> str:
    """Why the spte is mapped as it is, for a read or fetch fault."""
    if write:
        return ""
    if slot.flags & KVM_MEM_READONLY:  # slot.readonly, without the property call (every read fault asks)
        return "read-only slot: mapped without W"
    if pfn == ZERO_PFN:
        return "the shared zero page, mapped without W"
    if not gpte_dirty:
        return "read through a clean guest PTE: mapped without W until the first write"
    if writable:
        return "read through a dirty guest PTE of a writable host page: mapped writable"
    return "the host page is not writable in the VMM's page tables: mapped without W"


def _noslot_fault(kvm: Kvm, vcpu: Vcpu, gfn: int, chain: list[KernelCall]) -> Fault:
    p = kvm.profile
    n = p.name_of
    gen = kvm.memslots.generation
    vcpu.mmio_gfn, vcpu.mmio_gen = gfn, gen
    if p.mmio_spte_generation:
        # enable_mmio_caching is the kvm.mmio_caching module parameter: a host setting, not the era's.
        caching = p.enable_mmio_caching and kvm.settings.mmio_caching
        if caching:
            kvm.sptes.install(gfn, _spte(SpteState.MMIO, None, gen))
        noslot = make_call if caching else route_call  # RET_PF_CONTINUE goes on; RET_PF_EMULATE routes to the emulator
        chain.append(noslot(n("handle_noslot"), f"gfn={gfn:#x}", "RET_PF_CONTINUE" if caching else "RET_PF_EMULATE",
                                note="vcpu_cache_mmio_info()" + ("" if caching else "; mmio_caching=N: no mmio spte")))
        if caching:
            chain.append(route_call("mark_mmio_spte", f"gfn={gfn:#x}, gen={gen}", "RET_PF_EMULATE", note="mmio spte tagged with the memslot generation"))
        return EMULATE
    chain.append(error_call(n("gfn_to_hva"), f"slot=NULL, gfn={gfn:#x}", n("hva_bad")))
    chain.append(error_call(n("gfn_to_pfn"), f"gfn={gfn:#x}", n("pfn_noslot")))
    chain.append(make_call(n("handle_noslot"), f"pfn={n('pfn_noslot')}", "false", note="vcpu_cache_mmio_info()"))
    kvm.sptes.install(gfn, _spte(SpteState.MMIO, None, gen))
    chain.append(route_call("set_mmio_spte", f"gfn={gfn:#x}", "0 = re-enter", note="the guest faults again on the mmio spte"))
    chain.append(route_call("handle_mmio_page_fault", f"gfn={gfn:#x}", "RET_MMIO_PF_EMULATE"))
    return EMULATE


def spte_permits(spte: Spte | None, write: bool) -> bool:
    """Would the hardware complete this access through the spte without a fault?"""
    if spte is None:
        return False
    st = spte.state
    return st is _RW or (not write and (st is _RO or st is _WP))
