"""Dirty logging: kvm-semantics.md c and live fact e.22."""

import pytest
from helpers import LOG, RAM_HVA, RO, ROM_HVA, dirty_log, host, machine, read, setmem, write

from kvmtui.engine import SpteState

MB = 1 << 20


@pytest.fixture(params=["3.6", "3.7", "modern"])
def logged(request):
    m = machine(request.param)
    setmem(m, 0, 0, MB, RAM_HVA, LOG)
    return m


def test_get_dirty_log_reports_written_pages_then_clears(logged):
    for page in (0, 3, 9):
        write(logged, page << 12, page)
    assert dirty_log(logged, 0).dirty == (0, 3, 9)
    assert dirty_log(logged, 0).dirty == ()
    write(logged, 3 << 12, 1)
    assert dirty_log(logged, 0).dirty == (3,)


def test_get_dirty_log_write_protects_the_reported_pages(logged):
    write(logged, 0x3000, 1)
    r = dirty_log(logged, 0)
    assert [(s.gfn, s.before, s.after) for s in r.spte] == [(3, SpteState.RW, SpteState.WP)]
    r = write(logged, 0x3000, 2)
    assert r.spte[0].before is SpteState.WP and r.spte[0].after is SpteState.RW and r.dirtied == ((0, 3),)


def test_first_touch_read_sets_no_dirty_bit(logged):
    r = read(logged, 0x5000)
    assert r.spte[0].after is SpteState.RO and not r.dirtied
    assert dirty_log(logged, 0).dirty == ()


def test_writes_through_an_rw_spte_do_not_fault_again(logged):
    write(logged, 0x1000, 1)
    r = write(logged, 0x1000, 2)
    assert r.chain[0].fn == "(hardware)" and not r.dirtied


def test_host_writes_are_not_logged(logged):
    host(logged, "host_write", RAM_HVA + 0x7000, 4, data=b"\xde\xad\xbe\xef")
    assert dirty_log(logged, 0).dirty == ()


def test_move_keeps_the_bitmap(logged):
    write(logged, 0x1000, 5)
    setmem(logged, 0, 0x400000, MB, RAM_HVA, LOG)
    assert dirty_log(logged, 0).dirty == (1,)


def test_enabling_logging_write_protects_pages_already_mapped_writable():
    m = machine("modern")
    setmem(m, 0, 0, MB, RAM_HVA)
    write(m, 0x2000, 1)
    r = setmem(m, 0, 0, MB, RAM_HVA, LOG)
    assert r.kind == "flags_only" and [s.after for s in r.spte] == [SpteState.WP]
    assert dirty_log(m, 0).dirty == ()  # writes before enabling are not reported
    write(m, 0x2000, 2)
    assert dirty_log(m, 0).dirty == (2,)


@pytest.mark.parametrize("era", ["3.7", "modern"])
def test_readonly_log_slot_never_gets_dirty(era):
    m = machine(era)
    setmem(m, 1, 0x100000, MB, ROM_HVA, RO | LOG)
    assert write(m, 0x100000, 1).outcome == "mmio"
    read(m, 0x100000)
    assert dirty_log(m, 1).dirty == ()


@pytest.mark.parametrize("era,slot,expected", [
    ("3.6", 32, "EINVAL"), ("3.7", 5, "ENOENT"), ("modern", 32764, "EINVAL"), ("modern", 1 << 16, "EINVAL"),
    ("modern", 2 << 16, "EINVAL"), ("modern", 5, "ENOENT"),
])
def test_get_dirty_log_errors(era, slot, expected):
    assert dirty_log(machine(era), slot).outcome == expected


