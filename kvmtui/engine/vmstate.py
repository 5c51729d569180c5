"""The parts of struct kvm that today's memory API adds: VM type, guest_memfd files, manual dirty-log
protect, the dirty ring and the vCPUs created so far. Kept in one value so a snapshot copies it whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (dirty_ring.py is imported with the first ring: a VM without one compiles none of it)
    from .dirty_ring import DirtyRing


@dataclass(frozen=True, slots=True)
class GmemFile:
    """A guest_memfd file made by KVM_CREATE_GUEST_MEMFD (virt/kvm/guest_memfd.c)."""

    name: str
    size: int
    flags: int
    fd_valid: bool  # False: the creation was refused, the name stands for fd -1
    hva: int | None  # where the VMM mmapped it (GUEST_MEMFD_FLAG_MMAP), else None
    bindings: tuple[tuple[int, int, int], ...] = ()  # (slot id, first page, end page) of kvm_gmem_bind()


@dataclass(slots=True)
class VmState:
    """Per-VM state beside the memslots: the VM type, guest_memfd files, dirty-log and dirty-ring settings."""

    vm_type_refused: str | None = None  # KVM_CREATE_VM refused this type: nothing after it runs
    gmem: dict[str, GmemFile] = field(default_factory=dict)
    manual_protect: int = 0  # kvm->manual_dirty_log_protect (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 args[0])
    dirty_ring_size: int = 0  # bytes; 0 = no ring
    rings: dict[int, DirtyRing] = field(default_factory=dict)
    created_vcpus: set[int] = field(default_factory=set)

    def ring(self, vcpu_id: int) -> DirtyRing:
        r = self.rings.get(vcpu_id)
        if r is None:
            from .dirty_ring import DirtyRing

            r = self.rings[vcpu_id] = DirtyRing(self.dirty_ring_size // 16)
        return r

    def copy(self) -> VmState:
        return VmState(self.vm_type_refused, self.gmem.copy(), self.manual_protect, self.dirty_ring_size,
                       {k: v.copy() for k, v in self.rings.items()}, set(self.created_vcpus))
