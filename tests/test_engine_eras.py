"""Eras side by side: the same steps under another profile, compared step by step."""

from helpers import RAM_HVA, ROM_HVA, machine

from kvmtui.engine import Access, AccessKind, SetMemoryRegion, UserMemoryRegion, compare_records, rerun

STEPS = [
    SetMemoryRegion(UserMemoryRegion(0, 0, 0, 1 << 20, RAM_HVA)),
    SetMemoryRegion(UserMemoryRegion(1, 0, 0xC0000000, 1 << 20, ROM_HVA)),  # ordinary slot over a cold PROT_READ file
    Access(AccessKind.READ, 0xC0000000, 4),
    Access(AccessKind.WRITE, 0x1000, 4, 7),
]


def test_the_seed_before_and_after_is_one_flag_apart():
    before = rerun(lambda: machine("3.6"), STEPS)
    after = rerun(lambda: machine("3.7"), STEPS)
    diffs = compare_records(before, after)
    assert [d.same for d in diffs] == [True, True, False, True]
    assert diffs[2].fields == ("outcome", "value")
    assert (diffs[2].left.outcome, diffs[2].right.outcome) == ("efault", "ok")


def test_rerun_is_deterministic():
    a = rerun(lambda: machine("modern"), STEPS)
    b = rerun(lambda: machine("modern"), STEPS)
    assert a == b
