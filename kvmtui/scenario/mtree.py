"""QEMU's `info mtree -f` output: the flat views of its address spaces, to name memslots by range.

The format is QEMU's mtree_print_flatview() (softmmu/memory.c): a "FlatView #N" header, one
` AS "NAME", root: REGION` line per address space that shares the view, ` Root memory region: REGION`,
then one line per flat range:

    00000000000c0000-000000001fffffff (prio 0, ram): pc.ram @00000000000c0000 KVM

start and end (inclusive) in hex, the region's priority and type (ram, rom, romd, ramd, i/o, with an
`nv-` prefix for non-volatile), its name, `@offset` when the range starts inside the region, and the
accelerator's name when that accelerator maps the range (KVM: a memslot). Anything else on the page (the
monitor prompt, the I/O view, a dispatch tree) is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import ScenarioError
from .inputfile import MAX_MAPS_BYTES, read_text

_RANGE = re.compile(r"^\s+(?P<lo>[0-9a-f]{16})-(?P<hi>[0-9a-f]{16}) \(prio (?P<prio>-?\d+), (?P<type>[a-z/-]+)\): (?P<rest>.*?)\s*$")
_AS = re.compile(r'^ AS "(?P<name>[^"]*)", root: ')
_OFFSET = re.compile(r"^(?P<name>.*) @(?P<off>[0-9a-f]{16})$")
ACCELERATORS = ("KVM", "HVF", "WHPX", "NVMM", "Xen", "TCG")
# The address space QEMU's KVM memory listener of each as_id reads (kvm_memory_listener_register).
KVM_AS_NAMES = {0: "memory", 1: "KVM-SMRAM"}


@dataclass(frozen=True, slots=True)
class MtreeRange:
    gpa: int
    size: int
    prio: int
    type: str  # ram, rom, romd, ramd, i/o (nv- prefix kept)
    name: str
    offset: int | None  # where in the region the range starts, when not at its start
    accel: str | None  # "KVM" when the accelerator maps it: it is a memslot
    line: int

    @property
    def end(self) -> int:
        return self.gpa + self.size

    @property
    def label(self) -> str:
        return self.name if not self.offset else f"{self.name} @{self.offset:#x}"


@dataclass(frozen=True, slots=True)
class FlatView:
    address_spaces: tuple[str, ...]
    ranges: tuple[MtreeRange, ...]


def parse_mtree(text: str, source: str = "<mtree>") -> list[FlatView]:
    views: list[FlatView] = []
    spaces: list[str] = []
    ranges: list[MtreeRange] = []
    in_view = False

    def close() -> None:
        if in_view:
            views.append(FlatView(tuple(spaces), tuple(ranges)))

    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if "FlatView #" in line:
            close()
            spaces, ranges, in_view = [], [], True
            continue
        if not in_view:
            continue
        a = _AS.match(line)
        if a:
            spaces.append(a["name"])
            continue
        m = _RANGE.match(line)
        if not m:
            if line.startswith(("Dispatch", "(qemu)")):
                close()
                in_view = False
            continue
        lo, hi = int(m["lo"], 16), int(m["hi"], 16)
        if hi < lo:
            raise ScenarioError(source, n, 3, f"range {m['lo']}-{m['hi']} ends before it starts")
        rest = m["rest"]
        accel = None
        for acc in ACCELERATORS:
            if rest.endswith(" " + acc):
                accel, rest = acc, rest[: -len(acc) - 1]
                break
        offset = None
        o = _OFFSET.match(rest)
        if o:
            rest, offset = o["name"], int(o["off"], 16)
        ranges.append(MtreeRange(lo, hi - lo + 1, int(m["prio"]), m["type"], rest, offset, accel, n))
    close()
    return views


def view_of(views: list[FlatView], as_id: int) -> FlatView | None:
    """The flat view QEMU's KVM listener for address space as_id reads."""
    want = KVM_AS_NAMES.get(as_id)
    return next((v for v in views if want in v.address_spaces), None)


def read_mtree(path: str | Path) -> list[FlatView]:
    text = read_text(path, what="QEMU `info mtree -f` output", limit=MAX_MAPS_BYTES, strict=False)  # bounded, regular files only
    views = parse_mtree(text, str(path))
    if view_of(views, 0) is None:
        raise ScenarioError(str(path), None, None, 'no flat view of address space "memory": not the output of QEMU\'s `info mtree -f`')
    return views


def region_at(view: FlatView, gpa: int) -> tuple[str, int] | None:
    """(region name, offset in the region) of what QEMU mapped at gpa for the accelerator: the range
    starting there if there is one (QEMU makes one memslot per RAM flat range), else the one containing it."""
    best = None
    for r in view.ranges:
        if r.gpa <= gpa < r.end and r.type != "i/o":
            if r.gpa == gpa and r.accel:
                return r.name, r.offset or 0
            if best is None:
                best = r
    if best is None:
        return None
    return best.name, (best.offset or 0) + gpa - best.gpa


def name_slot(view: FlatView, gpa: int, size: int) -> str | None:
    """The region at [gpa, gpa + size) as QEMU spells it: `pc.ram`, `pc.ram @0xc0000`."""
    found = region_at(view, gpa)
    if found is None:
        return None
    name, off = found
    return name if not off else f"{name} @{off:#x}"


def holes_named(view: FlatView) -> list[MtreeRange]:
    """The ranges QEMU handles itself (i/o, or not mapped by the accelerator): what a hole's MMIO exit reaches."""
    return [r for r in view.ranges if r.accel is None]
