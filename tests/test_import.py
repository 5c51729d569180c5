"""Importing real VMM memslot logs (captured here with QEMU 7.2 and strace; see tests/data/import/COMMANDS.md)."""

import re
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.engine.uapi import KVM_CAPS
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import ScenarioError, load_scenario
from kvmtui.scenario.importers import (
    CapEvent,
    detect_format,
    log_to_scenario,
    parse_maps,
    parse_qemu_trace,
    parse_strace,
    read_log,
    scenario_yaml,
)
from kvmtui.scenario.loader import parse_scenario

DATA = Path(__file__).parent / "data" / "import"
LOGS = ["pc.log", "pc-timestamp.log", "q35.log", "q35-5G.log", "migration.log", "migration-cancel.log",
        "flash-write-from-flash.log", "pc.strace", "pc-maps.log"]


def implied_table(log):
    """What the log says the slot table is after its last line: a plain replay of the successful calls."""
    table = {}
    for e in log.memslot_events:
        if e.ret != "ok":
            continue
        if e.size == 0:
            table.pop(e.slot, None)
        else:
            table[e.slot] = (e.gpa, e.size, e.flags)
    return table


@pytest.mark.parametrize("name", LOGS)
def test_every_logged_ioctl_becomes_one_record_and_agrees_with_the_model(name):
    log = read_log(DATA / name)
    run = ScenarioRun(log_to_scenario(log, str(DATA / name)))
    entries = run.entries()
    sets = [e for e in entries if e.record.op == "set_memory_region"]
    assert len(sets) == len(log.memslot_events)
    assert [e.spec.pos.line for e in sets] == [ev.line for ev in log.memslot_events]
    assert all(e.expect_met for e in entries), [(e.index, e.unmet) for e in entries if not e.expect_met]
    final = {s.id: (s.base_gfn << 12, s.npages << 12, s.flags) for s in run.machine.kvm.memslots}
    assert final == implied_table(log)


def test_the_5g_guest_has_ram_above_4g():
    log = read_log(DATA / "q35-5G.log")
    table = implied_table(log)
    assert any(gpa >= 1 << 32 for gpa, _, _ in table.values())
    assert sum(size for _, size, f in table.values() if not f & 2) >= 5 << 30


def test_migration_turns_dirty_logging_on_and_off():
    log = read_log(DATA / "migration-cancel.log")
    flags_by_slot = {}
    for e in log.memslot_events:
        flags_by_slot.setdefault(e.slot, []).append(e.flags)
    assert any(1 in [f & 1 for f in fl] and fl[-1] & 1 == 0 for fl in flags_by_slot.values())
    run = ScenarioRun(log_to_scenario(log, "m.log"))
    kinds = [e.record.kind for e in run.entries()]
    assert kinds.count("flags_only") >= 16  # every RAM slot: on, then off


def test_flash_write_deletes_the_rom_slot_and_the_guest_dies_fetching_from_it():
    log = read_log(DATA / "flash-write-from-flash.log")
    rom = [e for e in log.memslot_events if e.gpa == 0xFFFF0000]
    assert [(e.flags, e.size) for e in rom] == [(2, 0x10000), (0, 0)]
    assert any("suberror 1" in n for n in log.notes)
    # what the guest did next, in the model: fetching from the gpa with no slot is an emulation failure
    from kvmtui.engine import Access, AccessKind

    run = ScenarioRun(log_to_scenario(log, "f.log"))
    run.entries()
    assert run.machine.apply(Access(AccessKind.FETCH, 0xFFFF0007, 1)).outcome == "internal_error"


def test_strace_capabilities_exits_and_flags():
    log = read_log(DATA / "pc.strace")
    caps = {e.name: e.value for e in log.events if isinstance(e, CapEvent)}
    assert caps["KVM_CAP_NR_MEMSLOTS"] == 32764 and caps["KVM_CAP_MULTI_ADDRESS_SPACE"] == 0
    assert log.exits["KVM_EXIT_IO"] > 100 and "KVM_EXIT_MMIO" in log.exits
    assert any(e.flags == 2 for e in log.memslot_events)  # flags=KVM_MEM_READONLY, decoded symbolically


