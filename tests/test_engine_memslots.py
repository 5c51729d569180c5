"""KVM_SET_USER_MEMORY_REGION per era: kvm-semantics.md table a, and the live facts of e.1-8."""

import pytest
from helpers import LOG, RAM_HVA, RO, machine, setmem

from kvmtui.engine import CheckExtension
from kvmtui.engine.memslots import TASK_SIZE_MAX
from kvmtui.engine.uapi import KVM_CAPS

ALL = ("3.6", "3.7", "modern")
MB = 1 << 20


@pytest.mark.parametrize("era,slot,expected", [
    ("3.6", 31, "ok"), ("3.6", 32, "EINVAL"), ("3.7", 32, "EINVAL"),
    ("modern", 32763, "ok"), ("modern", 32764, "EINVAL"), ("modern", 0x7FFF, "EINVAL"),
    ("modern", 0xFFFF, "EINVAL"), ("modern", 0xFFFFFFFF, "EINVAL"), ("modern", 1 << 16, "EINVAL"), ("modern", 2 << 16, "EINVAL"),
])
def test_slot_id_limits_per_era(era, slot, expected):
    assert setmem(machine(era), slot, 0, 4096, RAM_HVA).outcome == expected


@pytest.mark.parametrize("era,flags,expected", [
    ("3.6", LOG, "ok"), ("3.6", RO, "EINVAL"), ("3.7", RO, "ok"), ("modern", RO, "ok"),
    ("3.7", RO | LOG, "ok"), ("modern", RO | LOG, "ok"), ("modern", 1 << 2, "EINVAL"), ("modern", 1 << 3, "EINVAL"),
])
def test_flag_bits_per_era(era, flags, expected):
    assert setmem(machine(era), 0, 0, 4096, RAM_HVA, flags).outcome == expected


@pytest.mark.parametrize("era", ALL)
@pytest.mark.parametrize("gpa,size,hva", [(0x800, 4096, RAM_HVA), (0, 0x1800, RAM_HVA), (0, 4096, RAM_HVA + 1), (1, 4096, RAM_HVA)])
def test_unaligned_gpa_size_or_uaddr_is_einval(era, gpa, size, hva):
    assert setmem(machine(era), 0, gpa, size, hva).outcome == "EINVAL"


@pytest.mark.parametrize("era", ALL)
def test_unaligned_delete_is_einval_too(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 0, 0x800, 0, RAM_HVA).outcome == "EINVAL"


@pytest.mark.parametrize("era", ALL)
def test_uaddr_must_end_below_task_size_max(era):
    m = machine(era)
    assert setmem(m, 0, 0, 4096, TASK_SIZE_MAX - 4096).outcome == "ok"
    assert setmem(m, 1, 0x10000, 4096, TASK_SIZE_MAX).outcome == "EINVAL"
    assert setmem(m, 2, 0x20000, 4096, 0xFFFF800000000000).outcome == "EINVAL"


@pytest.mark.parametrize("era", ALL)
def test_null_and_unmapped_uaddr_are_accepted(era):
    m = machine(era)
    assert setmem(m, 0, 0, MB, 0).outcome == "ok"
    assert setmem(m, 1, 1 << 30, 1 << 30, 0x500000000000).outcome == "ok"


@pytest.mark.parametrize("era", ALL)
def test_gpa_wrap_is_einval(era):
    m = machine(era)
    assert setmem(m, 0, (1 << 64) - 4096, 8192, RAM_HVA).outcome == "EINVAL"
    assert setmem(m, 0, (1 << 64) - 4096, 4096, RAM_HVA).outcome == "EINVAL"  # end == 2^64 wraps to 0


@pytest.mark.parametrize("era,expected", [("3.6", "ok"), ("3.7", "ok"), ("modern", "EINVAL")])
def test_gfn_beyond_mmu_max_gfn(era, expected):
    m = machine(era)
    assert setmem(m, 0, (1 << 52) - 4096, 4096, RAM_HVA).outcome == "ok"
    assert setmem(m, 1, 1 << 52, 4096, RAM_HVA).outcome == expected
    assert setmem(m, 2, 1 << 48, 4096, RAM_HVA).outcome == "ok"


@pytest.mark.parametrize("era", ALL)
def test_too_many_pages_is_einval(era):
    assert setmem(machine(era), 0, 0, 1 << 43, 0x100000000000).outcome == "EINVAL"  # 2^31 pages


@pytest.mark.parametrize("era,expected", [("3.6", "ok"), ("3.7", "ok"), ("modern", "EINVAL")])
def test_delete_of_a_missing_slot(era, expected):
    r = setmem(machine(era), 5, 0, 0, 0)
    assert r.outcome == expected
    assert r.kind == ("delete" if expected == "ok" else None)


@pytest.mark.parametrize("era,expected", [("3.6", "EEXIST"), ("3.7", "EEXIST"), ("modern", "EINVAL")])
def test_3x_delete_runs_the_overlap_loop(era, expected):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 5, 0x8000, 0, 0).outcome == expected


@pytest.mark.parametrize("era", ALL)
def test_delete_existing_then_double_delete(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    r = setmem(m, 0, 0x123000, 0, 0)  # the request's gpa and uaddr are ignored
    assert (r.outcome, r.kind) == ("ok", "delete")
    assert m.kvm.memslots.id_to_memslot(0) is None
    assert setmem(m, 0, 0, 0, 0).outcome == ("EINVAL" if era == "modern" else "ok")
    assert setmem(m, 0, 0x400000, 2 * MB, RAM_HVA + MB, RO if era != "3.6" else 0).outcome == "ok"


@pytest.mark.parametrize("era", ALL)
def test_resize_is_einval(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 0, 0, 2 * MB, RAM_HVA).outcome == "EINVAL"


@pytest.mark.parametrize("era,expected", [("3.6", "ok"), ("3.7", "ok"), ("modern", "EINVAL")])
def test_uaddr_change_of_existing_slot(era, expected):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 0, 0, MB, RAM_HVA + MB).outcome == expected
    assert m.kvm.memslots.id_to_memslot(0).userspace_addr == RAM_HVA  # 3.x ignores it silently


