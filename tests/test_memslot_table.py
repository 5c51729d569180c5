"""The memslot table is an immutable value: a commit makes a new table and leaves the old one whole, and the
persistent containers under it agree with a plain sorted list / dict whatever the order of changes."""

from __future__ import annotations

from operator import itemgetter

from helpers import RAM_HVA, machine, setmem
from hypothesis import given
from hypothesis import strategies as st

from kvmtui.engine.memslots import MemSlot, Memslots, MemslotUpdate
from kvmtui.engine.persistent import CHUNK_MAX, IdArray, SortedChunks
from kvmtui.engine.uapi import KVM_MEM_LOG_DIRTY_PAGES


def slot(i: int, base: int, flags: int = 0) -> MemSlot:
    return MemSlot(i, base, 1, RAM_HVA + (base << 12), flags)


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3 * CHUNK_MAX), st.integers(0, 600)), max_size=400))
def test_sorted_chunks_and_id_array_match_a_plain_model(ops):
    """Random inserts and removes: the chunks hold what a sorted list holds, the id array what a dict does,
    and every earlier version still holds what it held."""
    seq: SortedChunks[tuple[int, int]] = SortedChunks(itemgetter(0))
    ids: IdArray[int] = IdArray()
    model: list[tuple[int, int]] = []
    id_model: dict[int, int] = {}
    versions = []
    for n, (remove, key, ident) in enumerate(ops):
        if remove and model:
            victim = model[key % len(model)]
            pos = seq.position(victim[0], lambda v, victim=victim: v == victim)
            assert pos is not None
            seq = seq.remove(*pos)
            model.remove(victim)
            ids = ids.set(ident, None)
            id_model.pop(ident, None)
        else:
            seq = seq.insert((key, n))
            model.append((key, n))
            model.sort(key=lambda v: v[0])  # stable: an equal key goes after the ones already there
            ids = ids.set(ident, n)
            id_model[ident] = n
        versions.append((seq, list(model), ids, dict(id_model)))
    for seq_v, model_v, ids_v, id_model_v in versions:
        assert list(seq_v) == model_v and len(seq_v) == len(model_v)
        assert all(ids_v.get(i) == id_model_v.get(i) for i in range(602))
        for probe in range(0, 3 * CHUNK_MAX + 2, 7):
            c, i = seq_v.floor(probe)
            below = [v for v in model_v if v[0] <= probe]
            assert (seq_v.at(c, i) if i >= 0 else None) == (below[-1] if below else None)
            above = [v for v in model_v if v[0] > probe]
            assert seq_v.floor_and_next(probe) == (below[-1] if below else None, above[0] if above else None)


@given(st.lists(st.tuples(st.integers(0, 70_000), st.one_of(st.none(), st.integers(0, 9))), max_size=200))
def test_id_array_matches_a_dict_across_many_pages(ops):
    """Ids far apart (several root entries of the radix tree, as with 32,764 slots): every version maps what a
    dict maps, around each id set and at the tree's boundaries."""
    ids: IdArray[int] = IdArray()
    model: dict[int, int] = {}
    versions = []
    for i, value in ops:
        ids = ids.set(i, value)
        if value is None:
            model.pop(i, None)
        else:
            model[i] = value
        versions.append((ids, dict(model)))
    for ids_v, model_v in versions:
        probes = {*model_v, *(k + 1 for k in model_v), 0, 1023, 1024, 32_767, 32_768, 70_001, -1}
        assert all(ids_v.get(k) == model_v.get(k) for k in probes)


def test_sorted_chunks_in_order_then_anywhere():
    """Values appended in key order (a layout's slots) fill chunk after chunk; inserts and removes anywhere
    afterwards, equal keys included, still keep the plain sorted list's order and floor."""
    seq: SortedChunks[tuple[int, int]] = SortedChunks(itemgetter(0))
    model: list[tuple[int, int]] = []
    for n in range(3 * CHUNK_MAX + 5):
        seq = seq.insert((2 * n, n))
        model.append((2 * n, n))
    appended = seq
    for n, key in enumerate([0, 2 * CHUNK_MAX, 2 * CHUNK_MAX + 1, 5, 6 * CHUNK_MAX + 8, 6 * CHUNK_MAX + 8, -3], start=10_000):
        seq = seq.insert((key, n))
        model.append((key, n))
        model.sort(key=lambda v: v[0])
    victim = model[CHUNK_MAX]
    pos = seq.position(victim[0], lambda v: v == victim)
    assert pos is not None
    seq = seq.remove(*pos)
    model.remove(victim)
    assert list(seq) == model and len(seq) == len(model)
    assert list(appended) == [(2 * n, n) for n in range(3 * CHUNK_MAX + 5)]  # the in-order version is left whole
    for probe in range(-4, 6 * CHUNK_MAX + 12):
        c, i = seq.floor(probe)
        below = [v for v in model if v[0] <= probe]
        above = [v for v in model if v[0] > probe]
        assert (seq.at(c, i) if i >= 0 else None) == (below[-1] if below else None)
        assert seq.floor_and_next(probe) == (below[-1] if below else None, above[0] if above else None)


