"""The live harness's linear windows for high gpas (LinearWindows): pure bookkeeping, no /dev/kvm needed.

An access across the end of a GiB is only possible live when the next GiB's window follows its own; where
it does not, the harness reports the access `unsupported` and the simulator and the kernel cannot be
compared on it (the differential suite found such a step at 2^47 - 4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kvmtui.live.vm import HIGH_BASE, LOW_LIMIT, LinearWindows

GIB = 1 << 30


def contiguous(w: LinearWindows, gib: int) -> bool:
    """An 8-byte access across the end of this GiB lands on contiguous linear addresses."""
    end = (gib + 1) * GIB
    return w.linear(end) - w.linear(end - 4) == 4


def test_two_runs_growing_towards_each_other_keep_their_neighbours_beside_them():
    # The order the differential suite met: two far GiBs first, then one beside each, towards each other.
    x, y = 1 << 17, 1 << 18  # the GiBs at 2^47 and 2^48
    w = LinearWindows()
    for gib in (x, y, x + 1, y - 1):
        w.linear(gib * GIB)
    assert contiguous(w, x)
    assert contiguous(w, y - 1)


def test_low_gpas_are_identity_mapped_and_high_ones_windowed():
    w = LinearWindows()
    assert w.linear(LOW_LIMIT - 8) == LOW_LIMIT - 8
    assert w.linear(LOW_LIMIT + 0x123) >= HIGH_BASE
    assert w.linear(LOW_LIMIT + 0x123) == w.linear(LOW_LIMIT) + 0x123  # a window is fixed once given


@st.composite
def growing_runs(draw) -> list[int]:
    """GiBs from up to four far-apart runs, interleaved at random; each run starts at one GiB and grows one
    GiB at a time at either end (as accesses walking across GiB ends reach them), at most 8 either side."""
    runs = []
    for k in range(draw(st.integers(1, 4))):
        first = (1 << 18) + k * 1000  # above LOW_LIMIT: every GiB windowed
        left = right = 0
        run = [first]
        for leftwards in draw(st.lists(st.booleans(), max_size=14)):
            if leftwards and left < 7:
                left += 1
                run.append(first - left)
            elif not leftwards and right < 7:
                right += 1
                run.append(first + right)
        runs.append(run)
    order: list[int] = []
    while any(runs):
        run = draw(st.sampled_from([r for r in runs if r]))
        order.append(run.pop(0))
    return order


@given(growing_runs())
def test_runs_growing_a_gib_at_a_time_stay_contiguous_in_any_interleaving(order):
    w = LinearWindows()
    for gib in order:
        w.linear(gib * GIB)
    bases = [w.linear(g * GIB) for g in order]
    assert len(set(bases)) == len(bases)  # no two GiBs share a window
    placed = set(order)
    for g in placed:
        if g + 1 in placed:
            assert contiguous(w, g), (order, g)
