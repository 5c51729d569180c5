"""The live run as a Run: its slot table follows the steps as the kernel accepted them, it resolves steps
without a simulator inside, goto a symbol works in the app, and what the kernel does not show is unchecked.

Skipped, with the reason, where /dev/kvm cannot be used."""

import json
from pathlib import Path

import jsonschema
import pytest

from kvmtui.cli import main
from kvmtui.live.backend import LiveRun
from kvmtui.live.kvmapi import kvm_available
from kvmtui.live.params import host_settings
from kvmtui.run import Run
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.loader import parse_scenario

AVAILABLE, WHY = kvm_available()
pytestmark = pytest.mark.skipif(not AVAILABLE, reason=f"live KVM unavailable: {WHY}")
ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((Path(__file__).parent / "data" / "trace.schema.json").read_text())

# Slots made, moved, changed, refused, deleted and made again; several steps leave fields out, which are
# then the slot's current ones: live, from the table of what the kernel accepted.
SLOTS = """host:
  ram: {size: 1M}
  ram2: {size: 256K}
slots:
  - {slot: 0, gpa: 0x100000, host: ram}
  - {slot: 1, gpa: 0x400000, host: ram2}
steps:
  - read: 0x100000
  - set_memory_region: {slot: 0, gpa: 0x800000}
  - read: 0x800000
  - set_memory_region: {slot: 0, flags: [KVM_MEM_LOG_DIRTY_PAGES]}
  - set_memory_region: {slot: 1, gpa: 0x880000}
  - set_memory_region: {slot: 2, gpa: 0x840000, host: ram2}
  - set_memory_region: {slot: 1, host: ram+0x1000}
  - delete_slot: 0
  - read: 0x800000
  - set_memory_region: {slot: 0, gpa: 0x200000, size: 64K, host: ram}
  - set_memory_region: {slot: 5, gpa: 0x1000000, host: ram2}
  - delete_slot: 1
  - write: 0x200010
    value: 0x42
  - delete_slot: 5
"""


def _table(kvm):
    return sorted((s.id, s.base_gfn, s.npages, s.userspace_addr, s.flags) for s in kvm.memslots)


def test_the_live_slot_table_follows_the_steps_as_the_simulators_does():
    sc = parse_scenario(SLOTS, "<slots>")
    sim = ScenarioRun(sc, "modern", settings=host_settings())
    with LiveRun(sc) as live:
        assert isinstance(live, Run)
        outcomes = [e.record.outcome for e in live.entries()]
        assert outcomes == [e.record.outcome for e in sim.entries()]
        assert "EEXIST" in outcomes and "EINVAL" in outcomes  # refused changes leave the table as it was
        generations = []
        for n in range(len(live) + 1):
            table = live.state_after(n)
            assert _table(table) == _table(sim.state_after(n)), f"after {n} steps"
            generations.append(table.memslots.generation)
        for n in range(1, len(live) + 1):
            rec = live.entry(n - 1).record
            changed = rec.op == "set_memory_region" and rec.outcome == "ok"
            assert (generations[n] > generations[n - 1]) == changed, f"step {n}"
        # Views of the past are built again from the steps, in any order (the app steps back and forth).
        assert _table(live.state_after(3)) == _table(sim.state_after(3)) and _table(live.state_after(0)) == []
        assert [s.id for s in live.state_after(len(live)).memslots] == [0]


