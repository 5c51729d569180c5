"""The engine's words, each defined once: kernel eras, access paths, step ops, host ops, outcomes, call results.

Drivers (loader, CLI, app, reports) import these instead of spelling the names again. The string values are
the trace contract's (trace-format.md): the enums are StrEnums, so a record's `op == "write"` still holds and
the JSON carries the same text.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

# -- kernel eras and access paths ---------------------------------------------------------------------------
Era = Literal["3.6", "3.7", "modern"]
ERAS: tuple[Era, ...] = get_args(Era)

AccessPath = Literal["native", "emulated"]
ACCESS_PATHS: tuple[AccessPath, ...] = get_args(AccessPath)

# -- the VMM's own memory operations (a HostOp step) --------------------------------------------------------
HostOpName = Literal["mprotect", "munmap", "madvise_dontneed", "evict", "poison", "host_write"]
HOST_OPS: tuple[HostOpName, ...] = get_args(HostOpName)


class AccessKind(StrEnum):
    """A guest access by a vCPU."""

    READ = "read"
    WRITE = "write"
    FETCH = "fetch"


class Op(StrEnum):
    """What a step did: the `op` of a StepRecord (trace-format.md)."""

    # guest accesses (KVM_RUN)
    READ = "read"
    WRITE = "write"
    FETCH = "fetch"
    # VM ioctls
    SET_MEMORY_REGION = "set_memory_region"
    GET_DIRTY_LOG = "get_dirty_log"
    CHECK_EXTENSION = "check_extension"
    CREATE_VM = "create_vm"
    CREATE_GUEST_MEMFD = "create_guest_memfd"
    ENABLE_CAP = "enable_cap"
    CLEAR_DIRTY_LOG = "clear_dirty_log"
    HARVEST_DIRTY_RING = "harvest_dirty_ring"
    RESET_DIRTY_RINGS = "reset_dirty_rings"
    # the VMM's own memory
    MPROTECT = "mprotect"
    MUNMAP = "munmap"
    MADVISE_DONTNEED = "madvise_dontneed"
    EVICT = "evict"
    POISON = "poison"
    HOST_WRITE = "host_write"


ACCESS_OPS: frozenset[Op] = frozenset((Op.READ, Op.WRITE, Op.FETCH))
HOST_OP_OPS: frozenset[Op] = frozenset(Op(h) for h in HOST_OPS)
# The op of each access kind, looked up once per access (a dict read, not an Enum() call: the hot path).
OP_OF_ACCESS: dict[AccessKind, Op] = {AccessKind.READ: Op.READ, AccessKind.WRITE: Op.WRITE, AccessKind.FETCH: Op.FETCH}


class Outcome(StrEnum):
    """How a step ended, as the trace contract spells it. An ioctl refused by the kernel ends with the errno's
    name instead ("EINVAL", "ENOTTY", ...): any errno the kernel returns, live too, so those stay strings
    (see `is_errno_outcome`)."""

    OK = "ok"
    MMIO = "mmio"
    EFAULT = "efault"
    HWPOISON = "hwpoison"
    INTERNAL_ERROR = "internal_error"
    DIRTY_RING_FULL = "dirty_ring_full"  # KVM_EXIT_DIRTY_RING_FULL: the vCPU stops until harvest + reset
    UNSUPPORTED = "unsupported"  # not run: no VM (a refused KVM_CREATE_VM), or a backend that cannot do it


# What an access may end with (the `outcome` an expectation of a read/write/fetch may name).
ACCESS_OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)


def is_errno_outcome(outcome: str) -> bool:
    """True for an ioctl refused with an errno (outcome "EINVAL", "ENOENT", ...)."""
    return outcome[:1] == "E" and outcome.isupper()


class CallResult(StrEnum):
    """What one kernel function on a step's path returned, by kind, so no driver reads its display text."""

    OK = "ok"  # a value, a pointer, 0, true/false: the path goes on
    ERROR = "error"  # an errno (-EINVAL) or an error value (KVM_PFN_ERR_FAULT, KVM_HVA_ERR_RO_BAD, bad_pfn)
    ROUTE = "route"  # a code that sends the fault elsewhere (RET_PF_EMULATE, "1 = emulate", RET_PF_RETRY)
    EXIT = "exit"  # KVM_RUN returns to userspace with this exit reason (KVM_EXIT_MMIO, ...)
