"""One real VM and one vCPU for a whole scenario, with a harness memslot holding code, page tables,
the GDT and a TSS (kvm-semantics.md h).

Guest accesses are made by a generated code stub: at CPL3 (the CPU runs it natively and takes KVM's real
MMU fault path) for the native path, at CPL0 (always run by KVM's instruction emulator on this host) for
the emulated path. The stub ends with an OUT to a marker port.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from ..engine.records import MmioExit
from ..engine.vocabulary import Outcome
from . import kvmapi as k

PAGE = 4096
HARNESS_SLOT = 32763
HARNESS_GPA = 0x3F0000000000  # far above anything a scenario touches (and below the 48-bit limit)
HARNESS_SIZE = 4 << 20
PML4_OFF, GDT_OFF, TSS_OFF, CODE_OFF, FETCH_OFF, STACK_OFF, TABLES_OFF = 0x0000, 0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000
# Linear pages for fetches (see LiveVm._fetch), above the harness slot; gpas from here to HARNESS_END belong to
# the harness (an identity mapping there would collide with an alias).
ALIAS_BASE = HARNESS_GPA + (1 << 30)
ALIAS_SIZE = 1 << 30
# gpas at and above LOW_LIMIT do not fit the 47-bit linear space identity-mapped (4-level paging): each GiB of
# them gets a fixed window of linear addresses from HIGH_BASE on, so a gfn always has the same guest PTE.
LOW_LIMIT = (1 << 47) - (1 << 30)
HIGH_BASE = ALIAS_BASE + ALIAS_SIZE
HARNESS_END = HARNESS_GPA + (1 << 40)
WINDOW_BLOCK = 16  # windows (GiB) per run of neighbouring high GiBs: up to 8 either side of the first
MARKER_PORT = 0x10
PTE_P, PTE_RW, PTE_US = 1, 2, 4
SEL_CODE0, SEL_DATA0, SEL_CODE3, SEL_DATA3, SEL_TSS = 0x08, 0x10, 0x1B, 0x23, 0x28
MAX_RUNS = 64


MmioAnswer = Callable[[int, int], bytes]  # (gpa, length) -> the bytes userspace answers an MMIO read with
LOAD = {1: b"\x8a\x08", 2: b"\x66\x8b\x08", 4: b"\x8b\x08", 8: b"\x48\x8b\x08"}  # mov cl/cx/ecx/rcx, [rax]
STORE = {1: b"\x88\x08", 2: b"\x66\x89\x08", 4: b"\x89\x08", 8: b"\x48\x89\x08"}  # mov [rax], cl/cx/ecx/rcx


_COMPLETED = (Outcome.OK, Outcome.MMIO)  # the guest's instruction completed (an MMIO exit answered on the way)


class LiveError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessResult:
    """What the kernel did with one guest access: how it ended, the value the guest read (or wrote), the
    MMIO exits to userspace on the way, and the exit that ended the run."""

    outcome: Outcome | str  # an Outcome, or the lower-case name of another exit that ended the run
    value: int | None = None  # None when the access did not complete (and for a fetch: not visible)
    exits: tuple[MmioExit, ...] = ()
    exit_reason: str | None = None  # KVM_EXIT_* name


@dataclass(frozen=True, slots=True)
class _Stop:
    """Where a KVM_RUN loop stopped."""

    outcome: Outcome | str
    exits: tuple[MmioExit, ...]
    reason: int | None

    @property
    def exit_name(self) -> str | None:
        return k.EXIT_NAMES.get(self.reason) if self.reason is not None else None


class LinearWindows:
    """Where the harness's page tables put each gpa: itself below LOW_LIMIT; above, each GiB gets a window of
    linear addresses from HIGH_BASE on, fixed once given, so a gfn always has the same guest PTE.

    An access across the end of a GiB needs the next GiB's window right after its own. A GiB with no placed
    neighbour starts a run in the middle of a free block of WINDOW_BLOCK windows, so the GiBs around it find
    their places beside it. (Windows handed out every other GiB let two runs meet: the place a neighbour
    needed was taken, and an access across the two came out unsupported.)"""

    def __init__(self) -> None:
        self.windows: dict[int, int] = {}  # GiB of a high gpa -> linear base
        self.runs = 0  # blocks of windows started

    def linear(self, gpa: int) -> int:
        if gpa < LOW_LIMIT:
            return gpa
        r = gpa >> 30
        w = self.windows.get(r)
        if w is None:
            w = self._place(r)
            if w + (1 << 30) > HARNESS_END:
                raise LiveError("the harness ran out of linear windows for high gpas")
            self.windows[r] = w
        return w + (gpa & ((1 << 30) - 1))

    def _place(self, r: int) -> int:
        """Beside a neighbouring GiB's window if that place is free, else the middle of a new block."""
        used = set(self.windows.values())
        near = [self.windows[r - 1] + (1 << 30)] if r - 1 in self.windows else []
        near += [self.windows[r + 1] - (1 << 30)] if r + 1 in self.windows else []
        w = next((c for c in near if c >= HIGH_BASE and c not in used), None)
        if w is None:
            w = HIGH_BASE + ((self.runs * WINDOW_BLOCK + WINDOW_BLOCK // 2) << 30)
            self.runs += 1
        return w


def _load_store_stub(kind: str, linear: int, size: int, value: int) -> bytes:
    """movabs rax, linear; for a write movabs rcx, value; the load or store of size bytes; out MARKER_PORT, al."""
    code = b"\x48\xb8" + struct.pack("<Q", linear)
    if kind == "write":
        code += b"\x48\xb9" + struct.pack("<Q", value) + STORE[size]
    else:
        code += LOAD[size]
    return code + bytes([0xE6, MARKER_PORT])


class LiveVm:
    def __init__(self, harness_slot: int = HARNESS_SLOT) -> None:
        self.harness_slot = harness_slot
        self.fds: list[int] = []
        self.maps: list[tuple[int, int]] = []
        try:
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        self.kvm = self._open("/dev/kvm")
        self.vm = k.ioctl(self.kvm, k.KVM_CREATE_VM, 0)
        self.fds.append(self.vm)
        # vCPUs are made when a step first needs one (an access, a ring harvest), as a VMM makes them after
        # setting the VM up: KVM_CAP_DIRTY_LOG_RING must be enabled before any vCPU exists (§i F12).
        self.vcpus: dict[int, tuple[int, k.VcpuRun]] = {}
        self.vcpu = -1
        self.rings: dict[int, mmap.mmap] = {}  # dirty rings mapped from the vCPU fds (closed before them)
        self.harness = k.host_mmap(HARNESS_SIZE, "rw")
        self.maps.append((self.harness, HARNESS_SIZE))
        self.next_table = TABLES_OFF
        self.tables: dict[tuple[int, int], int] = {}  # (level, index path) -> table offset
        if self.set_memory_region(self.harness_slot, 0, HARNESS_GPA, HARNESS_SIZE, self.harness):
            raise LiveError("the harness memslot was refused")
        self._write(GDT_OFF, struct.pack("<6Q", 0, 0x00209A0000000000, 0x0000920000000000, 0x0020FA0000000000,
                                         0x0000F20000000000, 0) + self._tss_descriptor())
        self._write(FETCH_OFF + PAGE - 2, b"\xc2\x00")  # ret imm16: its high byte is the fetched one (_fetch)
        self.next_alias = 0
        self.linear = LinearWindows().linear  # the linear address the harness uses for a gpa
        for off in range(0, TABLES_OFF + 16 * PAGE, PAGE):
            self.map_page(HARNESS_GPA + off)

    def select_vcpu(self, vcpu_id: int) -> int:
        """Make vCPU vcpu_id the one accesses run on, creating it first if needed; returns its fd."""
        if vcpu_id not in self.vcpus:
            fd = k.ioctl(self.vm, k.KVM_CREATE_VCPU, vcpu_id)
            self.fds.append(fd)
            # MAXPHYADDR 52 (shadow paging allows it whatever the host's): every gpa a memslot can hold is addressable.
            k.ioctl(fd, k.KVM_SET_CPUID2, k.with_maxphyaddr(k.supported_cpuid(self.kvm), 52))
            self.vcpus[vcpu_id] = (fd, k.VcpuRun(fd, k.ioctl(self.kvm, k.KVM_GET_VCPU_MMAP_SIZE, 0)))
        self.vcpu, self.run = self.vcpus[vcpu_id]
        return self.vcpu

    def _open(self, path: str) -> int:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        self.fds.append(fd)
        return fd

    def _tss_descriptor(self) -> bytes:
        base, limit = HARNESS_GPA + TSS_OFF, PAGE - 1
        low = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x8B << 40) | (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56)
        return struct.pack("<QQ", low, base >> 32)

    # -- guest memory the harness owns ------------------------------------------------------------------
    def _write(self, off: int, data: bytes) -> None:
        ctypes.memmove(self.harness + off, data, len(data))

    def _read_u64(self, off: int) -> int:
        return struct.unpack("<Q", ctypes.string_at(self.harness + off, 8))[0]

    def _table(self, parent_off: int, index: int) -> int:
        entry = self._read_u64(parent_off + index * 8)
        if entry & PTE_P:
            return (entry & 0x000FFFFFFFFFF000) - HARNESS_GPA
        off = self.next_table
        if off + PAGE > HARNESS_SIZE:
            raise LiveError("the harness ran out of page-table pages")
        self.next_table += PAGE
        self._write(parent_off + index * 8, struct.pack("<Q", (HARNESS_GPA + off) | PTE_P | PTE_RW | PTE_US))
        return off

    def map_page(self, gpa: int) -> None:
        """Map one 4 KiB page at its linear address, user-accessible, Accessed and Dirty clear (so reads do
        not log)."""
        page = gpa & ~0xFFF
        self._map(self.linear(page), page, PTE_P | PTE_RW | PTE_US)

    def _map(self, linear: int, gpa: int, flags: int) -> None:
        """Map a linear page to a guest-physical page unless it is mapped already (a PTE is written once: the
        shadow MMU would not notice a later change made behind the guest's back)."""
        pdpt = self._table(PML4_OFF, (linear >> 39) & 511)
        pd = self._table(pdpt, (linear >> 30) & 511)
        pt = self._table(pd, (linear >> 21) & 511)
        slot = pt + ((linear >> 12) & 511) * 8
        if not self._read_u64(slot) & PTE_P:
            self._write(slot, struct.pack("<Q", (gpa & ~0xFFF) | flags))

    # -- ioctls --------------------------------------------------------------------------------------------
    def set_memory_region(self, slot: int, flags: int, gpa: int, size: int, uaddr: int) -> int:
        """0, or the errno the kernel returned."""
        buf = bytearray(struct.pack("<IIQQQ", slot & 0xFFFFFFFF, flags & 0xFFFFFFFF, gpa & (2**64 - 1), size & (2**64 - 1), uaddr & (2**64 - 1)))
        try:
            k.ioctl(self.vm, k.KVM_SET_USER_MEMORY_REGION, buf)
            return 0
        except OSError as e:
            return e.errno or errno.EINVAL

    def check_extension(self, cap: int) -> int:
        return k.ioctl(self.vm, k.KVM_CHECK_EXTENSION, cap)

    def get_dirty_log(self, slot: int, npages: int) -> tuple[int, list[int] | None]:
        nbytes = max(((npages + 63) // 64) * 8, 8)
        bitmap = ctypes.create_string_buffer(nbytes)
        buf = bytearray(struct.pack("<IIQ", slot & 0xFFFFFFFF, 0, ctypes.addressof(bitmap)))
        try:
            k.ioctl(self.vm, k.KVM_GET_DIRTY_LOG, buf)
        except OSError as e:
            return e.errno or errno.EINVAL, None
        raw = bitmap.raw
        return 0, [i for i in range(npages) if raw[i >> 3] >> (i & 7) & 1]

    # -- one guest access ---------------------------------------------------------------------------------------
    def _set_mode(self, cpl: int) -> None:
        if cpl == 3:
            cs = k.segment(0, 0xFFFFFFFF, SEL_CODE3, 11, 3)
            ds = k.segment(0, 0xFFFFFFFF, SEL_DATA3, 3, 3, l=0, db=1)
        else:
            cs = k.segment(0, 0xFFFFFFFF, SEL_CODE0, 11, 0)
            ds = k.segment(0, 0xFFFFFFFF, SEL_DATA0, 3, 0, l=0, db=1)
        tr = k.segment(HARNESS_GPA + TSS_OFF, PAGE - 1, SEL_TSS, 11, 0, s=0, l=0, g=0)
        cr0 = 0x80050033  # PG | AM | WP | NE | ET | MP | PE
        k.ioctl(self.vcpu, k.KVM_SET_SREGS, k.sregs(cs, ds, tr, (HARNESS_GPA + GDT_OFF, 6 * 8 + 16 - 1), cr0,
                                                   HARNESS_GPA + PML4_OFF, 0x20 | 0x200, 0x500))

    def access(self, kind: str, gpa: int, size: int, value: int, cpl: int, mmio_answer: MmioAnswer, vcpu: int = 0) -> AccessResult:
        """Run one access (read, write or fetch) on vCPU vcpu at privilege level cpl: what the kernel did."""
        self.select_vcpu(vcpu)
        if kind == "fetch":
            return self._fetch(gpa, size, cpl, mmio_answer)
        for off in range(gpa & ~0xFFF, gpa + size, PAGE):
            self.map_page(off)
        if self.linear(gpa + size - 1) - self.linear(gpa) != size - 1:
            return AccessResult(Outcome.UNSUPPORTED)  # two GiB windows apart
        self._set_mode(cpl)
        self._write(CODE_OFF, _load_store_stub(kind, self.linear(gpa), size, value))
        k.ioctl(self.vcpu, k.KVM_SET_REGS, k.Regs(rcx=0, rip=HARNESS_GPA + CODE_OFF, rsp=0, rflags=0x2).pack())
        stop = self._run(mmio_answer)
        outcome = Outcome.MMIO if stop.exits and stop.outcome is Outcome.OK else stop.outcome
        got = None
        if outcome in _COMPLETED:  # completed: what the guest read (rcx), or what it wrote
            got = k.Regs.unpack(self._get_regs()).v["rcx"] & ((1 << (8 * size)) - 1) if kind == "read" else value
        return AccessResult(outcome, got, stop.exits, stop.exit_name)

    def _fetch(self, gpa: int, size: int, cpl: int, mmio_answer: MmioAnswer) -> AccessResult:
        """An instruction fetch of [gpa, gpa+size) that executes nothing found there.

        Each page the range touches, in order, is fetched as the last byte of an instruction of known length
        whose other bytes are the harness's: `ret imm16` (C2 lo hi) with C2 lo at the end of a harness code
        page mapped at linear H and hi at linear H+4096, which a fresh alias PTE maps to the target page. The
        CPU (native) or the emulator (emulated) must fetch that byte through the target gfn's fault path; the
        instruction then only returns to the harness's OUT marker. So what is at the target is never run, and
        the bytes fetched are decided by the step, not by the instruction found there.

        Native (CPL3), a 1-byte read of the page through its identity mapping comes first: a fetch fault is
        a read fault (same hva_to_pfn(), same FNAME(protect_clean_gpte) with the identity PTE's Dirty bit),
        and it leaves the gfn's identity spte as the fetch would. The alias PTE is read-only, so its own spte
        never becomes writable and never logs a page. The emulator keeps no sptes, so there the alias alone
        does it. The first page that does not complete ends the fetch with its outcome."""
        for page in range(gpa & ~0xFFF, gpa + size, PAGE):
            if cpl == 3:
                r = self.access("read", max(gpa, page), 1, 0, cpl, mmio_answer)
                if r.outcome not in _COMPLETED:
                    return AccessResult(r.outcome, None, (), r.exit_reason)
            stop = self._fetch_page(page, cpl, mmio_answer)
            if stop.outcome is not Outcome.OK or stop.exits:
                return AccessResult(stop.outcome if not stop.exits else Outcome.INTERNAL_ERROR, None, (), stop.exit_name)
        return AccessResult(Outcome.OK, None, (), "KVM_EXIT_IO")

    def _fetch_page(self, page: int, cpl: int, mmio_answer: MmioAnswer) -> _Stop:
        """The fetch of one page's byte through `ret imm16` across an alias pair (see _fetch)."""
        self._set_mode(cpl)
        h = self._alias_pair(page)
        self._write(STACK_OFF, struct.pack("<Q", HARNESS_GPA + CODE_OFF))  # ret's return address
        self._write(CODE_OFF, bytes([0xE6, MARKER_PORT]))  # out MARKER_PORT, al
        k.ioctl(self.vcpu, k.KVM_SET_REGS, k.Regs(rcx=0, rip=h + PAGE - 2, rsp=HARNESS_GPA + STACK_OFF, rflags=0x2).pack())
        return self._run(mmio_answer)

    def _alias_pair(self, target_page: int) -> int:
        """Two fresh linear pages: H -> the harness's fetch page (`C2 00` at its end), H+4096 -> target_page,
        both read-only to the guest. Fresh each time, so no stale translation of an earlier target is used."""
        h = ALIAS_BASE + self.next_alias * 2 * PAGE
        if h + 2 * PAGE > ALIAS_BASE + ALIAS_SIZE:
            raise LiveError("the harness ran out of alias pages for fetches")
        self.next_alias += 1
        self._map(h, HARNESS_GPA + FETCH_OFF, PTE_P | PTE_US)
        self._map(h + PAGE, target_page, PTE_P | PTE_US)
        return h

    def _run(self, mmio_answer: MmioAnswer) -> _Stop:
        """KVM_RUN until the OUT marker (outcome ok), answering MMIO exits; or the first other stop."""
        exits: list[MmioExit] = []
        reason = None
        for _ in range(MAX_RUNS):
            err = self._enter()
            if err == errno.EFAULT:
                return _Stop(Outcome.EFAULT, tuple(exits), reason)
            if err:  # EINTR: a signal came first; enter again
                continue
            reason = self.run.exit_reason
            if reason != k.KVM_EXIT_MMIO:
                return _Stop(self._outcome_of(reason), tuple(exits), reason)
            exits.append(self._answer_mmio(mmio_answer))
        return _Stop(Outcome.INTERNAL_ERROR, tuple(exits), reason)

    def _enter(self) -> int:
        """One KVM_RUN: 0, or EINTR / EFAULT (any other errno is raised)."""
        try:
            k.ioctl(self.vcpu, k.KVM_RUN, 0)
        except OSError as e:
            if e.errno in (errno.EINTR, errno.EFAULT):
                return e.errno
            raise
        return 0

    def _answer_mmio(self, mmio_answer: MmioAnswer) -> MmioExit:
        """A KVM_EXIT_MMIO: a read is answered as the scenario's devices answer (the data the guest gets)."""
        phys, data, length, is_write = self.run.mmio()
        if not is_write:
            data = mmio_answer(phys, length)
            self.run.set_mmio_data(data)
        return MmioExit(phys, length, bytes(data), is_write)

    def _outcome_of(self, reason: int) -> Outcome | str:
        """The access's outcome for an exit that ends it."""
        if reason == k.KVM_EXIT_DIRTY_RING_FULL:  # the vCPU stops until userspace harvests and resets
            return Outcome.DIRTY_RING_FULL
        if reason == k.KVM_EXIT_IO and self.run.io()[2] == MARKER_PORT:
            self._complete_pending_io()
            return Outcome.OK
        if reason == k.KVM_EXIT_INTERNAL_ERROR:
            return Outcome.INTERNAL_ERROR
        return k.EXIT_NAMES.get(reason, str(reason)).lower()

    def _get_regs(self) -> bytes:
        buf = bytearray(144)
        k.ioctl(self.vcpu, k.KVM_GET_REGS, buf)
        return bytes(buf)

    def _complete_pending_io(self) -> None:
        """The OUT marker's exit leaves the port access pending: finish it before the next step's registers."""
        self.run.set_immediate_exit(True)
        try:
            k.ioctl(self.vcpu, k.KVM_RUN, 0)
        except OSError as e:
            if e.errno != errno.EINTR:
                raise
        finally:
            self.run.set_immediate_exit(False)

    def close(self) -> None:
        for _fd, run in getattr(self, "vcpus", {}).values():
            run.close()
        self.vcpus = {}
        for ring in getattr(self, "rings", {}).values():
            ring.close()
        self.rings = {}
        for addr, length in self.maps:
            try:
                k.host_munmap(addr, length)
            except OSError:
                pass
        self.maps.clear()
        for fd in reversed(self.fds):
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
