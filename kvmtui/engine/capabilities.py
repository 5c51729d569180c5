"""KVM_CHECK_EXTENSION per era: what the generic and the x86 check_extension of each era's kernel answer.

A VMM asks the generic function first (kvm_dev_ioctl_check_extension_generic() in 3.x virt/kvm/kvm_main.c,
kvm_vm_ioctl_check_extension_generic() today), which hands what it does not know to the architecture's
(kvm_dev_ioctl_check_extension() / kvm_vm_ioctl_check_extension() in arch/x86/kvm/x86.c). Both end in
`default: r = 0`, so a capability absent from a table answers 0.

- modern: measured on this project's machine (Linux 6.18, nested PVM, shadow MMU) on a default VM's fd,
  every number 0..299, identical on repeated runs (kvm-semantics.md 0 and i.0). Values that depend on the
  host (NR_VCPUS = online CPUs, X86_DISABLE_EXITS, X2APIC_API, SET_GUEST_DEBUG2) are this host's.
- 3.6 / 3.7: the switch statements of those trees (the seed patch's context shows the end of the 3.6
  x86 list: GET_TSC_KHZ, PCI_2_3, KVMCLOCK_CTRL, then READONLY_MEM added). Where 3.x asked the host
  (VAPIC, IOMMU, XCRS, TSC_CONTROL, TSC_DEADLINE_TIMER) the table holds this machine's answer. 3.x answered
  on the /dev/kvm fd only (KVM_CAP_CHECK_EXTENSION_VM came in v3.17); the tables are those answers.
"""

from __future__ import annotations

from .uapi import KVM_CAPS

# kvm_dev_ioctl_check_extension_generic(), v3.6 and v3.7 (same in both)
_GENERIC_3X: dict[str, int] = {
    "KVM_CAP_USER_MEMORY": 1,
    "KVM_CAP_DESTROY_MEMORY_REGION_WORKS": 1,
    "KVM_CAP_JOIN_MEMORY_REGIONS_WORKS": 1,
    "KVM_CAP_SET_BOOT_CPU_ID": 1,  # CONFIG_KVM_APIC_ARCHITECTURE (x86)
    "KVM_CAP_INTERNAL_ERROR_DATA": 1,
    "KVM_CAP_SIGNAL_MSI": 1,  # CONFIG_HAVE_KVM_MSI (x86 since v3.5)
    "KVM_CAP_IRQ_ROUTING": 1024,  # KVM_MAX_IRQ_ROUTES
}

# arch/x86/kvm/x86.c kvm_dev_ioctl_check_extension(), v3.6 (the tree the seed applied to)
_X86_3_6: dict[str, int] = {
    **dict.fromkeys(("KVM_CAP_IRQCHIP", "KVM_CAP_HLT", "KVM_CAP_MMU_SHADOW_CACHE_CONTROL", "KVM_CAP_SET_TSS_ADDR", "KVM_CAP_EXT_CPUID", "KVM_CAP_CLOCKSOURCE", "KVM_CAP_PIT", "KVM_CAP_NOP_IO_DELAY", "KVM_CAP_MP_STATE", "KVM_CAP_SYNC_MMU", "KVM_CAP_USER_NMI", "KVM_CAP_REINJECT_CONTROL", "KVM_CAP_IRQ_INJECT_STATUS", "KVM_CAP_ASSIGN_DEV_IRQ", "KVM_CAP_IRQFD", "KVM_CAP_IOEVENTFD", "KVM_CAP_PIT2", "KVM_CAP_PIT_STATE2", "KVM_CAP_SET_IDENTITY_MAP_ADDR", "KVM_CAP_XEN_HVM", "KVM_CAP_ADJUST_CLOCK", "KVM_CAP_VCPU_EVENTS", "KVM_CAP_HYPERV", "KVM_CAP_HYPERV_VAPIC", "KVM_CAP_HYPERV_SPIN", "KVM_CAP_PCI_SEGMENT", "KVM_CAP_DEBUGREGS", "KVM_CAP_X86_ROBUST_SINGLESTEP", "KVM_CAP_XSAVE", "KVM_CAP_ASYNC_PF", "KVM_CAP_GET_TSC_KHZ", "KVM_CAP_PCI_2_3", "KVM_CAP_KVMCLOCK_CTRL"), 1),
    "KVM_CAP_COALESCED_MMIO": 2,  # KVM_COALESCED_MMIO_PAGE_OFFSET: the page after kvm_run and the PIO page
    "KVM_CAP_VAPIC": 1,  # !kvm_x86_ops->cpu_has_accelerated_tpr(): this machine's answer
    "KVM_CAP_NR_VCPUS": 160,  # KVM_SOFT_MAX_VCPUS
    "KVM_CAP_MAX_VCPUS": 254,  # KVM_MAX_VCPUS
    "KVM_CAP_NR_MEMSLOTS": 32,  # KVM_MEMORY_SLOTS
    "KVM_CAP_PV_MMU": 0,  # obsolete
    "KVM_CAP_IOMMU": 0,  # iommu_present(&pci_bus_type): none on this machine
    "KVM_CAP_MCE": 32,  # KVM_MAX_MCE_BANKS
    "KVM_CAP_XCRS": 1,  # cpu_has_xsave
    "KVM_CAP_TSC_CONTROL": 0,  # kvm_has_tsc_control: not on this machine
    "KVM_CAP_TSC_DEADLINE_TIMER": 1,  # boot_cpu_has(X86_FEATURE_TSC_DEADLINE_TIMER)
}

