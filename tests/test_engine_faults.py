"""The fault path and the emulator: kvm-semantics.md b, and the live facts of e.9-17."""

import pytest
from helpers import LOG, RAM_HVA, RO, ROM_HVA, dirty_log, fetch, fns, host, machine, read, rets, setmem, write

from kvmtui.engine import HostSettings, SpteState

MB = 1 << 20
ROM_GPA = 0xFFF00000


def rom_machine(era="modern", path="native", **kw):
    m = machine(era, path, **kw)
    setmem(m, 0, 0, MB, RAM_HVA)
    setmem(m, 1, ROM_GPA, MB, ROM_HVA, RO)
    return m


@pytest.mark.parametrize("era", ["3.7", "modern"])
def test_ro_read_installs_ro_spte_and_returns_host_bytes(era):
    m = rom_machine(era)
    r = read(m, ROM_GPA, 4)
    assert (r.outcome, r.value, r.slot) == ("ok", 0x44332211, 1)
    assert r.spte[0].after is SpteState.RO
    assert m.kvm.host.resident(ROM_HVA)  # the cold file page was read in


@pytest.mark.parametrize("era", ["3.7", "modern"])
def test_ro_write_emulates_without_caching_mmio_spte(era):
    m = rom_machine(era)
    read(m, ROM_GPA)
    r = write(m, ROM_GPA, 0x5A, 1)
    assert r.outcome == "mmio" and r.key_moment
    assert [(x.phys_addr, x.len, x.data, x.is_write) for x in r.exits] == [(ROM_GPA, 1, b"\x5a", True)]
    assert rets(r)["__gfn_to_hva_many"] == "KVM_HVA_ERR_RO_BAD"
    assert "KVM_PFN_ERR_RO_FAULT" in rets(r).values()
    assert m.spte_state(ROM_GPA >> 12) is SpteState.RO  # never mmio
    assert m.kvm.vcpu(0).mmio_gfn is None  # no mmio info cached
    assert read(m, ROM_GPA, 1).value == 0x11  # host memory untouched, and the read hits the ROM


@pytest.mark.parametrize("size,value,data", [(1, 0x5A, "5a"), (2, 0xBEEF, "efbe"), (4, 0xDEADBEEF, "efbeadde"), (8, 0x0102030405060708, "0807060504030201")])
def test_ro_write_exit_is_exact_for_every_size(size, value, data):
    r = write(rom_machine(), ROM_GPA + 0x40, value, size)
    assert [(x.phys_addr, x.len, x.data.hex(), x.is_write) for x in r.exits] == [(ROM_GPA + 0x40, size, data, True)]


def test_every_ro_write_exits_again():
    m = rom_machine()
    assert [write(m, ROM_GPA, i, 1).outcome for i in range(3)] == ["mmio"] * 3


@pytest.mark.parametrize("era", ["3.7", "modern"])
def test_fetch_from_ro_slot_is_allowed(era):
    assert fetch(rom_machine(era), ROM_GPA).outcome == "ok"


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_fetch_from_no_slot_is_an_emulation_failure(path):
    r = fetch(rom_machine(path=path), 0x40000000)
    assert (r.outcome, r.exit_reason) == ("internal_error", "KVM_EXIT_INTERNAL_ERROR")


@pytest.mark.parametrize("era,after", [("3.6", SpteState.MMIO), ("3.7", SpteState.MMIO), ("modern", SpteState.MMIO)])
def test_no_slot_read_exits_and_caches_an_mmio_spte(era, after):
    m = machine(era)
    r = read(m, 0x40000000, 2)
    assert (r.outcome, r.value, r.slot) == ("mmio", 0xABAB, None)
    assert r.spte[0].after is after
    r2 = read(m, 0x40000000, 2)
    assert r2.outcome == "mmio" and "handle_mmio_page_fault" in fns(r2)


