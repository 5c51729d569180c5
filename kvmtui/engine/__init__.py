"""kvmtui.engine: the simulated kernel. Plain Python, standard library only, deterministic.

It imports nothing from the rest of kvmtui (and never Textual or Rich). Drive it with:

    m = Machine(get_profile("3.7"), [Mapping("rom", hva, size, "r", "file")])
    rec = m.apply(SetMemoryRegion(UserMemoryRegion(slot, flags, gpa, size, hva)))
    rec = m.apply(Access(AccessKind.WRITE, gpa, 1, 0x5a))

Snapshots: the VM state (struct kvm) is containers of immutable values, so `Machine.snapshot()` is a
set of shallow copies (copy-on-snapshot); `History` keeps checkpoints spaced by state size and replays
from the nearest one to step back.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first use (below)
    from .addresses import PAGE_SHIFT, PAGE_SIZE, format_size, parse_size
    from .calls import KernelCall
    from .compare import StepDiff, compare_records, rerun
    from .history import History
    from .host import Mapping
    from .machine import Machine
    from .memslots import MemSlot, UserMemoryRegion
    from .profiles import KERNEL_ERAS, PROFILES, Profile, get_profile
    from .records import MmioExit, SlotChange, SpteChange, SpteState, StepRecord
    from .settings import DEFAULT_SETTINGS, HostSettings
    from .steps import Access, CheckExtension, GetDirtyLog, HostOp, SetMemoryRegion, Step
    from .vocabulary import ACCESS_PATHS, ERAS, AccessKind, CallResult, Op, Outcome

# Importing kvmtui.engine.<module> (the CLI reads the vocabulary to build its parsers) must not import the
# whole engine: these names load their module when first asked for (PEP 562).
_WHERE = {
    "PAGE_SHIFT": "addresses",
    "PAGE_SIZE": "addresses",
    "format_size": "addresses",
    "parse_size": "addresses",
    "StepDiff": "compare",
    "compare_records": "compare",
    "rerun": "compare",
    "History": "history",
    "Mapping": "host",
    "Machine": "machine",
    "MemSlot": "memslots",
    "UserMemoryRegion": "memslots",
    "KERNEL_ERAS": "profiles",
    "PROFILES": "profiles",
    "Profile": "profiles",
    "get_profile": "profiles",
    "KernelCall": "calls",
    "MmioExit": "records",
    "SlotChange": "records",
    "SpteChange": "records",
    "SpteState": "records",
    "StepRecord": "records",
    "DEFAULT_SETTINGS": "settings",
    "HostSettings": "settings",
    "Access": "steps",
    "CheckExtension": "steps",
    "GetDirtyLog": "steps",
    "HostOp": "steps",
    "SetMemoryRegion": "steps",
    "Step": "steps",
    "ACCESS_PATHS": "vocabulary",
    "ERAS": "vocabulary",
    "AccessKind": "vocabulary",
    "CallResult": "vocabulary",
    "Op": "vocabulary",
    "Outcome": "vocabulary",
}


def __getattr__(name: str) -> object:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{mod}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ACCESS_PATHS",
    "DEFAULT_SETTINGS",
    "ERAS",
    "KERNEL_ERAS",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PROFILES",
    "Access",
    "AccessKind",
    "CallResult",
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
    "Op",
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
