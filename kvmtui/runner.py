"""Turn a Scenario into engine steps, run them, and check each step's `expect:`.

This is scenario plumbing (mapping names, omitted fields, the userspace MMIO devices), not kernel logic:
every kernel decision comes from kvmtui.engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .engine import (
    DEFAULT_SETTINGS,
    Access,
    AccessKind,
    CheckExtension,
    GetDirtyLog,
    History,
    HostSettings,
    Machine,
    Mapping,
    SetMemoryRegion,
    Step,
    StepRecord,
    UserMemoryRegion,
    get_profile,
)
from .engine.addresses import split_slot
from .engine.host import HostMemory
from .engine.profiles import with_address_spaces
from .engine.steps import (
    ClearDirtyLog,
    CreateGuestMemfd,
    CreateVm,
    EnableCap,
    HarvestDirtyRing,
    HostOp,
    ResetDirtyRings,
)
from .engine.uapi import GUEST_MEMFD_FLAG_MMAP, KVM_MEM_GUEST_MEMFD
from .scenario.elf import symbol_name
from .scenario.model import Expect, HostRef, Scenario, StepSpec


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One record as the trace and the app show it: the engine's record plus where it came from."""

    index: int  # 1-based over setup and steps
    spec: StepSpec
    record: StepRecord
    unmet: tuple[str, ...] | None  # None: no expect; () all met

    @property
    def phase(self) -> str:
        return self.spec.phase

    @property
    def expect_met(self) -> bool | None:
        return None if self.unmet is None else not self.unmet


def build_mappings(scenario: Scenario) -> list[Mapping]:
    return build_layout(scenario)[0]


def build_layout(scenario: Scenario) -> tuple[list[Mapping], dict[str, Mapping]]:
    """The VMM's mappings made at start, and where it will mmap each guest_memfd made with the mmap flag
    (laid out after them, in the order the scenario makes them; mapped only when the creation succeeds)."""
    layout = HostMemory()
    out = []
    for h in scenario.host:
        hva = h.hva if h.hva is not None else layout.next_free_hva()
        m = Mapping(h.name, hva, h.size, h.prot, h.backing, h.fill, h.image)  # type: ignore[arg-type]
        layout.mmap(m)
        out.append(m)
    gmem: dict[str, Mapping] = {}
    for spec in scenario.all_steps:
        p = spec.params
        if spec.op == "create_guest_memfd" and p["flags"] & GUEST_MEMFD_FLAG_MMAP and p["name"] not in gmem and 0 < p["size"] < 1 << 47:
            m = Mapping(p["name"], layout.next_free_hva(), p["size"], "rw", "anon")
            layout.mmap(m)
            gmem[p["name"]] = m
    return out, gmem


def mmio_answer(scenario: Scenario):
    devices = scenario.mmio
    fill = scenario.mmio_fill

    def answer(gpa: int, n: int) -> bytes:
        out = bytearray()
        for a in range(gpa, gpa + n):
            byte = fill
            for d in devices:
                if d.gpa <= a < d.gpa + d.size:
                    byte = fill if d.read is None else d.read
                    break
            out.append(byte)
        return bytes(out)

    return answer