def test_maps_give_prot_backing_and_names():
    text = (DATA / "pc-maps.maps").read_text()
    assert len(parse_maps(text)) > 100
    sc = log_to_scenario(read_log(DATA / "pc-maps.log"), "pc-maps.log", text)
    ram = max(sc.host, key=lambda h: h.size)
    assert ram.size == 512 << 20 and ram.prot == "rw"


SYNTHETIC_QEMU = """\
qemu-system-x86_64: -accel kvm: warning: something unrelated
1234@1700000000.000001:kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x0 gpa=0x0 size=0x100000 ua=0x7f0000000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0
1234@1700000000.000002:kvm_vm_ioctl type 0xae46, arg 0x7ffd
kvm_set_user_memory AddrSpace#1 Slot#0 flags=0x0 gpa=0x0 size=0x100000 ua=0x7f0000000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=-22
kvm_set_user_memory Slot#1 flags=0x2 gpa=0xfffc0000 size=0x40000 ua=0x7f0000200000 ret=0
kvm_set_user_memory Slot#1 flags=0x2 gpa=0xfffc0000 size=0x4000 ua=0x7f0000200000 ret=-22
kvm_set_user_memory_region: KVM_SET_USER_MEMORY_REGION failed, slot=1, start=0xfffc0000, size=0x4000, flags=0x2: Invalid argument
kvm_set_user_memory_region: KVM_SET_USER_MEMORY_REGION2 failed, slot=2, start=0x80000, size=0x1000, flags=0x0, guest_memfd=-1, guest_memfd_offset=0x0: File exists
kvm_set_user_memory Slot#garbage flags=0x0 gpa=0x0
"""


def test_qemu_trace_forms_noise_and_failure_lines():
    log = parse_qemu_trace(SYNTHETIC_QEMU)
    evs = log.memslot_events
    assert [(e.slot, e.ret) for e in evs] == [(0, "ok"), (1 << 16, "EINVAL"), (1, "ok"), (1, "EINVAL"), (2, "EEXIST")]
    assert log.skipped == 3  # the warning, the other trace event, the broken line
    assert any("userspace address unknown" in n for n in log.notes)
    run = ScenarioRun(log_to_scenario(log, "s.log"))
    entries = run.entries()
    assert [e.record.outcome for e in entries] == ["ok", "EINVAL", "ok", "EINVAL", "EEXIST"]
    assert all(e.expect_met for e in entries)


SYNTHETIC_STRACE = """\
[pid  4242] 10:00:00.000001 ioctl(11, KVM_SET_USER_MEMORY_REGION, {slot=0, flags=0, guest_phys_addr=0, memory_size=1048576, userspace_addr=0x7f0000000000}) = 0
4243 1700000000.5 ioctl(11, KVM_SET_USER_MEMORY_REGION, {slot=1, flags=KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY, guest_phys_addr=0x100000, memory_size=4096, userspace_addr=0x7f0000200000}) = 0
ioctl(11, KVM_SET_USER_MEMORY_REGION, {slot=2, flags=0x4, guest_phys_addr=0x200000, memory_size=4096, userspace_addr=0x7f0000300000}) = -1 EINVAL (Invalid argument)
ioctl(11, KVM_SET_USER_MEMORY_REGION2, {slot=3, flags=0, guest_phys_addr=0x300000, memory_size=4096, userspace_addr=0x7f0000400000, guest_memfd_offset=0, guest_memfd=0}) = 0
ioctl(12, KVM_RUN, 0)                   = 0 (KVM_EXIT_HLT)
ioctl(11, KVM_SET_USER_MEMORY_REGION, {slot=4, flags=0 <unfinished ...>
write(1, "hello", 5) = 5
"""


def test_strace_forms():
    log = parse_strace(SYNTHETIC_STRACE)
    assert [(e.slot, e.flags, e.ret) for e in log.memslot_events] == [(0, 0, "ok"), (1, 3, "ok"), (2, 4, "EINVAL"), (3, 0, "ok")]
    assert log.exits == {"KVM_EXIT_HLT": 1} and log.skipped == 2
    assert all(e.expect_met for e in ScenarioRun(log_to_scenario(log, "s.strace")).entries())