@pytest.mark.parametrize("era", ["3.6", "3.7", "modern"])
def test_no_flag_and_disabled_logging_are_enoent(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert dirty_log(m, 0).outcome == "ENOENT"
    setmem(m, 0, 0, MB, RAM_HVA, LOG)
    assert dirty_log(m, 0).outcome == "ok"
    setmem(m, 0, 0, MB, RAM_HVA, 0)
    assert dirty_log(m, 0).outcome == "ENOENT"


# The guest PTE's Dirty bit (FNAME(protect_clean_gpte)): issue 13's dirty-log miss, in every era.
@pytest.mark.parametrize("zap", ["delete_other_slot", "mprotect_r_rw"])
def test_a_read_fault_through_a_dirty_guest_pte_maps_writable_and_logs_again(logged, zap):
    setmem(logged, 1, 0x40000000, 0x1000, RAM_HVA + 2 * MB)
    write(logged, 0x0, 1)
    assert dirty_log(logged, 0).dirty == (0,)
    if zap == "delete_other_slot":
        setmem(logged, 1, 0x40000000, 0, RAM_HVA + 2 * MB)
    else:
        host(logged, "mprotect", RAM_HVA, MB, "r")
        host(logged, "mprotect", RAM_HVA, MB, "rw")
    assert logged.spte_state(0) is SpteState.NONE
    r = read(logged, 0x0)
    modern = logged.profile.name == "modern"
    if zap == "mprotect_r_rw" and not modern:
        # 3.x mprotect(PROT_WRITE) left the anonymous page's PTE read-only until a write fault: hva_to_pfn()
        # cannot map the read writable, so the spte is read-only and nothing is logged.
        assert r.spte[0].after is SpteState.RO and not r.dirtied
        assert dirty_log(logged, 0).dirty == ()
        return
    assert r.spte[0].after is SpteState.RW and r.dirtied == ((0, 0),)
    assert any(c.fn == logged.profile.name_of("mark_dirty") for c in r.chain)
    assert dirty_log(logged, 0).dirty == (0,)


def test_a_read_through_a_clean_guest_pte_of_a_writable_host_page_stays_read_only(logged):
    host(logged, "host_write", RAM_HVA + 0x6000, 1, data=b"\x01")  # the host page is present and writable
    r = read(logged, 0x6000)
    assert r.spte[0].after is SpteState.RO and not r.dirtied
    assert dirty_log(logged, 0).dirty == ()


def test_a_dirty_guest_pte_over_the_zero_page_maps_read_only(logged):
    write(logged, 0x7000, 1)
    host(logged, "madvise_dontneed", RAM_HVA + 0x7000)  # the page is dropped: a read maps the zero page
    dirty_log(logged, 0)
    r = read(logged, 0x7000)
    assert (r.value, r.spte[0].after, r.dirtied) == (0, SpteState.RO, ())
    host(logged, "host_write", RAM_HVA + 0x7000, 1, data=b"\x05")  # a real page again, written by the VMM
    r = read(logged, 0x7000)
    assert (r.value, r.spte[0].after, r.dirtied) == (5, SpteState.RW, ((0, 7),))


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_an_emulated_write_sets_the_dirty_bit_of_every_page_it_walks(path):
    # A write to a read-only slot is emulated; the guest walk still sets the PTE's Dirty bit, so once the
    # gpa holds RAM a native read fault maps it writable.
    m = machine("modern", path)
    setmem(m, 1, 0, 0x1000, ROM_HVA, RO)
    write(m, 0x0, 1, 1)
    assert 0 in m.kvm.gpte_dirty
    setmem(m, 1, 0, 0, ROM_HVA)
    setmem(m, 0, 0, MB, RAM_HVA, LOG)
    host(m, "host_write", RAM_HVA, 1, data=b"\x01")
    r = read(m, 0x0)
    assert r.dirtied == (((0, 0),) if path == "native" else ())  # emulated reads never map or log


def test_mprotect_to_the_protection_a_mapping_has_changes_nothing(logged):
    # mprotect_fixup(): newflags == oldflags returns early: no change_protection(), no mmu notifier, so the
    # write-protected spte stays and a read is no fault (a zap would refault it writable and log the page).
    write(logged, 0x2000, 1)
    assert dirty_log(logged, 0).dirty == (2,)
    r = host(logged, "mprotect", RAM_HVA, MB, "rw")
    assert r.outcome == "ok" and not r.spte
    assert logged.spte_state(2) is SpteState.WP
    read(logged, 0x2000)
    assert dirty_log(logged, 0).dirty == ()
