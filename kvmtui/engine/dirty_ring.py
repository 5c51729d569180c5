"""The dirty ring (virt/kvm/dirty_ring.c): one ring of dirtied gfns per vCPU, instead of a bitmap per slot.

With KVM_CAP_DIRTY_LOG_RING enabled, mark_page_dirty_in_slot() pushes [slot, offset] to the ring of the
vCPU that wrote (kvm_dirty_ring_push). Userspace harvests entries from its mmap of the ring (at
KVM_DIRTY_LOG_PAGE_OFFSET of the vCPU fd) and marks them collected; KVM_RESET_DIRTY_RINGS re-protects
the collected pages and frees their entries, in ring order, stopping at the first entry not yet
collected (kvm_dirty_ring_reset). A vCPU whose ring holds size - 64 entries (the reserved slack on x86)
stops with KVM_EXIT_DIRTY_RING_FULL before the guest runs again (kvm-semantics.md §i F7-F13).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .uapi import E2BIG, EINVAL

KVM_DIRTY_GFN_SIZE = 16  # sizeof(struct kvm_dirty_gfn)
KVM_DIRTY_RING_RSVD_ENTRIES = 64  # kvm_dirty_ring_get_rsvd_entries() on x86 (64 + extra 0)
KVM_DIRTY_RING_MAX_ENTRIES = 65536


@dataclass(slots=True)
class DirtyRing:
    """One vCPU's ring: entries not yet reset, in push order; the first `harvested` of them are collected."""

    size: int  # entries
    entries: list[tuple[int, int]] = field(default_factory=list)
    harvested: int = 0
    pushed_total: int = 0  # for the app's ring panel: every push, and every entry KVM_RESET_DIRTY_RINGS freed
    reset_total: int = 0

    @property
    def soft_limit(self) -> int:
        return self.size - KVM_DIRTY_RING_RSVD_ENTRIES

    @property
    def soft_full(self) -> bool:
        """kvm_dirty_ring_soft_full(): used entries (pushed and not reset) reached the soft limit."""
        return len(self.entries) >= self.soft_limit

    def push(self, slot: int, offset: int) -> int:
        self.entries.append((slot, offset))
        self.pushed_total += 1
        return len(self.entries)

    def harvest(self) -> tuple[tuple[int, int], ...]:
        """Userspace reads every entry with KVM_DIRTY_GFN_F_DIRTY since its last harvest and sets F_RESET."""
        new = tuple(self.entries[self.harvested :])
        self.harvested = len(self.entries)
        return new

    def reset(self) -> list[tuple[int, int]]:
        """kvm_dirty_ring_reset(): the collected entries leave the ring (the caller re-protects their pages)."""
        done = self.entries[: self.harvested]
        del self.entries[: self.harvested]
        self.harvested = 0
        self.reset_total += len(done)
        return done

    def copy(self) -> DirtyRing:
        return DirtyRing(self.size, self.entries.copy(), self.harvested, self.pushed_total, self.reset_total)


def enable_dirty_log_ring_errno(size: int, current: int, vcpus_created: bool) -> tuple[int, str]:
    """kvm_vm_ioctl_enable_dirty_log_ring(): 0 or an errno, and why (F12)."""
    if not size or size & (size - 1):
        return EINVAL, "the ring size must be a power of two"
    if size < KVM_DIRTY_RING_RSVD_ENTRIES * KVM_DIRTY_GFN_SIZE or size < 4096:
        return EINVAL, "the ring must hold the reserved entries and be at least a page"
    if size > KVM_DIRTY_RING_MAX_ENTRIES * KVM_DIRTY_GFN_SIZE:
        return E2BIG, f"more than {KVM_DIRTY_RING_MAX_ENTRIES} entries"
    if current:
        return EINVAL, "the dirty ring can be enabled only once"
    if vcpus_created:
        return EINVAL, "a vCPU exists already (kvm->created_vcpus)"
    return 0, ""
