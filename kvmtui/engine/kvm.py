"""struct kvm and struct kvm_vcpu: the state one VM holds, bundled so it can be snapshotted as a whole.

Every container here holds immutable values (frozen dataclasses, ints, bytes), so a snapshot is a set of
shallow container copies: copy-on-snapshot, never a deep copy. The memslot tables are immutable values
themselves (memslots.py): a snapshot keeps them as they are and copies only their dirty bitmaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .addresses import PAGE_MASK, PAGE_SHIFT
from .calls import KernelCall, make_call
from .host import HostMemory
from .memslots import MemSlot, Memslots, MemslotUpdate
from .mmu_state import Sptes
from .profiles import Profile
from .records import SpteChange, SpteState
from .settings import DEFAULT_SETTINGS, HostSettings
from .vmstate import VmState


@dataclass(slots=True)
class Vcpu:
    """The per-vCPU MMIO info cache (vcpu_cache_mmio_info): the last gfn found to have no slot."""

    id: int
    mmio_gfn: int | None = None
    mmio_gen: int = 0


class AccessNames(NamedTuple):
    """The era's names (Profile.name_of, by role) on the paths an access takes: a fault, a read-only write,
    the emulator's copy. Looked up once per profile: an access reads several."""

    page_fault: str
    gfn_to_memslot: str
    gfn_to_hva: str
    set_spte: str
    ret_fixed: str
    mark_dirty: str
    # a write to a read-only slot
    hva_ro_bad: str
    gfn_to_pfn: str
    pfn_ro_fault: str
    handle_error: str
    ret_emulate: str
    # the emulator
    read_guest: str
    write_guest: str
    hva_bad: str

    @classmethod
    def of(cls, p: Profile) -> AccessNames:
        n = p.name_of
        return cls(
            n("page_fault"), n("gfn_to_memslot"), n("gfn_to_hva"), n("set_spte"), n("ret_fixed"), n("mark_dirty"),
            n("hva_ro_bad"), n("gfn_to_pfn"), n("pfn_ro_fault"), n("handle_error"), n("ret_emulate"),
            n("read_guest"), n("write_guest"), n("hva_bad"),
        )


