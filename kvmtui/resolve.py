"""From a scenario's words to the kernel's requests, for every backend alike.

A scenario names host memory ("ram+0x1000") and may leave out a set_memory_region's fields (they are the
slot's current ones). `resolve_step` turns one StepSpec into the engine Step (the ioctl request) against
the slot table as it stands: the simulated run passes its machine's table, the live run the table of what
the real kernel accepted. `HostLayout` is where the VMM maps each named mapping; `Symbols` names gpas.
This is scenario plumbing, not kernel logic: nothing here decides what the kernel does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .engine import (
    Access,
    AccessKind,
    CheckExtension,
    GetDirtyLog,
    HostOp,
    Mapping,
    SetMemoryRegion,
    Step,
    UserMemoryRegion,
)
from .engine.addresses import gfn_to_gpa, split_slot
from .engine.host import HostMemory
from .engine.memslots import MemSlot, Memslots
from .engine.steps import (
    ClearDirtyLog,
    CreateGuestMemfd,
    CreateVm,
    EnableCap,
    HarvestDirtyRing,
    ResetDirtyRings,
)
from .engine.uapi import GUEST_MEMFD_FLAG_MMAP, KVM_MEM_GUEST_MEMFD
from .engine.values import builder
from .scenario.model import HostRef, Scenario, StepSpec

# op -> kind: a dict lookup, not the enum's call, per step. An access spec resolves to
# Access(kind, p["gpa"], p["size"], p.get("value"), p.get("vcpu", 0)); the runner's stream reads it so too.
ACCESS_KINDS = {k.value: k for k in AccessKind}

# The slot table of one address space, as it stands now (Kvm.memslots_of).
MemslotsOf = Callable[[int], Memslots]


@dataclass(frozen=True, slots=True)
class HostLayout:
    """The VMM's mappings made at start, and where it will mmap each guest_memfd made with the mmap flag."""

    mappings: dict[str, Mapping]  # by name, in the scenario's order
    gmem_mappings: dict[str, Mapping]

    @classmethod
    def of(cls, scenario: Scenario) -> HostLayout:
        """Laid out as the simulator's host lays them out: a mapping without `hva:` at the next free place,
        guest_memfd mmaps after all of them, in the order the scenario makes them (mapped only when the
        creation succeeds)."""
        layout = HostMemory()
        mappings: dict[str, Mapping] = {}
        for h in scenario.host:
            hva = h.hva if h.hva is not None else layout.next_free_hva()
            m = Mapping(h.name, hva, h.size, h.prot, h.backing, h.fill, h.image)  # type: ignore[arg-type]
            layout.mmap(m)
            mappings[m.name] = m
        gmem: dict[str, Mapping] = {}
        for spec in scenario.all_steps:
            p = spec.params
            if spec.op == "create_guest_memfd" and p["flags"] & GUEST_MEMFD_FLAG_MMAP and p["name"] not in gmem and 0 < p["size"] < 1 << 47:
                m = Mapping(p["name"], layout.next_free_hva(), p["size"], "rw", "anon")
                layout.mmap(m)
                gmem[p["name"]] = m
        return cls(mappings, gmem)

    def mapping(self, name: str) -> Mapping:
        """A host mapping by name: one the VMM made at start, or the mmap of a guest_memfd."""
        m = self.mappings.get(name)
        return m if m is not None else self.gmem_mappings[name]

    def hva(self, ref: HostRef) -> int:
        return self.mapping(ref.name).hva + ref.offset

    def size_from(self, ref: HostRef) -> int:
        """What is left of the mapping from ref on: the size a step that leaves it out means."""
        return max(self.mapping(ref.name).size - ref.offset, 0)

    def label(self, hva: int) -> str:
        """"name" or "name+0xoff" of the mapping holding hva, else the address."""
        for m in (*self.mappings.values(), *self.gmem_mappings.values()):
            if m.hva <= hva < m.end:
                return m.name if hva == m.hva else f"{m.name}+{hva - m.hva:#x}"
        return f"{hva:#x}"


class Symbols:
    """An ELF's symbols by guest-physical address, both ways."""

    __slots__ = ("_starts", "_symbols")

    def __init__(self, scenario: Scenario) -> None:
        self._symbols = scenario.symbols
        self._starts = [sym.paddr for sym in scenario.symbols]

    def name(self, gpa: int) -> str | None:
        """The nearest symbol as "name+0xoff", or None."""
        if not self._starts:
            return None
        from .scenario.elf import symbol_name  # (symbols come from ELF images: the reader is loaded for them only)

        return symbol_name(self._symbols, self._starts, gpa)

    def address(self, name: str) -> int | None:
        return next((s.paddr for s in self._symbols if s.name == name), None)


def current_slot(memslots_of: MemslotsOf, slot: int) -> MemSlot | None:
    """The slot a request names (as_id in the high 16 bits) in its address space, or None."""
    as_id, sid = split_slot(slot)
    return memslots_of(as_id).id_to_memslot(sid)


