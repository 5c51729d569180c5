"""kvm_memory_slot, the memslot table and KVM_SET_USER_MEMORY_REGION's validation (virt/kvm/kvm_main.c).

The table is kept sorted by base_gfn and looked up by binary search with a last-hit cache, as
search_memslots() does; nothing here scans all slots on a hot path. Side effects on the MMU (flushes,
write-protection) belong to the caller (machine.py), as kvm_arch_commit_memory_region() belongs to x86.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from operator import attrgetter
from typing import TYPE_CHECKING, Literal

from .addresses import PAGE_MASK, PAGE_SHIFT, U64_MAX, join_slot, split_slot
from .calls import KernelCall, errno_call, make_call
from .persistent import IdArray, SortedChunks
from .profiles import Profile
from .uapi import (
    EEXIST,
    EINVAL,
    KVM_MEM_GUEST_MEMFD,
    KVM_MEM_LOG_DIRTY_PAGES,
    KVM_MEM_READONLY,
    errno_name,
    short_flag_names,
)
from .values import builder, fast_dataclass

if TYPE_CHECKING:  # (dirty_bitmap.py is imported where a slot that logs dirty pages is committed)
    from .dirty_bitmap import DirtyBitmap

KVM_MEM_MAX_NR_PAGES = (1 << 31) - 1
# x86-64 with 4-level paging: access_ok() accepts ranges ending at or below TASK_SIZE_MAX.
TASK_SIZE_MAX = 0x7FFFFFFFF000

_BASE_GFN = attrgetter("base_gfn")
ChangeKind = Literal["create", "delete", "move", "flags_only", "noop"]


@fast_dataclass(frozen=True, slots=True)
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


@fast_dataclass(frozen=True, slots=True)
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


@fast_dataclass(frozen=True, slots=True)
class MemslotUpdate:
    """What __kvm_set_memory_region() decided: an errno, or a change to commit."""

    errno: int  # 0 or a positive errno
    kind: ChangeKind | None
    old: MemSlot | None
    new: MemSlot | None
    chain: tuple[KernelCall, ...]


class Memslots:
    """struct kvm_memslots: the slots of one address space, an immutable value.

    `commit` returns a new table and leaves this one as it was, as kvm_swap_active_memslots() installs a new
    struct kvm_memslots; the two share every slot and every page of the id array they have in common
    (persistent.py), so a commit costs O(sqrt n) and keeping a table (a snapshot, a view of a step) costs
    nothing. Lookups are by binary search with a last-used cache, as search_memslots() does.

    The dirty bitmaps are the one mutable part: the log the guest's writes set bits in. A table shares its
    bitmaps with the table it was committed from (the kernel hands old->dirty_bitmap to the new slot), and
    `copy` (a snapshot) copies them.
    """

    __slots__ = ("_ids", "_last", "_sorted", "dirty_bitmaps", "generation")

    def __init__(self) -> None:
        self._sorted: SortedChunks[MemSlot] = SortedChunks(_BASE_GFN)  # by base_gfn
        self._ids: IdArray[MemSlot] = IdArray()  # id_to_memslot
        self.generation = 0
        self._last: MemSlot | None = None  # last_used_slot: a cache, not part of the value
        # dirty_bitmap of each slot that has one, as runs of set bits (cost follows the runs, not the slot)
        self.dirty_bitmaps: dict[int, DirtyBitmap] = {}

    def _with(self, sorted_: SortedChunks[MemSlot], ids: IdArray[MemSlot], generation: int, bitmaps: dict[int, DirtyBitmap]) -> Memslots:
        other = Memslots.__new__(Memslots)
        other._sorted, other._ids, other.generation, other.dirty_bitmaps = sorted_, ids, generation, bitmaps
        other._last = None
        return other

    # -- lookup -------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._sorted)

    def __iter__(self) -> Iterator[MemSlot]:
        """The slots in base_gfn order."""
        return iter(self._sorted)

    def id_to_memslot(self, slot_id: int) -> MemSlot | None:
        return self._ids.get(slot_id)

    def search_memslots(self, gfn: int) -> MemSlot | None:
        """Binary search with a last-used cache, as search_memslots() / the memslot gfn_tree do."""
        s = self._last
        if s is not None and s.base_gfn <= gfn < s.base_gfn + s.npages:
            return s
        c, i = self._sorted.floor(gfn)
        if i >= 0:
            s = self._sorted.at(c, i)
            if gfn < s.base_gfn + s.npages:
                self._last = s
                return s
        return None

    def overlapping(self, base_gfn: int, npages: int, ignore_id: int | None) -> MemSlot | None:
        """The first slot (other than ignore_id) whose range intersects [base_gfn, base_gfn+npages)."""
        end = base_gfn + npages
        below, above = self._sorted.floor_and_next(base_gfn)
        # the slot starting at or before base_gfn, then the next: usually the only candidates
        if below is not None and below.id != ignore_id and below.base_gfn + below.npages > base_gfn:
            return below
        if above is None or above.base_gfn >= end:  # the common answer, without walking on
            return None
        sorted_ = self._sorted
        c, i = sorted_.floor(base_gfn)
        for s in sorted_.iter_from(c, i + 1):
            if s.base_gfn >= end:
                break
            if s.id != ignore_id and s.base_gfn + s.npages > base_gfn:
                return s
        return None

    def slots_at_hva(self, hva_start: int, hva_end: int) -> list[MemSlot]:
        """Slots whose userspace range meets [hva_start, hva_end): the mmu notifier's hva_tree query."""
        return [
            s
            for s in self._sorted
            if s.userspace_addr < hva_end and s.userspace_addr + (s.npages << PAGE_SHIFT) > hva_start
        ]

    # -- new tables -----------------------------------------------------------------------------------
    def commit(self, update: MemslotUpdate) -> Memslots:
        """install_new_memslots(): the table with a validated update applied, one generation on."""
        sorted_, ids, bitmaps = self._sorted, self._ids, self.dirty_bitmaps
        old, new = update.old, update.new
        if old is not None:
            pos = sorted_.floor(old.base_gfn)
            if pos[1] < 0 or sorted_.at(*pos) is not old:  # equal bases (empty ranges) or an equal copy
                pos = sorted_.position(old.base_gfn, lambda s: s.id == old.id)  # type: ignore[assignment]
            assert pos is not None, f"slot {old.id} is in the table"
            if new is not None and new.base_gfn == old.base_gfn:  # flags only: the slot keeps its place
                sorted_ = sorted_.replace_at(*pos, new)
            else:
                sorted_ = sorted_.remove(*pos)
                if new is not None:
                    sorted_ = sorted_.insert(new)
            ids = ids.set(old.id, new) if new is None or new.id == old.id else ids.set(old.id, None).set(new.id, new)
        elif new is not None:
            sorted_ = sorted_.insert(new)
            ids = ids.set(new.id, new)
        if new is not None:
            if new.flags & KVM_MEM_LOG_DIRTY_PAGES:
                if new.id not in bitmaps:
                    # (imported by the first slot that logs dirty pages: a plain trace compiles none of it)
                    from .dirty_bitmap import DirtyBitmap

                    bitmaps = {**bitmaps, new.id: DirtyBitmap()}
            elif new.id in bitmaps:
                bitmaps = {k: v for k, v in bitmaps.items() if k != new.id}
        elif old is not None and old.id in bitmaps:
            bitmaps = {k: v for k, v in bitmaps.items() if k != old.id}
        return self._with(sorted_, ids, self.generation + 1, bitmaps)

    def bump_generation(self) -> Memslots:
        """The same slots, one generation on (an update that changed nothing still swaps the table)."""
        return self._with(self._sorted, self._ids, self.generation + 1, self.dirty_bitmaps)

    def copy(self) -> Memslots:
        """A snapshot: the same immutable slots, and copies of the dirty bitmaps (the one mutable part)."""
        return self._with(self._sorted, self._ids, self.generation, {k: v.copy() for k, v in self.dirty_bitmaps.items()})


