"""Property-based tests: slot-table invariants, lookup vs a linear scan, a reference model, snapshots."""

import itertools

from helpers import RAM_HVA, machine, read, setmem, write
from hypothesis import given
from hypothesis import strategies as st

from kvmtui.engine import Access, AccessKind, History, SetMemoryRegion, UserMemoryRegion

PAGE = 4096
slot_ids = st.integers(0, 7)
gfns = st.integers(0, 63)
npages = st.integers(0, 16)


@st.composite
def ops(draw):
    n = draw(st.integers(1, 40))
    out = []
    for _ in range(n):
        out.append((draw(slot_ids), draw(gfns), draw(npages), draw(st.sampled_from([0, 1, 2, 3])), draw(st.sampled_from([0, 1]))))
    return out


def reference(era: str, table: dict, slot: int, gfn: int, n: int, flags: int, hva: int) -> str:
    """A plain model of __kvm_set_memory_region's outcome for these small inputs."""
    modern = era == "modern"
    if not modern and slot >= 32:
        return "EINVAL"
    if flags & ~(1 if era == "3.6" else 3):
        return "EINVAL"
    old = table.get(slot)
    if n == 0:
        if modern:
            return "ok" if old else "EINVAL"
        inside = any(s != slot and b < gfn < b + m for s, (b, m, _, _) in table.items())
        return "EEXIST" if inside else "ok"
    if old:
        if n != old[1]:
            return "EINVAL"
        if modern and (hva != old[3] or (flags ^ old[2]) & 2):
            return "EINVAL"
    checks_overlap = not modern or not old or gfn != old[0]
    if checks_overlap and any(s != slot and gfn < b + m and b < gfn + n for s, (b, m, _, _) in table.items()):
        return "EEXIST"
    return "ok"


@given(ops(), st.sampled_from(["3.6", "3.7", "modern"]))
def test_random_slot_operations_agree_with_the_reference_and_keep_invariants(seq, era):
    m = machine(era)
    table: dict[int, tuple[int, int, int, int]] = {}
    for slot, gfn, n, flags, hva_sel in seq:
        hva = RAM_HVA + hva_sel * (1 << 20)
        want = reference(era, table, slot, gfn, n, flags, hva)
        got = setmem(m, slot, gfn * PAGE, n * PAGE, hva, flags).outcome
        assert got == want, (slot, gfn, n, flags, table)
        if got == "ok":
            if n == 0:
                table.pop(slot, None)
            else:
                old = table.get(slot)
                table[slot] = (gfn, n, flags if era != "3.6" else flags & 1, old[3] if old else hva)
        slots = sorted(m.kvm.memslots, key=lambda s: s.base_gfn)
        assert {s.id: (s.base_gfn, s.npages) for s in slots} == {k: v[:2] for k, v in table.items()}
        for a, b in itertools.pairwise(slots):
            assert a.end_gfn <= b.base_gfn  # slots never overlap
        for g in range(90):
            linear = next((s for s in slots if s.base_gfn <= g < s.end_gfn), None)
            assert m.kvm.memslots.search_memslots(g) == linear


@given(st.lists(st.tuples(st.sampled_from(["r", "w", "slot"]), st.integers(0, 40), st.integers(0, 255)), min_size=1, max_size=30))
def test_restoring_a_snapshot_gives_back_identical_state(actions):
    m = machine("modern")
    setmem(m, 0, 0, 16 * PAGE, RAM_HVA)
    half = len(actions) // 2

    def run(acts):
        for kind, page, v in acts:
            if kind == "r":
                read(m, page * PAGE)
            elif kind == "w":
                write(m, page * PAGE, v, 1)
            else:
                setmem(m, 1, 32 * PAGE + page * PAGE, PAGE, RAM_HVA + 20 * PAGE)

    run(actions[:half])
    snap = m.snapshot()
    state = _state(m)
    run(actions[half:])
    m.restore(snap)
    assert _state(m) == state
    run(actions[half:])  # the snapshot is reusable and the machine goes on deterministically
    m.restore(snap)
    assert _state(m) == state


def _state(m):
    k = m.kvm
    return (
        list(k.memslots), k.memslots.generation, {i: set(b) for i, b in k.memslots.dirty_bitmaps.items()},
        dict(k.sptes.items()), dict(k.host.pages), k.host.next_pfn, list(k.host.vmas),
        {i: (v.mmio_gfn, v.mmio_gen) for i, v in k.vcpus.items()},
    )


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 255)), min_size=1, max_size=120), st.data())
def test_history_state_at_any_step_matches_a_fresh_replay(writes, data):
    steps = [SetMemoryRegion(UserMemoryRegion(0, 0, 0, 64 * PAGE, RAM_HVA))]
    steps += [Access(AccessKind.WRITE, p * PAGE, 1, v) for p, v in writes]
    h = History(machine("modern"), steps)
    h.compute_to(len(steps))
    n = data.draw(st.integers(0, len(steps)))
    got = _state(h.state_after(n))
    fresh = machine("modern")
    for s in steps[:n]:
        fresh.apply(s)
    assert got == _state(fresh)
    assert [r.outcome for r in h.records] == ["ok"] * len(steps)
