"""The KVM ioctls and structures this backend needs (x86-64), through fcntl and ctypes."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import struct


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (0xAE << 8) | nr


KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
KVM_CHECK_EXTENSION = 0xAE03
KVM_GET_VCPU_MMAP_SIZE = 0xAE04
KVM_CREATE_VCPU = 0xAE41
KVM_GET_DIRTY_LOG = _ioc(1, 0x42, 16)
KVM_SET_USER_MEMORY_REGION = _ioc(1, 0x46, 32)
KVM_RUN = 0xAE80
KVM_GET_REGS = _ioc(2, 0x81, 144)
KVM_SET_REGS = _ioc(1, 0x82, 144)
KVM_GET_SREGS = _ioc(2, 0x83, 312)
KVM_SET_SREGS = _ioc(1, 0x84, 312)
KVM_SET_GUEST_DEBUG = _ioc(1, 0x9B, 72)
KVM_GET_SUPPORTED_CPUID = _ioc(3, 0x05, 8)
KVM_SET_CPUID2 = _ioc(1, 0x90, 8)
# today's memory API
KVM_SET_USER_MEMORY_REGION2 = _ioc(1, 0x49, 160)
KVM_CREATE_GUEST_MEMFD = _ioc(3, 0xD4, 64)
KVM_ENABLE_CAP = _ioc(1, 0xA3, 104)
KVM_CLEAR_DIRTY_LOG = _ioc(3, 0xC0, 24)
KVM_RESET_DIRTY_RINGS = 0xAEC7
KVM_DIRTY_LOG_PAGE_OFFSET = 64  # pages into the vCPU fd
KVM_DIRTY_GFN_F_DIRTY, KVM_DIRTY_GFN_F_RESET = 1, 2

KVM_EXIT_IO = 2
KVM_EXIT_DEBUG = 4
KVM_EXIT_HLT = 5
KVM_EXIT_MMIO = 6
KVM_EXIT_SHUTDOWN = 8
KVM_EXIT_INTERNAL_ERROR = 17
KVM_EXIT_DIRTY_RING_FULL = 31
EXIT_NAMES = {0: "KVM_EXIT_UNKNOWN", 2: "KVM_EXIT_IO", 4: "KVM_EXIT_DEBUG", 5: "KVM_EXIT_HLT", 6: "KVM_EXIT_MMIO",
              8: "KVM_EXIT_SHUTDOWN", 9: "KVM_EXIT_FAIL_ENTRY", 17: "KVM_EXIT_INTERNAL_ERROR", 31: "KVM_EXIT_DIRTY_RING_FULL"}

PROT = {"none": 0, "r": 1, "rw": 3}
MAP_PRIVATE, MAP_SHARED, MAP_FIXED, MAP_ANONYMOUS, MAP_NORESERVE, MAP_FIXED_NOREPLACE = 0x02, 0x01, 0x10, 0x20, 0x4000, 0x100000
MADV_DONTNEED = 4
MADV_PAGEOUT = 21
MS_SYNC = 4
POSIX_FADV_DONTNEED = 4

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
_libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.msync.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p)
MAP_FAILED = ctypes.c_void_p(-1).value


def libc_call(fn, *args) -> int:
    r = fn(*args)
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def host_mmap(length: int, prot: str, fd: int = -1, hint: int = 0, shared: bool = False, replace: bool = False) -> int:
    """mmap(); with `hint`, exactly there: over an existing reservation when `replace`, else only if free."""
    flags = (MAP_SHARED if shared else MAP_PRIVATE) | MAP_NORESERVE | (MAP_ANONYMOUS if fd < 0 else 0)
    if hint:
        flags |= MAP_FIXED if replace else MAP_FIXED_NOREPLACE
    addr = _libc.mmap(hint or None, length, PROT[prot], flags, fd, 0)
    if addr in (None, MAP_FAILED):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return addr


def host_munmap(addr: int, length: int) -> None:
    libc_call(_libc.munmap, addr, length)


def host_mprotect(addr: int, length: int, prot: str) -> None:
    libc_call(_libc.mprotect, addr, length, PROT[prot])


def host_madvise_dontneed(addr: int, length: int) -> None:
    libc_call(_libc.madvise, addr, length, MADV_DONTNEED)


def host_evict(addr: int, length: int, fd: int | None, offset: int) -> None:
    """Make pages non-resident the way reclaim does, content kept: write dirty file pages back (msync), reclaim
    the range (MADV_PAGEOUT: unmaps the pages, so the mmu notifier zaps their sptes, and frees them), then drop
    what the page cache still holds of the file range (POSIX_FADV_DONTNEED). Measured here: every page of a
    shared file mapping, read or written, is no longer resident afterwards (mincore). Anonymous pages go to
    swap only if there is swap; without it (this machine) they stay, as reclaim would leave them."""
    if fd is not None:
        libc_call(_libc.msync, addr, length, MS_SYNC)
    libc_call(_libc.madvise, addr, length, MADV_PAGEOUT)
    if fd is not None:
        os.posix_fadvise(fd, offset, length, POSIX_FADV_DONTNEED)


def host_resident(addr: int, pages: int) -> list[bool]:
    """mincore(): which pages of the range are in memory (page cache residency for file mappings)."""
    vec = ctypes.create_string_buffer(pages)
    libc_call(_libc.mincore, addr, pages * 4096, vec)
    return [bool(b & 1) for b in vec.raw]


def ioctl(fd: int, request: int, arg: int | bytearray = 0) -> int:
    if isinstance(arg, bytearray):
        return fcntl.ioctl(fd, request, arg, True)
    return fcntl.ioctl(fd, request, arg)


class Regs:
    NAMES = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")

    def __init__(self, **values: int) -> None:
        self.v = dict.fromkeys(self.NAMES, 0)
        self.v["rflags"] = 2
        self.v.update(values)

    def pack(self) -> bytearray:
        return bytearray(struct.pack("<18Q", *(self.v[n] & 0xFFFFFFFFFFFFFFFF for n in self.NAMES)))

    @classmethod
    def unpack(cls, buf: bytes) -> Regs:
        return cls(**dict(zip(cls.NAMES, struct.unpack("<18Q", buf), strict=True)))


def segment(base: int, limit: int, selector: int, type_: int, dpl: int, s: int = 1, l: int = 1, db: int = 0, g: int = 1) -> bytes:
    return struct.pack("<QIHBBBBBBBBBx", base, limit, selector, type_, 1, dpl, db, s, l, g, 0, 0)


def sregs(cs: bytes, ds: bytes, tr: bytes, gdt: tuple[int, int], cr0: int, cr3: int, cr4: int, efer: int) -> bytearray:
    ldt = segment(0, 0, 0, 2, 0, s=0, l=0, g=0)
    dtable = struct.pack("<QH6x", *gdt)
    idt = struct.pack("<QH6x", 0, 0)
    buf = cs + ds + ds + ds + ds + ds + tr + ldt + dtable + idt + struct.pack("<7Q", cr0, 0, cr3, cr4, 0, efer, 0xFEE00900) + b"\0" * 32
    assert len(buf) == 312
    return bytearray(buf)


class VcpuRun:
    """The vCPU's shared kvm_run page."""

    def __init__(self, vcpu_fd: int, size: int) -> None:
        self.m = mmap.mmap(vcpu_fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)

    @property
    def exit_reason(self) -> int:
        return struct.unpack_from("<I", self.m, 8)[0]

    def set_immediate_exit(self, on: bool) -> None:
        self.m[1] = 1 if on else 0

    def mmio(self) -> tuple[int, bytes, int, bool]:
        phys, data, length, is_write = struct.unpack_from("<Q8sIB", self.m, 32)
        return phys, data[:length], length, bool(is_write)

    def set_mmio_data(self, data: bytes) -> None:
        self.m[40 : 40 + len(data)] = data

    def io(self) -> tuple[int, int, int]:
        direction, size, port = struct.unpack_from("<BBH", self.m, 32)
        return direction, size, port

    def internal_suberror(self) -> int:
        return struct.unpack_from("<I", self.m, 32)[0]

    def close(self) -> None:
        self.m.close()


