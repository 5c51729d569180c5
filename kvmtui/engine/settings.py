"""How the host was set up, as opposed to which kernel it runs: the same kernel answers differently under
another module parameter or without swap. The defaults are a kernel's own (a module loaded with no
parameters, no swap configured); live mode reads the host it runs on (kvmtui.live.params).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HostSettings:
    """The host's KVM module parameters and memory settings that change what a step does."""

    # kvm.mmio_caching (arch/x86/kvm/mmu/spte.c enable_mmio_caching, default true): whether a no-slot fault
    # installs an MMIO spte (modern kvm_handle_noslot_fault()). 3.x had no such parameter: always cached.
    mmio_caching: bool = True
    # whether reclaim can write anonymous pages to swap. Without swap, `evict` leaves anonymous pages where
    # they are (shrink_folio_list(): add_to_swap() fails, the folio stays mapped) and evicts file pages only.
    swap: bool = False


DEFAULT_SETTINGS = HostSettings()
