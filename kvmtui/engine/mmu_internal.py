"""What one page fault comes to (arch/x86/kvm/mmu/mmu_internal.h): its RET_PF_* result and the calls it made.

Its own module because both fault handlers return it: the MMU's (mmu.py) and guest_memfd's (guest_memfd.py),
which the MMU calls for a gmem-only slot."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .calls import KernelCall
from .values import fast_init


class PfResult(Enum):
    FIXED = "fixed"  # an spte was installed: the access completes in hardware
    EMULATE = "emulate"  # the instruction goes to the emulator
    EFAULT = "efault"  # KVM_RUN returns -EFAULT
    HWPOISON = "hwpoison"  # SIGBUS to the vCPU thread


@fast_init
@dataclass(frozen=True, slots=True)
class Fault:
    result: PfResult
    chain: tuple[KernelCall, ...]
    dirtied: tuple[tuple[int, int], ...] = ()
