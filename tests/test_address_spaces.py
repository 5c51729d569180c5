
"""Address spaces: slot numbers carry as_id in their high 16 bits; a log's kernel decides how many there are."""


from kvmtui.engine import SetMemoryRegion, UserMemoryRegion, get_profile
from kvmtui.engine.machine import Machine
from kvmtui.engine.profiles import with_address_spaces
from kvmtui.engine.uapi import KVM_CAPS
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.importers import address_spaces_of, log_to_scenario, parse_qemu_trace, parse_strace

# A q35 guest with SMM on a kernel built with it, in QEMU 10's trace form: RAM in address space 0, and the
# SMRAM view (the same RAM plus the SMRAM window at 0xa0000) in address space 1, every ioctl accepted.
SMM_QEMU10 = """\
kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0x0 size=0xa0000 ua=0x7f0000000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x0 gpa=0x100000 size=0x1ff00000 ua=0x7f0000100000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
kvm_set_user_memory AddrSpace#1 Slot#0 flags=0x0 gpa=0x0 size=0xc0000 ua=0x7f0000000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
kvm_set_user_memory AddrSpace#1 Slot#1 flags=0x0 gpa=0x100000 size=0x1ff00000 ua=0x7f0000100000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
kvm_set_user_memory AddrSpace#1 Slot#1 flags=0x1 gpa=0x100000 size=0x1ff00000 ua=0x7f0000100000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
"""


def test_a_log_whose_kernel_accepted_address_space_1_is_read_with_two():
    log = parse_qemu_trace(SMM_QEMU10)
    assert address_spaces_of(log) == (2, "line 3: the kernel accepted slot 65536 (address space 1)")
    sc = log_to_scenario(log, "smm.log")
    assert sc.address_spaces == 2 and "Read with 2 address spaces" in sc.description
    run = ScenarioRun(sc)
    entries = run.entries()
    assert all(e.expect_met for e in entries), [e.unmet for e in entries if not e.expect_met]  # no false disagreement
    assert run.address_spaces == 2
    kvm = run.state_after(len(run))
    as0, as1 = (list(m) for m in kvm.memslots_by_as)
    assert [(s.number, s.base_gfn) for s in as0] == [(0, 0), (1, 0x100)]
    assert [(s.number, s.base_gfn, s.flags) for s in as1] == [(65536, 0, 0), (65537, 0x100, 1)]
    # the same log on this machine's kernel: address space 1 is EINVAL, as measured live (test_live)
    sc1 = log_to_scenario(log, "smm.log")
    here = ScenarioRun(sc1.__class__(**{f: getattr(sc1, f) for f in sc1.__dataclass_fields__ if f != "address_spaces"}))
    assert [e.record.outcome for e in here.entries()] == ["ok", "ok", "EINVAL", "EINVAL", "EINVAL"]


def test_a_refused_address_space_1_keeps_one():
    lines = SMM_QEMU10.splitlines()
    log = parse_qemu_trace("\n".join([*lines[:2], lines[2].replace("ret=0", "ret=-22")]))
    assert address_spaces_of(log) is None
    run = ScenarioRun(log_to_scenario(log, "nosmm.log"))
    assert run.address_spaces == 1 and all(e.expect_met for e in run.entries())


def test_strace_capability_answer_sets_the_count():
    text = ("ioctl(10, KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE) = 2\n"
            "ioctl(11, KVM_SET_USER_MEMORY_REGION, {slot=65536, flags=0, guest_phys_addr=0, memory_size=65536, userspace_addr=0x7f0000000000}) = 0\n")
    sc = log_to_scenario(parse_strace(text), "smm.strace")
    run = ScenarioRun(sc)
    assert sc.address_spaces == 2 and all(e.expect_met for e in run.entries())


def test_dirty_log_and_profile_follow_the_count():
    p = with_address_spaces(get_profile("modern"), 2)
    assert p.address_spaces == 2 and p.check_extension(KVM_CAPS["KVM_CAP_MULTI_ADDRESS_SPACE"]) == 2
    assert get_profile("modern").check_extension(KVM_CAPS["KVM_CAP_MULTI_ADDRESS_SPACE"]) == 0
    m = Machine(p)
    r = m.apply(SetMemoryRegion(UserMemoryRegion(0x10003, 1, 0x1000, 0x2000, 0x7F0000000000)))
    assert r.outcome == "ok" and "slot 65539" in r.summary
    # a create's line is made when read (its message is left empty), the same words as every other kind's
    assert r.summary == "slot 65539 create: gpa 0x1000+0x2000 -> hva 0x7f0000000000 (KVM_MEM_LOG_DIRTY_PAGES)"
    assert m.kvm.memslots_of(1).id_to_memslot(3) is not None and m.kvm.memslots.id_to_memslot(3) is None
    assert m.get_dirty_log(0x10003).outcome == "ok" and m.get_dirty_log(3).outcome == "ENOENT"
    flags_only = m.apply(SetMemoryRegion(UserMemoryRegion(0x10003, 0, 0x1000, 0x2000, 0x7F0000000000)))
    assert flags_only.message == flags_only.summary == "slot 65539 flags_only: gpa 0x1000+0x2000 -> hva 0x7f0000000000 (no flags)"
    assert m.apply(SetMemoryRegion(UserMemoryRegion(0x20000, 0, 0x1000, 0x1000, 0x7F0000000000))).outcome == "EINVAL"


def test_import_keeps_the_count_and_the_loader_reads_it(tmp_path):
    from kvmtui.cli import main
    from kvmtui.scenario import load_scenario

    log = tmp_path / "smm.log"
    log.write_text(SMM_QEMU10)
    out = tmp_path / "smm.yaml"
    assert main(["import", str(log), "-o", str(out)]) == 0
    assert "address_spaces: 2" in out.read_text()
    sc = load_scenario(str(out))
    assert sc.address_spaces == 2
    assert main(["check", str(out)]) == 0  # no false disagreement after the round trip
    bad = tmp_path / "bad.yaml"
    bad.write_text(out.read_text().replace("address_spaces: 2", "address_spaces: 3"))
    assert main(["check", str(bad)]) == 2
