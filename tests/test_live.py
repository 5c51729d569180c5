"""The real kernel as the oracle: samples, a differential suite and the live facts of kvm-semantics.md e.

Skipped, with the reason, where /dev/kvm cannot be used. They run on this project's machine.
"""

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from live_scenarios import scenarios

from kvmtui.cli import main
from kvmtui.engine.compare import compare_records
from kvmtui.live.backend import LiveRun
from kvmtui.live.kvmapi import kvm_available
from kvmtui.live.params import host_settings
from kvmtui.runner import ScenarioRun
from kvmtui.scenario import load_scenario
from kvmtui.scenario.loader import parse_scenario

AVAILABLE, WHY = kvm_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"live KVM unavailable: {WHY}")
ROOT = Path(__file__).parent.parent
SAMPLES = sorted((ROOT / "samples").glob("*.yaml"))


def both(scenario):
    sim = ScenarioRun(scenario, "modern", settings=host_settings()).entries()  # the simulator models this host
    with LiveRun(scenario) as live:
        real = live.entries()
    return sim, real


def differences(scenario):
    sim, real = both(scenario)
    return [d for d in compare_records([e.record for e in sim], [e.record for e in real]) if not d.same]


@pytest.mark.parametrize("path", ["native", "emulated"])
@pytest.mark.parametrize("sample", [p.name for p in SAMPLES])
def test_every_sample_compares_equal(sample, path):
    sc = load_scenario(ROOT / "samples" / sample)
    sc = type(sc)(**{**{f: getattr(sc, f) for f in sc.__dataclass_fields__}, "path": path})
    assert differences(sc) == []


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(scenarios())
def test_differential_suite_simulator_equals_kernel(scenario):
    diffs = differences(scenario)
    assert not diffs, [(d.index + 1, d.left.op, d.fields, d.left.outcome, d.right.outcome) for d in diffs]


def live_expectations_hold(yaml_text: str, path: str = "native") -> None:
    """Every expect: holds on the real kernel, and the simulator agrees with it step by step."""
    sc = parse_scenario(f"path: {path}\n" + yaml_text, "<live fact>")
    sim, real = both(sc)
    unmet = [(e.index, e.record.op, e.unmet) for e in real if e.unmet]
    assert not unmet
    diffs = compare_records([e.record for e in sim], [e.record for e in real])
    assert all(d.same for d in diffs), [(d.index + 1, d.fields) for d in diffs if not d.same]


HOST = "host:\n  ram: {size: 1M}\n  ram2: {size: 1M}\n  ro: {size: 64K, prot: r, data: '11 22 33 44 55 66 77 88'}\n  cold: {size: 64K, prot: r, backing: file, data: 'aa bb'}\n"


def test_e1_flag_bits_on_the_v1_ioctl():
    live_expectations_hold(HOST + """steps:
  - set_memory_region: {slot: 0, gpa: 0, host: ram, flags: 0x4, ioctl: 1}
    expect: EINVAL
  - set_memory_region: {slot: 0, gpa: 0, host: ram, flags: 0x8}
    expect: EINVAL
  - set_memory_region: {slot: 0, gpa: 0, host: ram, flags: [readonly, log_dirty_pages]}
    expect: ok
""")


def test_e2_unaligned_requests_also_when_deleting():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - set_memory_region: {slot: 1, gpa: 0x100001, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 1, gpa: 0x100800, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 1, gpa: 0x100000, host: ram2, size: 0x1001}
    expect: EINVAL
  - set_memory_region: {slot: 1, gpa: 0x100000, host: "ram2+0x800", size: 4K}
    expect: EINVAL
  - set_memory_region: {slot: 0, gpa: 0x800, size: 0}
    expect: EINVAL
""")


def test_e3_delete_semantics():
    live_expectations_hold(HOST + """steps:
  - delete_slot: 5
    expect: EINVAL
  - set_memory_region: {slot: 5, gpa: 0, host: ram}
    expect: ok
  - set_memory_region: {slot: 5, gpa: 0x123000, host: "ram+0x1000", size: 0}
    expect: ok
  - delete_slot: 5
    expect: EINVAL
  - set_memory_region: {slot: 5, gpa: 0x200000, host: ro, flags: [readonly]}
    expect: ok