# MemSlot(...), MemslotUpdate(...) as plain functions (values.builder): one of each per request
_new_slot, _new_update = builder(MemSlot), builder(MemslotUpdate)

# Calls that are the same in every update of their kind: made once (KernelCall is an immutable value)
_SET_MEMSLOT = {kind: KernelCall("kvm_set_memslot", f"change={change}", "0")
                for kind, change in (("create", "KVM_MR_CREATE"), ("move", "KVM_MR_MOVE"), ("flags_only", "KVM_MR_FLAGS_ONLY"))}
_FLAGS_OK: dict[int, KernelCall] = {}  # check_memory_region_flags() returning 0, by the flags asked (a few values)


def _fail(chain: list[KernelCall], err: int, why: str) -> MemslotUpdate:
    chain.append(errno_call("__kvm_set_memory_region", "", errno_name(err), note=why, bad=True))
    return MemslotUpdate(err, None, None, None, tuple(chain))


def kvm_set_memory_region(profile: Profile, slots: Memslots, mem: UserMemoryRegion, gmem_bind: GmemBind | None = None) -> MemslotUpdate:
    """Validate one KVM_SET_USER_MEMORY_REGION(2) and say what it changes, in the era's order of checks."""
    flags, gpa, size, uaddr, region2 = mem.flags, mem.guest_phys_addr, mem.memory_size, mem.userspace_addr, mem.ioctl == 2
    # hex(n), not {n:#x}: the same text at a third of the cost (no format spec to parse), five times a request
    args = (f"slot={hex(mem.slot)}, flags={hex(flags)}, guest_phys_addr={hex(gpa)}, memory_size={hex(size)}, "
            f"userspace_addr={hex(uaddr)}")
    if region2:
        args += f", guest_memfd={mem.guest_memfd or '-1'}, guest_memfd_offset={mem.guest_memfd_offset:#x}"
    chain: list[KernelCall] = [make_call("kvm_vm_ioctl_set_memory_region", args, "", "KVM_SET_USER_MEMORY_REGION2" if region2 else "")]

    # 1. the ioctl's pre-check on the slot id
    as_id, slot_id = split_slot(mem.slot) if profile.slot_as_id else (0, mem.slot)
    if slot_id >= profile.user_mem_slots:
        return _fail(chain, EINVAL, f"slot {slot_id} >= {profile.name_of('user_mem_slots')} ({profile.user_mem_slots})")
    # 2. flag bits
    valid = profile.valid_flags
    gmem = bool(flags & KVM_MEM_GUEST_MEMFD)
    if region2 and profile.guest_memfd:
        # check_memory_region_flags(): GUEST_MEMFD only through REGION2, never with LOG_DIRTY or READONLY
        valid = (valid | KVM_MEM_GUEST_MEMFD) & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY) if gmem else valid
    bad = flags & ~valid
    if bad:
        chain.append(errno_call("check_memory_region_flags", f"flags={flags:#x}", "EINVAL"))
        why = f"flag bits {bad:#x} not valid in this kernel"
        if gmem and mem.ioctl == 1 and profile.guest_memfd:
            why = "KVM_MEM_GUEST_MEMFD needs KVM_SET_USER_MEMORY_REGION2"
        elif gmem and bad & (KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY):
            why = "LOG_DIRTY_PAGES and READONLY are not allowed with KVM_MEM_GUEST_MEMFD"
        return _fail(chain, EINVAL, why)
    ok = _FLAGS_OK.get(flags)
    if ok is None:
        ok = _FLAGS_OK[flags] = KernelCall("check_memory_region_flags", f"flags={flags:#x}", "0")
    chain.append(ok)
    # 4-6. alignment and the userspace range (one test for the three alignments: they almost always hold)
    if (size | gpa | uaddr) & PAGE_MASK:
        if size & PAGE_MASK:
            return _fail(chain, EINVAL, "memory_size is not page aligned")
        if gpa & PAGE_MASK:
            return _fail(chain, EINVAL, "guest_phys_addr is not page aligned")
        return _fail(chain, EINVAL, "userspace_addr is not page aligned")
    if uaddr + size > TASK_SIZE_MAX:
        return _fail(chain, EINVAL, f"access_ok() fails: userspace range ends above {TASK_SIZE_MAX:#x}")
    if gmem and (mem.guest_memfd_offset & PAGE_MASK or mem.guest_memfd_offset + size > U64_MAX):
        return _fail(chain, EINVAL, "guest_memfd_offset is not page aligned, or offset + size wraps")
    # 7. address space and id
    if as_id >= profile.address_spaces or slot_id >= profile.mem_slots_num:
        why = f"as_id {as_id} >= KVM_ADDRESS_SPACE_NUM ({profile.address_spaces})" if as_id >= profile.address_spaces else f"id {slot_id} >= KVM_MEM_SLOTS_NUM"
        return _fail(chain, EINVAL, why)
    # 8. gpa + size wraps
    if gpa + size > U64_MAX:
        return _fail(chain, EINVAL, "guest_phys_addr + memory_size wraps around 2^64")
    base_gfn = gpa >> PAGE_SHIFT
    npages = size >> PAGE_SHIFT
    # 9. size limit
    if npages > KVM_MEM_MAX_NR_PAGES:
        return _fail(chain, EINVAL, f"{npages} pages > KVM_MEM_MAX_NR_PAGES ({KVM_MEM_MAX_NR_PAGES})")

    old = slots.id_to_memslot(slot_id)
    if profile.mr_change_kinds:
        return _classify_modern(profile, slots, mem, slot_id, base_gfn, npages, old, chain, as_id, gmem_bind)
    return _classify_3x(profile, slots, mem, slot_id, base_gfn, npages, old, chain, as_id)


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
        return _delete_modern(profile, slot_id, old, chain)
    # the slot keeps the ioctl that made it
    new = _new_slot(slot_id, base_gfn, npages, mem.userspace_addr, mem.flags, as_id, ioctl=mem.ioctl if old is None else old.ioctl)
    kind: ChangeKind = "create"
    if old is not None:
        changed = _change_of(profile, mem, new, old, chain)
        if isinstance(changed, MemslotUpdate):
            return changed
        kind, new = changed
    if kind in ("create", "move") or profile.overlap_check_every_request:
        placed = _place_new_range(profile, slots, mem, new, chain, gmem_bind)
        if isinstance(placed, MemslotUpdate):
            return placed
        new = placed
    chain.append(_SET_MEMSLOT[kind])
    return _new_update(0, kind, old, new, tuple(chain))


