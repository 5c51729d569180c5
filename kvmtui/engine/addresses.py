"""Guest and host addresses, pages, and the size/address notation scenario files use."""

from __future__ import annotations

import re

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = PAGE_SIZE - 1
U64_MAX = (1 << 64) - 1

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}
_SIZE_RE = re.compile(r"^\s*(0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)\s*([KMGTPE]?)(?:i?B)?\s*$")


# Addresses stay plain ints (the access path makes millions of them); these name what a shift or a mask
# means, so no module writes `>> 12` or `& 0xFFF` by hand. Hot loops use PAGE_SHIFT / PAGE_MASK directly.
def gpa_to_gfn(gpa: int) -> int:
    """The guest frame number of a guest-physical address (gpa_to_gfn)."""
    return gpa >> PAGE_SHIFT


def gfn_to_gpa(gfn: int) -> int:
    """The guest-physical address a frame starts at (gfn_to_gpa)."""
    return gfn << PAGE_SHIFT


def page_offset(addr: int) -> int:
    """offset_in_page(): where addr lies within its page."""
    return addr & PAGE_MASK


def page_base(addr: int) -> int:
    """The start of addr's page (addr & PAGE_MASK in the kernel's spelling, which masks the other way)."""
    return addr & ~PAGE_MASK


def page_aligned(value: int) -> bool:
    return value & PAGE_MASK == 0


def split_at_pages(addr: int, size: int) -> list[tuple[int, int]]:
    """Split [addr, addr+size) at page boundaries, as emulator_read_write() does."""
    out: list[tuple[int, int]] = []
    while size > 0:
        room = PAGE_SIZE - (addr & PAGE_MASK)
        n = min(room, size)
        out.append((addr, n))
        addr += n
        size -= n
    return out


def parse_size(text: str) -> int:
    """Parse "4096", "0x1000", "4K", "2M", "1G", "1T" (powers of 1024); ValueError otherwise."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"not a number or size: {text[:40]!r}")
    digits, unit = m.groups()
    if len(digits) > 40:  # 2^64 is 20 digits: refuse before int() spends time on thousands of them
        raise ValueError(f"number too long ({len(digits)} digits)")
    base = int(digits.replace("_", ""), 0)
    return base * _UNITS[unit.upper()]


def format_size(n: int) -> str:
    """The shortest exact binary-unit spelling: 4096 -> "4K", 3 -> "3"."""
    for unit in ("E", "P", "T", "G", "M", "K"):
        mult = _UNITS[unit]
        if n and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)


def hexaddr(value: int) -> str:
    return f"{value:#x}"


# The `slot` field of KVM_SET_USER_MEMORY_REGION (and of KVM_GET_DIRTY_LOG) carries the address space in
# its high 16 bits: as_id = slot >> 16, id = (u16)slot (kvm_set_memory_region, kvm_get_dirty_log).
SLOT_AS_SHIFT = 16
SLOT_ID_MASK = (1 << SLOT_AS_SHIFT) - 1


def split_slot(slot: int) -> tuple[int, int]:
    """(as_id, id) of a userspace slot number, as the kernel splits it. The one place this is written."""
    return slot >> SLOT_AS_SHIFT, slot & SLOT_ID_MASK


def join_slot(as_id: int, slot_id: int) -> int:
    """The userspace slot number of id in address space as_id (what QEMU traces and strace print)."""
    return (as_id << SLOT_AS_SHIFT) | slot_id
