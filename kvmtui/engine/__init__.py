"""kvmtui.engine: the simulated kernel. Plain Python, standard library only, deterministic.

It imports nothing from the rest of kvmtui (and never Textual or Rich). Drive it with:

    m = Machine(get_profile("3.7"), [Mapping("rom", hva, size, "r", "file")])
    rec = m.apply(SetMemoryRegion(UserMemoryRegion(slot, flags, gpa, size, hva)))
    rec = m.apply(Access(AccessKind.WRITE, gpa, 1, 0x5a))

Snapshots: the VM state (struct kvm) is containers of immutable values, so `Machine.snapshot()` is a
set of shallow copies (copy-on-snapshot); `History` keeps checkpoints spaced by state size and replays
from the nearest one to step back.
"""

from .addresses import PAGE_SHIFT, PAGE_SIZE, format_size, parse_size
from .compare import StepDiff, compare_records, rerun
from .history import History
from .host import Mapping
from .machine import Machine
from .memslots import MemSlot, UserMemoryRegion
from .profiles import KERNEL_ERAS, PROFILES, Profile, get_profile
from .records import KernelCall, MmioExit, SlotChange, SpteChange, SpteState, StepRecord
from .settings import DEFAULT_SETTINGS, HostSettings
from .steps import Access, CheckExtension, GetDirtyLog, HostOp, SetMemoryRegion, Step
from .uapi import AccessKind, Outcome
from .vcpu import ACCESS_PATHS

__all__ = [
    "ACCESS_PATHS",
    "DEFAULT_SETTINGS",
    "KERNEL_ERAS",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PROFILES",
    "Access",
    "AccessKind",
    "CheckExtension",
    "GetDirtyLog",
    "History",
    "HostOp",
    "HostSettings",
    "KernelCall",
    "Machine",
    "Mapping",
    "MemSlot",
    "MmioExit",
    "Outcome",
    "Profile",
    "SetMemoryRegion",
    "SlotChange",
    "SpteChange",
    "SpteState",
    "Step",
    "StepDiff",
    "StepRecord",
    "UserMemoryRegion",
    "compare_records",
    "format_size",
    "get_profile",
    "parse_size",
    "rerun",
]