@given(st.lists(st.tuples(st.one_of(st.integers(0, 2), st.integers(0, 50)), st.sampled_from(["append", "insert", "remove", "replace"]), st.integers(0, 10**6)),
                max_size=120))
def test_versions_appended_from_twice_stay_apart(ops):
    """Appends grow the last chunk in place; an append, insert, remove or replace on an older version (a
    snapshot's table, say) must leave every version, older and newer, holding what it held, across chunk
    boundaries too."""
    seq: SortedChunks[tuple[int, int]] = SortedChunks(itemgetter(0))
    for n in range(2 * CHUNK_MAX - 3):  # two chunks, the last nearly full
        seq = seq.insert((2 * n, n))
    versions = [(seq, list(seq))]
    for n, (back, op, r) in enumerate(ops, start=10_000):
        base, model = versions[max(len(versions) - 1 - back, 0)]
        model = list(model)
        if op == "append" or not model:
            key = (model[-1][0] if model else 0) + r % 3
            seq, model = base.insert((key, n)), [*model, (key, n)]
        elif op == "insert":
            key = r % (model[-1][0] + 2)
            seq = base.insert((key, n))
            model.append((key, n))
            model.sort(key=lambda v: v[0])
        else:
            victim = model[r % len(model)]
            pos = base.position(victim[0], lambda v, victim=victim: v == victim)
            assert pos is not None and base.at(*pos) == victim
            if op == "remove":
                seq = base.remove(*pos)
                model.remove(victim)
            else:
                seq = base.replace_at(*pos, (victim[0], n))
                model[model.index(victim)] = (victim[0], n)
        versions.append((seq, model))
    for seq_v, model_v in versions:
        assert list(seq_v) == model_v and len(seq_v) == len(model_v)
        top = model_v[-1][0] if model_v else 0
        for probe in [-1, 0, 1, top // 2, top - 1, top, top + 1, *(v[0] for v in model_v[-3:])]:
            c, i = seq_v.floor(probe)
            below = [v for v in model_v if v[0] <= probe]
            above = [v for v in model_v if v[0] > probe]
            assert (seq_v.at(c, i) if i >= 0 else None) == (below[-1] if below else None)
            assert seq_v.after(c, i) == (above[0] if above else None)
            assert list(seq_v.iter_from(c, i + 1)) == above
            assert seq_v.floor_and_next(probe) == (below[-1] if below else None, above[0] if above else None)


def test_a_commit_leaves_the_old_table_whole():
    t0 = Memslots()
    a, b = slot(0, 0x10, KVM_MEM_LOG_DIRTY_PAGES), slot(1, 0x20)
    t1 = t0.commit(MemslotUpdate(0, "create", None, a, ()))
    t2 = t1.commit(MemslotUpdate(0, "create", None, b, ()))
    t3 = t2.commit(MemslotUpdate(0, "delete", a, None, ()))
    assert (list(t0), list(t1), list(t2), list(t3)) == ([], [a], [a, b], [b])
    assert [t.generation for t in (t0, t1, t2, t3)] == [0, 1, 2, 3]
    assert t1.id_to_memslot(0) == a and t3.id_to_memslot(0) is None and t2.search_memslots(0x20) == b
    assert 0 in t2.dirty_bitmaps and 0 not in t3.dirty_bitmaps


def test_a_snapshot_shares_the_slots_and_copies_the_bitmaps():
    m = machine()
    for i in range(600):  # more than two chunks
        setmem(m, i, i << 16, 0x10000, RAM_HVA + (i << 16), KVM_MEM_LOG_DIRTY_PAGES if i == 3 else 0)
    snap = m.snapshot()
    assert snap.memslots.id_to_memslot(599) is m.kvm.memslots.id_to_memslot(599)  # shared, not copied
    m.kvm.memslots.dirty_bitmaps[3].add(5)
    setmem(m, 599, 599 << 16, 0, RAM_HVA + (599 << 16))  # delete
    assert snap.memslots.id_to_memslot(599) is not None and len(snap.memslots) == 600
    assert list(snap.memslots.dirty_bitmaps[3]) == []  # the bit set after the snapshot is not in it
    m.restore(snap)
    assert len(m.kvm.memslots) == 600 and m.kvm.memslots.search_memslots(599 << 4).id == 599
