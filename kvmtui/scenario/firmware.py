"""`kvmtui FILE.elf`: a scenario made from an ELF alone: its segments placed, RAM below them, no steps."""

from __future__ import annotations

from pathlib import Path

from ..engine.addresses import format_size
from ..engine.uapi import KVM_MEM_READONLY
from .elf import read_elf
from .model import HostRef, HostSpec, Pos, Scenario, StepSpec

MAX_RAM_BELOW = 2 << 30
_P = Pos(0, 0)


def scenario_from_elf(path: str | Path) -> Scenario:
    image = read_elf(path)
    ranges, place_notes = image.ranges()
    name = Path(path).name
    host: list[HostSpec] = []
    setup: list[StepSpec] = []
    lowest = min(r.gpa for r in ranges)
    slot = 0
    if lowest > 0:
        ram = min(lowest, MAX_RAM_BELOW)
        host.append(HostSpec("ram", ram, "rw", "anon", 0, b"", None, _P))
        setup.append(StepSpec("set_memory_region", {"slot": slot, "gpa": 0, "host": HostRef("ram", 0), "size": ram, "flags": 0},
                              f"RAM below the image: {format_size(ram)}", None, _P, phase="setup"))
        slot += 1
    layout = []
    stem = Path(path).stem.replace("+", "_") or "elf"  # (once: a Path per segment was a third of the read)
    for j, r in enumerate(ranges):
        mapping = f"{stem}.{j}"
        host.append(HostSpec(mapping, r.size, "rw", "anon", 0, r.image, None, _P))  # as QEMU loads a ROM: host RAM, read-only slot
        kind = "rw" if r.writable else "read-only"
        setup.append(StepSpec("set_memory_region", {"slot": slot, "gpa": r.gpa, "host": HostRef(mapping, 0), "size": r.size,
                                                     "flags": 0 if r.writable else KVM_MEM_READONLY},
                              f"segments {', '.join(map(str, r.segments))}: {kind}", None, _P, phase="setup"))
        layout.append(f"- slot {slot}: `{r.gpa:#x}`–`{r.gpa + r.size - 1:#x}` ({format_size(r.size)}), {kind}, segments {', '.join(map(str, r.segments))}")
        slot += 1
    notes = (*image.notes, *place_notes)
    description = (
        f"`{name}`: {image.machine.removeprefix('EM_')}, {image.elfclass}-bit, "
        f"{'little' if image.little_endian else 'big'}-endian, entry `{image.entry:#x}`, "
        f"{len(image.segments)} loadable segment{'s' if len(image.segments) != 1 else ''}, {len(image.symbols)} symbols.\n\n"
        + "\n".join(layout)
        + ("\n\n" + "\n".join(f"- note: {n}" for n in notes) if notes else "")
        + "\n\nNo steps yet: press `:` to probe (`r ADDR`, `w ADDR SIZE VALUE`, `f ADDR`)."
    )
    return Scenario(str(path), f"{name} ({image.machine.removeprefix('EM_')})", description, "modern", "native", 0xFF,
                    tuple(host), (), tuple(setup), (), 1, image.symbols, notes)