def kvm_available() -> tuple[bool, str]:
    """Can this process use /dev/kvm? (False, why) otherwise."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm is missing (no KVM on this machine, or not passed into the container)"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except PermissionError:
        return False, "no permission to open /dev/kvm (add yourself to the kvm group, or run as root)"
    except OSError as e:
        return False, f"cannot open /dev/kvm: {e.strerror}"
    try:
        if ioctl(fd, KVM_GET_API_VERSION) != 12:
            return False, "unexpected KVM API version"
        try:
            vm = ioctl(fd, KVM_CREATE_VM, 0)
        except OSError as e:
            return False, f"KVM_CREATE_VM failed: {errno.errorcode.get(e.errno or 0, str(e.errno))}"
        os.close(vm)
        return True, ""
    finally:
        os.close(fd)


def supported_cpuid(kvm_fd: int, max_entries: int = 256) -> bytearray:
    """KVM_GET_SUPPORTED_CPUID: the CPUID the host can give a guest (including its MAXPHYADDR)."""
    buf = bytearray(struct.pack("<II", max_entries, 0) + b"\0" * (40 * max_entries))
    ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, buf)
    nent = struct.unpack_from("<I", buf, 0)[0]
    return buf[: 8 + 40 * nent]


def with_maxphyaddr(cpuid: bytearray, bits: int) -> bytearray:
    """The same CPUID with MAXPHYADDR (leaf 0x80000008, EAX[7:0]) set to `bits`: with shadow paging a guest's
    physical addresses are only gfns, so the guest may address more than the host's."""
    out = bytearray(cpuid)
    for i in range(struct.unpack_from("<I", out, 0)[0]):
        off = 8 + 40 * i
        if struct.unpack_from("<I", out, off)[0] == 0x80000008:  # struct kvm_cpuid_entry2: function, index, flags, eax..
            eax = struct.unpack_from("<I", out, off + 12)[0]
            struct.pack_into("<I", out, off + 12, (eax & ~0xFF) | bits)
    return out
