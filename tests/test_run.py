"""One Run for every backend: the protocol, the shared step resolver, the shared expectation judge (its
third verdict, unchecked), and check/compare going on past a failing file."""

from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.engine import SetMemoryRegion
from kvmtui.engine.records import SpteChange, SpteState, StepRecord
from kvmtui.engine.uapi import KVM_MEM_LOG_DIRTY_PAGES
from kvmtui.judge import LIVE, SIMULATED, Verdict, judge
from kvmtui.report import entry_json
from kvmtui.resolve import HostLayout, resolve_step
from kvmtui.run import Run
from kvmtui.runner import ScenarioRun, TraceEntry
from kvmtui.scenario.loader import parse_scenario
from kvmtui.scenario.model import Expect

ROOT = Path(__file__).parent.parent


def test_the_simulated_run_is_a_run():
    run = ScenarioRun(parse_scenario((ROOT / "samples" / "rom.yaml").read_text(), "rom.yaml"))
    assert isinstance(run, Run)
    assert not isinstance(object(), Run)  # the check looks at the members: something else is not a run


def test_omitted_fields_are_resolved_from_the_slot_table_as_it_stands():
    sc = parse_scenario("host:\n  ram: {size: 1M}\n  ram2: {size: 64K}\nslots:\n  - {slot: 3, gpa: 0x100000, host: ram}\nsteps:\n"
                        "  - set_memory_region: {slot: 3, gpa: 0x400000}\n  - set_memory_region: {slot: 3, flags: [KVM_MEM_LOG_DIRTY_PAGES]}\n"
                        "  - set_memory_region: {slot: 3, host: ram2+0x1000}\n  - delete_slot: 3\n", "<resolve>")
    run = ScenarioRun(sc)
    layout = HostLayout.of(sc)
    ram, ram2 = layout.mappings["ram"], layout.mappings["ram2"]
    regions = []
    for i in range(len(run)):
        step = resolve_step(run.specs[i], layout, run.state_after(i).memslots_of)
        assert isinstance(step, SetMemoryRegion)
        regions.append(step.region)
        run.entry(i)
    r = [(m.guest_phys_addr, m.memory_size, m.userspace_addr, m.flags) for m in regions]
    assert r == [
        (0x100000, 1 << 20, ram.hva, 0),
        (0x400000, 1 << 20, ram.hva, 0),  # moved: size and host as they were
        (0x400000, 1 << 20, ram.hva, KVM_MEM_LOG_DIRTY_PAGES),  # flags changed: where it is now
        (0x400000, 0xF000, ram2.hva + 0x1000, KVM_MEM_LOG_DIRTY_PAGES),  # another host: the rest of that mapping
        (0x400000, 0, ram.hva, 0),  # deleted where it is (the kernel refused to move its hva: EINVAL)
    ]
    assert run.entry(3).record.outcome == "EINVAL"
    assert layout.label(ram2.hva + 0x1000) == "ram2+0x1000" and run.host_label(ram.hva) == "ram"


def _read(value=None, spte=(), op="read") -> StepRecord:
    return StepRecord(op, {"vcpu": 0, "gpa": 0x1000, "size": 1}, "ok", value=value, slot=0, spte=spte)


def test_the_judge_gives_each_expected_field_a_verdict():
    rec = _read(value=7, spte=(SpteChange(1, SpteState.NONE, SpteState.RW),))
    expect = Expect(outcome="ok", value=7, spte="rw", slot=1)
    sim = judge(expect, rec, SIMULATED)
    assert [(j.field, j.verdict) for j in sim.judgements] == [
        ("outcome", Verdict.MET), ("value", Verdict.MET), ("slot", Verdict.UNMET), ("spte", Verdict.MET)]
    assert sim.unmet == ("slot: expected 1, got 0",) and sim.unchecked == ()
    live = judge(expect, _read(value=7), LIVE)  # a live record has no sptes
    assert [(j.field, j.verdict) for j in live.judgements][-1] == ("spte", Verdict.UNCHECKED)
    assert live.unchecked == ("spte: expected rw; the kernel does not show its sptes",)
    fetch = judge(Expect(outcome="ok", value=0x90), _read(op="fetch"), LIVE)
    assert [j.verdict for j in fetch.judgements] == [Verdict.MET, Verdict.UNCHECKED]
    assert judge(Expect(value=0x90), _read(op="fetch"), SIMULATED).unmet == ("value: expected 0x90, got nothing (the access did not complete)",)


def test_a_step_the_backend_did_not_perform_is_unchecked_live_and_unmet_simulated():
    poison = StepRecord("poison", {"hva": 0, "size": 4096}, "unsupported", message="poison: not done live")
    live = judge(Expect(outcome="ok"), poison, LIVE)
    assert live.unmet == () and live.unchecked == ("outcome: not performed here: poison: not done live",)
    assert judge(Expect(outcome="ok"), poison, SIMULATED).unmet == ("outcome: expected ok, got unsupported",)
    assert judge(Expect(outcome="unsupported"), poison, LIVE).unmet == ()  # expected so: checked, and met
    assert [j.verdict for j in judge(Expect(outcome="unsupported"), poison, LIVE).judgements] == [Verdict.MET]


def test_an_unchecked_expectation_is_never_counted_as_met():
    rec = _read(value=7)
    sc = parse_scenario("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x1000\n    expect: {spte: ro}\n", "<u>")
    spec = sc.steps[0]
    only_unchecked = TraceEntry(2, spec, rec, (), ("spte: expected ro; the kernel does not show its sptes",))
    assert only_unchecked.expect_met is None  # neither met nor unmet
    assert TraceEntry(2, spec, rec, ("outcome: x",), ("spte: y",)).expect_met is False
    assert TraceEntry(2, spec, rec, ()).expect_met is True
    run = ScenarioRun(sc)
    out = entry_json(run, only_unchecked)
    assert out["expect_met"] is None and out["unchecked"] == ["spte: expected ro; the kernel does not show its sptes"]
    assert "unchecked" not in entry_json(run, run.entry(1))  # the simulator sees sptes: checked, and met
    assert run.entry(1).expect_met is True


def test_check_goes_on_past_a_failing_file_and_sums_up(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: [\n")
    unmet = tmp_path / "unmet.yaml"
    unmet.write_text("host:\n  ram: {size: 1M}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - read: 0x1000\n    expect: mmio\n")
    rom = str(ROOT / "samples" / "rom.yaml")
    assert main(["check", str(unmet), str(bad), rom]) == 2  # the worst of unmet (1) and bad input (2)
    out, err = capsys.readouterr()
    assert f"FAIL {unmet}" in out and f"ok   {rom}" in out and str(bad) in err
    assert out.rstrip().endswith("check: 3 files, 1 ok, 1 failed, 1 not run")
    assert main(["check", str(unmet), rom]) == 1
    assert main(["check", rom]) == 0
    assert "files" not in capsys.readouterr().out.splitlines()[-1]  # one file: its own line is the summary


def test_check_live_refuses_where_there_is_no_kvm(monkeypatch, capsys):
    import kvmtui.live.kvmapi as kvmapi

    monkeypatch.setattr(kvmapi, "kvm_available", lambda: (False, "no permission to open /dev/kvm"))
    assert main(["check", "--live", str(ROOT / "samples" / "rom.yaml")]) == 3
    assert "no permission" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", [["check"], ["check", "--live"], ["compare"]])
def test_bad_input_is_exit_2_before_any_backend(cmd, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("host: [\n")
    assert main([*cmd, str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"kvmtui: {bad}:")
