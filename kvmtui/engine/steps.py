"""What a step asks of the VM: the engine's input vocabulary (plain values, no file positions)."""

from __future__ import annotations

from dataclasses import dataclass

from .host import Prot
from .memslots import UserMemoryRegion
from .values import fast_dataclass
from .vocabulary import AccessKind, HostOpName


@fast_dataclass(frozen=True, slots=True)
class Access:
    """A guest access by a vCPU: a read, write or fetch of size bytes at gpa."""

    kind: AccessKind
    gpa: int
    size: int
    value: int | None = None  # writes only
    vcpu: int = 0


@fast_dataclass(frozen=True, slots=True)  # one per slot a layout creates
class SetMemoryRegion:
    """KVM_SET_USER_MEMORY_REGION(2) with this region (a size of 0 deletes the slot)."""

    region: UserMemoryRegion


@dataclass(frozen=True, slots=True)
class GetDirtyLog:
    """KVM_GET_DIRTY_LOG for one slot (as_id in the high 16 bits)."""

    slot: int


@dataclass(frozen=True, slots=True)
class CheckExtension:
    """KVM_CHECK_EXTENSION on the VM for one capability."""

    cap: int


@dataclass(frozen=True, slots=True)
class HostOp:
    """A change to the VMM's own memory (mprotect, munmap, MADV_DONTNEED, eviction, poison, a write): KVM sees it through
    the mmu notifiers, or the next fault."""

    op: HostOpName
    hva: int
    size: int
    prot: Prot | None = None  # mprotect
    data: bytes = b""  # host_write


@dataclass(frozen=True, slots=True)
class CreateVm:
    """KVM_CREATE_VM with a type other than the default (the default VM is made before any step)."""

    vm_type: str  # default | sw_protected | sev | sev_es | snp | tdx, or a number as text
    type_value: int


@dataclass(frozen=True, slots=True)
class CreateGuestMemfd:
    """KVM_CREATE_GUEST_MEMFD: a guest_memfd file of size bytes, named for the scenario."""

    name: str
    size: int
    flags: int
    hva: int | None = None  # where the VMM mmaps it when GUEST_MEMFD_FLAG_MMAP is set (a driver's layout choice)


@dataclass(frozen=True, slots=True)
class EnableCap:
    """VM-level KVM_ENABLE_CAP."""

    cap: int
    args: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class ClearDirtyLog:
    """KVM_CLEAR_DIRTY_LOG: clear (and write-protect again) num_pages dirty bits of a slot from first_page."""

    slot: int
    first_page: int
    num_pages: int


@dataclass(frozen=True, slots=True)
class HarvestDirtyRing:
    """The VMM reads the entries (slot, offset) of a vCPU's dirty ring and marks them harvested."""

    vcpu: int = 0


@dataclass(frozen=True, slots=True)
class ResetDirtyRings:
    """KVM_RESET_DIRTY_RINGS: the harvested entries are reset and their pages write-protected again."""



MemApiStep = CreateVm | CreateGuestMemfd | EnableCap | ClearDirtyLog | HarvestDirtyRing | ResetDirtyRings
Step = Access | SetMemoryRegion | GetDirtyLog | CheckExtension | HostOp | MemApiStep
