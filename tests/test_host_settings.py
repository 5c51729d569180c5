"""Host settings: the kvm.mmio_caching module parameter and swap, as the engine models them and as live mode
reads them from the machine it runs on."""

import pytest
from helpers import RAM_HVA, host, machine, read, setmem

from kvmtui.engine import DEFAULT_SETTINGS, HostSettings, SpteState
from kvmtui.live import params


def test_the_defaults_are_the_kernels():
    assert HostSettings(mmio_caching=True, swap=False) == DEFAULT_SETTINGS


@pytest.mark.parametrize("caching", [True, False])
def test_mmio_caching_decides_whether_a_no_slot_fault_leaves_an_mmio_spte(caching):
    m = machine("modern", settings=HostSettings(mmio_caching=caching))
    r = read(m, 0x40000000)
    assert r.outcome == "mmio"
    assert r.spte[0].after is (SpteState.MMIO if caching else SpteState.NONE)
    again = read(m, 0x40000000)
    assert again.outcome == "mmio"
    fns = [c.fn for c in again.chain]
    # cached: the mmio spte is hit without a memslot lookup; not cached: every access looks the gfn up again
    assert ("handle_mmio_page_fault" in fns) is caching and ("kvm_vcpu_gfn_to_memslot" in fns) is not caching


@pytest.mark.parametrize("era", ["3.6", "3.7"])
def test_3x_had_no_such_parameter(era):
    m = machine(era, settings=HostSettings(mmio_caching=False))
    assert read(m, 0x40000000).spte[0].after is SpteState.MMIO


def test_evict_of_anonymous_memory_needs_swap():
    for swap in (False, True):
        m = machine("modern", settings=HostSettings(swap=swap))
        setmem(m, 0, 0, 1 << 20, RAM_HVA)
        read(m, 0x1000)
        host(m, "host_write", RAM_HVA + 0x1000, 1, data=b"\x07")  # a real page (the read mapped the zero page)
        read(m, 0x1000)
        host(m, "evict", RAM_HVA, 1 << 20)
        assert m.kvm.host.resident(RAM_HVA + 0x1000) is not swap
        assert (m.spte_state(1) is SpteState.NONE) is swap
        assert read(m, 0x1000).value == 7


@pytest.mark.parametrize("mmio,swaps,want", [
    ("N\n", "Filename\tType\tSize\tUsed\tPriority\n", HostSettings(mmio_caching=False, swap=False)),
    ("Y\n", "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1024 0 -2\n", HostSettings(mmio_caching=True, swap=True)),
    (None, None, DEFAULT_SETTINGS),
])
def test_live_mode_reads_the_host(tmp_path, monkeypatch, mmio, swaps, want):
    files = {}
    for name, text in (("mmio_caching", mmio), ("swaps", swaps)):
        f = tmp_path / name
        if text is not None:
            f.write_text(text)
        files[name] = str(f)
    monkeypatch.setattr(params, "MMIO_CACHING_FILES", (files["mmio_caching"],))
    monkeypatch.setattr(params, "SWAPS", files["swaps"])
    assert params.host_settings() == want