""")


def test_e4_overlaps():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0x100000, host: ram}
steps:
  - set_memory_region: {slot: 1, gpa: 0x80000, host: ram2}
    expect: EEXIST
  - set_memory_region: {slot: 1, gpa: 0x0, host: ram2, size: 4M}
    expect: EEXIST
  - set_memory_region: {slot: 1, gpa: 0x101000, host: ram2, size: 4K}
    expect: EEXIST
  - set_memory_region: {slot: 1, gpa: 0x100000, host: ram2}
    expect: EEXIST
  - set_memory_region: {slot: 1, gpa: 0x180000, host: ro, flags: [readonly]}
    expect: EEXIST
  - set_memory_region: {slot: 1, gpa: 0x200000, host: ram2}
    expect: ok
  - set_memory_region: {slot: 2, gpa: 0x300000, host: ram}
    expect: ok
""")


def test_e5_slot_ids_and_address_spaces():
    live_expectations_hold(HOST + """steps:
  - set_memory_region: {slot: 32763, gpa: 0, host: ram}
    expect: ok
  - set_memory_region: {slot: 32764, gpa: 0x100000, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 0x7fff, gpa: 0x100000, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 0xffffffff, gpa: 0x100000, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 0x10000, gpa: 0x100000, host: ram2}
    expect: EINVAL
  - set_memory_region: {slot: 0x20000, gpa: 0x100000, host: ram2}
    expect: EINVAL
""")


def test_e6_guest_physical_ranges():
    live_expectations_hold(HOST + """steps:
  - set_memory_region: {slot: 0, gpa: 0xfffffffffffff000, host: ram, size: 8K}
    expect: EINVAL
  - set_memory_region: {slot: 0, gpa: 0xffffffffff000, host: ram, size: 4K}
    expect: ok
  - set_memory_region: {slot: 1, gpa: 0x10000000000000, host: ram, size: 4K}
    expect: EINVAL
  - set_memory_region: {slot: 2, gpa: 0x1000000000000, host: ram2, size: 4K}
    expect: ok
  - set_memory_region: {slot: 3, gpa: 0, userspace_addr: 0x100000000000, size: 8T}
    expect: EINVAL
  - set_memory_region: {slot: 3, gpa: 0x40000000, userspace_addr: 0x500000000000, size: 1G}
    expect: ok
""")


def test_e7_userspace_addresses():
    live_expectations_hold(HOST + """steps:
  - set_memory_region: {slot: 0, gpa: 0, userspace_addr: 0, size: 1M}
    expect: ok
  - set_memory_region: {slot: 1, gpa: 0x100000, userspace_addr: 0x7fffffffe000, size: 8K}
    expect: EINVAL
  - set_memory_region: {slot: 1, gpa: 0x100000, userspace_addr: 0x800000000000, size: 4K}
    expect: EINVAL
  - set_memory_region: {slot: 1, gpa: 0x100000, userspace_addr: 0xffff800000000000, size: 4K}
    expect: EINVAL
""")


def test_e8_changing_an_existing_slot():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0, host: ram, size: 512K}
  - {slot: 1, gpa: 0x200000, host: ram2}
steps:
  - set_memory_region: {slot: 0, size: 1M}
    expect: EINVAL
  - set_memory_region: {slot: 0, host: "ram+0x1000", size: 512K}
    expect: EINVAL
  - set_memory_region: {slot: 0, flags: [readonly]}
    expect: EINVAL
  - set_memory_region: {slot: 0, gpa: 0x400000, flags: [readonly]}
    expect: EINVAL
  - set_memory_region: {slot: 0, flags: [log_dirty_pages]}
    expect: ok
  - set_memory_region: {slot: 0, gpa: 0x40000}
    expect: ok
  - set_memory_region: {slot: 0, gpa: 0x600000, flags: []}
    expect: ok
  - set_memory_region: {slot: 0, gpa: 0x200000}
    expect: EEXIST
""")


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_e9_e10_read_only_and_no_slot_accesses(path):
    live_expectations_hold(HOST + """slots:
  - {slot: 1, gpa: 0x100000, host: ro, flags: [readonly]}
steps:
  - read: 0x100000
    size: 8
    expect: {outcome: ok, value: 0x8877665544332211}