def test_modern_mmio_spte_is_stale_after_a_slot_is_created():
    m = machine("modern")
    read(m, 0x40000000)
    setmem(m, 3, 0x40000000, MB, RAM_HVA)
    r = read(m, 0x40000000)
    assert r.outcome == "ok" and rets(r)["handle_mmio_page_fault"] == "RET_PF_INVALID"
    assert r.spte[0].before is SpteState.MMIO and r.spte[0].after is SpteState.RO


def test_3x_creating_a_slot_zaps_all_sptes():
    m = machine("3.7")
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x1000, 1)
    read(m, 0x40000000)
    setmem(m, 3, 0x40000000, MB, RAM_HVA + 2 * MB)
    assert len(m.kvm.sptes) == 0


@pytest.mark.parametrize("era,expected", [("3.6", "efault"), ("3.7", "ok"), ("modern", "ok")])
def test_cold_prot_read_file_page_through_rw_slot(era, expected):
    """The seed's motivating bug: 3.6 could not wait for I/O on a non-writable VMA."""
    m = machine(era)
    setmem(m, 1, ROM_GPA, MB, ROM_HVA)
    r = read(m, ROM_GPA)
    assert r.outcome == expected
    if era == "3.6":
        assert rets(r)["kvm_handle_bad_page"] == "-EFAULT"
    else:
        assert rets(r)["vma_is_valid"] == "true"


def test_3_6_waits_for_io_on_a_writable_file_mapping():
    m = machine("3.6", rom_prot="rw")
    setmem(m, 1, ROM_GPA, MB, ROM_HVA)
    assert read(m, ROM_GPA).outcome == "ok"


@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_write_through_rw_slot_to_prot_read_memory(era):
    m = machine(era, rom_prot="r", rom_backing="anon")
    setmem(m, 1, ROM_GPA, MB, ROM_HVA)
    assert write(m, ROM_GPA, 1).outcome == "efault"
    m2 = machine(era, path="emulated", rom_prot="r", rom_backing="anon")
    setmem(m2, 1, ROM_GPA, MB, ROM_HVA)
    assert write(m2, ROM_GPA, 1).outcome == "mmio"


def test_efault_write_resumes_after_mprotect():
    m = machine("modern", rom_prot="r", rom_backing="anon")
    setmem(m, 1, ROM_GPA, MB, ROM_HVA)
    assert write(m, ROM_GPA, 7).outcome == "efault"
    assert host(m, "mprotect", ROM_HVA, MB, "rw").outcome == "ok"
    assert write(m, ROM_GPA, 7).outcome == "ok"
    assert read(m, ROM_GPA).value == 7


@pytest.mark.parametrize("setup", ["prot_none", "munmap", "never_mapped"])
def test_rw_slot_without_usable_host_memory(setup):
    m = machine("modern")
    hva = {"never_mapped": 0x500000000000}.get(setup, RAM_HVA)
    setmem(m, 0, 0, MB, hva)
    if setup == "prot_none":
        host(m, "mprotect", RAM_HVA, MB, "none")
    elif setup == "munmap":
        host(m, "munmap", RAM_HVA, MB)
    assert read(m, 0x1000).outcome == "efault"
    assert write(m, 0x1000, 1).outcome == "efault"
    m.path = "emulated"
    assert read(m, 0x1000).outcome == "mmio"
    assert write(m, 0x1000, 1).outcome == "mmio"


def test_ro_slot_over_prot_none_write_exits_before_host_lookup_read_faults():
    m = machine("modern", rom_prot="none")
    setmem(m, 1, ROM_GPA, MB, ROM_HVA, RO)
    assert write(m, ROM_GPA, 1).outcome == "mmio"
    assert read(m, ROM_GPA).outcome == "efault"


def test_ro_slot_on_unmapped_memory():
    m = machine("modern")
    setmem(m, 1, ROM_GPA, MB, 0x500000000000, RO)
    assert write(m, ROM_GPA, 1).outcome == "mmio"
    assert read(m, ROM_GPA).outcome == "efault"