def test_detection_is_by_content():
    assert detect_format(SYNTHETIC_QEMU) == "qemu-trace"
    assert detect_format(SYNTHETIC_STRACE) == "strace"
    assert detect_format("title: x\nsteps:\n  - read: 0\n    note: ioctl(3, KVM_SET_USER_MEMORY_REGION, ...)\n") is None


def test_malformed_lines_never_crash(tmp_path):
    junk = "\n".join(["kvm_set_user_memory Slot#1 flags=0xZZ", "ioctl(3, KVM_SET_USER_MEMORY_REGION, {slot=x}) = 0", "\x00\xff",
                      "kvm_set_user_memory Slot#0 flags=0x0 gpa=0x0 size=0x1000 ua=0x7f0000000000 ret=0"] * 50)
    log = parse_qemu_trace(junk)
    assert len(log.memslot_events) == 50 and log.skipped == 150
    p = tmp_path / "noise.txt"
    p.write_text("just some text\n")
    with pytest.raises(ScenarioError, match="not a QEMU kvm_set_user_memory trace nor an strace"):
        read_log(p)


def test_import_command_writes_an_editable_scenario_and_never_overwrites(tmp_path, capsys):
    out = tmp_path / "pc.yaml"
    assert main(["import", str(DATA / "pc.strace"), "-o", str(out)]) == 0
    sc = load_scenario(out)
    # every capability the uapi header names becomes a check_extension step, expecting what this machine said
    known = [line for line in (DATA / "pc.strace").read_text().splitlines()
             if "KVM_CHECK_EXTENSION" in line and re.search(r"KVM_CAP_\w+", line) and re.search(r"KVM_CAP_\w+", line)[0] in KVM_CAPS]
    assert len(known) == 70
    assert len(sc.steps) == 37 + len(known)
    assert main(["check", str(out)]) == 0  # the modern table answers what the kernel answered in the strace
    before = out.read_text()
    assert main(["import", str(DATA / "pc.log"), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == before
    assert main(["import", str(DATA / "pc.log"), "-o", str(out), "--force"]) == 0
    assert parse_scenario(out.read_text(), "x").title.startswith("pc.log")


def test_trace_of_a_captured_log_is_readable(capsys):
    assert main(["trace", str(DATA / "q35.log")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("q35.log (qemu-trace) — kernel modern, native path, 39 steps")
    assert "slot 1 gpa 0xfffc0000 size 0x40000 READONLY" in out  # SeaBIOS, read-only below 4 GiB
    assert out.count("✓") == 39


def test_scenario_yaml_round_trips(tmp_path):
    sc = log_to_scenario(read_log(DATA / "migration.log"), "migration.log")
    again = parse_scenario(scenario_yaml(sc), "m.yaml")
    assert [s.params for s in again.steps] == [s.params for s in sc.steps]


# -- today's memory API -----------------------------------------------------------------------------------------------
MEMAPI_STRACE = """\
ioctl(4, KVM_CREATE_GUEST_MEMFD, {size=65536, flags=GUEST_MEMFD_FLAG_MMAP|GUEST_MEMFD_FLAG_INIT_SHARED}) = 5
ioctl(4, KVM_SET_USER_MEMORY_REGION2, {slot=1, flags=KVM_MEM_GUEST_MEMFD, guest_phys_addr=0x100000, memory_size=16384, userspace_addr=0x7f0000000000, guest_memfd_offset=0, guest_memfd=5}) = 0
ioctl(4, KVM_SET_USER_MEMORY_REGION2, {slot=2, flags=KVM_MEM_GUEST_MEMFD, guest_phys_addr=0x200000, memory_size=16384, userspace_addr=0x7f0000000000, guest_memfd_offset=0x2000, guest_memfd=5}) = -1 EINVAL (Invalid argument)
ioctl(4, KVM_SET_USER_MEMORY_REGION2, {slot=3, flags=KVM_MEM_GUEST_MEMFD, guest_phys_addr=0x300000, memory_size=4096, userspace_addr=0x7f0000000000, guest_memfd_offset=0, guest_memfd=9}) = 0
ioctl(4, KVM_ENABLE_CAP, {cap=KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, flags=0, args=[0x3, 0, 0, 0]}) = 0
ioctl(4, KVM_SET_USER_MEMORY_REGION, {slot=0, flags=KVM_MEM_LOG_DIRTY_PAGES, guest_phys_addr=0, memory_size=262144, userspace_addr=0x7f0000100000}) = 0
ioctl(4, KVM_CLEAR_DIRTY_LOG, {slot=0, num_pages=64, first_page=0, dirty_bitmap=0x7ffd0000}) = 0
ioctl(4, KVM_CLEAR_DIRTY_LOG, {slot=0, num_pages=64, first_page=1, dirty_bitmap=0x7ffd0000}) = -1 EINVAL (Invalid argument)
ioctl(4, KVM_RESET_DIRTY_RINGS, 0) = -1 EINVAL (Invalid argument)
"""


def test_strace_of_the_memory_api_decoded():
    log = parse_strace(MEMAPI_STRACE)
    sc = log_to_scenario(log, "m.strace")
    assert [s.op for s in sc.setup] == ["create_guest_memfd"] and sc.setup[0].params == {"name": "gmem9", "size": 4096, "flags": 0}
    ops = [(s.op, s.expect.outcome) for s in sc.steps]
    assert ops == [("create_guest_memfd", "ok"), ("set_memory_region", "ok"), ("set_memory_region", "EINVAL"), ("set_memory_region", "ok"),
                   ("enable_cap", "ok"), ("set_memory_region", "ok"), ("clear_dirty_log", "ok"), ("clear_dirty_log", "EINVAL"),
                   ("reset_dirty_rings", "EINVAL")]
    assert sc.steps[0].params == {"name": "gmem5", "size": 65536, "flags": 3}
    assert str(sc.steps[2].params["guest_memfd"]) == "gmem5+0x2000" and "ioctl" not in sc.steps[2].params
    assert sc.steps[4].params == {"cap": 168, "args": (3, 0, 0, 0)}
    assert sc.steps[7].params == {"slot": 0, "first_page": 1, "num_pages": 64}
    run = ScenarioRun(sc)
    assert all(e.expect_met is not False for e in run.entries()), [(e.index, e.unmet) for e in run.entries() if e.unmet]
    again = parse_scenario(scenario_yaml(sc), "m.yaml")
    assert [s.params for s in again.steps] == [s.params for s in sc.steps] and [s.params for s in again.setup] == [s.params for s in sc.setup]


def test_strace_of_the_memory_api_as_strace_61_prints_it():
    """Real captures: REGION2 and KVM_CREATE_GUEST_MEMFD come out as _IOC(...), the structures as pointers."""
    log = read_log(DATA / "dirty-ring.strace")
    resets = [e for e in log.events if getattr(e, "op", None) == "reset_dirty_rings"]
    assert [e.value for e in resets] == [1, 192, 1, 0]
    assert any("KVM_ENABLE_CAP = 0 with its argument undecoded" in n for n in log.notes)
    g = read_log(DATA / "guest-memfd.strace")
    raw = (DATA / "guest-memfd.strace").read_text().splitlines()
    assert sum("KVM_SET_USER_MEMORY_REGION2 undecoded" in n for n in g.notes) == sum("0xae, 0x49, 0xa0" in line for line in raw) == 7
    assert sum("KVM_CREATE_GUEST_MEMFD = " in n for n in g.notes) == 2


def test_qemu10_trace_reads_guest_memfd_fields():
    text = ("kvm_set_user_memory AddrSpace#0 Slot#0 flags=0x4 gpa=0x0 size=0x80000000 ua=0x7f0000000000 guest_memfd=23 guest_memfd_offset=0x0 ret=0\n"
            "kvm_set_user_memory AddrSpace#0 Slot#1 flags=0x4 gpa=0x100000000 size=0x40000000 ua=0x7f0080000000 guest_memfd=23 guest_memfd_offset=0x80000000 ret=0\n"
            "kvm_set_user_memory AddrSpace#0 Slot#2 flags=0x0 gpa=0xfffc0000 size=0x40000 ua=0x7f00c0000000 guest_memfd=-1 guest_memfd_offset=0x0 ret=0\n")
    sc = log_to_scenario(parse_qemu_trace(text), "q10.log")
    assert [(s.params["name"], s.params["size"]) for s in sc.setup] == [("gmem23", 0xC0000000)]
    refs = [str(s.params.get("guest_memfd")) for s in sc.steps]
    assert refs == ["gmem23", "gmem23+0x80000000", "None"]
    assert all(e.expect_met is not False for e in ScenarioRun(sc).entries())


@pytest.mark.parametrize("fields,expect", [
    ("Slot#65535 flags=0x0 gpa=0x0000000000000000001000 size=0x1000 ua=0x7f0000000000 ret=0", (0xFFFF, 0x1000, "ok")),
    ("Slot#7 flags=0xffffffff gpa=0xffffffffffff0000 size=0x1000 ua=0x7f0000000000 ret=-22", (7, 0xFFFFFFFFFFFF0000, "EINVAL")),
    ("Slot#65536 flags=0x0 gpa=0x0 size=0x1000 ua=0x0 ret=0", "t.log:1:49: slot 65536 is out of range"),
    ("Slot#0 flags=0x100000000 gpa=0x0 size=0x1000 ua=0x0 ret=0", "flags 0x100000000 is out of range"),
    ("Slot#0 flags=0x0 gpa=0x10000000000000000 size=0x1000 ua=0x0 ret=0", "t.log:1:65: gpa '0x10000000000000000' is not a number of at most 64 bits"),
    ("Slot#0 flags=0x0 gpa=0x0 size=0x1000 ua=0x0 ret=-2147483648", "ret -2147483648 is out of range"),
])
def test_qemu_numbers_at_their_limits(fields, expect):
    """Short numbers are read at once, long ones carefully: the limits and messages are the same either way."""
    line = f"1234@1700000000.000000:kvm_set_user_memory {fields}\n"
    if isinstance(expect, str):
        with pytest.raises(ScenarioError) as e:
            parse_qemu_trace(line, "t.log")
        assert expect in str(e.value)
    else:
        (ev,) = parse_qemu_trace(line, "t.log").events
        assert (ev.slot, ev.gpa, ev.ret) == expect


def test_strace_fast_lines_read_as_the_careful_path_reads_them(monkeypatch):
    """parse_strace reads the usual KVM_SET_USER_MEMORY_REGION line by one match (STRACE_SET_FAST); every
    line it takes must give the event the general reading gives, and every other line stay with that one."""
    import itertools

    from kvmtui.scenario import importers

    lines = ["4242 10:00:00.000000 ioctl(3, KVM_CREATE_VM, 0) = 4"]
    prefixes = ["4242 10:00:00.000001 ", "[pid  4242] ", "", "1700000000.123456 "]
    flags = ["0", "KVM_MEM_LOG_DIRTY_PAGES", "KVM_MEM_READONLY", "KVM_MEM_LOG_DIRTY_PAGES|KVM_MEM_READONLY", "0x2", "KVM_MEM_GUEST_MEMFD"]
    gpas = ["0x200000", "0X1000", "4096", "0x0"]
    sizes = ["2097152", "0", "0x200000", "999999999999999999"]
    rets = ["0", "-1 EEXIST (File exists)", "-1 EINVAL (Invalid argument)", "0 <0.000012>", "3"]
    for k, (pre, f, g, z, r) in enumerate(itertools.product(prefixes, flags, gpas, sizes, rets)):
        body = f"slot={k % 70}, flags={f}, guest_phys_addr={g}, memory_size={z}, userspace_addr={0x7F0000000000 + (k % 64) * 0x200000:#x}"
        if k % 7 == 0:
            body = body.replace("slot=", "slot=1").replace(", flags=", ", xflags=") if k % 14 == 0 else f"{body}, extra=1"
        lines.append(f"{pre}ioctl(4, KVM_SET_USER_MEMORY_REGION{'2' if k % 11 == 0 else ''}, {{{body}}}) = {r}")
    text = "\n".join(lines) + "\n"
    assert sum(bool(importers.STRACE_SET_FAST.match(line)) for line in lines) > 200  # both routes are taken
    fast = importers.parse_strace(text, "t.strace")
    monkeypatch.setattr(importers, "STRACE_SET_FAST", re.compile(r"(?!)"))
    careful = importers.parse_strace(text, "t.strace")
    assert fast == careful
    assert len(fast.events) > 1000
