"""Run a scenario's steps on the real kernel and report what it did in the engine's record shape.

Records from here carry outcomes, values, exits and dirty bitmaps as the kernel gave them; `chain` and
`spte` stay empty because the kernel does not show its internals. `evict` is done as reclaim does it
(kvmapi.host_evict); `poison`, which would damage a host page for good, is reported as `unsupported` and
skipped, never faked.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, Self

from ..engine import Access, AccessKind, CheckExtension, GetDirtyLog, Mapping, SetMemoryRegion, Step, StepRecord
from ..engine.addresses import split_slot
from ..engine.dirty_bitmap import DirtyPages
from ..engine.kvm import Kvm
from ..engine.memslots import ChangeKind, MemSlot, MemslotUpdate, UserMemoryRegion
from ..engine.profiles import get_profile
from ..engine.records import region_args
from ..engine.steps import ClearDirtyLog, CreateGuestMemfd, CreateVm, EnableCap, HarvestDirtyRing, ResetDirtyRings
from ..engine.uapi import KVM_MEM_GUEST_MEMFD, errno_name
from ..engine.vocabulary import OP_OF_ACCESS, Op, Outcome
from ..judge import LIVE
from ..resolve import HostLayout, Symbols, current_slot, resolve_step
from ..run import Run
from ..runner import TraceEntry, entry_of, mmio_answer
from ..scenario.model import Scenario, StepSpec
from .hostmem import LiveHost, LiveMapping
from .memapi_ops import LiveMemApi
from .params import host_settings
from .vm import HARNESS_END, HARNESS_GPA, HARNESS_SLOT, LiveError, LiveVm


class LiveRun:
    """A scenario on /dev/kvm: the same specs as the simulator's run, resolved against the real state."""

    shows_internals = False  # the kernel shows outcomes, values, exits, dirty pages: not sptes or call chains

    def __init__(self, scenario: Scenario, path: str | None = None) -> None:
        self.scenario = scenario
        self.settings = host_settings()  # this host's module parameters and swap, for a simulator beside it
        self.path = path or scenario.path
        self.kernel = "live"
        self.layout = HostLayout.of(scenario)  # where the simulator would map each mapping: live maps it alike
        self.symbols = Symbols(scenario)
        self.specs: list[StepSpec] = list(scenario.all_steps)
        self.answer = mmio_answer(scenario)
        used = {spec.params.get("slot", -1) & 0xFFFF for spec in self.specs if "slot" in spec.params}
        self.harness_slot = next(i for i in range(HARNESS_SLOT, 0, -1) if i not in used)
        self.vm = LiveVm(self.harness_slot)
        self.api = LiveMemApi(self.vm)
        # The slot table as the kernel accepted it: each accepted set_memory_region commits to it (bumping
        # its generation, as install_new_memslots() does), and omitted fields of later steps are read from it.
        self.kvm = Kvm(get_profile("modern"), settings=self.settings)
        self._commits: dict[int, tuple[int, MemslotUpdate]] = {}  # step index -> (address space, what it committed)
        self._snapshot: tuple[int, Kvm] = (0, self.kvm.copy())  # the table after some step, to replay from
        self._entries: list[TraceEntry] = []
        try:
            self.host = LiveHost(scenario, self.layout, self.vm)
        except BaseException:
            self.close()
            raise

    def host_label(self, hva: int) -> str:
        return self.layout.label(hva)

    def symbol(self, gpa: int) -> str | None:
        return self.symbols.name(gpa)

    def symbol_address(self, name: str) -> int | None:
        return self.symbols.address(name)

    @property
    def mappings(self) -> dict[str, Mapping]:
        return self.layout.mappings

    @property
    def maps(self) -> dict[str, LiveMapping]:
        """Each mapping as made in this process."""
        return self.host.maps

    # -- steps -------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.specs)

    def entry(self, i: int) -> TraceEntry:
        while len(self._entries) <= i:
            j = len(self._entries)
            spec = self.specs[j]
            rec = self._apply(resolve_step(spec, self.layout, self.kvm.memslots_of))
            # The modern era's expectations: this kernel is one (kvm-semantics.md e).
            self._entries.append(entry_of(j, spec, rec, "modern", self.path, LIVE))
        return self._entries[i]

    def state_after(self, n: int) -> Kvm:
        """The slot table as the kernel accepted it after n steps (a private copy); sptes and host pages are
        not visible live. Replayed from the nearest earlier table built, which is kept for the next call."""
        if n:
            self.entry(n - 1)
        at, kvm = self._snapshot
        if at > n:
            at, kvm = 0, Kvm(get_profile("modern"), settings=self.settings)
        kvm = kvm.copy()
        for j in range(at, n):
            commit = self._commits.get(j)
            if commit is not None:
                _install(kvm, *commit)
        self._snapshot = (n, kvm)
        return kvm.copy()

    state_at = state_after  # a table replayed per call: nothing to borrow

    def insert_step(self, index: int, spec: StepSpec) -> TraceEntry:
        """A probe: on a real VM only at the latest step (the kernel cannot go back in time)."""
        self.entries()
        if index != len(self.specs):
            raise LiveError("live mode probes at the last step only: go to the end (End) first")
        self.specs.append(spec)
        return self.entry(index)

    def stream(self) -> Iterator[TraceEntry]:
        """Every step's entry in order, each run when reached (a real VM cannot replay: the run keeps them)."""
        for i in range(len(self.specs)):
            yield self.entry(i)

    def entries(self) -> list[TraceEntry]:
        if self.specs:
            self.entry(len(self.specs) - 1)
        return list(self._entries)

    def _apply(self, step: Step) -> StepRecord:
        api = self.api
        if api.vm_type_refused is not None:
            return api.unsupported(step)
        if isinstance(step, CreateVm):
            return api.create_vm(step)
        if isinstance(step, CreateGuestMemfd):
            m = self.host.maps.get(step.name)
            return api.create_guest_memfd(step, m.live_hva if m is not None and step.name in self.layout.gmem_mappings else None)
        if isinstance(step, EnableCap):
            return api.enable_cap(step)
        if isinstance(step, ClearDirtyLog):
            return api.clear_dirty_log(step)
        if isinstance(step, HarvestDirtyRing):
            return api.harvest(step)
        if isinstance(step, ResetDirtyRings):
            return api.reset(step)
        if isinstance(step, Access):
            return self._access(step)
        if isinstance(step, SetMemoryRegion):
            return self._set_memory_region(step)
        if isinstance(step, GetDirtyLog):
            return self._dirty_log(step.slot)
        if isinstance(step, CheckExtension):
            value = self.vm.check_extension(step.cap)
            from ..engine.uapi import KVM_CAP_NAMES

            return StepRecord(Op.CHECK_EXTENSION, {"cap": KVM_CAP_NAMES.get(step.cap, str(step.cap))}, Outcome.OK, cap_value=value, value=value,
                              message=f"KVM_CHECK_EXTENSION = {value} (live)")
        return self.host.host_op(step, self.api.is_private)

    def _access(self, step: Access) -> StepRecord:
        gpa, size = step.gpa, step.size
        if gpa < HARNESS_END and gpa + size > HARNESS_GPA:
            return StepRecord(OP_OF_ACCESS[step.kind], {"vcpu": step.vcpu, "gpa": gpa, "size": size}, Outcome.UNSUPPORTED, message="the harness owns this gpa")
        cpl = 3 if self.path == "native" else 0
        r = self.vm.access(step.kind.value, gpa, size, step.value or 0, cpl, self.answer, step.vcpu)
        s = self.kvm.memslots.search_memslots(gpa >> 12)
        slot = s.id if s is not None else None
        hva = s.userspace_addr + (gpa - (s.base_gfn << 12)) if s else None
        args: dict[str, int | None] = {"vcpu": step.vcpu, "gpa": gpa, "size": size}
        if step.kind is AccessKind.WRITE:
            args["value"] = step.value
        return StepRecord(op=OP_OF_ACCESS[step.kind], args=args, outcome=r.outcome, exits=r.exits, exit_reason=r.exit_reason, value=r.value,
                          slot=slot, hva=hva, pfn=_pagemap_pfn(hva) if hva else None)

    def _set_memory_region(self, step: SetMemoryRegion) -> StepRecord:
        m = step.region
        live_uaddr = self.host.live_hva(m.userspace_addr)
        if m.ioctl == 2:
            err = self.api.set_memory_region2(step, live_uaddr)
        else:
            err = self.vm.set_memory_region(m.slot, m.flags, m.guest_phys_addr, m.memory_size, live_uaddr)
        args = region_args(step)
        ioctl = "KVM_SET_USER_MEMORY_REGION2" if m.ioctl == 2 else "KVM_SET_USER_MEMORY_REGION"
        if err:
            return StepRecord(Op.SET_MEMORY_REGION, args, errno_name(err), message=f"{ioctl}: -{errno_name(err)} (live)")
        kind = self._commit(m)
        return StepRecord(Op.SET_MEMORY_REGION, args, Outcome.OK, kind=kind, message=f"{ioctl}: 0 (live)")

    def _commit(self, m: UserMemoryRegion) -> ChangeKind:
        """What the kernel just accepted, into the live slot table (the kind read off the table, as
        kvm_set_memory_region() classifies it); a new generation whatever changed."""
        as_id, sid = split_slot(m.slot)
        old = self.kvm.memslots_of(as_id).id_to_memslot(sid)
        new = None
        if m.memory_size == 0:
            kind: ChangeKind = "delete"
        else:
            kind = "create" if old is None else (
                "move" if old.base_gfn != m.guest_phys_addr >> 12 else "flags_only" if old.flags != m.flags else "noop")
            gmem = m.guest_memfd if m.ioctl == 2 and m.flags & KVM_MEM_GUEST_MEMFD else None
            new = MemSlot(sid, m.guest_phys_addr >> 12, m.memory_size >> 12, m.userspace_addr, m.flags, as_id,
                          gmem=gmem, gmem_offset=m.guest_memfd_offset if gmem else 0, ioctl=old.ioctl if old is not None else m.ioctl)
        update = MemslotUpdate(0, kind, old, new, ())
        _install(self.kvm, as_id, update)
        self._commits[len(self._entries)] = (as_id, update)  # the step being applied
        return kind

    def _dirty_log(self, slot: int) -> StepRecord:
        s = current_slot(self.kvm.memslots_of, slot)
        err, bits = self.vm.get_dirty_log(slot, s.npages if s else 64)
        if err:
            return StepRecord(Op.GET_DIRTY_LOG, {"slot": slot}, errno_name(err), message=f"KVM_GET_DIRTY_LOG: -{errno_name(err)} (live)")
        return StepRecord(Op.GET_DIRTY_LOG, {"slot": slot}, Outcome.OK, dirty=DirtyPages.of(bits or ()), message=f"KVM_GET_DIRTY_LOG: {bits} (live)")

    def close(self) -> None:
        self.vm.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _install(kvm: Kvm, as_id: int, update: MemslotUpdate) -> None:
    """An accepted change into a slot table, through the engine's own commit (a new generation)."""
    kvm.commit_memslots(as_id, update)


if TYPE_CHECKING:  # mypy holds the live run to the protocol every driver reads runs through

    def _live_is_a_run(run: LiveRun) -> Run:
        return run


def _pagemap_pfn(hva: int) -> int | None:
    try:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek((hva >> 12) * 8)
            entry = struct.unpack("<Q", f.read(8))[0]
    except OSError:
        return None
    if not entry >> 63 & 1:
        return None
    pfn = entry & ((1 << 55) - 1)
    return pfn or None
