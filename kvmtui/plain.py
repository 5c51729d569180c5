"""Plain words for students: one sentence for each outcome and each key kernel function, and an
explanation of a step built from its record (its outcome and the key calls of its chain).

No Textual, no engine logic: it reads what a StepRecord already says. The app shows it under the chain
and lesson mode uses it when a step has no note of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine.calls import KernelCall
from .engine.profiles import names_in_any_era
from .engine.records import StepRecord
from .engine.vocabulary import Outcome

OUTCOMES: dict[str, str] = {
    Outcome.OK: "The access completed: the guest got its bytes (or its write landed) without KVM leaving the guest.",
    Outcome.MMIO: "KVM could not do the access in memory, so KVM_RUN returned to the VMM with KVM_EXIT_MMIO: "
                  "the VMM must play the device (answer the read, or decide what the write means).",
    Outcome.EFAULT: "KVM_RUN failed with -EFAULT: KVM found no usable host page for guest memory, and the VMM "
                    "usually gives up on the vCPU (the guest looks crashed).",
    Outcome.HWPOISON: "The host page is hardware-poisoned: the VMM gets SIGBUS, as the kernel would tell any "
                      "process touching broken memory.",
    Outcome.INTERNAL_ERROR: "KVM_RUN returned KVM_EXIT_INTERNAL_ERROR: the instruction emulator could not "
                            "finish the access (an instruction cannot be fetched from an MMIO device).",
    "EINVAL": "The ioctl was refused with EINVAL: the request breaks a rule (alignment, flags, size, "
              "or a change the kernel does not allow).",
    "EEXIST": "The ioctl was refused with EEXIST: the new slot would overlap a slot that already exists.",
    "ENOENT": "The ioctl was refused with ENOENT: there is no such slot (or it does not log dirty pages).",
    "EFAULT": "The ioctl was refused with EFAULT: the userspace address cannot be used.",
    "ENOMEM": "The ioctl was refused with ENOMEM: the kernel could not allocate what the request needs.",
    "EPERM": "The ioctl was refused with EPERM: this change is not permitted here.",
    Outcome.UNSUPPORTED: "This backend cannot do this step for real, and says so instead of pretending.",
}

FUNCTIONS: dict[str, str] = {
    "kvm_mmu_page_fault": "The guest touched memory the MMU has no mapping (spte) for, so the CPU stopped "
                          "the guest and KVM handles the fault.",
    "kvm_vcpu_gfn_to_memslot": "KVM looks up which memslot holds this guest page.",
    "gfn_to_memslot": "KVM looks up which memslot holds this guest page.",
    "__gfn_to_hva_many": "KVM turns the guest page into the VMM's own (host virtual) address, if the slot "
                         "allows this kind of access.",
    "gfn_to_hva_many": "KVM turns the guest page into the VMM's own (host virtual) address.",
    "hva_to_pfn": "KVM finds the physical host page behind the VMM's address.",
    "hva_to_pfn_fast": "KVM tries to find the host page without sleeping (it is already in memory).",
    "hva_to_pfn_slow": "KVM asks the host kernel to bring the page in (from a file or by allocating it).",
    "vma_is_valid": "KVM checks that the VMM's mapping allows this access (read or write).",
    "__kvm_faultin_pfn": "KVM gets the host page for the fault, or an error value saying why it cannot.",
    "__gfn_to_pfn_memslot": "KVM gets the host page for the guest page, or an error value saying why it cannot.",
    "kvm_handle_bad_page": "KVM decides what an error value means: emulate the access, or fail KVM_RUN.",
    "kvm_handle_error_pfn": "KVM decides what an error value means: emulate the access, or fail KVM_RUN.",
    "handle_abnormal_pfn": "KVM deals with a host page that is not ordinary memory.",
    "kvm_handle_noslot_fault": "No memslot covers the address: KVM treats the access as MMIO.",
    "make_spte": "KVM writes the mapping (spte) so the next access goes straight to memory, with no fault.",
    "set_spte": "KVM writes the mapping (spte) so the next access goes straight to memory, with no fault.",
    "mark_mmio_spte": "KVM remembers that this address is MMIO, so the next access exits at once.",
    "set_mmio_spte": "KVM remembers that this address is MMIO, so the next access exits at once.",
    "handle_mmio_page_fault": "A remembered MMIO mapping was hit: KVM exits without searching the memslots.",
    "x86_emulate_instruction": "KVM runs the guest's instruction in software, one step at a time.",
    "emulator_read_write": "The instruction emulator reads or writes guest memory on the guest's behalf.",
    "kvm_vcpu_write_guest": "The emulator tries to write guest memory through the VMM's mapping.",
    "kvm_write_guest": "The emulator tries to write guest memory through the VMM's mapping.",
    "kvm_vcpu_read_guest": "The emulator reads guest memory through the VMM's mapping.",
    "kvm_read_guest": "The emulator reads guest memory through the VMM's mapping.",
    "vcpu_mmio_write": "No memory can take the write, and no device inside the kernel wants it: it goes to the VMM.",
    "vcpu_mmio_read": "No memory holds the bytes, and no device inside the kernel answers: the VMM must.",
    "handle_emulation_failure": "The emulator gives up: KVM_RUN reports an internal error to the VMM.",
    "kvm_fetch_guest_virt": "The emulator fetches the instruction bytes from guest memory.",
    "kvm_vm_ioctl_set_memory_region": "The VMM asks KVM to add, move, change or delete a memslot.",
    "check_memory_region_flags": "KVM checks that it knows every flag the VMM asked for.",
    "__kvm_set_memory_region": "KVM checks the request's rules: alignment, size, overlaps, what may change.",
    "kvm_set_memslot": "KVM installs the new memslot table.",
    "kvm_swap_active_memslots": "The new memslot table becomes the one vCPUs use.",
    "kvm_vm_ioctl_check_extension": "The VMM asks whether the kernel has a feature.",
    "kvm_vm_ioctl_get_dirty_log": "The VMM asks which pages the guest wrote since last time.",
    "kvm_get_dirty_log": "KVM copies the slot's dirty bitmap to the VMM and clears it.",
    "kvm_get_dirty_log_protect": "KVM copies the dirty bitmap and write-protects those pages again.",
    "mark_page_dirty": "KVM notes that the guest wrote this page (for live migration).",
    "mark_page_dirty_in_slot": "KVM notes that the guest wrote this page (for live migration).",
    "kvm_arch_setup_async_pf": "KVM could let the guest run on while the page loads; here it waits.",
}

KEY_FUNCTIONS = frozenset(FUNCTIONS)

# What an error value means, by its role; each era's name of it is looked up in the profiles.
_RETURN_ROLES: dict[str, str] = {
    "hva_ro_bad": "the slot is read-only, so there is no address to write through",
    "pfn_ro_fault": "a write to a read-only slot",
    "pfn_fault": "the host page could not be had",
    "pfn_hwpoison": "the host page is hardware-poisoned",
    "hva_bad": "no usable host address",
}
RETURNS: dict[str, str] = {name: words for role, words in _RETURN_ROLES.items() for name in sorted(names_in_any_era(role))}


def _return_words(c: KernelCall) -> str | None:
    """The plain meaning of an error value a call returned (its `code`), if it has one."""
    return RETURNS.get(c.code) if c.code else None


@dataclass(frozen=True)
class PlainLine:
    fn: str  # the kernel function or outcome the sentence explains
    text: str


def outcome_words(outcome: str) -> str | None:
    return OUTCOMES.get(outcome)


def plain_lines(rec: StepRecord) -> list[PlainLine]:
    """One sentence per distinct key function of the chain (in order), then the outcome's sentence."""
    out: list[PlainLine] = []
    seen: set[str] = set()
    for c in rec.chain:
        if c.fn in FUNCTIONS and c.fn not in seen:
            seen.add(c.fn)
            text = FUNCTIONS[c.fn]
            why = _return_words(c)
            if why:
                text = f"{text} Here: {why}."
            out.append(PlainLine(c.fn, text))
    words = outcome_words(rec.outcome)
    if words:
        out.append(PlainLine(rec.outcome, words))
    return out


def explain(rec: StepRecord) -> str:
    """A short plain explanation of why the step ended as it did: the key turns of the chain, then the outcome."""
    turns = []
    for c in rec.chain:
        why = _return_words(c)
        if why and why not in turns:
            turns.append(why)
    if rec.key_moment:
        turns.append("the write was emulated, and the emulator could not write the slot either")
    if rec.slot is None and rec.is_access and rec.outcome in (Outcome.MMIO, Outcome.INTERNAL_ERROR):
        turns.insert(0, "no memslot covers the address")
    head = f"Because {'; '.join(turns)}. " if turns else ""
    return head + (outcome_words(rec.outcome) or f"The step ended with {rec.outcome}.")
