"""Scenarios made by code: large layouts for benchmarks, screenshots and tests."""

from __future__ import annotations

from ..engine.uapi import KVM_MEM_READONLY
from .model import HostRef, HostSpec, Pos, Scenario, StepSpec

_P = Pos(0, 0)


def large_layout(n_slots: int = 32764, n_steps: int = 100_000, kernel: str = "modern") -> Scenario:
    """n_slots 64 KiB slots over one big mapping (every 16th read-only), then reads and writes spread
    over all of them, with a read-only write every 97 steps."""
    slot_size = 64 << 10
    host = (HostSpec("ram", n_slots * slot_size, "rw", "anon", 0, b"", None, _P),)
    setup = tuple(
        StepSpec("set_memory_region", {"slot": i, "gpa": i * slot_size, "host": HostRef("ram", i * slot_size), "size": slot_size,
                                       "flags": KVM_MEM_READONLY if i % 16 == 15 else 0}, None, None, _P, phase="setup")
        for i in range(n_slots)
    )
    steps = []
    for j in range(n_steps):
        slot = (j * 7919) % n_slots
        gpa = slot * slot_size + ((j * 31) % 16) * 4096
        if j % 97 == 96:
            slot = 15 + 16 * ((j // 97) % max(n_slots // 16, 1))
            steps.append(StepSpec("write", {"gpa": slot * slot_size, "size": 4, "vcpu": 0, "value": j & 0xFFFFFFFF}, None, None, _P))
        elif j % 3 == 0:
            steps.append(StepSpec("write", {"gpa": gpa, "size": 8, "vcpu": 0, "value": j}, None, None, _P))
        else:
            steps.append(StepSpec("read", {"gpa": gpa, "size": 4, "vcpu": 0}, None, None, _P))
    return Scenario(f"<generated: {n_slots} slots, {n_steps} steps>", f"{n_slots} slots, {n_steps} steps",
                    "A generated layout: every 16th slot is read-only.", kernel, "native", 0xFF, host, (), setup, tuple(steps))
