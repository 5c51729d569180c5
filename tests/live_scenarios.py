"""Random scenarios of slot operations, host changes and accesses, for the simulator-versus-kernel suite."""

from __future__ import annotations

from hypothesis import strategies as st

from kvmtui.scenario.model import HostRef, HostSpec, Pos, Scenario, StepSpec

P = Pos(0, 0)
HOST = (
    HostSpec("ram", 0x40000, "rw", "anon", 0, b"", None, P),
    HostSpec("rom", 0x10000, "r", "file", 0xEE, bytes(range(64)), None, P),
    HostSpec("dev", 0x10000, "rw", "anon", 0x5A, b"", None, P),
)
GPAS = (0x0, 0x10000, 0x20000, 0x30000, 0x3F000, 0x50000)
PLACES = (HostRef("ram", 0), HostRef("ram", 0x10000), HostRef("rom", 0), HostRef("dev", 0), HostRef("ram", 0x30000))
SIZES = (0x1000, 0x10000, 0x20000)
FLAGS = (0, 1, 2, 3)


@st.composite
def access(draw):
    kind = draw(st.sampled_from(["read", "read", "write", "write", "fetch"]))
    if kind == "fetch":
        # A fetch that succeeds runs whatever bytes are there, with effects of their own; the suite fetches
        # only where no slot ever reaches (an emulation failure). tests/test_live.py covers the rest.
        return StepSpec("fetch", {"gpa": draw(st.sampled_from((0x70000, 0x7F000, 0x7FFFF))), "size": 1, "vcpu": 0}, None, None, P)
    base = draw(st.sampled_from((0x0, 0x1000, 0x10000, 0x20000, 0x30000, 0x50000, 0x60000)))
    off = draw(st.sampled_from((0, 0x10, 0xFF8, 0xFFC, 0xFFE, 0xFFF, 0x2000)))
    size = draw(st.sampled_from((1, 2, 4, 8))) if kind != "fetch" else 1
    params = {"gpa": base + off, "size": size, "vcpu": 0}
    if kind == "write":
        params["value"] = draw(st.integers(0, (1 << (8 * size)) - 1))
    return StepSpec(kind, params, None, None, P)


@st.composite
def slot_op(draw):
    slot = draw(st.integers(0, 3))
    what = draw(st.sampled_from(["set", "set", "set", "delete", "move", "flags", "dirty"]))
    if what == "delete":
        return StepSpec("delete_slot", {"slot": slot}, None, None, P)
    if what == "dirty":
        return StepSpec("get_dirty_log", {"slot": slot}, None, None, P)
    if what == "move":
        return StepSpec("set_memory_region", {"slot": slot, "gpa": draw(st.sampled_from(GPAS))}, None, None, P)
    if what == "flags":
        return StepSpec("set_memory_region", {"slot": slot, "flags": draw(st.sampled_from(FLAGS))}, None, None, P)
    return StepSpec("set_memory_region", {"slot": slot, "gpa": draw(st.sampled_from(GPAS)), "host": draw(st.sampled_from(PLACES)),
                                          "size": draw(st.sampled_from(SIZES)), "flags": draw(st.sampled_from(FLAGS))}, None, None, P)


@st.composite
def host_op(draw):
    op = draw(st.sampled_from(["mprotect", "mprotect", "host_write", "madvise_dontneed"]))
    ref = draw(st.sampled_from((HostRef("ram", 0), HostRef("ram", 0x10000), HostRef("dev", 0))))
    if op == "mprotect":
        return StepSpec(op, {"host": ref, "size": 0x10000, "prot": draw(st.sampled_from(("r", "rw", "none", "rw")))}, None, None, P)
    if op == "host_write":
        return StepSpec(op, {"host": HostRef(ref.name, ref.offset + draw(st.sampled_from((0, 0x10, 0xFFE)))),
                             "data": draw(st.binary(min_size=1, max_size=4))}, None, None, P)
    return StepSpec(op, {"host": ref, "size": 0x1000}, None, None, P)


@st.composite
def scenarios(draw):
    steps = draw(st.lists(st.one_of(slot_op(), slot_op(), access(), access(), access(), host_op()), min_size=3, max_size=24))
    path = draw(st.sampled_from(["native", "emulated"]))
    return Scenario("<generated>", "generated", "", "modern", path, 0xFF, HOST, (), (), tuple(steps))