""" + "".join(f"""  - write: 0x100010
    size: {n}
    value: {(1 << 8 * n) - 2:#x}
    expect:
      outcome: mmio
      exits: [{{phys_addr: 0x100010, len: {n}, data: "{((1 << 8 * n) - 2).to_bytes(n, 'little').hex()}", is_write: true}}]
""" for n in (1, 2, 4, 8)) + """  - read: 0x100010
    size: 8
    expect: {outcome: ok, value: 0}
  - read: 0x40000000
    size: 2
    expect: {outcome: mmio, value: 0xffff}
  - read: 0x40000000
    size: 2
    expect: mmio
""", path)


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_e11_page_straddling_accesses(path):
    live_expectations_hold(HOST + """slots:
  - {slot: 1, gpa: 0x100000, host: ro, size: 4K, flags: [readonly]}
  - {slot: 0, gpa: 0x101000, host: ram, flags: [log_dirty_pages]}
steps:
  - write: 0x100ffc
    size: 8
    value: 0x0807060504030201
    expect:
      outcome: mmio
      exits: [{phys_addr: 0x100ffc, len: 4, data: "01020304", is_write: true}]
  - read: 0x101000
    expect: {value: 0x08070605}
  - get_dirty_log: 0
    expect: {dirty: [0]}
  - write: 0x200ffc
    size: 8
    value: 0x1122334455667788
    expect:
      outcome: mmio
      exits: [{phys_addr: 0x201000, len: 4, data: "44332211", is_write: true}]
  - read: 0xffffc
    size: 8
    expect:
      outcome: mmio
      exits: [{phys_addr: 0xffffc, len: 4, data: "ffffffff", is_write: false}]
""", path)


def test_e12_e13_write_to_prot_read_memory_through_a_writable_slot():
    body = HOST + """slots:
  - {slot: 0, gpa: 0, host: ro}
steps:
  - write: 0x10
    value: 1
    expect: {"modern": %s}
  - mprotect: {host: ro, prot: rw}
  - write: 0x10
    value: 1
    expect: ok
"""
    live_expectations_hold(body % "efault", "native")
    live_expectations_hold(body % "mmio", "emulated")


@pytest.mark.parametrize("prot_step", ["mprotect: {host: ro, prot: none}", "munmap: {host: ro}"])
def test_e14_read_only_slot_over_missing_host_memory(prot_step):
    live_expectations_hold(HOST + f"""slots:
  - {{slot: 1, gpa: 0x100000, host: ro, flags: [readonly]}}
steps:
  - {prot_step}
  - write: 0x100000
    size: 1
    value: 1
    expect: mmio
  - read: 0x100000
    expect: efault
""")


@pytest.mark.parametrize("flags", ["[]", "[readonly]"])
def test_e15_cold_prot_read_file_page(flags):
    live_expectations_hold(HOST + f"""slots:
  - {{slot: 2, gpa: 0x200000, host: cold, flags: {flags}}}
steps:
  - read: 0x200000
    size: 2
    expect: {{outcome: ok, value: 0xbbaa}}
""")


def test_e16_host_changes_reach_the_guest():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - read: 0x3000
    expect: {value: 0}
  - host_write: {host: "ram+0x3000", data: "01 02 03 04"}
  - read: 0x3000
    expect: {value: 0x04030201}
  - write: 0x5000
    value: 0x77
  - madvise_dontneed: {host: "ram+0x5000", size: 4K}
  - read: 0x5000
    expect: {value: 0}
""")


def test_e17_delete_move_and_recreate():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - write: 0x1000
    value: 2
  - set_memory_region: {slot: 0, gpa: 0x200000}
  - read: 0x1000
    expect: mmio
  - read: 0x201000
    expect: {value: 2}
  - delete_slot: 0
  - read: 0x201000
    expect: mmio
  - set_memory_region: {slot: 0, gpa: 0, host: ram, flags: [readonly]}
  - read: 0x1000
    expect: {value: 2}
  - write: 0x1000
    value: 3
    expect: mmio
""")


def test_e22_dirty_log_errors():
    live_expectations_hold(HOST + """slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - get_dirty_log: 0
    expect: ENOENT
  - get_dirty_log: 7
    expect: ENOENT
  - get_dirty_log: 32764
    expect: EINVAL
  - get_dirty_log: 0x10000
    expect: EINVAL
  - set_memory_region: {slot: 0, flags: [log_dirty_pages]}
  - read: 0x2000
  - write: 0x5000
    value: 1
  - get_dirty_log: 0
    expect: {dirty: [5]}
""")


@pytest.mark.parametrize("path,outcome", [("native", "efault"), ("emulated", "internal_error")])
def test_fetch_from_prot_none_and_from_no_slot(path, outcome):
    live_expectations_hold(HOST + f"""slots:
  - {{slot: 0, gpa: 0, host: ram}}
  - {{slot: 1, gpa: 0x100000, host: ro, flags: [readonly]}}
steps:
  - fetch: 0x100000
    expect: ok
  - fetch: 0x40000000
    expect: internal_error
  - mprotect: {{host: ram, prot: none}}
  - fetch: 0x2000
    expect: {outcome}
