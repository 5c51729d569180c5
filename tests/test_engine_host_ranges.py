"""Issue 11: host memory as ranges. Every bulk operation costs O(ranges touched) (1 TiB is one interval),
and the range version answers exactly as the page-by-page one it replaced (tests/host_reference.py), for
any sequence of operations."""

from __future__ import annotations

import time
from dataclasses import astuple

import host_reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from kvmtui.cli import main
from kvmtui.engine.addresses import PAGE_SIZE
from kvmtui.engine.host import HostMemory, Mapping

BASE = 0x7F0000000000
TIB = 1 << 40


def build(cls, tib: bool = False):
    h = cls.HostMemory()
    big = TIB if tib else 24 * PAGE_SIZE
    mk = cls.Mapping
    h.mmap(mk("anon", BASE, big, "rw", "anon"))
    h.mmap(mk("img", BASE + big + PAGE_SIZE, 8 * PAGE_SIZE, "rw", "anon", 0, b"\x11" * (3 * PAGE_SIZE + 5)))
    h.mmap(mk("fill", BASE + big + 10 * PAGE_SIZE, 4 * PAGE_SIZE, "r", "anon", 0xAA))
    h.mmap(mk("file", BASE + big + 15 * PAGE_SIZE, 6 * PAGE_SIZE, "rw", "file"))
    return h


def _t(page):
    return None if page is None else astuple(page)


class _New:
    HostMemory, Mapping = HostMemory, Mapping


SPAN = 24 + 1 + 8 + 1 + 4 + 1 + 6 + 2  # pages from BASE to a little past the last mapping

ops = st.lists(st.one_of(
    st.tuples(st.sampled_from(["madvise_dontneed", "poison", "munmap"]), st.integers(0, SPAN), st.integers(0, 20)),
    st.tuples(st.just("evict"), st.integers(0, SPAN), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("mprotect"), st.integers(0, SPAN), st.integers(0, 20), st.sampled_from(["r", "rw", "none"]), st.booleans()),
    st.tuples(st.just("gup"), st.integers(0, SPAN), st.booleans(), st.booleans()),
    st.tuples(st.just("write"), st.integers(0, SPAN * PAGE_SIZE - 8), st.binary(min_size=1, max_size=8)),
), max_size=25)


@settings(deadline=None)
@given(ops)
def test_ranges_answer_as_pages_did(seq):
    old, new = build(ref), build(_New)
    for op in seq:
        if op[0] == "gup":
            hva = BASE + op[1] * PAGE_SIZE
            a, b = old.get_user_pages(hva, op[2], op[3]), new.get_user_pages(hva, op[2], op[3])
            assert (a.pfn, a.writable, a.error) == (b.pfn, b.writable, b.error)
        elif op[0] == "write":
            hva = BASE + op[1]
            n = min(len(op[2]), PAGE_SIZE - (hva % PAGE_SIZE))
            if old.find_vma(hva) is not None:
                old.write(hva, op[2][:n])
                new.write(hva, op[2][:n])
        elif op[0] == "mprotect":
            args = (BASE + op[1] * PAGE_SIZE, op[2] * PAGE_SIZE, op[3], op[4])
            assert old.mprotect(*args) == new.mprotect(*args)
        elif op[0] == "evict":
            args2 = (BASE + op[1] * PAGE_SIZE, op[2] * PAGE_SIZE, op[3])
            assert old.evict(*args2) == new.evict(*args2)
        else:
            assert getattr(old, op[0])(BASE + op[1] * PAGE_SIZE, op[2] * PAGE_SIZE) == getattr(new, op[0])(BASE + op[1] * PAGE_SIZE, op[2] * PAGE_SIZE)
        assert old.next_pfn == new.next_pfn
        for i in range(SPAN):
            hva = BASE + i * PAGE_SIZE
            assert _t(old.page(hva)) == _t(new.page(hva)), (op, i)
            assert old.page_bytes(hva) == new.page_bytes(hva)
            assert old.resident(hva) == new.resident(hva)
            a, b = old.get_user_pages_fast_only(hva), new.get_user_pages_fast_only(hva)
            assert (a.pfn, a.error) == (b.pfn, b.error)
        assert [(v.start, v.end, v.prot) for v in old.vmas] == [(v.start, v.end, v.prot) for v in new.vmas]
        # the views' counts agree with counting page by page
        for v in new.vmas:
            pages = [old.page(h) for h in range(v.start, v.end, PAGE_SIZE)]
            expect = (sum(1 for p in pages if p and not p.poisoned and p.pfn is not None),
                      sum(1 for p in pages if p and not p.poisoned and p.pfn is None), sum(1 for p in pages if p and p.poisoned))
            assert new.count_pages(v.start, v.end) == expect


def test_a_tebibyte_is_one_interval():
    h = build(_New, tib=True)
    t = time.perf_counter()
    h.get_user_pages(BASE + 5 * PAGE_SIZE, True, False)  # one touched page inside the range
    h.poison(BASE, TIB)
    assert len(h.runs) == 2 and len(h.pages) == 1  # either side of the touched page
    h.evict(BASE, TIB)
    h.madvise_dontneed(BASE, TIB)
    h.mprotect(BASE, TIB, "r")
    assert len(h.runs) <= 2
    assert h.count_pages(BASE, BASE + TIB)[2] == TIB // PAGE_SIZE  # dontneed keeps the poison
    h.munmap(BASE, TIB)
    assert not h.runs and not h.pages
    assert time.perf_counter() - t < 1.0


def test_pfns_of_a_poisoned_range_are_consecutive_in_page_order():
    h = build(_New)
    first = h.next_pfn
    h.poison(BASE, 10 * PAGE_SIZE)
    assert [h.page(BASE + i * PAGE_SIZE).pfn for i in range(10)] == list(range(first, first + 10))
    assert len(h.runs) == 1


def test_a_scenario_poisoning_and_evicting_a_tebibyte_runs_at_once(tmp_path, capsys):
    p = tmp_path / "tib.yaml"
    p.write_text("host:\n  ram: {size: 2T, hva: 0x100000000000}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n"
                 "  - write: 0x1000\n    value: 1\n  - poison: {host: ram, size: 1T}\n  - evict: {host: ram, size: 2T}\n"
                 "  - madvise_dontneed: {host: ram+1T, size: 1T}\n  - read: 0x1000\n    expect: hwpoison\n"
                 "  - read: 0x10000000000\n    expect: ok\n")
    t = time.perf_counter()
    assert main(["check", str(p)]) == 0
    assert time.perf_counter() - t < 5
    assert "ok" in capsys.readouterr().out
