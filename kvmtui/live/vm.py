"""One real VM and one vCPU for a whole scenario, with a harness memslot holding code, page tables,
the GDT and a TSS (kvm-semantics.md h).

Guest accesses are made by a generated code stub: at CPL3 (the CPU runs it natively and takes KVM's real
MMU fault path) for the native path, at CPL0 (always run by KVM's instruction emulator on this host) for
the emulated path. The stub ends with an OUT to a marker port.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
from typing import Self

from . import kvmapi as k

PAGE = 4096
HARNESS_SLOT = 32763
HARNESS_GPA = 0x3F0000000000  # far above anything a scenario touches (and below the 48-bit limit)
HARNESS_SIZE = 4 << 20
PML4_OFF, GDT_OFF, TSS_OFF, CODE_OFF, TABLES_OFF = 0x0000, 0x1000, 0x2000, 0x3000, 0x4000
MARKER_PORT = 0x10
PTE_P, PTE_RW, PTE_US = 1, 2, 4
SEL_CODE0, SEL_DATA0, SEL_CODE3, SEL_DATA3, SEL_TSS = 0x08, 0x10, 0x1B, 0x23, 0x28
MAX_RUNS = 64


class LiveError(Exception):
    pass


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
        self.vcpu = k.ioctl(self.vm, k.KVM_CREATE_VCPU, 0)
        self.fds.append(self.vcpu)
        # Without a CPUID the guest's MAXPHYADDR is 36 bits: give it the host's (48 here), so page tables and
        # accesses anywhere in the scenario's address space are legal.
        k.ioctl(self.vcpu, k.KVM_SET_CPUID2, k.supported_cpuid(self.kvm))
        self.run = k.VcpuRun(self.vcpu, k.ioctl(self.kvm, k.KVM_GET_VCPU_MMAP_SIZE, 0))
        self.harness = k.host_mmap(HARNESS_SIZE, "rw")
        self.maps.append((self.harness, HARNESS_SIZE))
        self.next_table = TABLES_OFF
        self.tables: dict[tuple[int, int], int] = {}  # (level, index path) -> table offset
        if self.set_memory_region(self.harness_slot, 0, HARNESS_GPA, HARNESS_SIZE, self.harness):
            raise LiveError("the harness memslot was refused")
        self._write(GDT_OFF, struct.pack("<6Q", 0, 0x00209A0000000000, 0x0000920000000000, 0x0020FA0000000000,
                                         0x0000F20000000000, 0) + self._tss_descriptor())
        for off in range(0, TABLES_OFF + 16 * PAGE, PAGE):
            self.map_page(HARNESS_GPA + off)

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
        """Identity-map one 4 KiB page, user-accessible, Accessed and Dirty clear (so reads do not log)."""
        page = gpa & ~0xFFF
        pdpt = self._table(PML4_OFF, (page >> 39) & 511)
        pd = self._table(pdpt, (page >> 30) & 511)
        pt = self._table(pd, (page >> 21) & 511)
        slot = pt + ((page >> 12) & 511) * 8
        if not self._read_u64(slot) & PTE_P:
            self._write(slot, struct.pack("<Q", page | PTE_P | PTE_RW | PTE_US))

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

    def access(self, kind: str, gpa: int, size: int, value: int, cpl: int, mmio_answer) -> dict:
        """Run one access; returns outcome, value, exits and the exit reason seen."""
        for off in range(gpa & ~0xFFF, gpa + size, PAGE):
            self.map_page(off)
        self._set_mode(cpl)
        code_gpa = HARNESS_GPA + CODE_OFF
        regs = {"rcx": 0, "rip": code_gpa, "rsp": 0, "rflags": 0x2}
        if kind == "fetch":
            regs["rip"] = gpa
            k.ioctl(self.vcpu, k.KVM_SET_GUEST_DEBUG, bytearray(struct.pack("<II", 0x1 | 0x2, 0) + b"\0" * 64))
        else:
            code = b"\x48\xb8" + struct.pack("<Q", gpa)  # movabs rax, gpa
            op = {1: b"\x8a\x08", 2: b"\x66\x8b\x08", 4: b"\x8b\x08", 8: b"\x48\x8b\x08"}[size]  # mov cl/cx/ecx/rcx, [rax]
            if kind == "write":
                code += b"\x48\xb9" + struct.pack("<Q", value)  # movabs rcx, value
                op = {1: b"\x88\x08", 2: b"\x66\x89\x08", 4: b"\x89\x08", 8: b"\x48\x89\x08"}[size]
            code += op + bytes([0xE6, MARKER_PORT])  # out MARKER_PORT, al
            self._write(CODE_OFF, code)
        k.ioctl(self.vcpu, k.KVM_SET_REGS, k.Regs(**regs).pack())
        exits: list[tuple[int, int, bytes, bool]] = []
        outcome, reason = "ok", None
        try:
            for _ in range(MAX_RUNS):
                try:
                    k.ioctl(self.vcpu, k.KVM_RUN, 0)
                except OSError as e:
                    if e.errno == errno.EINTR:
                        continue
                    if e.errno == errno.EFAULT:
                        outcome = "efault"
                        break
                    raise
                reason = self.run.exit_reason
                if kind == "fetch" and reason != k.KVM_EXIT_INTERNAL_ERROR:
                    # Any exit after the start means the instruction was fetched (and decoded); what it then
                    # did (a write to MMIO, a triple fault on garbage) is its own business, not the fetch's.
                    break
                if reason == k.KVM_EXIT_MMIO:
                    phys, data, length, is_write = self.run.mmio()
                    if not is_write:
                        data = mmio_answer(phys, length)
                        self.run.set_mmio_data(data)
                    exits.append((phys, length, data, is_write))
                    continue
                if reason == k.KVM_EXIT_IO and self.run.io()[2] == MARKER_PORT:
                    self._complete_pending_io()
                    break
                if reason == k.KVM_EXIT_INTERNAL_ERROR:
                    outcome = "internal_error"
                    break
                outcome = k.EXIT_NAMES.get(reason, str(reason)).lower()
                break
            else:
                outcome = "internal_error"
        finally:
            if kind == "fetch":
                k.ioctl(self.vcpu, k.KVM_SET_GUEST_DEBUG, bytearray(72))
        got = None
        if (outcome == "ok" and kind == "read") or (outcome == "ok" and exits and kind == "read"):
            rcx = k.Regs.unpack(self._get_regs()).v["rcx"]
            got = rcx & ((1 << (8 * size)) - 1)
        if exits and outcome == "ok":
            outcome = "mmio"
            if kind == "read":
                got = k.Regs.unpack(self._get_regs()).v["rcx"] & ((1 << (8 * size)) - 1)
        if kind == "write" and outcome in ("ok", "mmio"):
            got = value
        return {"outcome": outcome, "value": got, "exits": exits, "exit_reason": k.EXIT_NAMES.get(reason) if reason is not None else None}

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
        run = getattr(self, "run", None)
        if run is not None:
            run.close()
            del self.run
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