def _delete_modern(profile: Profile, slot_id: int, old: MemSlot | None, chain: list[KernelCall]) -> MemslotUpdate:
    """npages == 0: KVM_MR_DELETE (of an empty slot too, where the era accepts it)."""
    if old is None and not profile.delete_absent_ok:
        return _fail(chain, EINVAL, f"delete of slot {slot_id}, which does not exist")
    if old is None:
        chain.append(KernelCall("kvm_set_memory_region", "npages=0", "0", note="slot was empty: the delete path still runs"))
        return MemslotUpdate(0, "delete", None, None, tuple(chain))
    chain.append(KernelCall("kvm_set_memslot", "change=KVM_MR_DELETE", "0",
                            note=f"kvm_gmem_unbind(): {old.gmem}+{old.gmem_offset:#x} is free again" if old.gmem else ""))
    return MemslotUpdate(0, "delete", old, None, tuple(chain))


def _change_of(profile: Profile, mem: UserMemoryRegion, new: MemSlot, old: MemSlot,
               chain: list[KernelCall]) -> tuple[ChangeKind, MemSlot] | MemslotUpdate:
    """A request for an existing slot: what it changes (move, flags only) and the slot it makes, or the
    refusal or no-op it ends in."""
    if mem.flags & KVM_MEM_GUEST_MEMFD:
        return _fail(chain, EINVAL, "guest_memfd slots are immutable: they can only be deleted")
    if (mem.flags ^ old.flags) & KVM_MEM_GUEST_MEMFD:
        return _fail(chain, EINVAL, "KVM_MEM_GUEST_MEMFD cannot be dropped from an existing slot")
    if mem.userspace_addr != old.userspace_addr:
        if not profile.uaddr_change_ignored:
            return _fail(chain, EINVAL, "userspace_addr of an existing slot cannot change")
        new = MemSlot(new.id, new.base_gfn, new.npages, old.userspace_addr, mem.flags, new.as_id, ioctl=old.ioctl)
        chain.append(KernelCall("kvm_set_memory_region", "", "", note=f"userspace_addr change ignored: slot keeps {old.userspace_addr:#x}"))
    if new.npages != old.npages:
        return _fail(chain, EINVAL, f"existing slot cannot be resized ({old.npages} -> {new.npages} pages)")
    if (mem.flags ^ old.flags) & KVM_MEM_READONLY and not profile.readonly_toggle_allowed:
        return _fail(chain, EINVAL, "KVM_MEM_READONLY cannot be toggled on an existing slot")
    if new.base_gfn != old.base_gfn:
        return "move", new
    if mem.flags != old.flags:
        return "flags_only", new
    chain.append(KernelCall("kvm_set_memory_region", "", "0", note="identical to the existing slot: no-op"))
    return MemslotUpdate(0, "noop", old, old, tuple(chain))


