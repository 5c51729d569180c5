"""Run a scenario's steps on the real kernel and report what it did in the engine's record shape.

Records from here carry outcomes, values, exits and dirty bitmaps as the kernel gave them; `chain` and
`spte` stay empty because the kernel does not show its internals. `evict` is done as reclaim does it
(kvmapi.host_evict); `poison`, which would damage a host page for good, is reported as `unsupported` and
skipped, never faked.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Self

from ..engine import Access, AccessKind, CheckExtension, GetDirtyLog, HostOp, Mapping, SetMemoryRegion, Step, StepRecord
from ..engine.addresses import split_slot
from ..engine.kvm import Kvm
from ..engine.memapi import region_args
from ..engine.memslots import ChangeKind, MemSlot, MemslotUpdate, UserMemoryRegion
from ..engine.profiles import get_profile
from ..engine.steps import ClearDirtyLog, CreateGuestMemfd, CreateVm, EnableCap, HarvestDirtyRing, ResetDirtyRings
from ..engine.uapi import KVM_MEM_GUEST_MEMFD, errno_name
from ..judge import LIVE
from ..resolve import HostLayout, Symbols, current_slot, resolve_step
from ..run import Run
from ..runner import TraceEntry, entry_of, mmio_answer
from ..scenario.errors import ScenarioError
from ..scenario.model import Scenario, StepSpec
from . import kvmapi as k
from .memapi_ops import LiveMemApi
from .params import host_settings
from .vm import HARNESS_END, HARNESS_GPA, HARNESS_SLOT, LiveError, LiveVm

MAX_FILLED_MAPPING = 256 << 20
FILL_CHUNK = 1 << 20
USER_SPACE = 1 << 47  # x86-64 with 4-level paging: TASK_SIZE_MAX is just under this
RESERVED_TAIL = 1 << 30  # slots may reach past the last mapping: that must fault there too, not hit other memory
POSIX_FADV_DONTNEED = 4


@dataclass
class _LiveMapping:
    name: str
    sim_hva: int
    live_hva: int
    size: int
    fd: int | None


def _page_up(n: int) -> int:
    return (n + 4095) & ~4095


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
        self.maps: dict[str, _LiveMapping] = {}
        # Fixed addresses mmap refused (e.g. a range crossing the user address limit): ioctls get the
        # scenario's own address, so the kernel judges the range the scenario wrote.
        self.unplaced: set[int] = set()
        self._entries: list[TraceEntry] = []
        try:
            self._mmap_all()
        except BaseException:
            self.close()
            raise

    # -- host memory ------------------------------------------------------------------------------------------
    def _mmap_all(self) -> None:
        # The simulator lays mappings out one unmapped guard page apart; live, the same layout sits inside
        # one PROT_NONE reservation, so what lies between and beyond the mappings faults in both.
        for h in self.scenario.host:
            self._check_fits(h)
        laid_out = [self.layout.mappings[h.name] for h in self.scenario.host if h.hva is None] + list(self.layout.gmem_mappings.values())
        self.layout_base = self.layout_lo = 0
        if laid_out:
            self.layout_lo = min(m.hva for m in laid_out)
            span = _page_up(max(m.end for m in laid_out)) + RESERVED_TAIL - self.layout_lo
            try:
                self.layout_base = k.host_mmap(span, "none")
            except OSError as e:
                raise ScenarioError(self.scenario.file, None, None, f"the host mappings ({span:#x} bytes with guard pages) cannot be "
                                    f"reserved live: -{errno_name(e.errno or errno.ENOMEM)} ({e.strerror})") from None
            self.vm.maps.append((self.layout_base, span))
        for h in self.scenario.host:
            try:
                self._mmap_one(h)
            except OSError as e:  # the kernel refused: name the mapping in the scenario, not just the errno
                raise self._scenario_error(h, f"mmap/ftruncate refused live: -{errno_name(e.errno or errno.EINVAL)} ({e.strerror})") from None
        for g in self.layout.gmem_mappings.values():  # mmapped over the reservation when the kernel makes the file
            self.maps[g.name] = _LiveMapping(g.name, g.hva, self.layout_base + (g.hva - self.layout_lo), _page_up(g.size), None)

    def _scenario_error(self, h, message: str) -> ScenarioError:
        pos = h.pos if h.pos is not None and h.pos.line else None
        return ScenarioError(self.scenario.file, pos.line if pos else None, pos.col if pos else None,
                             f"host mapping {h.name!r}: {message}")

    def _check_fits(self, h) -> None:
        size = _page_up(h.size)
        # Checked before any syscall: what the kernel's types or this process cannot hold is a scenario
        # error naming the mapping (mmap answers ENOMEM past the user address space; a fill is written
        # byte by byte, so it is capped like anonymous memory's).
        if size > USER_SPACE:
            raise self._scenario_error(h, f"{size:#x} bytes do not fit in the user address space (mmap would answer ENOMEM)")
        if h.fill and size > MAX_FILLED_MAPPING:
            raise self._scenario_error(h, f"a fill byte over {size:#x} bytes is more than live mode writes (at most {MAX_FILLED_MAPPING:#x})")

    def _mmap_one(self, h) -> None:
        sim = self.layout.mappings[h.name]
        size = _page_up(h.size)
        fd = None
        if h.backing == "file":
            fd, path = tempfile.mkstemp(prefix="kvmtui-live-")
            self.vm.fds.append(fd)  # owned from now on: closed on every error path
            os.unlink(path)
            os.ftruncate(fd, size)  # sparse: only the image and the fill are written
            if h.fill:
                chunk = bytes([h.fill]) * min(size, FILL_CHUNK)
                for off in range(0, size, FILL_CHUNK):
                    _pwrite_all(fd, chunk[: size - off], off)
            if h.image:
                _pwrite_all(fd, h.image, 0)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)  # cold: the first touch needs I/O, as the scenario says
            live = self._map(size, h.prot, fd, h.hva, sim.hva)
            if h.hva is not None:
                self.vm.maps.append((live, size))
        else:
            live = self._map(size, "rw", -1, h.hva, sim.hva)
            if h.hva is not None:
                self.vm.maps.append((live, size))  # owned before anything else can fail
            if h.fill:
                ctypes.memset(live, h.fill, size)
            if h.image:
                ctypes.memmove(live, h.image, len(h.image))
            if h.prot != "rw":
                k.host_mprotect(live, size, h.prot)
        self.maps[h.name] = _LiveMapping(h.name, sim.hva, live, size, fd)

    def _map(self, size: int, prot: str, fd: int, hint: int | None, sim_hva: int) -> int:
        if hint is None:  # inside the reservation, where the simulator put it
            return k.host_mmap(size, prot, fd, self.layout_base + (sim_hva - self.layout_lo), shared=fd >= 0, replace=True)
        try:  # the scenario fixed the address: honour it where the kernel lets us
            return k.host_mmap(size, prot, fd, hint, shared=fd >= 0)
        except OSError:
            self.unplaced.add(hint)
        return k.host_mmap(size, prot, fd, 0, shared=fd >= 0)

    def live_hva(self, sim_hva: int) -> int:
        for m in self.maps.values():
            if m.sim_hva <= sim_hva <= m.sim_hva + m.size:
                if m.sim_hva in self.unplaced:
                    return sim_hva
                return m.live_hva + (sim_hva - m.sim_hva)
        return sim_hva  # an address outside every mapping stays as written (NULL, unmapped holes)

    def _mapping_at(self, live_hva: int) -> _LiveMapping | None:
        return next((m for m in self.maps.values() if m.live_hva <= live_hva < m.live_hva + m.size), None)

    def host_label(self, hva: int) -> str:
        return self.layout.label(hva)

    def symbol(self, gpa: int) -> str | None:
        return self.symbols.name(gpa)

    def symbol_address(self, name: str) -> int | None:
        return self.symbols.address(name)

    @property
    def mappings(self) -> dict[str, Mapping]:
        return self.layout.mappings

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
                kvm.memslots_of(commit[0]).commit(commit[1])
        self._snapshot = (n, kvm)
        return kvm.copy()

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
            m = self.maps.get(step.name)
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

            return StepRecord("check_extension", {"cap": KVM_CAP_NAMES.get(step.cap, str(step.cap))}, "ok", cap_value=value, value=value,
                              message=f"KVM_CHECK_EXTENSION = {value} (live)")
        return self._host_op(step)

    def _access(self, step: Access) -> StepRecord:
        gpa, size = step.gpa, step.size
        if gpa < HARNESS_END and gpa + size > HARNESS_GPA:
            return StepRecord(str(step.kind), {"vcpu": step.vcpu, "gpa": gpa, "size": size}, "unsupported", message="the harness owns this gpa")
        cpl = 3 if self.path == "native" else 0
        r = self.vm.access(step.kind.value, gpa, size, step.value or 0, cpl, self.answer, step.vcpu)
        s = self.kvm.memslots.search_memslots(gpa >> 12)
        slot = s.id if s is not None else None
        hva = s.userspace_addr + (gpa - (s.base_gfn << 12)) if s else None
        args: dict[str, int | None] = {"vcpu": step.vcpu, "gpa": gpa, "size": size}
        if step.kind is AccessKind.WRITE:
            args["value"] = step.value
        return StepRecord(op=step.kind.value, args=args, outcome=r.outcome, exits=r.exits, exit_reason=r.exit_reason, value=r.value,
                          slot=slot, hva=hva, pfn=_pagemap_pfn(hva) if hva else None)

    def _set_memory_region(self, step: SetMemoryRegion) -> StepRecord:
        m = step.region
        live_uaddr = self.live_hva(m.userspace_addr)
        if m.ioctl == 2:
            err = self.api.set_memory_region2(step, live_uaddr)
        else:
            err = self.vm.set_memory_region(m.slot, m.flags, m.guest_phys_addr, m.memory_size, live_uaddr)
        args = region_args(step)
        ioctl = "KVM_SET_USER_MEMORY_REGION2" if m.ioctl == 2 else "KVM_SET_USER_MEMORY_REGION"
        if err:
            return StepRecord("set_memory_region", args, errno_name(err), message=f"{ioctl}: -{errno_name(err)} (live)")
        kind = self._commit(m)
        return StepRecord("set_memory_region", args, "ok", kind=kind, message=f"{ioctl}: 0 (live)")

    def _commit(self, m: UserMemoryRegion) -> ChangeKind:
        """What the kernel just accepted, into the live slot table (the kind read off the table, as
        kvm_set_memory_region() classifies it); a new generation whatever changed."""
        as_id, sid = split_slot(m.slot)
        table = self.kvm.memslots_of(as_id)
        old = table.id_to_memslot(sid)
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
        table.commit(update)
        self._commits[len(self._entries)] = (as_id, update)  # the step being applied
        return kind

    def _dirty_log(self, slot: int) -> StepRecord:
        s = current_slot(self.kvm.memslots_of, slot)
        err, bits = self.vm.get_dirty_log(slot, s.npages if s else 64)
        if err:
            return StepRecord("get_dirty_log", {"slot": slot}, errno_name(err), message=f"KVM_GET_DIRTY_LOG: -{errno_name(err)} (live)")
        return StepRecord("get_dirty_log", {"slot": slot}, "ok", dirty=tuple(bits or ()), message=f"KVM_GET_DIRTY_LOG: {bits} (live)")

    def _host_op(self, step: HostOp) -> StepRecord:
        args = {"hva": step.hva, "size": step.size}
        if step.op == "poison":
            return StepRecord(step.op, args, "unsupported", message="poison: not done live (poisoning a host page is permanent)")
        live = self.live_hva(step.hva)
        try:
            if step.op == "evict":
                m = self._mapping_at(live)
                k.host_evict(live, _page_up(step.size), m.fd if m else None, live - m.live_hva if m else 0)
            elif step.op == "mprotect":
                k.host_mprotect(live, _page_up(step.size), step.prot or "rw")
            elif step.op == "munmap":
                k.host_munmap(live, _page_up(step.size))
            elif step.op == "madvise_dontneed":
                k.host_madvise_dontneed(live, _page_up(step.size))
            else:
                if self.api.is_private(live, len(step.data)):  # guest_memfd without INIT_SHARED (§i F3)
                    return StepRecord(step.op, args, "EFAULT", message="a private guest_memfd page: the VMM would take SIGBUS")
                if not _writable(live, len(step.data)):
                    return StepRecord(step.op, args, "EFAULT", message="the VMM cannot write here (it would take SIGSEGV)")
                ctypes.memmove(live, step.data, len(step.data))
        except OSError as e:
            return StepRecord(step.op, args, errno_name(e.errno or errno.EINVAL), message=f"{step.op}: {e.strerror}")
        return StepRecord(step.op, args, "ok", message=f"{step.op}: done (live)")

    def close(self) -> None:
        self.vm.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if TYPE_CHECKING:  # mypy holds the live run to the protocol every driver reads runs through

    def _live_is_a_run(run: LiveRun) -> Run:
        return run


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _writable(addr: int, n: int) -> bool:
    """Is [addr, addr+n) mapped writable in this process? /proc/self/maps says, rather than a SIGSEGV."""
    end = addr + n
    with open("/proc/self/maps") as f:
        for line in f:
            rng, perms = line.split()[:2]
            lo, hi = (int(x, 16) for x in rng.split("-"))
            if lo <= addr < hi:
                if "w" not in perms:
                    return False
                if end <= hi:
                    return True
                addr = hi
    return False


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
