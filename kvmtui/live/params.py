"""The host settings this machine runs KVM with, read where the kernel shows them, for the simulator that
stands beside live mode (kvmtui compare, the app's live mode) to model the same host."""

from __future__ import annotations

from pathlib import Path

from ..engine.settings import DEFAULT_SETTINGS, HostSettings

# module_param_named(mmio_caching, enable_mmio_caching, bool, 0444) in arch/x86/kvm/mmu/spte.c; some trees
# spell the file after the variable.
MMIO_CACHING_FILES = ("/sys/module/kvm/parameters/mmio_caching", "/sys/module/kvm/parameters/enable_mmio_caching")
SWAPS = "/proc/swaps"


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def host_settings() -> HostSettings:
    """This host's settings; the kernel's default for what it does not expose."""
    mmio = DEFAULT_SETTINGS.mmio_caching
    for f in MMIO_CACHING_FILES:
        v = _read(f)
        if v is not None:
            mmio = v.upper() in ("Y", "1")
            break
    swaps = _read(SWAPS)
    swap = DEFAULT_SETTINGS.swap if swaps is None else len(swaps.splitlines()) > 1  # a header line, then one per area
    return HostSettings(mmio_caching=mmio, swap=swap)