def _place_new_range(profile: Profile, slots: Memslots, mem: UserMemoryRegion, new: MemSlot, chain: list[KernelCall],
                     gmem_bind: GmemBind | None) -> MemSlot | MemslotUpdate:
    """A slot at a new range: no overlap with another slot, its guest_memfd bound, its last gfn within what
    the MMU maps (kvm_arch_prepare_memory_region()). The slot as bound, or the refusal."""
    base_gfn, npages = new.base_gfn, new.npages
    other = slots.overlapping(base_gfn, npages, new.id)
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
            errno_call(
                "kvm_arch_prepare_memory_region", "", "EINVAL", bad=True,
                note=f"last gfn {base_gfn + npages - 1:#x} > kvm_mmu_max_gfn() {profile.max_gfn:#x}",
            )
        )
        return MemslotUpdate(EINVAL, None, None, None, tuple(chain))
    return new


def _classify_3x(
    profile: Profile,
    slots: Memslots,
    mem: UserMemoryRegion,
    slot_id: int,
    base_gfn: int,
    npages: int,
    old: MemSlot | None,
    chain: list[KernelCall],
    as_id: int = 0,
) -> MemslotUpdate:
    flags = mem.flags if npages else mem.flags & ~KVM_MEM_LOG_DIRTY_PAGES
    if npages and old is not None and npages != old.npages:
        return _fail(chain, EINVAL, f"existing slot cannot be resized ({old.npages} -> {npages} pages)")
    if old is not None and not profile.readonly_toggle_allowed and (flags ^ old.flags) & KVM_MEM_READONLY and npages:
        return _fail(chain, EINVAL, "KVM_MEM_READONLY cannot be toggled on an existing slot")
    # The 3.x overlap loop runs for every request, deletes included (fixed in v3.8).
    if profile.overlap_check_every_request:
        other = slots.overlapping(base_gfn, npages, slot_id) if npages else _strictly_inside(slots, base_gfn, slot_id)
        if other is not None:
            return _fail(chain, EEXIST, f"gfn {base_gfn:#x} range overlaps slot {other.id}")
    elif npages and (old is None or base_gfn != old.base_gfn):
        other = slots.overlapping(base_gfn, npages, slot_id)
        if other is not None:
            return _fail(chain, EEXIST, f"gfn {base_gfn:#x} range overlaps slot {other.id}")
    if npages == 0 and old is None and not profile.delete_absent_ok:
        return _fail(chain, EINVAL, f"delete of slot {slot_id}, which does not exist")
    if npages == 0:
        note = "slot was empty: the delete path still runs" if old is None else ""
        chain.append(KernelCall("__kvm_set_memory_region", "npages=0", "0", note=note))
        return MemslotUpdate(0, "delete", old, None, tuple(chain))
    if old is None:
        new = MemSlot(slot_id, base_gfn, npages, mem.userspace_addr, flags, as_id)
        kind: ChangeKind = "create"
    else:
        # new = old, then id/base_gfn/npages/flags overwritten: userspace_addr stays the old one.
        new = replace(old, base_gfn=base_gfn, npages=npages, flags=flags)
        if mem.userspace_addr != old.userspace_addr:
            if not profile.uaddr_change_ignored:
                return _fail(chain, EINVAL, "userspace_addr of an existing slot cannot change")
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
