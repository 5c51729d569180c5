"""Today's memory API on the real kernel: KVM_CREATE_VM with a type, guest_memfd files and their mmap,
KVM_SET_USER_MEMORY_REGION2, KVM_ENABLE_CAP, KVM_CLEAR_DIRTY_LOG, the dirty ring mmapped at
KVM_DIRTY_LOG_PAGE_OFFSET of each vCPU fd (harvested as a VMM does), and KVM_RESET_DIRTY_RINGS.

Records carry what the kernel answered; nothing here decides an outcome the kernel did not give."""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
from typing import TYPE_CHECKING

from ..engine.memapi import op_of, step_args
from ..engine.records import StepRecord
from ..engine.steps import (
    ClearDirtyLog,
    CreateGuestMemfd,
    CreateVm,
    EnableCap,
    HarvestDirtyRing,
    ResetDirtyRings,
    SetMemoryRegion,
)
from ..engine.uapi import GUEST_MEMFD_FLAG_INIT_SHARED, GUEST_MEMFD_FLAG_MMAP, KVM_CAPS, errno_name
from ..engine.vocabulary import Op, Outcome
from . import kvmapi as k

if TYPE_CHECKING:  # pragma: no cover
    from .vm import LiveVm

RING_CAPS = (KVM_CAPS["KVM_CAP_DIRTY_LOG_RING"], KVM_CAPS["KVM_CAP_DIRTY_LOG_RING_ACQ_REL"])
OTHER_VM = "other_vm"


def _errno_of(e: OSError) -> str:
    return errno_name(e.errno or 0)


