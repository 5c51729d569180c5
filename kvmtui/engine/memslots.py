"""kvm_memory_slot, the memslot table and KVM_SET_USER_MEMORY_REGION's validation (virt/kvm/kvm_main.c).

The table is kept sorted by base_gfn and looked up by binary search with a last-hit cache, as
search_memslots() does; nothing here scans all slots on a hot path. Side effects on the MMU (flushes,
write-protection) belong to the caller (machine.py), as kvm_arch_commit_memory_region() belongs to x86.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from .addresses import PAGE_MASK, PAGE_SHIFT, U64_MAX, join_slot, split_slot
from .profiles import Profile
from .records import KernelCall
from .uapi import (
    EEXIST,
    EINVAL,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEM_LOG_DIRTY_PAGES,
    KVM_MEM_READONLY,
    errno_name,
    short_flag_names,
)

KVM_MEM_MAX_NR_PAGES = (1 << 31) - 1
# x86-64 with 4-level paging: access_ok() accepts ranges ending at or below TASK_SIZE_MAX.
TASK_SIZE_MAX = 0x7FFFFFFFF000

ChangeKind = Literal["create", "delete", "move", "flags_only", "noop"]


@dataclass(frozen=True, slots=True)
class MemSlot:
    """struct kvm_memory_slot, as far as this model needs it."""

    id: int
    base_gfn: int
    npages: int
    userspace_addr: int
    flags: int
    as_id: int = 0  # the address space (x86: 1 is SMM); kvm_memory_slot keeps it beside id

    @property
    def number(self) -> int:
        """The slot as userspace names it: as_id in the high 16 bits, as in the ioctl and QEMU's traces."""
        return join_slot(self.as_id, self.id)
    # KVM_MEM_GUEST_MEMFD slots (REGION2): the guest_memfd file bound and the offset into it
    gmem: str | None = None
    gmem_offset: int = 0
    # KVM_MEMSLOT_GMEM_ONLY (the file was made with GUEST_MEMFD_FLAG_MMAP): the native path reads and writes
    # the file, whose bytes this model keeps at the VMM's mmap of it, from this hva on (kvm-semantics §i F2)
    gmem_hva: int | None = None
    ioctl: int = 1  # which ioctl made the slot: 1 = KVM_SET_USER_MEMORY_REGION, 2 = ..._REGION2

    @property
    def end_gfn(self) -> int:
        return self.base_gfn + self.npages

    @property
    def readonly(self) -> bool:
        return bool(self.flags & KVM_MEM_READONLY)

    @property
    def log_dirty(self) -> bool:
        return bool(self.flags & KVM_MEM_LOG_DIRTY_PAGES)

    def hva_of(self, gfn: int) -> int:
        """__gfn_to_hva_memslot()."""
        return self.userspace_addr + ((gfn - self.base_gfn) << PAGE_SHIFT)

    def native_hva(self, gfn: int) -> int:
        """Where the bytes behind gfn are for the MMU: the guest_memfd page of a gmem-only slot (kvm_gmem_get_pfn),
        else userspace_addr (the emulator always goes through userspace_addr: §i F4)."""
        base = self.userspace_addr if self.gmem_hva is None else self.gmem_hva
        return base + ((gfn - self.base_gfn) << PAGE_SHIFT)

    def describe(self) -> str:
        flags = "|".join(short_flag_names(self.flags)) or "-"
        return (
            f"slot {self.number}: gpa {self.base_gfn << PAGE_SHIFT:#x}-{(self.end_gfn << PAGE_SHIFT) - 1:#x} "
            f"({self.npages} pages) hva {self.userspace_addr:#x} flags {flags}"
        )


@dataclass(frozen=True, slots=True)
class UserMemoryRegion:
    """struct kvm_userspace_memory_region, the argument of KVM_SET_USER_MEMORY_REGION."""

    slot: int
    flags: int
    guest_phys_addr: int
    memory_size: int
    userspace_addr: int
    # struct kvm_userspace_memory_region2 (ioctl 2): guest_memfd (by name here) and guest_memfd_offset
    guest_memfd: str | None = None
    guest_memfd_offset: int = 0
    ioctl: int = 1