# v3.7: the seed's KVM_CAP_READONLY_MEM, and resampling irqfds (KVM_CAP_IRQFD_RESAMPLE, merged for v3.7;
# the exact function it was answered in is not verified here: it answered 1 either way).
_X86_3_7: dict[str, int] = {**_X86_3_6, "KVM_CAP_READONLY_MEM": 1, "KVM_CAP_IRQFD_RESAMPLE": 1}

# modern: kvm_vm_ioctl_check_extension_generic() + kvm_vm_ioctl_check_extension(), measured live
_MODERN: dict[str, int] = {
    "KVM_CAP_IRQCHIP": 1,
    "KVM_CAP_HLT": 1,
    "KVM_CAP_MMU_SHADOW_CACHE_CONTROL": 1,
    "KVM_CAP_USER_MEMORY": 1,
    "KVM_CAP_SET_TSS_ADDR": 1,
    "KVM_CAP_VAPIC": 1,
    "KVM_CAP_EXT_CPUID": 1,
    "KVM_CAP_CLOCKSOURCE": 1,
    "KVM_CAP_NR_VCPUS": 2,
    "KVM_CAP_NR_MEMSLOTS": 32764,
    "KVM_CAP_PIT": 1,
    "KVM_CAP_NOP_IO_DELAY": 1,
    "KVM_CAP_MP_STATE": 1,
    "KVM_CAP_COALESCED_MMIO": 2,
    "KVM_CAP_SYNC_MMU": 1,
    "KVM_CAP_DESTROY_MEMORY_REGION_WORKS": 1,
    "KVM_CAP_USER_NMI": 1,
    "KVM_CAP_SET_GUEST_DEBUG": 1,
    "KVM_CAP_REINJECT_CONTROL": 1,
    "KVM_CAP_IRQ_ROUTING": 0x1000,
    "KVM_CAP_IRQ_INJECT_STATUS": 1,
    "KVM_CAP_JOIN_MEMORY_REGIONS_WORKS": 1,
    "KVM_CAP_MCE": 32,
    "KVM_CAP_IRQFD": 1,
    "KVM_CAP_PIT2": 1,
    "KVM_CAP_SET_BOOT_CPU_ID": 1,
    "KVM_CAP_PIT_STATE2": 1,
    "KVM_CAP_IOEVENTFD": 1,
    "KVM_CAP_SET_IDENTITY_MAP_ADDR": 1,
    "KVM_CAP_ADJUST_CLOCK": 14,
    "KVM_CAP_INTERNAL_ERROR_DATA": 1,
    "KVM_CAP_VCPU_EVENTS": 1,
    "KVM_CAP_PCI_SEGMENT": 1,
    "KVM_CAP_DEBUGREGS": 1,
    "KVM_CAP_X86_ROBUST_SINGLESTEP": 1,
    "KVM_CAP_ENABLE_CAP": 1,
    "KVM_CAP_XSAVE": 1,
    "KVM_CAP_XCRS": 1,
    "KVM_CAP_ASYNC_PF": 1,
    "KVM_CAP_GET_TSC_KHZ": 1,
    "KVM_CAP_MAX_VCPUS": 0x400,
    "KVM_CAP_ONE_REG": 1,
    "KVM_CAP_TSC_DEADLINE_TIMER": 1,
    "KVM_CAP_SYNC_REGS": 7,
    "KVM_CAP_KVMCLOCK_CTRL": 1,
    "KVM_CAP_SIGNAL_MSI": 1,
    "KVM_CAP_READONLY_MEM": 1,
    "KVM_CAP_IRQFD_RESAMPLE": 1,
    "KVM_CAP_DEVICE_CTRL": 1,
    "KVM_CAP_EXT_EMUL_CPUID": 1,
    "KVM_CAP_IOAPIC_POLARITY_IGNORED": 1,
    "KVM_CAP_ENABLE_CAP_VM": 1,
    "KVM_CAP_IOEVENTFD_NO_LENGTH": 1,
    "KVM_CAP_CHECK_EXTENSION_VM": 1,
    "KVM_CAP_DISABLE_QUIRKS": 1,
    "KVM_CAP_SPLIT_IRQCHIP": 1,
    "KVM_CAP_IOEVENTFD_ANY_LENGTH": 1,
    "KVM_CAP_VCPU_ATTRIBUTES": 1,
    "KVM_CAP_MAX_VCPU_ID": 0x1000,
    "KVM_CAP_X2APIC_API": 0xb,
    "KVM_CAP_IMMEDIATE_EXIT": 1,
    "KVM_CAP_X86_DISABLE_EXITS": 0xe,
    "KVM_CAP_GET_MSR_FEATURES": 1,
    "KVM_CAP_MSR_PLATFORM_INFO": 1,
    "KVM_CAP_COALESCED_PIO": 1,
    "KVM_CAP_EXCEPTION_PAYLOAD": 1,
    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2": 3,
    "KVM_CAP_PMU_EVENT_FILTER": 1,
    "KVM_CAP_HALT_POLL": 1,
    "KVM_CAP_ASYNC_PF_INT": 1,
    "KVM_CAP_LAST_CPU": 1,
    "KVM_CAP_SMALLER_MAXPHYADDR": 1,
    "KVM_CAP_STEAL_TIME": 1,
    "KVM_CAP_X86_USER_SPACE_MSR": 1,
    "KVM_CAP_X86_MSR_FILTER": 1,
    "KVM_CAP_ENFORCE_PV_FEATURE_CPUID": 1,
    "KVM_CAP_DIRTY_LOG_RING": 0x100000,
    "KVM_CAP_SET_GUEST_DEBUG2": 0x1f0003,
    "KVM_CAP_VM_COPY_ENC_CONTEXT_FROM": 1,
    "KVM_CAP_SREGS2": 1,
    "KVM_CAP_EXIT_HYPERCALL": 0x1000,
    "KVM_CAP_BINARY_STATS_FD": 1,
    "KVM_CAP_EXIT_ON_EMULATION_FAILURE": 1,
    "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM": 1,
    "KVM_CAP_XSAVE2": 0x1000,
    "KVM_CAP_SYS_ATTRIBUTES": 1,
    "KVM_CAP_DISABLE_QUIRKS2": 0x5ff,
    "KVM_CAP_SYSTEM_EVENT_DATA": 1,
    "KVM_CAP_X86_TRIPLE_FAULT_EVENT": 1,
    "KVM_CAP_VM_DISABLE_NX_HUGE_PAGES": 1,
    "KVM_CAP_DIRTY_LOG_RING_ACQ_REL": 0x100000,
    "KVM_CAP_PMU_EVENT_MASKED_EVENTS": 1,
    "KVM_CAP_USER_MEMORY2": 1,
    "KVM_CAP_MEMORY_FAULT_INFO": 1,
    "KVM_CAP_GUEST_MEMFD": 1,
    "KVM_CAP_VM_TYPES": 1,
    "KVM_CAP_X86_APIC_BUS_CYCLES_NS": 1,
    "KVM_CAP_X86_GUEST_MODE": 1,
    "KVM_CAP_GUEST_MEMFD_FLAGS": 3,
}


def _numbers(table: dict[str, int]) -> dict[int, int]:
    return {KVM_CAPS[name]: value for name, value in table.items() if value}


CAPS_BY_ERA: dict[str, dict[int, int]] = {
    "3.6": _numbers({**_GENERIC_3X, **_X86_3_6}),
    "3.7": _numbers({**_GENERIC_3X, **_X86_3_7}),
    "modern": _numbers(_MODERN),
}
