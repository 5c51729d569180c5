"""Guest-physical layouts and their diff, against a page-by-page reference on small layouts."""

import itertools

from helpers import LOG, RO
from hypothesis import given
from hypothesis import strategies as st

from kvmtui.engine.addresses import join_slot, split_slot
from kvmtui.engine.layout import GPA_SPACE_END, FlatRange, LayoutDiff, diff_address_spaces, diff_layouts, flat_ranges
from kvmtui.engine.memslots import MemSlot

PAGE = 4096
SPAN = 48  # pages the small layouts live in; beyond, both sides are holes


@st.composite
def tables(draw):
    """A committed slot table: non-overlapping slots with distinct ids, inside [0, SPAN) pages."""
    cuts = sorted(draw(st.sets(st.integers(0, SPAN), max_size=12)))
    slots = []
    used: set[int] = set()
    for lo, hi in itertools.pairwise(cuts):
        if not draw(st.booleans()):
            continue  # a hole
        sid = draw(st.integers(0, 9).filter(lambda i: i not in used))
        used.add(sid)
        slots.append(MemSlot(sid, lo, hi - lo, 0x7F0000000000 + lo * PAGE, draw(st.sampled_from([0, LOG, RO, LOG | RO]))))
    return slots


@st.composite
def mutated(draw, base):
    """B as a small change of A: renumbered, reflagged, dropped, split or moved slots, so equal pieces are common."""
    out = []
    for s in base:
        what = draw(st.sampled_from(["same", "same", "renumber", "flags", "drop", "split"]))
        if what == "same":
            out.append(s)
        elif what == "renumber":
            out.append(MemSlot(s.id + 100, s.base_gfn, s.npages, s.userspace_addr + 0x1000_0000, s.flags))
        elif what == "flags":
            out.append(MemSlot(s.id, s.base_gfn, s.npages, s.userspace_addr, s.flags ^ draw(st.sampled_from([LOG, RO]))))
        elif what == "split" and s.npages > 1:
            k = draw(st.integers(1, s.npages - 1))
            out.append(MemSlot(s.id + 200, s.base_gfn, k, s.userspace_addr, s.flags))
            out.append(MemSlot(s.id + 300, s.base_gfn + k, s.npages - k, s.userspace_addr + k * PAGE, s.flags))
    return out


@st.composite
def pairs(draw):
    a = draw(tables())
    b = draw(st.one_of(tables(), mutated(a)))
    return (a, b) if draw(st.booleans()) else (b, a)


def owner(slots, gfn):
    return next((s for s in slots if s.base_gfn <= gfn < s.end_gfn), None)


def key(s):
    return None if s is None else s.id


def reference_diff(a, b):
    """Page by page: every page where one side has a slot and the other none, or the flags differ;
    then consecutive pages merged while the pair of owning slots stays the same."""
    out: list[list] = []
    for g in range(SPAN + 1):
        x, y = owner(a, g), owner(b, g)
        differs = (x is None) != (y is None) or (x is not None and y is not None and x.flags != y.flags)
        if not differs:
            continue
        if out and out[-1][1] == g and (key(out[-1][2]), key(out[-1][3])) == (key(x), key(y)):
            out[-1][1] = g + 1
        else:
            out.append([g, g + 1, x, y])
    return [(lo * PAGE, (hi - lo) * PAGE, key(x), key(y)) for lo, hi, x, y in out]


@given(pairs())
def test_diff_matches_the_page_by_page_reference(ab):
    a, b = ab
    got = [(d.gpa, d.size, key(d.a), key(d.b)) for d in diff_layouts(a, b)]
    assert got == reference_diff(a, b)


@given(pairs())
def test_diff_is_symmetric_and_empty_against_itself(ab):
    a, b = ab
    assert diff_layouts(a, a) == []
    swapped = [(d.gpa, d.size, key(d.b), key(d.a)) for d in diff_layouts(b, a)]
    assert swapped == [(d.gpa, d.size, key(d.a), key(d.b)) for d in diff_layouts(a, b)]


@given(tables())
def test_flat_ranges_cover_the_space_once_in_order(slots):
    ranges = flat_ranges(slots)
    assert ranges[0].gpa == 0 and ranges[-1].end == GPA_SPACE_END
    assert all(x.end == y.gpa for x, y in itertools.pairwise(ranges))
    assert all(r.size > 0 for r in ranges)
    # no two holes in a row, and each page's owner is the reference's
    assert not any(x.slot is None and y.slot is None for x, y in itertools.pairwise(ranges))
    for g in range(SPAN + 1):
        r = next(r for r in ranges if r.gpa <= g * PAGE < r.end)
        assert key(r.slot) == key(owner(slots, g))
    assert sorted(key(r.slot) for r in ranges if r.slot) == sorted(s.id for s in slots)


def test_renumbered_and_rehomed_slots_are_no_difference():
    a = [MemSlot(0, 0, 0xA0, 0x7F00_0000_0000, 0), MemSlot(1, 0xFFFC0, 0x40, 0x7F10_0000_0000, RO)]
    b = [MemSlot(5, 0, 0x50, 0x7E00_0000_0000, 0), MemSlot(6, 0x50, 0x50, 0x7E00_0005_0000, 0), MemSlot(9, 0xFFFC0, 0x40, 0x7E20_0000_0000, RO)]
    assert diff_layouts(a, b) == []


def test_flags_and_holes_are_differences_merged_per_slot_pair():
    a = [MemSlot(0, 0, 0x100, 0x1000000, 0)]
    b = [MemSlot(3, 0, 0x80, 0x2000000, LOG), MemSlot(4, 0x80, 0x40, 0x3000000, 0)]
    d = diff_layouts(a, b)
    assert [(x.gpa, x.size, key(x.a), key(x.b)) for x in d] == [(0, 0x80 * PAGE, 0, 3), (0xC0 * PAGE, 0x40 * PAGE, 0, None)]
    assert d[0].hva_a() == 0x1000000 and d[0].hva_b() == 0x2000000
    assert d[1].hva_a() == 0x1000000 + 0xC0 * PAGE and d[1].hva_b() is None


def test_a_1_tib_slot_is_one_interval():
    big = MemSlot(0, 1 << 28, 1 << 28, 0x100000000, 0)  # 1 TiB at 1 TiB
    ranges = flat_ranges([big])
    assert [(r.gpa, r.size, key(r.slot)) for r in ranges] == [(0, 1 << 40, None), (1 << 40, 1 << 40, 0), (2 << 40, GPA_SPACE_END - (2 << 40), None)]
    assert FlatRange(1 << 40, 1 << 40, big).hva == 0x100000000
    assert [(d.gpa, d.size) for d in diff_layouts([big], [])] == [(1 << 40, 1 << 40)]


def test_address_spaces_are_diffed_separately():
    smram = MemSlot(0, 0xA0, 0x20, 0x5000000, 0, as_id=1)
    a = {0: [MemSlot(0, 0, 0x100, 0x1000000, 0)], 1: [smram]}
    b = {0: [MemSlot(0, 0, 0x100, 0x1000000, 0)]}
    d = diff_address_spaces(a, b)
    assert d == [LayoutDiff(0xA0 * PAGE, 0x20 * PAGE, smram, None, 1)]
    assert d[0].a is not None and d[0].a.number == 65536


def test_slot_numbers_split_and_join():
    assert split_slot(65536 + 3) == (1, 3)
    assert join_slot(1, 3) == 65539
    assert split_slot(7) == (0, 7)
