"""A run's guest-physical layout at one step, with names: what `kvmtui map`, `kvmtui diff` and the app's
address-space view show. Names and MMIO devices are scenario plumbing; the ranges come from
kvmtui.engine.layout over the committed slot tables.

A slot is named, best first, by QEMU's own `info mtree -f` (--mtree, matched by range), else by the host
mapping it points into: the mapping's path from a /proc/PID/maps file (--maps), an ELF segment, or the
scenario's host name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .engine.addresses import format_size, gfn_to_gpa
from .engine.kvm import Kvm
from .engine.layout import GPA_SPACE_END, LayoutDiff, diff_address_spaces, flat_ranges
from .engine.memslots import MemSlot
from .engine.uapi import flag_names, short_flag_names
from .run import Run
from .runner import ScenarioRun
from .scenario.errors import ScenarioError
from .scenario.mtree import FlatView, holes_named, read_mtree, region_at, view_of
from .scenario.opening import open_scenario


@dataclass(frozen=True, slots=True)
class MapRow:
    """One flat range of the address-space view: a slot's range, or part of a hole."""

    as_id: int
    gpa: int
    size: int
    slot: MemSlot | None
    name: str | None  # the slot's name (a QEMU region, a mapping's path, a host name); for a hole, the device there
    hva: int | None
    kind: str  # "slot", "hole", "mmio" (a scenario device in a hole), "qemu" (a QEMU region in a hole)
    shadowed: tuple[str, ...] = ()  # scenario MMIO devices under a slot: RAM answers, not the device
    offset: int | None = None  # where the range starts in what names it (`pc.ram @0xc0000`)
    label: str | None = None  # the name as shown

    @property
    def shown(self) -> str:
        return self.label or self.name or ""

    @property
    def end(self) -> int:
        return self.gpa + self.size


@dataclass
class Layout:
    """One file's slot tables after `step` of its `steps` steps, and the names to show them with."""

    source: str
    run: Run
    step: int
    steps: int
    tables: dict[int, tuple[MemSlot, ...]]
    mtree: list[FlatView] | None = None

    @property
    def address_spaces(self) -> int:
        return getattr(self.run, "address_spaces", 1)  # a live run: this machine's kernel, one

    @property
    def spaces_note(self) -> str:
        n = self.address_spaces
        if n == 1:
            return "1 address space"
        return f"{n} address spaces (the log's kernel accepted address space 1; this machine's kernel has 1)"

    def named(self, slot: MemSlot) -> tuple[str, int] | None:
        """(name, offset of the slot's start in what is named) or None: QEMU's region from --mtree, else the
        host mapping the slot points into (a maps path, an ELF segment, a scenario host name)."""
        if self.mtree:
            view = view_of(self.mtree, slot.as_id)
            if view is not None:
                found = region_at(view, gfn_to_gpa(slot.base_gfn))
                if found:
                    return found
        for m in self.run.mappings.values():
            if m.hva <= slot.userspace_addr < m.end:
                return m.name, slot.userspace_addr - m.hva
        return None

    def name(self, slot: MemSlot) -> str | None:
        """The name as shown: `pc.ram`, `pc.ram @0xc0000`, an ELF segment with its symbol."""
        found = self.named(slot)
        if found is None:
            return None
        name, off = found
        text = name if not off else f"{name} @{off:#x}"
        sym = self.run.symbol(gfn_to_gpa(slot.base_gfn)) if self.run.scenario.symbols else None
        return f"{text} <{sym}>" if sym and "+" not in sym else text


def layout_at(run: Run, source: str, step: int | None = None, mtree: list[FlatView] | None = None) -> Layout:
    """The layout after the first `step` steps (default: all of them). ValueError for a step out of range."""
    total = len(run)
    n = total if step is None else step
    if not 0 <= n <= total:
        raise ValueError(f"step {n} out of range: {source} has {total} step{'s' if total != 1 else ''} (0..{total})")
    return layout_of_state(run, source, n, run.state_after(n), mtree)


def layout_of_state(run: Run, source: str, step: int, kvm: Kvm, mtree: list[FlatView] | None = None) -> Layout:
    """The layout of a VM state the caller already has (the app's view of a step)."""
    tables = {as_id: tuple(ms) for as_id, ms in enumerate(kvm.memslots_by_as)}
    return Layout(source, run, step, len(run), tables, mtree)


def parse_diff_target(text: str) -> tuple[str | None, int | None]:
    """What the app's diff prompt names: `step N` (this file after step N), `PATH`, or `PATH step N`.
    (path or None, step or None); ValueError with the reason for anything else."""
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ValueError(str(e)) from None
    if not words:
        raise ValueError("type `step N` (this file after step N) or a file to compare with")
    step = None
    if len(words) >= 2 and words[-2].lower() == "step":
        try:
            step = int(words[-1], 0)
        except ValueError:
            raise ValueError(f"{words[-1]!r} is not a step number") from None
        if step < 0:
            raise ValueError("a step number is 0 or more")
        words = words[:-2]
    if len(words) > 1:
        raise ValueError("one file at a time (quote a path with spaces)")
    return (words[0] if words else None), step