def test_straddling_ro_to_ram_write():
    m = machine("modern")
    setmem(m, 1, 0x10000, 0x1000, ROM_HVA, RO)
    setmem(m, 0, 0x11000, MB, RAM_HVA, LOG)
    r = write(m, 0x11000 - 4, 0x0807060504030201, 8)
    assert [(x.phys_addr, x.len, x.data.hex()) for x in r.exits] == [(0x11000 - 4, 4, "01020304")]
    assert read(m, 0x11000).value == 0x08070605
    assert dirty_log(m, 0).dirty == (0,)


def test_straddling_ram_to_no_slot_read_merges_the_mmio_answer():
    m = machine("modern")
    setmem(m, 0, 0, 0x1000, RAM_HVA)
    write(m, 0xFFC, 0x04030201)
    r = read(m, 0xFFC, 8)
    assert r.outcome == "mmio" and r.value == 0xABABABAB04030201
    assert [(x.phys_addr, x.len, x.is_write) for x in r.exits] == [(0x1000, 4, False)]


def test_straddling_no_slot_to_ro_write_gives_two_exits():
    m = machine("modern")
    setmem(m, 1, 0x1000, 0x1000, ROM_HVA, RO)
    r = write(m, 0xFFC, 0x1122334455667788, 8)
    assert [(x.phys_addr, x.len) for x in r.exits] == [(0xFFC, 4), (0x1000, 4)]


def test_native_fault_failing_in_hva_to_pfn_ends_before_later_pages():
    m = machine("modern", ram_prot="none")
    setmem(m, 0, 0, 0x1000, RAM_HVA)
    r = read(m, 0xFFE, 4)  # RW slot over PROT_NONE, then no slot
    assert r.outcome == "efault" and not r.exits


def test_hwpoisoned_page_sends_sigbus():
    m = machine("modern")
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x2000, 1)
    assert host(m, "poison", RAM_HVA + 0x2000).outcome == "ok"
    r = read(m, 0x2000)
    assert r.outcome == "hwpoison" and rets(r)["kvm_handle_error_pfn"] == "RET_PF_RETRY"


def test_host_changes_are_seen_by_the_guest_through_the_mmu_notifier():
    m = machine("modern")
    setmem(m, 0, 0, MB, RAM_HVA)
    assert read(m, 0x3000).value == 0  # zero page, read-only spte
    r = host(m, "host_write", RAM_HVA + 0x3000, 4, data=b"\x01\x02\x03\x04")
    assert m.spte_state(3) is SpteState.NONE  # COW gave the page a new pfn: zapped
    assert [(c.gfn, c.before, c.after) for c in r.spte] == [(3, SpteState.RO, SpteState.NONE)]
    assert read(m, 0x3000).value == 0x04030201
    write(m, 0x5000, 0x77)
    r = host(m, "madvise_dontneed", RAM_HVA + 0x5000, 4096)
    assert [(c.gfn, c.before, c.after) for c in r.spte] == [(5, SpteState.RW, SpteState.NONE)]
    assert read(m, 0x5000).value == 0
    host(m, "host_write", ROM_HVA, 1, data=b"\x99")  # PROT_READ: the VMM itself cannot write it
    assert host(m, "host_write", ROM_HVA, 1, data=b"\x99").outcome == "EFAULT"


def test_ro_slot_sees_host_writes():
    m = machine("modern", rom_prot="rw", rom_backing="anon")
    setmem(m, 1, ROM_GPA, MB, ROM_HVA, RO)
    assert read(m, ROM_GPA, 1).value == 0x11
    host(m, "host_write", ROM_HVA, 1, data=b"\x99")
    assert read(m, ROM_GPA, 1).value == 0x99


def test_evicted_page_is_read_back_with_its_content():
    m = machine("modern", settings=HostSettings(swap=True))
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x4000, 0xCAFE)
    host(m, "evict", RAM_HVA + 0x4000)
    assert m.spte_state(4) is SpteState.NONE
    assert read(m, 0x4000).value == 0xCAFE


