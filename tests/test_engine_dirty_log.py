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
