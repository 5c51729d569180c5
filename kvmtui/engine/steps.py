"""What a step asks of the VM: the engine's input vocabulary (plain values, no file positions)."""

from __future__ import annotations

from dataclasses import dataclass

from .host import Prot
from .memslots import UserMemoryRegion
from .values import fast_init
from .vocabulary import AccessKind, HostOpName


@fast_init
@dataclass(frozen=True, slots=True)
class Access:
    kind: AccessKind
    gpa: int
    size: int
    value: int | None = None  # writes only
    vcpu: int = 0


@fast_init  # one per slot a layout creates
@dataclass(frozen=True, slots=True)
class SetMemoryRegion:
    region: UserMemoryRegion


@dataclass(frozen=True, slots=True)
class GetDirtyLog:
    slot: int


@dataclass(frozen=True, slots=True)
class CheckExtension:
    cap: int


@dataclass(frozen=True, slots=True)
class HostOp:
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
    slot: int
    first_page: int
    num_pages: int


@dataclass(frozen=True, slots=True)
class HarvestDirtyRing:
    vcpu: int = 0


@dataclass(frozen=True, slots=True)
class ResetDirtyRings:
    pass


MemApiStep = CreateVm | CreateGuestMemfd | EnableCap | ClearDirtyLog | HarvestDirtyRing | ResetDirtyRings
Step = Access | SetMemoryRegion | GetDirtyLog | CheckExtension | HostOp | MemApiStep
