"""Kernel eras as data: one engine reads these switches (kvm-semantics.md, tables a-d).

"3.6" is the tree the seed patch applied to, "3.7" the seed commit ("KVM: introduce readonly memslot"),
"modern" today's kernel as this machine's /dev/kvm runs it (v6.x source plus live measurements).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .capabilities import CAPS_BY_ERA
from .uapi import KVM_CAPS, KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY
from .vocabulary import ERAS


@dataclass(frozen=True, slots=True)
class Profile:
    """What one kernel era does: the checks, names and side effects that differ between eras (kvm-semantics.md)."""

    name: str
    title: str
    # a. KVM_SET_USER_MEMORY_REGION
    valid_flags: int
    user_mem_slots: int  # KVM_MEMORY_SLOTS (3.x) / KVM_USER_MEM_SLOTS: the ioctl's pre-check
    mem_slots_num: int  # KVM_MEM_SLOTS_NUM: user + private ids
    readonly_toggle_allowed: bool  # 3.7 accepted it (sptes not reliably re-protected); v3.9 forbade it
    uaddr_change_ignored: bool  # 3.x kept the old hva silently; modern: EINVAL
    delete_absent_ok: bool  # 3.x: deleting a never-created slot returned 0; v3.8: EINVAL
    overlap_check_every_request: bool  # 3.x ran the overlap loop for deletes and flag changes too
    mr_change_kinds: bool  # v3.8+: each request is one KVM_MR_* change (create/delete/move/flags_only) and does
    #   only that change's work; an identical request is a no-op. 3.x ran the whole update path every time.
    slot_as_id: bool  # v4.4+: the slot number carries the address space in its high 16 bits (as_id, id)
    max_gfn: int | None  # modern x86 kvm_mmu_max_gfn() on shadow paging (52-bit gpa); 3.x: no check
    # b. the fault path
    vma_is_valid: bool  # 3.7+: async needs vma_is_valid(vma, write); 3.6: VM_WRITE only
    has_fast_gup_step: bool  # 3.7 split hva_to_pfn into hva_to_pfn_fast / hva_to_pfn_slow
    # MMU
    mmio_spte_generation: bool  # modern: mmio sptes carry the memslot generation (v3.11)
    enable_mmio_caching: bool  # whether no-slot faults install mmio sptes at all
    flush_all_on_create_or_move: bool  # 3.x: kvm_arch_flush_shadow() when base_gfn changes (mmio sptes go)
    write_protect_on_every_commit: bool  # 3.x: kvm_mmu_slot_remove_write_access() on every commit
    # the host's mm
    mprotect_try_change_writable: bool  # v6.0+ mprotect(PROT_WRITE) maps exclusive anonymous pages writable at
    #   once (MM_CP_TRY_CHANGE_WRITABLE); 3.x waited for a write fault
    caps: dict[int, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # era-specific kernel function names
    # KVM_ADDRESS_SPACE_NUM: 2 on x86 kernels built with SMM (as_id 1 is SMRAM's view). This machine's
    # kernel has 1 (KVM_CAP_MULTI_ADDRESS_SPACE = 0 and as_id 1 is EINVAL, measured live); a log from a
    # kernel that accepted as_id 1 is read with 2 (see with_address_spaces).
    address_spaces: int = 1
    # today's memory API (kvm-semantics.md §i): KVM_SET_USER_MEMORY_REGION2, guest_memfd, manual protect, the
    # dirty ring. The 3.x eras had none of it (the loader refuses the keys there).
    guest_memfd: bool = False

    def name_of(self, role: str) -> str:
        return self.names.get(role, role)

    def check_extension(self, cap: int) -> int:
        # The era's table (capabilities.py); anything else returns 0, as the kernel's `default:` does.
        return self.caps.get(cap, 0)


_NAMES_3X = {
    "page_fault": "kvm_mmu_page_fault",
    "gfn_to_memslot": "gfn_to_memslot",
    "gfn_to_pfn": "__gfn_to_pfn_memslot",
    "handle_error": "kvm_handle_bad_page",
    "read_guest": "kvm_read_guest",
    "write_guest": "kvm_write_guest",
    "mark_dirty": "mark_page_dirty",
    "handle_noslot": "handle_abnormal_pfn",
    "flush_all": "kvm_arch_flush_shadow",
    "set_spte": "set_spte",
    "async_pf": "try_async_pf",
    "user_mem_slots": "KVM_MEMORY_SLOTS",
    # the page-fault handlers' returns: 3.x returned plain ints (1: emulate, 0: re-enter the guest)
    "ret_fixed": "0",
    "ret_emulate": "1 = emulate",
    "ret_retry": "0",
    "ret_mmio_emulate": "RET_MMIO_PF_EMULATE",
    "pfn_fault": "KVM_PFN_ERR_FAULT",
    "pfn_hwpoison": "KVM_PFN_ERR_HWPOISON",
    "pfn_noslot": "KVM_PFN_ERR_BAD",
    "pfn_ro_fault": "KVM_PFN_ERR_RO_FAULT",
    "hva_bad": "KVM_HVA_ERR_BAD",
    "hva_ro_bad": "KVM_HVA_ERR_RO_BAD",
}

PROFILES: dict[str, Profile] = {
    "3.6": Profile(
        name="3.6",
        title="Linux 3.6 (before the readonly memslot)",
        valid_flags=KVM_MEM_LOG_DIRTY_PAGES,
        user_mem_slots=32,
        mem_slots_num=36,
        readonly_toggle_allowed=False,
        uaddr_change_ignored=True,
        delete_absent_ok=True,
        overlap_check_every_request=True,
        mr_change_kinds=False,
        slot_as_id=False,
        max_gfn=None,
        vma_is_valid=False,
        has_fast_gup_step=False,
        mmio_spte_generation=False,
        enable_mmio_caching=True,
        flush_all_on_create_or_move=True,
        write_protect_on_every_commit=True,
        mprotect_try_change_writable=False,
        caps=CAPS_BY_ERA["3.6"],
        names={
            **_NAMES_3X,
            "gfn_to_hva": "gfn_to_hva_many",
            "gfn_to_pfn": "__gfn_to_pfn",
            "pfn_fault": "fault_pfn",
            "pfn_hwpoison": "hwpoison_pfn",
            "pfn_noslot": "bad_pfn",
            "hva_bad": "bad_hva()",
        },
    ),
    "3.7": Profile(
        name="3.7",
        title="Linux 3.7 (KVM: introduce readonly memslot)",
        valid_flags=KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY,
        user_mem_slots=32,
        mem_slots_num=36,
        readonly_toggle_allowed=True,
        uaddr_change_ignored=True,
        delete_absent_ok=True,
        overlap_check_every_request=True,
        mr_change_kinds=False,
        slot_as_id=False,
        max_gfn=None,
        vma_is_valid=True,
        has_fast_gup_step=True,
        mmio_spte_generation=False,
        enable_mmio_caching=True,
        flush_all_on_create_or_move=True,
        write_protect_on_every_commit=True,
        mprotect_try_change_writable=False,
        caps=CAPS_BY_ERA["3.7"],
        names={**_NAMES_3X, "gfn_to_hva": "__gfn_to_hva_many"},
    ),
    "modern": Profile(
        name="modern",
        title="Linux 6.x (today's kernel, as this machine's /dev/kvm runs it)",
        valid_flags=KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY,
        user_mem_slots=32764,
        mem_slots_num=32767,
        readonly_toggle_allowed=False,
        uaddr_change_ignored=False,
        delete_absent_ok=False,
        overlap_check_every_request=False,
        mr_change_kinds=True,
        slot_as_id=True,
        max_gfn=(1 << (52 - 12)) - 1,
        vma_is_valid=True,
        has_fast_gup_step=True,
        mmio_spte_generation=True,
        enable_mmio_caching=True,
        flush_all_on_create_or_move=False,
        write_protect_on_every_commit=False,
        mprotect_try_change_writable=True,
        caps=CAPS_BY_ERA["modern"],
        names={
            "page_fault": "kvm_mmu_page_fault",
            "gfn_to_memslot": "kvm_vcpu_gfn_to_memslot",
            "gfn_to_hva": "__gfn_to_hva_many",
            "gfn_to_pfn": "__kvm_faultin_pfn",
            "handle_error": "kvm_handle_error_pfn",
            "read_guest": "kvm_vcpu_read_guest",
            "write_guest": "kvm_vcpu_write_guest",
            "mark_dirty": "mark_page_dirty_in_slot",
            "handle_noslot": "kvm_handle_noslot_fault",
            "flush_all": "kvm_mmu_zap_all_fast",
            "set_spte": "make_spte",
            "async_pf": "kvm_arch_setup_async_pf",
            "user_mem_slots": "KVM_USER_MEM_SLOTS",
            "ret_fixed": "RET_PF_FIXED",
            "ret_emulate": "RET_PF_EMULATE",
            "ret_retry": "RET_PF_RETRY",
            "ret_mmio_emulate": "RET_PF_EMULATE",
            "pfn_fault": "KVM_PFN_ERR_FAULT",
            "pfn_hwpoison": "KVM_PFN_ERR_HWPOISON",
            "pfn_noslot": "KVM_PFN_NOSLOT",
            "pfn_ro_fault": "KVM_PFN_ERR_RO_FAULT",
            "pfn_needs_io": "KVM_PFN_ERR_NEEDS_IO",
            "hva_bad": "KVM_HVA_ERR_BAD",
            "hva_ro_bad": "KVM_HVA_ERR_RO_BAD",
        },
        guest_memfd=True,
    ),
}

KERNEL_ERAS: tuple[str, ...] = ERAS
assert tuple(PROFILES) == ERAS, "one profile per era of the vocabulary"


def with_address_spaces(profile: Profile, n: int) -> Profile:
    """The same era on a kernel with n address spaces (KVM_CAP_MULTI_ADDRESS_SPACE answers n when n > 1)."""
    if n == profile.address_spaces:
        return profile
    caps = dict(profile.caps)
    caps[KVM_CAPS["KVM_CAP_MULTI_ADDRESS_SPACE"]] = n if n > 1 else 0
    return replace(profile, address_spaces=n, caps=caps, title=f"{profile.title}, {n} address spaces")


def names_in_any_era(*roles: str) -> frozenset[str]:
    """Every era's kernel name for these function or value roles: how a driver recognises a call or an error
    value without knowing which era made the record."""
    return frozenset(p.name_of(r) for p in PROFILES.values() for r in roles)


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown kernel era {name!r} (known: {', '.join(KERNEL_ERAS)})") from None