# kvm_gmem_bind(): (errno, the calls it made, gmem_hva of a gmem-only slot or None)
GmemBind = Callable[[MemSlot, str | None, int], tuple[int, tuple[KernelCall, ...], int | None]]


@dataclass(frozen=True, slots=True)
class MemslotUpdate:
    """What __kvm_set_memory_region() decided: an errno, or a change to commit."""

    errno: int  # 0 or a positive errno
    kind: ChangeKind | None
    old: MemSlot | None
    new: MemSlot | None
    chain: tuple[KernelCall, ...]


class Memslots:
    """struct kvm_memslots: the slots of one address space, plus their dirty bitmaps."""

    __slots__ = ("_bases", "_by_id", "_last_used", "_slots", "dirty_bitmaps", "generation")

    def __init__(self) -> None:
        self._slots: list[MemSlot] = []  # sorted by base_gfn
        self._bases: list[int] = []
        self._by_id: dict[int, MemSlot] = {}
        self.generation = 0
        self._last_used = 0
        # dirty_bitmap of each slot that has one: the set of dirty page indices (sparse for huge slots)
        self.dirty_bitmaps: dict[int, set[int]] = {}

    # -- lookup -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self):
        return iter(self._slots)

    def id_to_memslot(self, slot_id: int) -> MemSlot | None:
        return self._by_id.get(slot_id)

    def by_id(self) -> dict[int, MemSlot]:
        return self._by_id

    def search_memslots(self, gfn: int) -> MemSlot | None:
        """Binary search with a last-used cache, as search_memslots() / the memslot gfn_tree do."""
        slots = self._slots
        i = self._last_used
        if i < len(slots):
            s = slots[i]
            if s.base_gfn <= gfn < s.base_gfn + s.npages:
                return s
        i = bisect_right(self._bases, gfn) - 1
        if i >= 0:
            s = slots[i]
            if gfn < s.base_gfn + s.npages:
                self._last_used = i
                return s
        return None

    def overlapping(self, base_gfn: int, npages: int, ignore_id: int | None) -> MemSlot | None:
        """The first slot (other than ignore_id) whose range intersects [base_gfn, base_gfn+npages)."""
        end = base_gfn + npages
        i = bisect_right(self._bases, base_gfn) - 1
        if i < 0:
            i = 0
        slots = self._slots
        while i < len(slots) and slots[i].base_gfn < end:
            s = slots[i]
            if s.id != ignore_id and s.base_gfn + s.npages > base_gfn:
                return s
            i += 1
        return None

    def slots_at_hva(self, hva_start: int, hva_end: int) -> list[MemSlot]:
        """Slots whose userspace range meets [hva_start, hva_end): the mmu notifier's hva_tree query."""
        return [
            s
            for s in self._slots
            if s.userspace_addr < hva_end and s.userspace_addr + (s.npages << PAGE_SHIFT) > hva_start
        ]

    # -- mutation (only through commit) -----------------------------------------------------------
    def _remove(self, slot: MemSlot) -> None:
        i = bisect_right(self._bases, slot.base_gfn) - 1
        while self._slots[i].id != slot.id:  # equal bases are possible only for empty ranges
            i -= 1
        del self._slots[i]
        del self._bases[i]
        del self._by_id[slot.id]
        self._last_used = 0

    def _insert(self, slot: MemSlot) -> None:
        i = bisect_right(self._bases, slot.base_gfn)
        self._slots.insert(i, slot)
        self._bases.insert(i, slot.base_gfn)
        self._by_id[slot.id] = slot

    def commit(self, update: MemslotUpdate) -> None:
        """install_new_memslots(): apply a validated update and bump the generation."""
        if update.old is not None:
            self._remove(update.old)
        if update.new is not None:
            self._insert(update.new)
            if update.new.log_dirty:
                self.dirty_bitmaps.setdefault(update.new.id, set())
            else:
                self.dirty_bitmaps.pop(update.new.id, None)
        elif update.old is not None:
            self.dirty_bitmaps.pop(update.old.id, None)
        self.generation += 1

    def bump_generation(self) -> None:
        self.generation += 1

    # -- snapshots ----------------------------------------------------------------------------------
    def copy(self) -> Memslots:
        other = Memslots.__new__(Memslots)
        other._slots = self._slots.copy()
        other._bases = self._bases.copy()
        other._by_id = self._by_id.copy()
        other.generation = self.generation
        other._last_used = 0
        other.dirty_bitmaps = {k: v.copy() for k, v in self.dirty_bitmaps.items()}
        return other