class ScenarioRun:
    """A scenario bound to an era and access path: the machine, the steps, the records on demand."""

    def __init__(self, scenario: Scenario, kernel: str | None = None, path: str | None = None,
                 settings: HostSettings = DEFAULT_SETTINGS) -> None:
        self.scenario = scenario
        self.kernel = kernel or scenario.kernel
        self.path = path or scenario.path
        self.settings = settings  # the host's (module parameters, swap): a live host's, or the kernel defaults
        mappings, self.gmem_mappings = build_layout(scenario)
        self.mappings = {m.name: m for m in mappings}
        self.specs: list[StepSpec] = list(scenario.all_steps)
        profile = get_profile(self.kernel)
        if scenario.address_spaces and profile.name == "modern":  # 3.x kernels had one address space
            profile = with_address_spaces(profile, scenario.address_spaces)
        self.profile = profile
        self.address_spaces = profile.address_spaces
        self.machine = Machine(profile, self.mappings.values(), self.path, mmio_answer(scenario), settings)  # type: ignore[arg-type]
        self.history = History(self.machine, _LazySteps(self))
        self._entries: list[TraceEntry] = []
        self._symbol_starts = [sym.paddr for sym in scenario.symbols]

    # Steps that depend on the VM's state (omitted set_memory_region fields) are resolved when reached.
    def engine_step(self, i: int, machine: Machine) -> Step:
        spec = self.specs[i]
        p = spec.params
        op = spec.op
        if op in ("read", "write", "fetch"):
            return Access(AccessKind(op), p["gpa"], p["size"], p.get("value"), p.get("vcpu", 0))
        if op == "set_memory_region":
            cur = _current_slot(machine, p["slot"])
            host: HostRef | None = p.get("host")
            if host is not None:
                uaddr = self.hva(host)
                size = p.get("size", max(self.mapping(host.name).size - host.offset, 0))
            elif "uaddr" in p:  # a raw userspace address (imported logs, userspace_addr:)
                uaddr = p["uaddr"]
                size = p.get("size", cur.npages << 12 if cur else 0)
            else:
                uaddr = cur.userspace_addr if cur else 0
                size = p.get("size", cur.npages << 12 if cur else 0)
            gpa = p.get("gpa", cur.base_gfn << 12 if cur else 0)
            flags = p.get("flags", cur.flags if cur else 0)
            ref: HostRef | None = p.get("guest_memfd")
            gmem, gmem_off = (ref.name, ref.offset) if ref is not None else ((cur.gmem, cur.gmem_offset) if cur and cur.gmem else (None, 0))
            ioctl = p.get("ioctl", 2 if flags & KVM_MEM_GUEST_MEMFD or gmem else 1)
            return SetMemoryRegion(UserMemoryRegion(p["slot"], flags, gpa, size, uaddr, gmem, gmem_off, ioctl))
        if op == "delete_slot":
            cur = _current_slot(machine, p["slot"])
            gpa, uaddr = (cur.base_gfn << 12, cur.userspace_addr) if cur else (0, 0)
            if cur is not None and cur.gmem:  # through REGION2 with its fd and offset (scenario-format.md)
                return SetMemoryRegion(UserMemoryRegion(p["slot"], cur.flags, gpa, 0, uaddr, cur.gmem, cur.gmem_offset, 2))
            return SetMemoryRegion(UserMemoryRegion(p["slot"], 0, gpa, 0, uaddr))
        if op == "get_dirty_log":
            return GetDirtyLog(p["slot"])
        if op == "check_extension":
            return CheckExtension(p["cap"])
        if op == "create_vm":
            return CreateVm(p["vm_type"], p["type"])
        if op == "create_guest_memfd":
            m = self.gmem_mappings.get(p["name"])
            return CreateGuestMemfd(p["name"], p["size"], p["flags"], m.hva if m else None)
        if op == "enable_cap":
            return EnableCap(p["cap"], tuple(p["args"]))
        if op == "clear_dirty_log":
            return ClearDirtyLog(p["slot"], p["first_page"], p["num_pages"])
        if op == "harvest_dirty_ring":
            return HarvestDirtyRing(p.get("vcpu", 0))
        if op == "reset_dirty_rings":
            return ResetDirtyRings()
        host = p["host"]
        hva = self.hva(host)
        size = p.get("size", max(self.mapping(host.name).size - host.offset, 0))
        if op == "host_write":
            size = len(p["data"])
        return HostOp(op, hva, size, p.get("prot"), p.get("data", b""))  # type: ignore[arg-type]

    def symbol(self, gpa: int) -> str | None:
        """The nearest ELF symbol as "name+0xoff", or None."""
        if not self._symbol_starts:
            return None
        return symbol_name(self.scenario.symbols, self._symbol_starts, gpa)

    def symbol_address(self, name: str) -> int | None:
        return next((s.paddr for s in self.scenario.symbols if s.name == name), None)

    def close(self) -> None:
        """Nothing to release: the simulated VM is plain Python values."""

    def mapping(self, name: str) -> Mapping:
        """A host mapping by name: one the VMM made at start, or the mmap of a guest_memfd."""
        m = self.mappings.get(name)
        return m if m is not None else self.gmem_mappings[name]

    def hva(self, ref: HostRef) -> int:
        return self.mapping(ref.name).hva + ref.offset

    def __len__(self) -> int:
        return len(self.specs)

    def entry(self, i: int) -> TraceEntry:
        """The trace entry of step i (0-based), computing records up to it."""
        self.history.compute_to(i + 1)
        while len(self._entries) <= i:
            j = len(self._entries)
            spec = self.specs[j]
            rec = self.history.records[j]
            expect = spec.expect.for_era(self.kernel, self.path) if spec.expect is not None else None
            unmet = None if expect is None else tuple(check_expect(expect, rec))
            self._entries.append(TraceEntry(j + 1, spec, rec, unmet))
        return self._entries[i]

    shows_internals = True  # the simulator knows its sptes and host pages; the live kernel does not say

    def state_after(self, n: int):
        """A private copy of the VM state after the first n steps."""
        return self.history.state_after(n).kvm.copy()

    def insert_step(self, index: int, spec: StepSpec) -> TraceEntry:
        """Insert a step at index (0-based) and run it; the steps after it will be re-run when reached."""
        self.history.truncate(index)
        del self._entries[index:]
        self.specs.insert(index, spec)
        return self.entry(index)

    def stream(self) -> Iterator[TraceEntry]:
        """Every step's entry in order, each computed once and kept by no one: trace and check read a run
        this way, so memory stays flat however long the scenario. It runs on a machine of its own; the
        run's history (the app's stepping back and forth) is left as it was."""
        # The run's own profile and host settings: a log's address-space count and the live host's module
        # parameters hold for the streamed run exactly as for the stepped one.
        machine = Machine(self.profile, self.mappings.values(), self.path, mmio_answer(self.scenario),  # type: ignore[arg-type]
                          self.settings)
        apply, engine_step, kernel, path = machine.apply, self.engine_step, self.kernel, self.path
        for j, spec in enumerate(self.specs):
            rec = apply(engine_step(j, machine))
            unmet = None
            if spec.expect is not None:
                expect = spec.expect.for_era(kernel, path)
                if expect is not None:
                    unmet = tuple(check_expect(expect, rec))
            yield TraceEntry(j + 1, spec, rec, unmet)

    def entries(self) -> list[TraceEntry]:
        if self.specs:
            self.entry(len(self.specs) - 1)
        return list(self._entries)

    def host_label(self, hva: int) -> str:
        for m in (*self.mappings.values(), *self.gmem_mappings.values()):
            if m.hva <= hva < m.end:
                return m.name if hva == m.hva else f"{m.name}+{hva - m.hva:#x}"
        return f"{hva:#x}"