class Kvm:
    __slots__ = ("_profile", "gpte_dirty", "host", "memslots", "memslots_by_as", "names", "settings", "sptes", "vcpus", "vm")

    def __init__(self, profile: Profile, host: HostMemory | None = None, settings: HostSettings = DEFAULT_SETTINGS) -> None:
        self.profile = profile
        self.settings = settings
        # kvm->memslots[KVM_ADDRESS_SPACE_NUM]; `memslots` is address space 0, the one every vCPU here
        # runs in (none enters SMM), so the access path reads only it.
        self.memslots_by_as: tuple[Memslots, ...] = tuple(Memslots() for _ in range(max(1, profile.address_spaces)))
        self.memslots = self.memslots_by_as[0]
        self.host = host or HostMemory()
        self.sptes = Sptes()
        self.vcpus: dict[int, Vcpu] = {}
        # The guest's page tables map every gpa to itself with clean Accessed/Dirty bits (kvm-semantics.md h).
        # A guest write sets the Dirty bit of its own PTE: the shadow MMU's guest walk does it for a faulting
        # write (FNAME(update_accessed_dirty_bits) in FNAME(walk_addr_generic)), and so does the emulator's
        # walk for the pages it writes. The bit is never cleared again. These gfns have it set.
        self.gpte_dirty: set[int] = set()
        self.vm = VmState()

    @property
    def profile(self) -> Profile:
        return self._profile

    @profile.setter
    def profile(self, profile: Profile) -> None:
        """The era; the names its fault path uses are taken from it here, once (a test may swap the era)."""
        self._profile = profile
        self.names = AccessNames.of(profile)

    def memslots_of(self, as_id: int) -> Memslots:
        """__kvm_memslots(kvm, as_id); an out-of-range as_id gets address space 0 (the ioctl refuses it first)."""
        return self.memslots_by_as[as_id] if 0 <= as_id < len(self.memslots_by_as) else self.memslots

    def install_memslots(self, as_id: int, table: Memslots) -> Memslots:
        """kvm_swap_active_memslots(): table becomes address space as_id's active one (the old stays whole)."""
        if as_id == 0:
            self.memslots = table
        tables = self.memslots_by_as
        self.memslots_by_as = (table,) if len(tables) == 1 else (*tables[:as_id], table, *tables[as_id + 1 :])
        return table

    def commit_memslots(self, as_id: int, update: MemslotUpdate) -> Memslots:
        """Commit a validated update to address space as_id: a new table, installed."""
        return self.install_memslots(as_id, self.memslots_by_as[as_id].commit(update))

    def vcpu(self, vcpu_id: int) -> Vcpu:
        v = self.vcpus.get(vcpu_id)
        if v is None:
            v = self.vcpus[vcpu_id] = Vcpu(vcpu_id)
        return v

    def mark_page_dirty(self, slot: MemSlot, gfn: int, vcpu_id: int | None = None) -> tuple[int, int] | None:
        """mark_page_dirty_in_slot(): push [slot, offset] to the writing vCPU's dirty ring when the ring is on,
        else set the slot's dirty bit for gfn, if the slot logs."""
        if self.vm.dirty_ring_size and vcpu_id is not None:
            if not slot.log_dirty:
                return None
            self.vm.ring(vcpu_id).push(slot.id, gfn - slot.base_gfn)
            return slot.id, gfn - slot.base_gfn
        bitmap = self.memslots.dirty_bitmaps.get(slot.id)
        if bitmap is None:
            return None
        bitmap.add(gfn - slot.base_gfn)
        return slot.id, gfn - slot.base_gfn

    def dirty_call(self, vcpu_id: int, d: tuple[int, int]) -> KernelCall:
        """The chain entry for a page marked dirty: a ring push or a bitmap bit."""
        if self.vm.dirty_ring_size:
            ring = self.vm.ring(vcpu_id)
            return make_call("kvm_dirty_ring_push", f"vcpu={vcpu_id}, slot={d[0]}, offset={d[1]:#x}",
                              f"{len(ring.entries)}/{ring.size} entries", note="soft limit reached: KVM_EXIT_DIRTY_RING_FULL" if ring.soft_full else "")
        return make_call(self.names.mark_dirty, f"slot={d[0]}, page={d[1]}", "", note=f"dirty bit {d[1]} set")

    def vcpu_mmio_info_valid(self, vcpu: Vcpu, gfn: int) -> bool:
        """vcpu_match_mmio_gpa(): modern kernels also check the memslot generation."""
        if vcpu.mmio_gfn != gfn:
            return False
        return not self.profile.mmio_spte_generation or vcpu.mmio_gen == self.memslots.generation

    def mmu_notifier_invalidate(self, start: int, end: int) -> list[SpteChange]:
        """kvm_mmu_notifier_invalidate_range_start(): zap the sptes of every gfn mapping [start, end)."""
        zapped: list[SpteChange] = []
        for s in self.memslots.slots_at_hva(start, end):
            lo = max(start, s.userspace_addr)
            hi = min(end, s.userspace_addr + (s.npages << PAGE_SHIFT))
            g0 = s.base_gfn + ((lo - s.userspace_addr) >> PAGE_SHIFT)
            g1 = s.base_gfn + ((hi - s.userspace_addr + PAGE_MASK) >> PAGE_SHIFT)
            for g in self.sptes.gfns_in(g0, g1 - g0):
                zapped.append(SpteChange(g, self.sptes.state(g), SpteState.NONE))
                self.sptes.zap(g)
        return zapped

    def copy(self) -> Kvm:
        other = Kvm.__new__(Kvm)
        other._profile = self._profile
        other.names = self.names
        other.settings = self.settings
        other.memslots_by_as = tuple(m.copy() for m in self.memslots_by_as)
        other.memslots = other.memslots_by_as[0]
        other.host = self.host.copy()
        other.sptes = self.sptes.copy()
        other.vcpus = {k: Vcpu(v.id, v.mmio_gfn, v.mmio_gen) for k, v in self.vcpus.items()}
        other.gpte_dirty = self.gpte_dirty.copy()
        other.vm = self.vm.copy()
        return other