def _fail(chain: list[KernelCall], err: int, why: str) -> MemslotUpdate:
    chain.append(KernelCall("__kvm_set_memory_region", "", f"-{errno_name(err)}", note=why, bad=True))
    return MemslotUpdate(err, None, None, None, tuple(chain))


def kvm_set_memory_region(profile: Profile, slots: Memslots, mem: UserMemoryRegion, gmem_bind: GmemBind | None = None) -> MemslotUpdate:
    """Validate one KVM_SET_USER_MEMORY_REGION(2) and say what it changes, in the era's order of checks."""
    modern = not profile.overlap_check_every_request
    args = (
        f"slot={mem.slot:#x}, flags={mem.flags:#x}, guest_phys_addr={mem.guest_phys_addr:#x}, "
        f"memory_size={mem.memory_size:#x}, userspace_addr={mem.userspace_addr:#x}"
    )
    if mem.ioctl == 2:
        args += f", guest_memfd={mem.guest_memfd or '-1'}, guest_memfd_offset={mem.guest_memfd_offset:#x}"
    chain: list[KernelCall] = [KernelCall("kvm_vm_ioctl_set_memory_region", args, "", note="KVM_SET_USER_MEMORY_REGION2" if mem.ioctl == 2 else "")]

    # 1. the ioctl's pre-check on the slot id
    slot_for_check = split_slot(mem.slot)[1] if modern else mem.slot
    if slot_for_check >= profile.user_mem_slots:
        limit = "KVM_USER_MEM_SLOTS" if modern else "KVM_MEMORY_SLOTS"
        return _fail(chain, EINVAL, f"slot {slot_for_check} >= {limit} ({profile.user_mem_slots})")
    # 2. flag bits
    valid = profile.valid_flags
    gmem = bool(mem.flags & KVM_MEM_GUEST_MEMFD)
    if mem.ioctl == 2 and profile.guest_memfd:
        # check_memory_region_flags(): GUEST_MEMFD only through REGION2, never with LOG_DIRTY or READONLY
        valid = (valid | KVM_MEM_GUEST_MEMFD) & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY) if gmem else valid
    bad = mem.flags & ~valid
    chain.append(KernelCall("check_memory_region_flags", f"flags={mem.flags:#x}", "-EINVAL" if bad else "0"))
    if bad:
        why = f"flag bits {bad:#x} not valid in this kernel"
        if gmem and mem.ioctl == 1 and profile.guest_memfd:
            why = "KVM_MEM_GUEST_MEMFD needs KVM_SET_USER_MEMORY_REGION2"
        elif gmem and bad & (KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY):
            why = "LOG_DIRTY_PAGES and READONLY are not allowed with KVM_MEM_GUEST_MEMFD"
        return _fail(chain, EINVAL, why)
    # 4-6. alignment and the userspace range
    if mem.memory_size & PAGE_MASK:
        return _fail(chain, EINVAL, "memory_size is not page aligned")
    if mem.guest_phys_addr & PAGE_MASK:
        return _fail(chain, EINVAL, "guest_phys_addr is not page aligned")
    if mem.userspace_addr & PAGE_MASK:
        return _fail(chain, EINVAL, "userspace_addr is not page aligned")
    if mem.userspace_addr + mem.memory_size > TASK_SIZE_MAX:
        return _fail(chain, EINVAL, f"access_ok() fails: userspace range ends above {TASK_SIZE_MAX:#x}")
    if gmem and (mem.guest_memfd_offset & PAGE_MASK or mem.guest_memfd_offset + mem.memory_size > U64_MAX):
        return _fail(chain, EINVAL, "guest_memfd_offset is not page aligned, or offset + size wraps")
    # 7. address space and id
    as_id, slot_id = split_slot(mem.slot) if modern else (0, mem.slot)
    if as_id >= profile.address_spaces or slot_id >= profile.mem_slots_num:
        why = f"as_id {as_id} >= KVM_ADDRESS_SPACE_NUM ({profile.address_spaces})" if as_id >= profile.address_spaces else f"id {slot_id} >= KVM_MEM_SLOTS_NUM"
        return _fail(chain, EINVAL, why)
    # 8. gpa + size wraps
    if mem.guest_phys_addr + mem.memory_size > U64_MAX:
        return _fail(chain, EINVAL, "guest_phys_addr + memory_size wraps around 2^64")
    base_gfn = mem.guest_phys_addr >> PAGE_SHIFT
    npages = mem.memory_size >> PAGE_SHIFT
    # 9. size limit
    if npages > KVM_MEM_MAX_NR_PAGES:
        return _fail(chain, EINVAL, f"{npages} pages > KVM_MEM_MAX_NR_PAGES ({KVM_MEM_MAX_NR_PAGES})")

    old = slots.id_to_memslot(slot_id)
    if modern:
        return _classify_modern(profile, slots, mem, slot_id, base_gfn, npages, old, chain, as_id, gmem_bind)
    return _classify_3x(profile, slots, mem, slot_id, base_gfn, npages, old, chain)