def map_rows(layout: Layout) -> list[MapRow]:
    """The whole guest-physical space of every address space, in gpa order: slots with their names, and
    holes cut where the scenario's MMIO devices (or QEMU's own regions, from --mtree) sit."""
    devices = [(d.gpa, d.gpa + d.size, d.name, "mmio") for d in layout.run.scenario.mmio]
    out: list[MapRow] = []
    for as_id, slots in layout.tables.items():
        named: list[tuple[int, int, str, str]] = list(devices) if as_id == 0 else []
        if layout.mtree:
            view = view_of(layout.mtree, as_id)
            if view is not None:
                named += [(r.gpa, r.end, r.label, "qemu") for r in holes_named(view)]
        named.sort()
        for r in flat_ranges(slots, as_id):
            if r.slot is not None:
                under = tuple(name for lo, hi, name, kind in named if kind == "mmio" and lo < r.end and hi > r.gpa)
                found = layout.named(r.slot)
                out.append(MapRow(as_id, r.gpa, r.size, r.slot, found[0] if found else None, r.hva, "slot", under,
                                  found[1] if found else None, layout.name(r.slot)))
                continue
            pos = r.gpa
            for lo, hi, name, kind in named:
                lo, hi = max(lo, pos), min(hi, r.end)
                if lo >= hi:
                    continue
                if lo > pos:
                    out.append(MapRow(as_id, pos, lo - pos, None, None, None, "hole"))
                out.append(MapRow(as_id, lo, hi - lo, None, name, None, kind))
                pos = hi
            if pos < r.end:
                out.append(MapRow(as_id, pos, r.end - pos, None, None, None, "hole"))
    return out


def slot_json(layout: Layout, slot: MemSlot | None, gpa: int) -> dict[str, Any] | None:
    if slot is None:
        return None
    found = layout.named(slot)
    out: dict[str, Any] = {"slot": slot.number, "as_id": slot.as_id, "flags": flag_names(slot.flags),
                           "name": found[0] if found else None, "hva": slot.userspace_addr + gpa - (gfn_to_gpa(slot.base_gfn))}
    if found:
        out["offset"] = found[1] + gpa - (gfn_to_gpa(slot.base_gfn))  # where this range starts in what is named
    return out


def diff(a: Layout, b: Layout) -> list[LayoutDiff]:
    return diff_address_spaces(a.tables, b.tables)


def diff_json(d: LayoutDiff, a: Layout, b: Layout) -> dict[str, Any]:
    return {"gpa": d.gpa, "size": d.size, "as_id": d.as_id, "a": slot_json(a, d.a, d.gpa), "b": slot_json(b, d.b, d.gpa)}


def map_json(row: MapRow) -> dict[str, Any]:
    out: dict[str, Any] = {"gpa": row.gpa, "size": row.size, "as_id": row.as_id, "kind": row.kind, "name": row.name}
    if row.slot is not None:
        out.update(slot=row.slot.number, flags=flag_names(row.slot.flags), hva=row.hva)
        if row.offset is not None:
            out["offset"] = row.offset
    if row.shadowed:
        out["shadowed"] = list(row.shadowed)
    return out


def range_text(gpa: int, size: int) -> str:
    """QEMU's spelling: 16 hex digits, end inclusive."""
    return f"{gpa:016x}-{min(gpa + size, GPA_SPACE_END) - 1:016x}"


def slot_text(layout: Layout, slot: MemSlot | None) -> str:
    if slot is None:
        return "(no slot)"
    flags = ",".join(short_flag_names(slot.flags))
    name = layout.name(slot)
    return f"slot {slot.number}" + (f" {name}" if name else "") + (f" [{flags}]" if flags else "")


def describe_size(size: int) -> str:
    """Exact when a binary unit divides it (640K, 16M), else three figures (~511.8M): a size to read, not to copy."""
    exact = format_size(size)
    if len(exact) <= 6:
        return exact
    for unit, shift in (("E", 60), ("P", 50), ("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift:
            return f"~{size / (1 << shift):.4g}{unit}"
    return exact


def names_problem(mtree: str | None) -> str | None:
    """What is wrong with an --mtree file (it must be QEMU's `info mtree -f` output), or None."""
    if mtree:
        try:
            read_mtree(mtree)
        except ScenarioError as e:
            return str(e)
    return None


def open_layout(path: str, step: int | None, maps: str | None, mtree: str | None) -> tuple[Layout | None, str | None]:
    """The layout of anything kvmtui opens after `step` steps (default: all), or None and an error line."""
    try:
        scenario = open_scenario(path, maps)
        views = read_mtree(mtree) if mtree else None
        return layout_at(ScenarioRun(scenario), path, step, views), None
    except ScenarioError as e:
        return None, str(e)
    except ValueError as e:
        return None, f"{path}: {e}"