@pytest.mark.parametrize("era,expected", [("3.7", "ok"), ("modern", "EINVAL")])
def test_readonly_toggle_on_existing_slot(era, expected):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 0, 0, MB, RAM_HVA, RO).outcome == expected
    m2 = machine(era)
    setmem(m2, 0, 0, MB, RAM_HVA, RO)
    assert setmem(m2, 0, 0x200000, MB, RAM_HVA, 0).outcome == expected  # also combined with a move


@pytest.mark.parametrize("era", ALL)
def test_modify_existing_log_toggle_move_and_noop(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 0, 0, MB, RAM_HVA, LOG).kind == "flags_only"
    assert setmem(m, 0, 0x80000, MB, RAM_HVA, LOG).kind == "move"  # overlapping itself is fine
    assert setmem(m, 0, 0x400000, MB, RAM_HVA, 0).kind == "move"  # move + LOG toggle in one call
    r = setmem(m, 0, 0x400000, MB, RAM_HVA, 0)
    assert (r.outcome, r.kind) == ("ok", "noop")


@pytest.mark.parametrize("era", ALL)
@pytest.mark.parametrize("gpa,size", [(0x80000, MB), (0, 4 * MB), (0x1000, 4096), (0, MB)])
def test_overlaps_are_eexist(era, gpa, size):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 1, gpa, size, RAM_HVA + 2 * MB).outcome == "EEXIST"


@pytest.mark.parametrize("era", ALL)
def test_adjacent_ranges_and_aliased_hva_are_allowed(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    assert setmem(m, 1, MB, MB, RAM_HVA).outcome == "ok"  # same hva as slot 0


@pytest.mark.parametrize("era", ALL)
def test_move_onto_another_slot_is_eexist(era):
    m = machine(era)
    setmem(m, 0, 0, MB, RAM_HVA)
    setmem(m, 1, 2 * MB, MB, RAM_HVA + MB)
    assert setmem(m, 1, 0x80000, MB, RAM_HVA + MB).outcome == "EEXIST"


@pytest.mark.parametrize("era,cap,value", [
    ("3.6", "KVM_CAP_READONLY_MEM", 0), ("3.7", "KVM_CAP_READONLY_MEM", 1), ("modern", "KVM_CAP_READONLY_MEM", 1),
    ("3.6", "KVM_CAP_NR_MEMSLOTS", 32), ("3.7", "KVM_CAP_NR_MEMSLOTS", 32), ("modern", "KVM_CAP_NR_MEMSLOTS", 32764),
    ("3.6", "KVM_CAP_USER_MEMORY", 1), ("modern", "KVM_CAP_USER_MEMORY2", 1), ("3.7", "KVM_CAP_USER_MEMORY2", 0),
])
def test_check_extension_per_era(era, cap, value):
    assert machine(era).apply(CheckExtension(KVM_CAPS[cap])).cap_value == value


# Issue 13's 13 misses: capabilities the generic and x86 check_extension answer that a short table said 0 to.
@pytest.mark.parametrize("era", ALL)
@pytest.mark.parametrize("cap,value_3x,value_modern", [
    ("KVM_CAP_COALESCED_MMIO", 2, 2), ("KVM_CAP_JOIN_MEMORY_REGIONS_WORKS", 1, 1), ("KVM_CAP_IOEVENTFD", 1, 1),
    ("KVM_CAP_ASYNC_PF", 1, 1), ("KVM_CAP_X86_DISABLE_EXITS", 0, 0xE), ("KVM_CAP_IRQ_ROUTING", 1024, 4096),
    ("KVM_CAP_MAX_VCPUS", 254, 1024), ("KVM_CAP_XEN_HVM", 1, 0), ("KVM_CAP_PCI_2_3", 1, 0),
    ("KVM_CAP_S390_PSW", 0, 0), ("KVM_CAP_X86_SMM", 0, 0), ("KVM_CAP_DIRTY_LOG_RING", 0, 0x100000),
])
def test_check_extension_tables(era, cap, value_3x, value_modern):
    assert machine(era).apply(CheckExtension(KVM_CAPS[cap])).cap_value == (value_modern if era == "modern" else value_3x)


def test_check_extension_of_the_seed_and_of_numbers_no_header_names():
    assert machine("3.7").apply(CheckExtension(KVM_CAPS["KVM_CAP_IRQFD_RESAMPLE"])).cap_value == 1
    assert machine("3.6").apply(CheckExtension(KVM_CAPS["KVM_CAP_IRQFD_RESAMPLE"])).cap_value == 0
    for era in ALL:
        assert machine(era).apply(CheckExtension(9999)).cap_value == 0


def test_modern_fills_all_32764_slots_and_refuses_the_next():
    m = machine("modern")
    for i in range(32764):
        assert setmem(m, i, i << 12, 4096, RAM_HVA).outcome == "ok"
    assert setmem(m, 32764, 32764 << 12, 4096, RAM_HVA).outcome == "EINVAL"
    assert setmem(m, 32763, 0, 0, 0).outcome == "ok"
    assert setmem(m, 32763, 32763 << 12, 4096, RAM_HVA).outcome == "ok"


def test_refused_request_names_the_rule_in_the_chain():
    r = setmem(machine("modern"), 0, 0x800, 4096, RAM_HVA)
    assert r.chain[-1].bad and "guest_phys_addr is not page aligned" in r.chain[-1].note