""", path)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_steps_leak_no_fds_and_failures_clean_up():
    before = _fds()
    steps = "".join(f"  - {'read' if i % 2 else 'write'}: {(i % 64) * 0x1000:#x}\n" + ("    value: 1\n" if i % 2 == 0 else "")
                    for i in range(1000))
    sc = parse_scenario(HOST + "slots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n" + steps, "<many>")
    with LiveRun(sc) as live:
        assert len(live.entries()) == 1001
    assert _fds() == before
    with pytest.raises(RuntimeError), LiveRun(sc):
        raise RuntimeError("interrupted")
    assert _fds() == before


def test_compare_command_exit_codes(capsys, monkeypatch):
    assert main(["compare", str(ROOT / "samples" / "rom.yaml")]) == 0
    assert "0 of 11 steps differ" in capsys.readouterr().out
    f = ROOT / "tests" / "data" / "poison.yaml"
    assert main(["compare", str(f)]) == 1  # poison cannot be done live: unsupported beside ok
    assert "✗ outcome" in capsys.readouterr().out
    import kvmtui.live.kvmapi as kvmapi

    monkeypatch.setattr(kvmapi, "kvm_available", lambda: (False, "no permission to open /dev/kvm"))
    assert main(["compare", str(ROOT / "samples" / "rom.yaml")]) == 3
    assert "no permission" in capsys.readouterr().err


def test_trace_live_json_has_the_contract_shape(capsys):
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parent / "data" / "trace.schema.json").read_text())
    assert main(["trace", str(ROOT / "samples" / "rom.yaml"), "--live", "--json"]) == 0
    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for r in recs:
        jsonschema.validate(r, schema)
        if r["op"] in ("read", "write", "fetch"):
            assert r["chain"] == [] and r["spte"] == []
    assert recs[5]["exits"] == [{"reason": "KVM_EXIT_MMIO", "phys_addr": 0xFFFE0000, "len": 1, "data": "5a", "is_write": True}]


@pytest.mark.asyncio
async def test_the_app_on_the_live_kernel():
    from kvmtui.tui.app import KvmApp
    from kvmtui.tui.screens.dialogs import Prompt
    from kvmtui.tui.widgets.events import EventLog
    from kvmtui.tui.widgets.resolution import Resolution

    app = KvmApp(str(ROOT / "samples" / "rom.yaml"), live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        assert app.index == 5 and app.run_.entry(5).record.outcome == "mmio"
        assert app.query_one(EventLog).row_count == 1
        body = app.query_one(Resolution).text
        assert "not its call chain" in body
        await pilot.press("2")
        assert "kernel does not show its sptes" in str(app.query_one("#pagemap").render_line(0).text)
        assert [s.id for s in app.view.slots] == [0, 1]  # the table as the kernel accepted it
        await pilot.press("colon")
        for ch in "r 0x10":
            await pilot.press({" ": "space"}.get(ch, ch))
        await pilot.press("enter")
        assert isinstance(app.screen, Prompt)  # not at the last step: a real VM cannot go back
        assert "last step only" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape", "end", "colon")
        for ch in "w 0xfffe0000 1 0x77":
            await pilot.press({" ": "space"}.get(ch, ch))
        await pilot.press("enter")
        rec = app.run_.entry(app.index).record
        assert (rec.outcome, rec.exits[0].data) == ("mmio", b"\x77")
        await pilot.press("k")
        assert any("no other era" in n.message for n in app._notifications)
        fds_open = len(os.listdir("/proc/self/fd"))
    assert len(os.listdir("/proc/self/fd")) < fds_open  # quitting the app closed the VM


def test_this_kernel_has_one_address_space():
    """KVM_CAP_MULTI_ADDRESS_SPACE is 0 here and as_id 1 is EINVAL: the modern profile's one address space
    is this measurement (a log from a kernel with SMM is read with two, see test_import)."""
    from kvmtui.engine import get_profile

    live_expectations_hold(HOST + """steps:
  - check_extension: KVM_CAP_MULTI_ADDRESS_SPACE
    expect: {value: 0}
  - set_memory_region: {slot: 0x10001, gpa: 0x100000, host: ram2}
    expect: EINVAL
