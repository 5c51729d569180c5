"""What a step asks of the VM: the engine's input vocabulary (plain values, no file positions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .host import Prot
from .memslots import UserMemoryRegion
from .uapi import AccessKind

HostOpName = Literal["mprotect", "munmap", "madvise_dontneed", "evict", "poison", "host_write"]
HOST_OPS: tuple[str, ...] = ("mprotect", "munmap", "madvise_dontneed", "evict", "poison", "host_write")


@dataclass(frozen=True, slots=True)
class Access:
    kind: AccessKind
    gpa: int
    size: int
    value: int | None = None  # writes only
    vcpu: int = 0


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


Step = Access | SetMemoryRegion | GetDirtyLog | CheckExtension | HostOp
