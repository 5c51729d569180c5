"""The VMM's host memory, live: the scenario's mappings made in this process, laid out as the simulator
lays them out (one PROT_NONE reservation holds them, guard pages between), and the host operations a
scenario does on them. An address in a step is the simulator's; `live_hva` says where it is here.
"""

from __future__ import annotations

import ctypes
import errno
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from ..engine import HostOp, StepRecord
from ..engine.uapi import errno_name
from ..engine.vocabulary import Op, Outcome
from ..resolve import HostLayout
from ..scenario.errors import ScenarioError
from ..scenario.model import HostSpec, Scenario
from . import kvmapi as k
from .vm import LiveVm

MAX_FILLED_MAPPING = 256 << 20
FILL_CHUNK = 1 << 20
USER_SPACE = 1 << 47  # x86-64 with 4-level paging: TASK_SIZE_MAX is just under this
RESERVED_TAIL = 1 << 30  # slots may reach past the last mapping: that must fault there too, not hit other memory
POSIX_FADV_DONTNEED = 4


@dataclass(frozen=True, slots=True)
class LiveMapping:
    """One mapping: where the simulator put it, and where it is in this process."""

    name: str
    sim_hva: int
    live_hva: int
    size: int
    fd: int | None


def _page_up(n: int) -> int:
    return (n + 4095) & ~4095


class LiveHost:
    """The scenario's mappings in this process; the VM (vm.maps, vm.fds) owns and releases them."""

    def __init__(self, scenario: Scenario, layout: HostLayout, vm: LiveVm) -> None:
        self.scenario = scenario
        self.layout = layout
        self.vm = vm
        self.maps: dict[str, LiveMapping] = {}
        # Fixed addresses mmap refused (e.g. a range crossing the user address limit): ioctls get the
        # scenario's own address, so the kernel judges the range the scenario wrote.
        self.unplaced: set[int] = set()
        self._mmap_all()

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
            self.maps[g.name] = LiveMapping(g.name, g.hva, self.layout_base + (g.hva - self.layout_lo), _page_up(g.size), None)

    def _scenario_error(self, h: HostSpec, message: str) -> ScenarioError:
        pos = h.pos if h.pos is not None and h.pos.line else None
        return ScenarioError(self.scenario.file, pos.line if pos else None, pos.col if pos else None,
                             f"host mapping {h.name!r}: {message}")

    def _check_fits(self, h: HostSpec) -> None:
        size = _page_up(h.size)
        # Checked before any syscall: what the kernel's types or this process cannot hold is a scenario
        # error naming the mapping (mmap answers ENOMEM past the user address space; a fill is written
        # byte by byte, so it is capped like anonymous memory's).
        if size > USER_SPACE:
            raise self._scenario_error(h, f"{size:#x} bytes do not fit in the user address space (mmap would answer ENOMEM)")
        if h.fill and size > MAX_FILLED_MAPPING:
            raise self._scenario_error(h, f"a fill byte over {size:#x} bytes is more than live mode writes (at most {MAX_FILLED_MAPPING:#x})")

    def _mmap_one(self, h: HostSpec) -> None:
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
        self.maps[h.name] = LiveMapping(h.name, sim.hva, live, size, fd)

    def _map(self, size: int, prot: str, fd: int, hint: int | None, sim_hva: int) -> int:
        if hint is None:  # inside the reservation, where the simulator put it
            return k.host_mmap(size, prot, fd, self.layout_base + (sim_hva - self.layout_lo), shared=fd >= 0, replace=True)
        try:  # the scenario fixed the address: honour it where the kernel lets us
            return k.host_mmap(size, prot, fd, hint, shared=fd >= 0)
        except OSError:
            self.unplaced.add(hint)
        return k.host_mmap(size, prot, fd, 0, shared=fd >= 0)

    def live_hva(self, sim_hva: int) -> int:
        """Where an address of the scenario's layout (the simulator's) is in this process."""
        for m in self.maps.values():
            if m.sim_hva <= sim_hva <= m.sim_hva + m.size:
                if m.sim_hva in self.unplaced:
                    return sim_hva
                return m.live_hva + (sim_hva - m.sim_hva)
        return sim_hva  # an address outside every mapping stays as written (NULL, unmapped holes)

    def mapping_at(self, live_hva: int) -> LiveMapping | None:
        return next((m for m in self.maps.values() if m.live_hva <= live_hva < m.live_hva + m.size), None)

    def host_op(self, step: HostOp, is_private: Callable[[int, int], bool]) -> StepRecord:
        """mprotect, munmap, madvise, evict or a write by the VMM, on this process's mapping (poison is not done)."""
        args = {"hva": step.hva, "size": step.size}
        if step.op == "poison":
            return StepRecord(Op(step.op), args, Outcome.UNSUPPORTED, message="poison: not done live (poisoning a host page is permanent)")
        live = self.live_hva(step.hva)
        try:
            if step.op == "evict":
                m = self.mapping_at(live)
                k.host_evict(live, _page_up(step.size), m.fd if m else None, live - m.live_hva if m else 0)
            elif step.op == "mprotect":
                k.host_mprotect(live, _page_up(step.size), step.prot or "rw")
            elif step.op == "munmap":
                k.host_munmap(live, _page_up(step.size))
            elif step.op == "madvise_dontneed":
                k.host_madvise_dontneed(live, _page_up(step.size))
            else:
                if is_private(live, len(step.data)):  # guest_memfd without INIT_SHARED (§i F3)
                    return StepRecord(Op(step.op), args, "EFAULT", message="a private guest_memfd page: the VMM would take SIGBUS")
                if not _writable(live, len(step.data)):
                    return StepRecord(Op(step.op), args, "EFAULT", message="the VMM cannot write here (it would take SIGSEGV)")
                ctypes.memmove(live, step.data, len(step.data))
        except OSError as e:
            return StepRecord(Op(step.op), args, errno_name(e.errno or errno.EINVAL), message=f"{step.op}: {e.strerror}")
        return StepRecord(Op(step.op), args, Outcome.OK, message=f"{step.op}: done (live)")


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
