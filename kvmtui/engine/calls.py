"""KernelCall: one kernel function on the path of a step, with its arguments and what it returned.

Its own module because the memslot table's code returns calls too, and records name memslots: so neither
imports the other through this value."""

from __future__ import annotations

from .values import builder, fast_dataclass
from .vocabulary import CallResult


@fast_dataclass(frozen=True, slots=True)
class KernelCall:
    """One kernel function on the path of a step, with its arguments and what it returned.

    `ret` is the return as people read it; `result` says what kind of return it is and `code` names it (the
    errno, error value, route code or exit reason), so drivers never parse `ret`."""

    fn: str
    args: str = ""
    ret: str = ""
    note: str = ""  # why, in a few words
    bad: bool = False  # the call that failed the step
    key: bool = False  # the moment a read-only write turns into an MMIO exit
    result: CallResult = CallResult.OK
    code: str = ""  # the kernel name of a non-ok return: EINVAL, KVM_PFN_ERR_FAULT, RET_PF_EMULATE, KVM_EXIT_MMIO


# KernelCall(...) as a plain function (values.builder): an access builds several calls, a fault a dozen values.
make_call = builder(KernelCall)


def errno_call(fn: str, args: str, errno: str, note: str = "", bad: bool = False) -> KernelCall:
    """A call that returned -errno (errno is its name: "EINVAL")."""
    return make_call(fn, args, f"-{errno}", note, bad, False, CallResult.ERROR, errno)


def error_call(fn: str, args: str, value: str, note: str = "", bad: bool = False) -> KernelCall:
    """A call that returned an error value (an error pfn or hva, by the era's name)."""
    return make_call(fn, args, value, note, bad, False, CallResult.ERROR, value)


def route_call(fn: str, args: str, code: str, note: str = "", bad: bool = False, key: bool = False, ret: str = "") -> KernelCall:
    """A call whose return sends the fault elsewhere (emulation, a retry, re-entering the guest)."""
    return make_call(fn, args, ret or code, note, bad, key, CallResult.ROUTE, code)


def exit_call(fn: str, args: str, reason: str, note: str = "", bad: bool = False, key: bool = False) -> KernelCall:
    """A call after which KVM_RUN returns to userspace with this exit reason."""
    return make_call(fn, args, reason, note, bad, key, CallResult.EXIT, reason)
