"""Constants of the KVM user API (include/uapi/linux/kvm.h) and of the kernel's internal error values.

Names are the kernel's so that a reader can grep for them in a kernel tree.
"""

from __future__ import annotations

import errno as _errno
from enum import StrEnum

# struct kvm_userspace_memory_region.flags
KVM_MEM_LOG_DIRTY_PAGES = 1 << 0
KVM_MEM_READONLY = 1 << 1
KVM_MEM_GUEST_MEMFD = 1 << 2
KVM_MEMSLOT_INVALID = 1 << 16

FLAG_NAMES: dict[int, str] = {
    KVM_MEM_LOG_DIRTY_PAGES: "KVM_MEM_LOG_DIRTY_PAGES",
    KVM_MEM_READONLY: "KVM_MEM_READONLY",
    KVM_MEM_GUEST_MEMFD: "KVM_MEM_GUEST_MEMFD",
}
# What scenario files may write; the kernel names are accepted too.
FLAG_ALIASES: dict[str, int] = {
    "log_dirty_pages": KVM_MEM_LOG_DIRTY_PAGES,
    "readonly": KVM_MEM_READONLY,
    "guest_memfd": KVM_MEM_GUEST_MEMFD,
    **{name: bit for bit, name in FLAG_NAMES.items()},
}


def flag_names(flags: int) -> list[str]:
    """Kernel names of the set bits; unknown bits as hex so nothing is hidden."""
    names = [name for bit, name in FLAG_NAMES.items() if flags & bit]
    rest = flags & ~sum(FLAG_NAMES)
    if rest:
        names.append(f"{rest:#x}")
    return names


def short_flag_names(flags: int) -> list[str]:
    """READONLY, LOG_DIRTY: for narrow tables."""
    out = []
    if flags & KVM_MEM_READONLY:
        out.append("READONLY")
    if flags & KVM_MEM_LOG_DIRTY_PAGES:
        out.append("LOG_DIRTY")
    if flags & KVM_MEM_GUEST_MEMFD:
        out.append("GUEST_MEMFD")
    rest = flags & ~(KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD)
    if rest:
        out.append(f"{rest:#x}")
    return out


# KVM_CHECK_EXTENSION capability numbers.
KVM_CAPS: dict[str, int] = {
    "KVM_CAP_USER_MEMORY": 3,
    "KVM_CAP_NR_MEMSLOTS": 10,
    "KVM_CAP_SYNC_MMU": 16,
    "KVM_CAP_READONLY_MEM": 81,
    "KVM_CAP_MULTI_ADDRESS_SPACE": 118,
    "KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2": 168,
    "KVM_CAP_DIRTY_LOG_RING": 192,
    "KVM_CAP_USER_MEMORY2": 231,
    "KVM_CAP_MEMORY_FAULT_INFO": 232,
    "KVM_CAP_MEMORY_ATTRIBUTES": 233,
    "KVM_CAP_GUEST_MEMFD": 234,
    "KVM_CAP_VM_TYPES": 235,
}
KVM_CAP_NAMES: dict[int, str] = {v: k for k, v in KVM_CAPS.items()}

# Exit reasons (struct kvm_run.exit_reason).
KVM_EXIT_UNKNOWN = "KVM_EXIT_UNKNOWN"
KVM_EXIT_MMIO = "KVM_EXIT_MMIO"
KVM_EXIT_INTERNAL_ERROR = "KVM_EXIT_INTERNAL_ERROR"
KVM_INTERNAL_ERROR_EMULATION = 1


def errno_name(code: int) -> str:
    """EINVAL for 22 (or -22)."""
    return _errno.errorcode.get(abs(code), f"E{abs(code)}")


EINVAL = _errno.EINVAL
EEXIST = _errno.EEXIST
ENOENT = _errno.ENOENT
ENOMEM = _errno.ENOMEM
EFAULT = _errno.EFAULT


class Outcome(StrEnum):
    """How a guest access ended, as the trace contract spells it."""

    OK = "ok"
    MMIO = "mmio"
    EFAULT = "efault"
    HWPOISON = "hwpoison"
    INTERNAL_ERROR = "internal_error"


class AccessKind(StrEnum):
    READ = "read"
    WRITE = "write"
    FETCH = "fetch"