def resolve_step(spec: StepSpec, layout: HostLayout, memslots_of: MemslotsOf) -> Step:
    """The engine step (the request the VMM makes) for one scenario step, as the slot table stands now."""
    p = spec.params
    kind = ACCESS_KINDS.get(spec.op)
    if kind is not None:  # first: most steps of a long trace are accesses
        return Access(kind, p["gpa"], p["size"], p.get("value"), p.get("vcpu", 0))
    build = _BUILDERS.get(spec.op)
    if build is not None:
        return build(p, layout, memslots_of)
    host: HostRef = p["host"]
    size = len(p["data"]) if spec.op == "host_write" else p.get("size", layout.size_from(host))
    return HostOp(spec.op, layout.hva(host), size, p.get("prot"), p.get("data", b""))  # type: ignore[arg-type]


def _set_memory_region(p: dict, layout: HostLayout, memslots_of: MemslotsOf) -> Step:
    return _new_set_region(_region(p, layout, current_slot(memslots_of, p["slot"])))


def _delete_slot(p: dict, layout: HostLayout, memslots_of: MemslotsOf) -> Step:
    """A size-0 request for the slot as it stands (the kernel checks the other fields of a delete too)."""
    cur = current_slot(memslots_of, p["slot"])
    gpa, uaddr = (gfn_to_gpa(cur.base_gfn), cur.userspace_addr) if cur else (0, 0)
    if cur is not None and cur.gmem:  # through REGION2 with its fd and offset (scenario-format.md)
        return SetMemoryRegion(UserMemoryRegion(p["slot"], cur.flags, gpa, 0, uaddr, cur.gmem, cur.gmem_offset, 2))
    return SetMemoryRegion(UserMemoryRegion(p["slot"], 0, gpa, 0, uaddr))


def _create_guest_memfd(p: dict, layout: HostLayout, memslots_of: MemslotsOf) -> Step:
    m = layout.gmem_mappings.get(p["name"])
    return CreateGuestMemfd(p["name"], p["size"], p["flags"], m.hva if m else None)


# Every op that is neither an access nor a host change: how its request is built.
_BUILDERS: dict[str, Callable[[dict, HostLayout, MemslotsOf], Step]] = {
    "set_memory_region": _set_memory_region,
    "delete_slot": _delete_slot,
    "create_guest_memfd": _create_guest_memfd,
    "get_dirty_log": lambda p, _l, _m: GetDirtyLog(p["slot"]),
    "check_extension": lambda p, _l, _m: CheckExtension(p["cap"]),
    "create_vm": lambda p, _l, _m: CreateVm(p["vm_type"], p["type"]),
    "enable_cap": lambda p, _l, _m: EnableCap(p["cap"], tuple(p["args"])),
    "clear_dirty_log": lambda p, _l, _m: ClearDirtyLog(p["slot"], p["first_page"], p["num_pages"]),
    "harvest_dirty_ring": lambda p, _l, _m: HarvestDirtyRing(p.get("vcpu", 0)),
    "reset_dirty_rings": lambda _p, _l, _m: ResetDirtyRings(),
}


def _region(p: dict, layout: HostLayout, cur: MemSlot | None) -> UserMemoryRegion:
    """A set_memory_region's request: every field the scenario left out is the slot's current one."""
    host: HostRef | None = p.get("host")
    # p["x"] if "x" in p, not p.get("x", default): the default (a mapping's size, the slot's field) is worked
    # out only when the scenario left the field out
    if host is not None:
        uaddr = layout.hva(host)
        size = p["size"] if "size" in p else layout.size_from(host)
    elif "uaddr" in p:  # a raw userspace address (imported logs, userspace_addr:)
        uaddr = p["uaddr"]
        size = p["size"] if "size" in p else (gfn_to_gpa(cur.npages) if cur else 0)
    else:
        uaddr = cur.userspace_addr if cur else 0
        size = p["size"] if "size" in p else (gfn_to_gpa(cur.npages) if cur else 0)
    gpa = p["gpa"] if "gpa" in p else (gfn_to_gpa(cur.base_gfn) if cur else 0)
    flags = p.get("flags", cur.flags if cur else 0)
    ref: HostRef | None = p.get("guest_memfd")
    gmem, gmem_off = (ref.name, ref.offset) if ref is not None else ((cur.gmem, cur.gmem_offset) if cur and cur.gmem else (None, 0))
    ioctl = p["ioctl"] if "ioctl" in p else (2 if flags & KVM_MEM_GUEST_MEMFD or gmem else 1)
    return _new_region(p["slot"], flags, gpa, size, uaddr, gmem, gmem_off, ioctl)


# UserMemoryRegion(...), SetMemoryRegion(...) as plain functions (values.builder): one of each per slot of a layout
_new_region, _new_set_region = builder(UserMemoryRegion), builder(SetMemoryRegion)
