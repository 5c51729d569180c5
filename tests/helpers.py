"""Small builders shared by the engine tests."""

from __future__ import annotations

from kvmtui.engine import (
    DEFAULT_SETTINGS,
    Access,
    AccessKind,
    HostSettings,
    Machine,
    Mapping,
    SetMemoryRegion,
    UserMemoryRegion,
    get_profile,
)
from kvmtui.engine.steps import GetDirtyLog, HostOp
from kvmtui.engine.uapi import KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY

RAM_HVA = 0x7F0000000000
ROM_HVA = 0x7F0010000000
RO = KVM_MEM_READONLY
LOG = KVM_MEM_LOG_DIRTY_PAGES


def machine(era: str = "modern", path: str = "native", rom_prot: str = "r", rom_backing: str = "file", ram_prot: str = "rw",
            ram_backing: str = "anon", ram_size: int = 16 << 20, rom_data: bytes = b"\x11\x22\x33\x44",
            settings: HostSettings = DEFAULT_SETTINGS) -> Machine:
    return Machine(
        get_profile(era),
        [
            Mapping("ram", RAM_HVA, ram_size, ram_prot, ram_backing),  # type: ignore[arg-type]
            Mapping("rom", ROM_HVA, 1 << 20, rom_prot, rom_backing, 0, rom_data),  # type: ignore[arg-type]
        ],
        path,  # type: ignore[arg-type]
        lambda gpa, n: bytes([0xAB]) * n,
        settings,
    )


def setmem(m: Machine, slot: int, gpa: int, size: int, hva: int, flags: int = 0):
    return m.apply(SetMemoryRegion(UserMemoryRegion(slot, flags, gpa, size, hva)))


def read(m: Machine, gpa: int, size: int = 4, vcpu: int = 0):
    return m.apply(Access(AccessKind.READ, gpa, size, None, vcpu))


def write(m: Machine, gpa: int, value: int, size: int = 4):
    return m.apply(Access(AccessKind.WRITE, gpa, size, value))


def fetch(m: Machine, gpa: int, size: int = 1):
    return m.apply(Access(AccessKind.FETCH, gpa, size))


def dirty_log(m: Machine, slot: int):
    return m.apply(GetDirtyLog(slot))


def host(m: Machine, op: str, hva: int, size: int = 4096, prot: str | None = None, data: bytes = b""):
    return m.apply(HostOp(op, hva, size, prot, data))  # type: ignore[arg-type]


def fns(rec) -> list[str]:
    return [c.fn for c in rec.chain]


def rets(rec) -> dict[str, str]:
    return {c.fn: c.ret for c in rec.chain}