def _classify_modern(
    profile: Profile,
    slots: Memslots,
    mem: UserMemoryRegion,
    slot_id: int,
    base_gfn: int,
    npages: int,
    old: MemSlot | None,
    chain: list[KernelCall],
    as_id: int = 0,
    gmem_bind: GmemBind | None = None,
) -> MemslotUpdate:
    if npages == 0:
        if old is None:
            return _fail(chain, EINVAL, f"delete of slot {slot_id}, which does not exist")
        chain.append(KernelCall("kvm_set_memslot", "change=KVM_MR_DELETE", "0",
                                note=f"kvm_gmem_unbind(): {old.gmem}+{old.gmem_offset:#x} is free again" if old.gmem else ""))
        return MemslotUpdate(0, "delete", old, None, tuple(chain))
    new = MemSlot(slot_id, base_gfn, npages, mem.userspace_addr, mem.flags, as_id, ioctl=mem.ioctl)
    if old is None:
        kind: ChangeKind = "create"
    else:
        if mem.flags & KVM_MEM_GUEST_MEMFD:
            return _fail(chain, EINVAL, "guest_memfd slots are immutable: they can only be deleted")
        if (mem.flags ^ old.flags) & KVM_MEM_GUEST_MEMFD:
            return _fail(chain, EINVAL, "KVM_MEM_GUEST_MEMFD cannot be dropped from an existing slot")
        if mem.userspace_addr != old.userspace_addr:
            return _fail(chain, EINVAL, "userspace_addr of an existing slot cannot change")
        if npages != old.npages:
            return _fail(chain, EINVAL, f"existing slot cannot be resized ({old.npages} -> {npages} pages)")
        if (mem.flags ^ old.flags) & KVM_MEM_READONLY:
            return _fail(chain, EINVAL, "KVM_MEM_READONLY cannot be toggled on an existing slot")
        new = replace(new, ioctl=old.ioctl)
        if base_gfn != old.base_gfn:
            kind = "move"
        elif mem.flags != old.flags:
            kind = "flags_only"
        else:
            chain.append(KernelCall("kvm_set_memory_region", "", "0", note="identical to the existing slot: no-op"))
            return MemslotUpdate(0, "noop", old, old, tuple(chain))
    if kind in ("create", "move"):
        other = slots.overlapping(base_gfn, npages, slot_id)
        if other is not None:
            return _fail(chain, EEXIST, f"gfn range overlaps slot {other.id}")
        if mem.flags & KVM_MEM_GUEST_MEMFD:
            if gmem_bind is None:
                return _fail(chain, EINVAL, "no guest_memfd support here")
            err, calls, gmem_hva = gmem_bind(new, mem.guest_memfd, mem.guest_memfd_offset)
            chain.extend(calls)
            if err:
                return MemslotUpdate(err, None, None, None, tuple(chain))
            new = replace(new, gmem=mem.guest_memfd, gmem_offset=mem.guest_memfd_offset, gmem_hva=gmem_hva)
        if profile.max_gfn is not None and base_gfn + npages - 1 > profile.max_gfn:
            chain.append(
                KernelCall(
                    "kvm_arch_prepare_memory_region", "", "-EINVAL", bad=True,
                    note=f"last gfn {base_gfn + npages - 1:#x} > kvm_mmu_max_gfn() {profile.max_gfn:#x}",
                )
            )
            return MemslotUpdate(EINVAL, None, None, None, tuple(chain))
    change = {"create": "KVM_MR_CREATE", "move": "KVM_MR_MOVE", "flags_only": "KVM_MR_FLAGS_ONLY"}[kind]
    chain.append(KernelCall("kvm_set_memslot", f"change={change}", "0"))
    return MemslotUpdate(0, kind, old, new, tuple(chain))