class LiveMemApi:
    """State a VMM keeps for today's API, beside one LiveVm."""

    def __init__(self, vm: LiveVm) -> None:
        self.vm = vm
        self.vm_type_refused: str | None = None
        self.gmem_fds: dict[str, int] = {}  # name -> fd of a guest_memfd the kernel made
        self.ring_size = 0
        self.rings: dict[int, mmap.mmap] = {}  # vCPU id -> its ring, mmapped
        self.fetch: dict[int, int] = {}  # vCPU id -> userspace's harvest index
        self.other_vm: int | None = None
        self.other_gmem: int | None = None
        self.private_maps: list[tuple[int, int]] = []  # mmaps of files without INIT_SHARED: a touch is SIGBUS

    def is_private(self, addr: int, n: int) -> bool:
        """Would the VMM's own access to [addr, addr+n) fault with SIGBUS (a private guest_memfd page)?"""
        return any(lo < addr + n and addr < hi for lo, hi in self.private_maps)

    # -- steps after a refused KVM_CREATE_VM ------------------------------------------------------------
    def unsupported(self, step) -> StepRecord:
        return StepRecord(op_of(step), step_args(step), Outcome.UNSUPPORTED,
                          message=f"not run: KVM_CREATE_VM refused the {self.vm_type_refused} type (live)")

    def create_vm(self, step: CreateVm) -> StepRecord:
        try:
            fd = k.ioctl(self.vm.kvm, k.KVM_CREATE_VM, step.type_value)
        except OSError as e:
            self.vm_type_refused = step.vm_type
            return StepRecord(Op.CREATE_VM, step_args(step), _errno_of(e), message=f"KVM_CREATE_VM type {step.type_value}: -{_errno_of(e)} (live)")
        os.close(fd)  # accepted: the scenario still runs on the default VM made at start (never the case on this kernel)
        return StepRecord(Op.CREATE_VM, step_args(step), Outcome.OK, message=f"KVM_CREATE_VM type {step.type_value}: accepted (live)")

    # -- guest_memfd -------------------------------------------------------------------------------------
    def create_guest_memfd(self, step: CreateGuestMemfd, map_at: int | None) -> StepRecord:
        """KVM_CREATE_GUEST_MEMFD, then (GUEST_MEMFD_FLAG_MMAP) the VMM's shared mmap of it at map_at."""
        args = step_args(step)
        buf = bytearray(struct.pack("<QQ6Q", step.size & (2**64 - 1), step.flags & (2**64 - 1), 0, 0, 0, 0, 0, 0))
        try:
            fd = k.ioctl(self.vm.vm, k.KVM_CREATE_GUEST_MEMFD, buf)
        except OSError as e:
            return StepRecord(Op.CREATE_GUEST_MEMFD, args, _errno_of(e), message=f"KVM_CREATE_GUEST_MEMFD {step.name}: -{_errno_of(e)} (live)")
        self.vm.fds.append(fd)
        self.gmem_fds[step.name] = fd
        if step.flags & GUEST_MEMFD_FLAG_MMAP and map_at is not None:
            size = (step.size + 4095) & ~4095
            k.host_mmap(size, "rw", fd, map_at, shared=True, replace=True)
            if not step.flags & GUEST_MEMFD_FLAG_INIT_SHARED:
                self.private_maps.append((map_at, map_at + size))
        return StepRecord(Op.CREATE_GUEST_MEMFD, args, Outcome.OK, message=f"KVM_CREATE_GUEST_MEMFD {step.name}: fd {fd} (live)")

    def gmem_fd(self, name: str | None) -> int:
        """The fd REGION2 passes: a file this VM made, another VM's file, or -1 (a refused or unknown name)."""
        if name == OTHER_VM:
            if self.other_gmem is None:
                self.other_vm = k.ioctl(self.vm.kvm, k.KVM_CREATE_VM, 0)
                self.vm.fds.append(self.other_vm)
                self.other_gmem = k.ioctl(self.other_vm, k.KVM_CREATE_GUEST_MEMFD, bytearray(struct.pack("<QQ6Q", 1 << 20, 0, 0, 0, 0, 0, 0, 0)))
                self.vm.fds.append(self.other_gmem)
            return self.other_gmem
        return self.gmem_fds.get(name or "", -1)

    def set_memory_region2(self, step: SetMemoryRegion, uaddr: int) -> int:
        """KVM_SET_USER_MEMORY_REGION2: 0 or the errno."""
        m = step.region
        fd = self.gmem_fd(m.guest_memfd)
        buf = bytearray(struct.pack("<IIQQQQIIQ", m.slot & 0xFFFFFFFF, m.flags & 0xFFFFFFFF, m.guest_phys_addr & (2**64 - 1),
                                    m.memory_size & (2**64 - 1), uaddr & (2**64 - 1), m.guest_memfd_offset & (2**64 - 1),
                                    fd & 0xFFFFFFFF, 0, 0) + bytes(13 * 8))
        assert len(buf) == 160
        try:
            k.ioctl(self.vm.vm, k.KVM_SET_USER_MEMORY_REGION2, buf)
            return 0
        except OSError as e:
            return e.errno or 0

    # -- KVM_ENABLE_CAP --------------------------------------------------------------------------------
    def enable_cap(self, step: EnableCap) -> StepRecord:
        args = step_args(step)
        a = [*step.args, 0, 0, 0, 0][:4]
        buf = bytearray(struct.pack("<II4Q", step.cap, 0, *(x & (2**64 - 1) for x in a)) + bytes(64))
        try:
            r = k.ioctl(self.vm.vm, k.KVM_ENABLE_CAP, buf)
        except OSError as e:
            return StepRecord(Op.ENABLE_CAP, args, _errno_of(e), message=f"KVM_ENABLE_CAP {args['cap']}: -{_errno_of(e)} (live)")
        if step.cap in RING_CAPS:
            self.ring_size = a[0]
        return StepRecord(Op.ENABLE_CAP, args, Outcome.OK, value=r, message=f"KVM_ENABLE_CAP {args['cap']}: {r} (live)")

    # -- KVM_CLEAR_DIRTY_LOG ---------------------------------------------------------------------------------
    def clear_dirty_log(self, step: ClearDirtyLog) -> StepRecord:
        args = step_args(step)
        nbytes = max(((step.num_pages + 63) // 64) * 8, 8)
        bitmap = ctypes.create_string_buffer(b"\xff" * nbytes, nbytes)  # clear every page of the range
        buf = bytearray(struct.pack("<IIQQ", step.slot & 0xFFFFFFFF, step.num_pages & 0xFFFFFFFF, step.first_page & (2**64 - 1),
                                    ctypes.addressof(bitmap)))
        try:
            k.ioctl(self.vm.vm, k.KVM_CLEAR_DIRTY_LOG, buf)
        except OSError as e:
            return StepRecord(Op.CLEAR_DIRTY_LOG, args, _errno_of(e), message=f"KVM_CLEAR_DIRTY_LOG: -{_errno_of(e)} (live)")
        return StepRecord(Op.CLEAR_DIRTY_LOG, args, Outcome.OK, message="KVM_CLEAR_DIRTY_LOG: 0 (live)")

    # -- the dirty ring ---------------------------------------------------------------------------------------
    def harvest(self, step: HarvestDirtyRing) -> StepRecord:
        """What a VMM does: read the vCPU's ring from its mmap, collecting DIRTY entries and marking them RESET."""
        args = step_args(step)
        if not self.ring_size:
            try:  # a ring of 0 bytes: the mmap the VMM would make is refused
                mmap.mmap(self.vm.vm, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=k.KVM_DIRTY_LOG_PAGE_OFFSET * 4096)
            except (OSError, ValueError):
                pass
            return StepRecord(Op.HARVEST_DIRTY_RING, args, "EINVAL", message="no dirty ring: nothing to mmap (live)")
        ring = self.rings.get(step.vcpu)
        if ring is None:
            fd = self.vm.select_vcpu(step.vcpu)
            try:
                ring = mmap.mmap(fd, self.ring_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
                                 offset=k.KVM_DIRTY_LOG_PAGE_OFFSET * 4096)
            except OSError as e:
                return StepRecord(Op.HARVEST_DIRTY_RING, args, _errno_of(e), message=f"mmap of the dirty ring: -{_errno_of(e)} (live)")
            self.rings[step.vcpu] = ring
            self.vm.rings[step.vcpu] = ring
        n = self.ring_size // 16
        got: list[tuple[int, int]] = []
        i = self.fetch.get(step.vcpu, 0)
        while len(got) < n:
            at = (i % n) * 16
            flags, slot, offset = struct.unpack_from("<IIQ", ring, at)
            if not flags & k.KVM_DIRTY_GFN_F_DIRTY:
                break
            got.append((slot, offset))
            struct.pack_into("<I", ring, at, k.KVM_DIRTY_GFN_F_RESET)
            i += 1
        self.fetch[step.vcpu] = i
        return StepRecord(Op.HARVEST_DIRTY_RING, args, Outcome.OK, ring=tuple(got), message=f"harvest vCPU {step.vcpu}: {len(got)} entries (live)")

    def reset(self, step: ResetDirtyRings) -> StepRecord:
        args = step_args(step)
        try:
            r = k.ioctl(self.vm.vm, k.KVM_RESET_DIRTY_RINGS, 0)
        except OSError as e:
            return StepRecord(Op.RESET_DIRTY_RINGS, args, _errno_of(e), message=f"KVM_RESET_DIRTY_RINGS: -{_errno_of(e)} (live)")
        return StepRecord(Op.RESET_DIRTY_RINGS, args, Outcome.OK, value=r, message=f"KVM_RESET_DIRTY_RINGS: {r} (live)")
