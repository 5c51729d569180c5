"""One vocabulary, typed records: ops are Op members, every kernel call says what kind of return it made."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmtui.engine import ERAS, KERNEL_ERAS, Op, Outcome
from kvmtui.engine.profiles import names_in_any_era
from kvmtui.engine.records import StepRecord
from kvmtui.engine.vocabulary import ACCESS_OPS, ACCESS_OUTCOMES, HOST_OPS, CallResult, is_errno_outcome
from kvmtui.runner import ScenarioRun
from kvmtui.scenario.loader import STEP_OPS, load_scenario

SAMPLES = sorted(Path(__file__).parent.parent.joinpath("samples").glob("*.yaml"))
EXITS = ("KVM_EXIT_MMIO", "KVM_EXIT_INTERNAL_ERROR", "KVM_EXIT_DIRTY_RING_FULL")


def test_every_step_op_of_the_loader_is_an_op():
    # delete_slot is a set_memory_region of size 0: its records say so
    assert {s for s in STEP_OPS if s != "delete_slot"} <= set(Op)
    assert set(HOST_OPS) <= set(Op)
    assert KERNEL_ERAS == ERAS
    assert {o.value for o in ACCESS_OUTCOMES} >= {"ok", "mmio", "efault", "hwpoison", "internal_error"}


def test_errno_outcomes_are_told_apart():
    assert is_errno_outcome("EINVAL") and is_errno_outcome("ENOTTY")
    assert not any(is_errno_outcome(o) for o in Outcome)


def test_names_in_any_era_include_the_old_spellings():
    assert {"bad_pfn", "KVM_PFN_ERR_BAD"} <= names_in_any_era("pfn_noslot")
    assert "bad_hva()" in names_in_any_era("hva_bad")


def _records(path: Path, era: str, access_path: str) -> list[StepRecord]:
    run = ScenarioRun(load_scenario(path), kernel=era, path=access_path)
    return [e.record for e in run.stream()]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_records_are_typed(sample: Path):
    seen: set[CallResult] = set()
    for era in ERAS:
        for access_path in ("native", "emulated"):
            for r in _records(sample, era, access_path):
                assert isinstance(r.op, Op)
                assert r.is_access == (r.op in ACCESS_OPS)
                assert isinstance(r.outcome, Outcome) or is_errno_outcome(r.outcome), r.outcome
                for c in r.chain:
                    seen.add(c.result)
                    # the typed kind agrees with what people read
                    if c.ret.startswith("-E"):
                        assert c.result is CallResult.ERROR and c.ret == f"-{c.code}", c
                    if c.ret in EXITS:
                        assert c.result is CallResult.EXIT and c.code == c.ret, c
                    if c.result is CallResult.OK:
                        assert c.code == "", c
                    else:
                        assert c.code and c.code in c.ret, c
                    if c.result is CallResult.ERROR:
                        assert c.ret in (c.code, f"-{c.code}"), c
    assert CallResult.OK in seen


def test_a_read_only_write_marks_errors_routes_and_the_exit():
    for era in ("3.7", "modern"):
        rec = next(r for r in _records(Path("samples/flash.yaml"), era, "native") if r.key_moment)
        kinds = [c.result for c in rec.chain]
        assert CallResult.ERROR in kinds and CallResult.ROUTE in kinds and kinds[-1] is CallResult.EXIT
        route = next(c for c in rec.chain if c.result is CallResult.ROUTE)
        assert route.key and route.code == ("RET_PF_EMULATE" if era == "modern" else "1 = emulate")
        errors = {c.code for c in rec.chain if c.result is CallResult.ERROR}
        assert {"KVM_HVA_ERR_RO_BAD", "KVM_PFN_ERR_RO_FAULT", "EFAULT"} <= errors