def _classify_3x(
    profile: Profile,
    slots: Memslots,
    mem: UserMemoryRegion,
    slot_id: int,
    base_gfn: int,
    npages: int,
    old: MemSlot | None,
    chain: list[KernelCall],
) -> MemslotUpdate:
    flags = mem.flags if npages else mem.flags & ~KVM_MEM_LOG_DIRTY_PAGES
    if npages and old is not None and npages != old.npages:
        return _fail(chain, EINVAL, f"existing slot cannot be resized ({old.npages} -> {npages} pages)")
    if old is not None and not profile.readonly_toggle_allowed and (flags ^ old.flags) & KVM_MEM_READONLY and npages:
        return _fail(chain, EINVAL, "KVM_MEM_READONLY cannot be toggled on an existing slot")
    # The 3.x overlap loop runs for every request, deletes included (fixed in v3.8).
    other = slots.overlapping(base_gfn, npages, slot_id) if npages else _strictly_inside(slots, base_gfn, slot_id)
    if other is not None:
        return _fail(chain, EEXIST, f"gfn {base_gfn:#x} range overlaps slot {other.id}")
    if npages == 0:
        note = "slot was empty: the delete path still runs" if old is None else ""
        chain.append(KernelCall("__kvm_set_memory_region", "npages=0", "0", note=note))
        return MemslotUpdate(0, "delete", old, None, tuple(chain))
    if old is None:
        new = MemSlot(slot_id, base_gfn, npages, mem.userspace_addr, flags)
        kind: ChangeKind = "create"
    else:
        # new = old, then id/base_gfn/npages/flags overwritten: userspace_addr stays the old one.
        new = replace(old, base_gfn=base_gfn, npages=npages, flags=flags)
        if mem.userspace_addr != old.userspace_addr:
            chain.append(
                KernelCall("__kvm_set_memory_region", "", "", note=f"userspace_addr change ignored: slot keeps {old.userspace_addr:#x}")
            )
        if base_gfn != old.base_gfn:
            kind = "move"
        elif flags != old.flags:
            kind = "flags_only"
        else:
            kind = "noop"
    chain.append(KernelCall("__kvm_set_memory_region", "", "0", note="" if kind != "noop" else "no shortcut in 3.x: full update path"))
    return MemslotUpdate(0, kind, old, new, tuple(chain))


def _strictly_inside(slots: Memslots, base_gfn: int, ignore_id: int) -> MemSlot | None:
    s = slots.search_memslots(base_gfn)
    if s is not None and s.id != ignore_id and s.base_gfn < base_gfn:
        return s
    return None