def test_the_live_run_resolves_steps_without_a_simulated_run(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a live run built a ScenarioRun")

    monkeypatch.setattr(ScenarioRun, "__init__", refuse)
    sc = parse_scenario(SLOTS, "<slots>")
    with LiveRun(sc) as live:
        assert live.entry(len(live) - 1).record.outcome == "ok"
        assert live.host_label(live.mappings["ram2"].hva + 0x10) == "ram2+0x10"


UNSEEN = """host:
  ram: {size: 1M, data: '90 90'}
slots:
  - {slot: 0, gpa: 0, host: ram}
steps:
  - read: 0x1000
    expect: {outcome: ok, spte: ro}
  - fetch: 0
    size: 2
    expect: {value: 0x9090}
  - read: 0
    size: 2
    expect: {value: 0x9090}
"""


def test_check_live_lists_what_the_kernel_does_not_show_as_unchecked(tmp_path, capsys):
    f = tmp_path / "unseen.yaml"
    f.write_text(UNSEEN)
    assert main(["check", str(f)]) == 0
    assert "3 expectations met" in capsys.readouterr().out  # the simulator shows sptes and fetched bytes
    assert main(["check", "--live", str(f)]) == 0  # nothing unmet
    out = capsys.readouterr().out
    assert f"ok   {f} (kernel live, native): 1 expectations met, 2 with unchecked parts, 4 steps" in out
    assert f"{f}:7:13: step 2 (read): unchecked: spte: expected ro; the kernel does not show its sptes" in out
    assert "step 3 (fetch): unchecked: value: expected 0x9090; the bytes a fetch read are not visible live" in out
    f.write_text(UNSEEN.replace("spte: ro", "spte: ro, outcome: mmio").replace("{outcome: ok, ", "{"))
    assert main(["check", "--live", str(f)]) == 1  # unmet beside unchecked: the step fails
    assert "1 of 3 expectations unmet, 2 with unchecked parts" in capsys.readouterr().out


def test_trace_live_json_says_unchecked_and_gives_no_verdict(tmp_path, capsys):
    f = tmp_path / "unseen.yaml"
    f.write_text(UNSEEN)
    assert main(["trace", "--live", "--json", str(f)]) == 0
    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    for r in recs:
        jsonschema.validate(r, SCHEMA)
    assert [r["expect_met"] for r in recs] == [None, None, None, True]
    assert recs[1]["unchecked"] == ["spte: expected ro; the kernel does not show its sptes"]
    assert "unchecked" not in recs[3] and "unchecked" not in recs[0]


def test_compare_goes_on_past_a_file_the_kernel_would_not_run(monkeypatch, capsys):
    from kvmtui.live import vm

    real = vm.LiveVm._setup
    calls = []

    def first_fails(self):
        calls.append(1)
        if len(calls) == 1:
            raise vm.LiveError("the harness memslot was refused")
        real(self)

    monkeypatch.setattr(vm.LiveVm, "_setup", first_fails)
    rom = str(ROOT / "samples" / "rom.yaml")
    assert main(["compare", rom, rom]) == 3
    out, err = capsys.readouterr()
    assert f"kvmtui: {rom}: live run failed: the harness memslot was refused" in err
    assert "0 of 11 steps differ" in out
    assert out.rstrip().endswith("compare: 2 files, 1 ok, 0 failed, 1 not run")


def test_compare_shows_the_expectations_on_the_kernel(tmp_path, capsys):
    f = tmp_path / "unseen.yaml"
    f.write_text(UNSEEN)
    assert main(["compare", str(f)]) == 0
    out = capsys.readouterr().out
    assert "expectations on /dev/kvm: 1 met, 0 unmet, 2 with unchecked parts" in out
    assert "step 2 (read): ? unchecked: spte: expected ro" in out


@pytest.mark.asyncio
async def test_goto_a_symbol_in_the_live_app():
    """`g reset_vector` in live mode: the live run names symbols as the simulated one does (issue 12)."""
    from kvmtui.tui.app import KvmApp
    from kvmtui.tui.screens.dialogs import Prompt
    from kvmtui.tui.widgets.memslots import MemslotTable

    app = KvmApp(str(ROOT / "samples" / "firmware" / "firmware.elf"), live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        if isinstance(app.screen, Prompt):  # the probe, offered on an ELF
            await pilot.press("escape")
        await pilot.press("end", "g")
        for ch in "banner":
            await pilot.press(ch)
        await pilot.press("enter")
        assert not isinstance(app.screen, Prompt), "goto refused the symbol"
        assert app.query_one(MemslotTable).selected == 2
        assert app.run_.symbol_address("reset_vector") == 0xFFFFFFF0


def test_check_live_leaves_a_step_it_cannot_perform_unchecked(tmp_path, capsys):
    f = tmp_path / "poison.yaml"
    f.write_text("host:\n  ram: {size: 64K}\nslots:\n  - {slot: 0, gpa: 0, host: ram}\nsteps:\n  - poison: {host: ram}\n    expect: ok\n")
    assert main(["check", "--live", str(f)]) == 0
    out = capsys.readouterr().out
    assert "0 expectations met, 1 with unchecked parts" in out and "unchecked: outcome: not performed here: poison" in out


@pytest.mark.asyncio
async def test_the_live_app_shows_unchecked_expectations_as_such(tmp_path):
    from kvmtui.tui.app import KvmApp
    from kvmtui.tui.widgets.panels import StatusLine
    from kvmtui.tui.widgets.resolution import Resolution

    f = tmp_path / "unseen.yaml"
    f.write_text(UNSEEN)
    app = KvmApp(str(f), live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("home", "n")  # step 2: the read that expects an spte
        await pilot.pause()
        assert app.index == 1
        status = str(app.query_one(StatusLine).render())
        assert "expect ?" in status and "expect ✓" not in status
        body = app.query_one(Resolution).text
        assert "? unchecked (not visible live): spte: expected ro" in body and "expectation met" not in body
        await pilot.press("n", "n")  # step 4: a read, its value checked
        await pilot.pause()
        assert "expect ✓" in str(app.query_one(StatusLine).render())


@pytest.mark.asyncio
async def test_the_live_apps_memslot_table_follows_the_steps(tmp_path):
    """Step by step, forth and back, the app's memslot table is the table the kernel accepted (it was
    drawn once and never again when the live generation stayed 0)."""
    from kvmtui.tui.app import KvmApp
    from kvmtui.tui.widgets.memslots import MemslotTable

    f = tmp_path / "slots.yaml"
    f.write_text(SLOTS)
    sim = ScenarioRun(parse_scenario(SLOTS, "<slots>"), "modern", settings=host_settings())
    app = KvmApp(str(f), live=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("home")
        order = [*range(len(sim)), *range(len(sim) - 2, -1, -3)]  # forth, then back in strides
        for i in order:
            while app.index != i:
                await pilot.press("n" if app.index < i else "b")
            await pilot.pause()
            table = app.query_one(MemslotTable)
            want = sorted(sim.state_after(i + 1).memslots, key=lambda s: s.base_gfn)
            rows = [table.render_line(y).text.lstrip("▶* ").split() for y in range(1, len(want) + 3)]
            shown = [(int(r[0]), int(r[1], 16)) for r in rows if len(r) > 2 and r[0].isdigit() and r[1].startswith("0x")]
            assert shown == [(s.id, s.base_gfn << 12) for s in want], f"after step {i + 1}"


def test_compare_json_carries_the_live_verdicts(tmp_path, capsys):
    f = tmp_path / "unseen.yaml"
    f.write_text(UNSEEN)
    assert main(["compare", "--json", str(f)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["live"]["expect_met"] for x in lines] == [None, None, None, True]
    assert [x["simulator"]["expect_met"] for x in lines] == [None, True, True, True]
    assert "unchecked" in lines[1]["live"] and "unchecked" not in lines[1]["simulator"]