def _current_slot(machine: Machine, slot: int):
    """The slot a request names, in its address space (for fields the scenario left out)."""
    as_id, sid = split_slot(slot)
    return machine.kvm.memslots_of(as_id).id_to_memslot(sid)


class _LazySteps(Sequence[Step]):
    """A sequence view that resolves each spec into an engine step against the machine's current state."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run

    def __len__(self) -> int:
        return len(self.run.specs)

    def __getitem__(self, i: int) -> Step:  # type: ignore[override]  # integer indexes only: History reads one step at a time
        return self.run.engine_step(i, self.run.machine)


def check_expect(e: Expect, r: StepRecord, live: bool = False) -> list[str]:
    """Every way the record differs from what the step expected, in words. A live record cannot be held
    to what the kernel does not show: sptes, and the bytes an instruction fetch read."""
    out: list[str] = []
    if e.outcome is not None and r.outcome != e.outcome:
        out.append(f"outcome: expected {e.outcome}, got {r.outcome}")
    if e.value is not None and r.value != e.value and not (live and r.op == "fetch"):
        got = "nothing (the access did not complete)" if r.value is None else f"{r.value:#x}"
        out.append(f"value: expected {e.value:#x}, got {got}")
    if e.slot is not None and r.slot != e.slot:
        out.append(f"slot: expected {e.slot}, got {r.slot if r.slot is not None else 'no slot'}")
    if e.slot_none and r.slot is not None:
        out.append(f"slot: expected no slot, got slot {r.slot}")
    if e.spte is not None and not live:
        got_spte = str(r.spte[0].after) if r.spte else "none"
        if got_spte != e.spte:
            out.append(f"spte: expected {e.spte}, got {got_spte}")
    if e.ring is not None and r.ring != e.ring:
        got_ring = [list(x) for x in r.ring] if r.ring is not None else f"an error ({r.outcome})"
        out.append(f"ring: expected {[list(x) for x in e.ring]}, got {got_ring}")
    if e.dirty is not None and r.dirty != e.dirty:
        out.append(f"dirty: expected {list(e.dirty)}, got {list(r.dirty) if r.dirty is not None else 'an error (' + r.outcome + ')'}")
    if e.exits is not None:
        want = [(x.phys_addr, x.len, x.data, x.is_write) for x in e.exits]
        got_exits = [(x.phys_addr, x.len, x.data, x.is_write) for x in r.exits]
        if want != got_exits:
            out.append(f"exits: expected {_exits_text(want)}, got {_exits_text(got_exits)}")
    return out


def _exits_text(exits: list[tuple[int, int, bytes, bool]]) -> str:
    if not exits:
        return "none"
    return "; ".join(f"{'write' if w else 'read'} {p:#x} len {n} data {d.hex()}" for p, n, d, w in exits)
