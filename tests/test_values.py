"""fast_init builds frozen values without the dataclass __init__: they must behave as frozen dataclasses."""

import copy
import dataclasses
import pickle

import pytest

from kvmtui.engine.calls import KernelCall
from kvmtui.engine.records import SpteChange, SpteState, StepRecord
from kvmtui.engine.values import builder, fast_init
from kvmtui.engine.vocabulary import CallResult, Op, Outcome


def test_a_built_value_has_its_class_fields_and_defaults():
    c = KernelCall("kvm_mmu_page_fault", "gpa=0x1000", note="why")
    assert type(c) is KernelCall and isinstance(c, KernelCall)
    assert (c.fn, c.args, c.ret, c.note, c.bad, c.key, c.result, c.code) == ("kvm_mmu_page_fault", "gpa=0x1000", "", "why", False, False, CallResult.OK, "")
    assert KernelCall(fn="f", code="EINVAL") == KernelCall("f", "", "", "", False, False, CallResult.OK, "EINVAL")
    assert hash(KernelCall("f", "a")) == hash(KernelCall("f", "a")) and KernelCall("f", "a") != KernelCall("f", "b")
    assert repr(SpteChange(3, SpteState.NONE, SpteState.RW)) == "SpteChange(gfn=3, before=<SpteState.NONE: 'none'>, after=<SpteState.RW: 'rw'>)"


def test_a_built_value_stays_frozen():
    c = KernelCall("f")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.fn = "g"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del c.args  # type: ignore[misc]
    assert c.fn == "f" and c.args == ""


def test_constructor_arguments_are_checked():
    with pytest.raises(TypeError):
        KernelCall()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        KernelCall("f", nope=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        SpteChange(1, SpteState.RW, SpteState.RW, 4)  # type: ignore[call-arg]


def test_replace_copy_and_pickle_keep_the_value():
    r = StepRecord(Op.READ, {"gpa": 0x1000, "size": 4}, Outcome.OK, (KernelCall("f", "a"),), value=7, slot=0)
    assert dataclasses.replace(r, value=8).value == 8 and dataclasses.replace(r, value=8).chain == r.chain
    for twin in (copy.copy(r), copy.deepcopy(r), pickle.loads(pickle.dumps(r))):
        assert type(twin) is StepRecord and twin == r
        with pytest.raises(dataclasses.FrozenInstanceError):
            twin.value = 1  # type: ignore[misc]


def test_fast_init_refuses_what_it_cannot_build():
    with pytest.raises(TypeError):
        type("Sub", (KernelCall,), {})  # the builder has this class's layout only

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    with pytest.raises(AssertionError):
        fast_init(NoSlots)


def test_the_builder_makes_the_same_value_as_the_class():
    make = builder(KernelCall)
    c = make("f", "a", note="n")
    assert type(c) is KernelCall and c == KernelCall("f", "a", note="n") and c.result is CallResult.OK
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.note = ""  # type: ignore[misc]
    with pytest.raises(TypeError):
        make()
    r = builder(StepRecord)(Op.WRITE, {"gpa": 0}, Outcome.OK)
    assert r == StepRecord(Op.WRITE, {"gpa": 0}, Outcome.OK) and r.message == "" and r.chain == ()