""")
    assert get_profile("modern").address_spaces == 1


def test_the_modern_check_extension_table_is_the_kernels():
    from kvmtui.engine.profiles import get_profile
    from kvmtui.engine.uapi import KVM_CAPS
    from kvmtui.live.vm import LiveVm

    modern = get_profile("modern")
    with LiveVm() as vm:
        live = {name: vm.check_extension(num) for name, num in KVM_CAPS.items()}
    live["KVM_CAP_NR_VCPUS"] = modern.check_extension(KVM_CAPS["KVM_CAP_NR_VCPUS"])  # the host's online CPUs
    assert {n: v for n, v in live.items() if v != modern.check_extension(KVM_CAPS[n])} == {}


ISSUE13 = "host:\n  ram: {size: 64K}\n  other: {size: 4K}\n  disk: {size: 64K, backing: file, fill: 0x11}\n"


def test_issue13_fetch_through_a_writable_slot_over_prot_read_host_memory():
    for path in ("native", "emulated"):
        live_expectations_hold("""host: {bios: {size: 16K, prot: r, fill: 0xeb}}
slots: [{slot: 7, gpa: 0x0, host: bios}]
steps:
  - {fetch: 0x1000, expect: ok}
  - {read: 0x2000, size: 4, expect: {value: 0xebebebeb}}
  - {fetch: 0x2000, expect: ok}
""", path)


@pytest.mark.parametrize("zap", ["delete_slot: 1", "mprotect: {host: ram, prot: r}\n  - mprotect: {host: ram, prot: rw}"])
def test_issue13_a_read_after_a_zap_logs_a_page_whose_guest_pte_is_dirty(zap):
    live_expectations_hold(ISSUE13 + f"""slots:
  - {{slot: 0, gpa: 0, host: ram, flags: [log_dirty_pages]}}
  - {{slot: 1, gpa: 0x100000, host: other}}
steps:
  - write: 0x0
    value: 1
  - get_dirty_log: 0
    expect: {{dirty: [0]}}
  - {zap}
  - read: 0x0
  - get_dirty_log: 0
    expect: {{dirty: [0]}}
  - read: 0x3000
  - get_dirty_log: 0
    expect: {{dirty: []}}
""")


@pytest.mark.parametrize("path", ["native", "emulated"])
def test_a_live_fetch_runs_nothing_that_is_at_the_target(path):
    # hlt, int3, ud2, out, a store through rax, cli: fetched, never run; the steps after see an intact VM
    poison = "f4 cc 0f 0b e6 10 48 89 00 fa"
    live_expectations_hold(f"""host:
  ram: {{size: 64K, data: "{poison}"}}
  rom: {{size: 8K, prot: r, data: "{poison}"}}
slots:
  - {{slot: 0, gpa: 0, host: ram}}
  - {{slot: 1, gpa: 0x100000, host: rom, flags: [readonly]}}
steps:
  - {{fetch: 0x0, size: 15, expect: ok}}
  - {{fetch: 0x100000, size: 10, expect: ok}}
  - {{fetch: 0xff8, size: 15, expect: ok}}
  - {{fetch: 0x101ffa, size: 8, expect: internal_error}}
  - {{fetch: 0xfffc, size: 8, expect: internal_error}}
  - {{read: 0x0, size: 8, expect: {{value: 0x8948_10e6_0b0f_ccf4}}}}
  - {{write: 0x8, size: 2, value: 0x1234, expect: ok}}
  - {{read: 0x100000, size: 2, expect: {{value: 0xccf4}}}}
""", path)


def test_a_live_evict_drops_file_pages_and_the_guest_reads_them_back():
    from kvmtui.live.kvmapi import host_resident
    from kvmtui.scenario.loader import parse_scenario as parse

    sc = parse(ISSUE13 + """slots:
  - {slot: 0, gpa: 0, host: disk, flags: [log_dirty_pages]}
steps:
  - write: 0x1000
    value: 0x22
  - get_dirty_log: 0
    expect: {dirty: [1]}
  - evict: {host: disk, size: 8K}
    expect: ok
  - read: 0x1000
    expect: {value: 0x22}
  - read: 0x0
    expect: {value: 0x11111111}
  - get_dirty_log: 0
    expect: {dirty: []}
""", "<evict>")
    with LiveRun(sc) as live:
        live.entry(3)
        disk = live.maps["disk"]
        assert host_resident(disk.live_hva, 2) == [False, False]  # reclaimed, both the written and the read page
        assert all(not e.unmet for e in live.entries())
    live_expectations_hold(ISSUE13 + """slots:
  - {slot: 0, gpa: 0, host: disk}
  - {slot: 1, gpa: 0x100000, host: ram, flags: [log_dirty_pages]}
steps:
  - {write: 0x100000, value: 5}
  - {get_dirty_log: 1, expect: {dirty: [0]}}
  - {evict: {host: ram}, expect: ok}
  - {read: 0x100000, expect: {value: 5}}
  - {get_dirty_log: 1, expect: {dirty: []}}
""")