def test_without_swap_evict_leaves_anonymous_pages_and_evicts_file_pages():
    m = machine("modern", ram_backing="anon", rom_prot="rw", rom_backing="file")  # the default host: no swap
    setmem(m, 0, 0, MB, RAM_HVA, LOG)
    setmem(m, 1, ROM_GPA, MB, ROM_HVA, LOG)
    write(m, 0x4000, 0xCAFE)
    write(m, ROM_GPA, 0xBEEF)
    dirty_log(m, 0)
    dirty_log(m, 1)
    r = host(m, "evict", RAM_HVA + 0x4000)
    assert r.outcome == "ok" and not r.spte and "no swap" in r.chain[0].note
    assert m.spte_state(4) is SpteState.WP and m.kvm.host.resident(RAM_HVA + 0x4000)
    assert (read(m, 0x4000).value, dirty_log(m, 0).dirty) == (0xCAFE, ())  # the spte stayed: no fault, no bit
    r = host(m, "evict", ROM_HVA)
    assert [(c.gfn, c.after) for c in r.spte] == [(ROM_GPA >> 12, SpteState.NONE)]
    assert not m.kvm.host.resident(ROM_HVA)
    r = read(m, ROM_GPA)
    assert r.value == 0xBEEF and "needs I/O" in [c.note for c in r.chain]
    # read back from the page cache: the host PTE is not writable, so even the dirty guest PTE maps it ro
    assert r.spte[0].after is SpteState.RO and dirty_log(m, 1).dirty == ()


def test_delete_then_access_is_mmio_and_move_relocates_the_data():
    m = machine("modern")
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x1000, 2)
    setmem(m, 0, 0x200000, MB, RAM_HVA)  # move
    assert read(m, 0x1000).outcome == "mmio"
    assert read(m, 0x201000).value == 2
    setmem(m, 0, 0x200000, 0, RAM_HVA)  # delete
    assert read(m, 0x201000).outcome == "mmio"


def test_rw_slot_recreated_ro_keeps_guest_writes_new_writes_exit():
    m = machine("modern")
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x1000, 0x42)
    setmem(m, 0, 0, 0, RAM_HVA)
    setmem(m, 0, 0, MB, RAM_HVA, RO)
    assert read(m, 0x1000).value == 0x42
    assert write(m, 0x1000, 0x43).outcome == "mmio"


@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_emulated_path_reads_ram_and_logs_writes(era):
    m = machine(era, path="emulated")
    setmem(m, 0, 0, MB, RAM_HVA, LOG)
    r = write(m, 0x3000, 0x1234)
    assert r.outcome == "ok" and r.dirtied == ((0, 3),)
    assert read(m, 0x3000).value == 0x1234
    assert "x86_emulate_instruction" in fns(r)


@pytest.mark.parametrize("path", ["native", "emulated"])
@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_fetch_through_a_writable_slot_over_prot_read_host_memory_completes(era, path):
    # __kvm_faultin_pfn() asks hva_to_pfn() for write access only when fault->write: a fetch fault is a read
    # of the host page (issue 13's scenario, measured on this machine on both paths).
    m = machine(era, path, rom_prot="r", rom_backing="anon")
    setmem(m, 7, 0, 0x4000, ROM_HVA)
    f = fetch(m, 0x1000)
    assert f.outcome == "ok" and "-EFAULT" not in rets(f).values()
    assert read(m, 0x2000).outcome == "ok"
    assert fetch(m, 0x2000).outcome == "ok"
    assert write(m, 0x2000, 1).outcome == ("efault" if path == "native" else "mmio")  # only a write needs PROT_WRITE


@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_native_fetch_over_prot_none_host_memory_is_efault(era):
    m = machine(era, rom_prot="none", rom_backing="anon")
    setmem(m, 7, 0, 0x4000, ROM_HVA)
    assert fetch(m, 0x1000).outcome == "efault"
