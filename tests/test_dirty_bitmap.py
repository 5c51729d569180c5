"""The dirty bitmap as runs (engine/dirty_bitmap.py): every operation agrees with a plain set of page
indices, and a 1 TiB slot logged with KVM_DIRTY_LOG_INITIALLY_SET is one run, not 2^28 bits."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from kvmtui.engine.dirty_bitmap import DirtyBitmap, DirtyPages
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.loader import parse_scenario

PAGE = st.integers(0, 300)
OPS = st.lists(st.one_of(
    st.tuples(st.just("add"), PAGE, st.just(0)),
    st.tuples(st.just("set"), PAGE, st.integers(0, 70)),
    st.tuples(st.just("clear_range"), PAGE, st.integers(0, 70)),
    st.tuples(st.just("clear"), st.just(0), st.just(0)),
), max_size=60)


@given(OPS, st.lists(PAGE, max_size=10))
def test_every_operation_agrees_with_a_set_of_pages(ops, probes):
    bitmap, model = DirtyBitmap(), set[int]()
    for op, a, n in ops:
        if op == "add":
            bitmap.add(a)
            model.add(a)
        elif op == "set":
            bitmap.set_range(a, a + n)
            model.update(range(a, a + n))
        elif op == "clear_range":
            cleared = bitmap.clear_range(a, a + n)
            want = sorted(i for i in model if a <= i < a + n)
            assert list(cleared) == want and cleared == tuple(want) and len(cleared) == len(want)
            model.difference_update(want)
        else:
            bitmap.clear()
            model.clear()
        assert list(bitmap) == sorted(model) and len(bitmap) == len(model) and bool(bitmap) == bool(model)
        runs = bitmap.pages().runs
        assert all(e0 < s1 for (_, e0), (s1, _) in pairwise(runs))  # disjoint, merged, in order
    for p in probes:
        assert (p in bitmap) == (p in model) == (p in bitmap.pages())


@given(st.sets(PAGE, max_size=40), st.integers(-45, 44))
def test_pages_behave_as_the_tuple_of_their_indices(pages, i):
    want = tuple(sorted(pages))
    got = DirtyPages.of(pages)
    assert got == want and want == got and got == list(want) and not got != want  # noqa: SIM202 (__ne__ too)
    assert len(got) == len(want) and tuple(got[:8]) == want[:8] and tuple(got[::3]) == want[::3]
    assert got == DirtyPages.of(want) and hash(got) == hash(DirtyPages.of(want))
    if -len(want) <= i < len(want):
        assert got[i] == want[i]
    if len(want) <= 64:
        assert str(got) == str(list(want))  # the table and messages print what they printed for a tuple


def test_an_empty_clear_splits_nothing():
    b = DirtyBitmap()
    b.set_range(0, 2)
    assert b.clear_range(1, 1) == () and b.pages().runs == ((0, 2),)


def test_a_copy_is_independent():
    a = DirtyBitmap()
    a.set_range(0, 10)
    b = a.copy()
    b.clear_range(2, 4)
    assert list(a) == list(range(10)) and list(b) == [0, 1, *range(4, 10)]


def test_initially_set_on_a_one_tib_slot_is_one_run_and_clears_in_chunks():
    text = """\
kvmtui: 1
host:
  ram: {size: 1T, hva: 0x100000000000}
slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 3}
  - write: 0x1000
    value: 1
  - set_memory_region: {slot: 0, flags: [log_dirty_pages]}
  - get_dirty_log: 0
  - clear_dirty_log: {slot: 0, first_page: 0, num_pages: 64}
  - get_dirty_log: 0
  - clear_dirty_log: {slot: 0, first_page: 64, num_pages: 268435392}
  - write: 0x1000
    value: 2
  - get_dirty_log: 0
"""
    recs = [e.record for e in ScenarioRun(parse_scenario(text, "t.yaml")).entries()]
    logs = [r.dirty for r in recs if r.op == "get_dirty_log"]
    assert [d.runs for d in logs if d is not None] == [((0, 1 << 28),), ((64, 1 << 28),), ((1, 2),)]
    first_clear = next(r for r in recs if r.op == "clear_dirty_log")
    # page 1's writable spte (written before logging began) is write-protected by the first clear
    assert [(s.gfn, s.before, s.after) for s in first_clear.spte] == [(1, "rw", "wp")]


def test_a_long_dirty_report_is_written_in_pieces_as_the_same_json_line(monkeypatch):
    """Above LONG_PAGES indices the `dirty` list is streamed; the line is what a whole list would give."""
    import io
    import json

    from kvmtui import report

    monkeypatch.setattr(report, "_PIECE", 1000)  # many pieces
    text = """\
kvmtui: 1
host:
  ram: {size: 1G, hva: 0x100000000000}
slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - enable_cap: {cap: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, args: 3}
  - set_memory_region: {slot: 0, flags: [log_dirty_pages]}
  - clear_dirty_log: {slot: 0, first_page: 64, num_pages: 64}
  - get_dirty_log: 0
"""
    run = ScenarioRun(parse_scenario(text, "t.yaml"))
    out = io.StringIO()
    report.write_json_lines(run, run.stream(), out)
    lines = out.getvalue().splitlines()
    got = json.loads(lines[-1])
    want = [*range(64), *range(128, 1 << 18)]
    assert len(want) > report.LONG_PAGES and got["dirty"] == want
    assert list(got) == [*list(json.loads(lines[-2]))[:6], "slot", "dirty", "chain", "summary"]  # keys as a whole line has them
    assert lines[-1] == json.dumps({**got}, separators=(",", ":"), ensure_ascii=False)
