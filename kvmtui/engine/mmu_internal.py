"""What one page fault comes to (arch/x86/kvm/mmu/mmu_internal.h): its RET_PF_* result and the pages it dirtied.

Its own module because both fault handlers return it: the MMU's (mmu.py) and guest_memfd's (guest_memfd.py),
which the MMU calls for a gmem-only slot."""

from __future__ import annotations

from enum import Enum

from .values import fast_dataclass


class PfResult(Enum):
    FIXED = "fixed"  # an spte was installed: the access completes in hardware
    EMULATE = "emulate"  # the instruction goes to the emulator
    EFAULT = "efault"  # KVM_RUN returns -EFAULT
    HWPOISON = "hwpoison"  # SIGBUS to the vCPU thread


@fast_dataclass(frozen=True, slots=True)
class Fault:
    """How a fault ended. The calls it made went onto the chain its caller passed in, in order."""

    result: PfResult
    dirtied: tuple[tuple[int, int], ...] = ()


# Faults that dirtied nothing (nearly all of them), made once.
FIXED = Fault(PfResult.FIXED)
EMULATE = Fault(PfResult.EMULATE)
EFAULT = Fault(PfResult.EFAULT)
HWPOISON = Fault(PfResult.HWPOISON)
