"""Random scenarios of slot operations, host changes and accesses, for the simulator-versus-kernel suite.

Four flavours, aimed where misses hid (issue 13): `mixed` (every step kind, fetches of 1-15 bytes into slots
under every host protection and across page and slot ends, evicts), `dirty` (dirty-log cycles with zaps of
the sptes in between: the guest PTE's Dirty bit), `many_slots` (16-64 small slots, accesses at their edges)
and `edges` (slots around 4 GiB, 64 GiB and the top of the guest's linear space; ioctls at 2^52 and 2^64).
"""

from __future__ import annotations

from hypothesis import strategies as st

from kvmtui.scenario.model import HostRef, HostSpec, Pos, Scenario, StepSpec

P = Pos(0, 0)
HOST = (
    HostSpec("ram", 0x40000, "rw", "anon", 0, b"", None, P),
    HostSpec("rom", 0x10000, "r", "file", 0xEE, bytes(range(64)), None, P),
    HostSpec("dev", 0x10000, "rw", "anon", 0x5A, b"", None, P),
    HostSpec("disk", 0x10000, "rw", "file", 0x11, b"", None, P),
    HostSpec("bios", 0x4000, "r", "anon", 0xEB, b"", None, P),
    HostSpec("hole", 0x4000, "none", "anon", 0, b"", None, P),
)
GPAS = (0x0, 0x10000, 0x20000, 0x30000, 0x3F000, 0x50000)
PLACES = (HostRef("ram", 0), HostRef("ram", 0x10000), HostRef("rom", 0), HostRef("dev", 0), HostRef("ram", 0x30000),
          HostRef("disk", 0), HostRef("bios", 0), HostRef("hole", 0))
SIZES = (0x1000, 0x4000, 0x10000, 0x20000)
FLAGS = (0, 1, 2, 3)
HOST_TARGETS = (HostRef("ram", 0), HostRef("ram", 0x10000), HostRef("dev", 0), HostRef("disk", 0), HostRef("bios", 0),
                HostRef("rom", 0), HostRef("hole", 0))
PAGE_OFFSETS = (0, 0x10, 0xFF1, 0xFF8, 0xFFC, 0xFFE, 0xFFF)


def _step(op: str, **params) -> StepSpec:
    return StepSpec(op, params, None, None, P)


def _access_at(draw, gpa: int, kinds=("read", "read", "write", "write", "fetch")) -> StepSpec:
    kind = draw(st.sampled_from(kinds))
    if kind == "fetch":
        return _step("fetch", gpa=gpa, size=draw(st.sampled_from((1, 2, 4, 8, 15, draw(st.integers(1, 15))))), vcpu=0)
    size = draw(st.sampled_from((1, 2, 4, 8)))
    if kind == "write":
        return _step("write", gpa=gpa, size=size, value=draw(st.integers(0, (1 << (8 * size)) - 1)), vcpu=0)
    return _step("read", gpa=gpa, size=size, vcpu=0)


@st.composite
def access(draw, bases=(0x0, 0x1000, 0x10000, 0x20000, 0x30000, 0x3F000, 0x50000, 0x60000, 0x70000)):
    base = draw(st.sampled_from(bases))
    off = draw(st.sampled_from((0, 0x2000, 0x3000, *PAGE_OFFSETS)))
    return _access_at(draw, base + off)


@st.composite
def slot_op(draw, ids=(0, 1, 2, 3)):
    slot = draw(st.sampled_from(ids))
    what = draw(st.sampled_from(["set", "set", "set", "delete", "move", "flags", "dirty"]))
    if what == "delete":
        return _step("delete_slot", slot=slot)
    if what == "dirty":
        return _step("get_dirty_log", slot=slot)
    if what == "move":
        return _step("set_memory_region", slot=slot, gpa=draw(st.sampled_from(GPAS)))
    if what == "flags":
        return _step("set_memory_region", slot=slot, flags=draw(st.sampled_from(FLAGS)))
    return _step("set_memory_region", slot=slot, gpa=draw(st.sampled_from(GPAS)), host=draw(st.sampled_from(PLACES)),
                 size=draw(st.sampled_from(SIZES)), flags=draw(st.sampled_from(FLAGS)))


@st.composite
def host_op(draw):
    op = draw(st.sampled_from(["mprotect", "mprotect", "host_write", "madvise_dontneed", "evict", "evict"]))
    ref = draw(st.sampled_from(HOST_TARGETS))
    if op == "mprotect":
        return _step(op, host=ref, size=draw(st.sampled_from((0x1000, 0x4000))), prot=draw(st.sampled_from(("r", "rw", "none", "rw"))))
    if op == "host_write":
        return _step(op, host=HostRef(ref.name, ref.offset + draw(st.sampled_from((0, 0x10, 0xFFE)))),
                     data=draw(st.binary(min_size=1, max_size=4)))
    return _step(op, host=ref, size=draw(st.sampled_from((0x1000, 0x2000, 0x4000))))


def _scenario(steps, path: str) -> Scenario:
    return Scenario("<generated>", "generated", "", "modern", path, 0xFF, HOST, (), (), tuple(steps))


@st.composite
def mixed(draw):
    return draw(st.lists(st.one_of(slot_op(), slot_op(), access(), access(), access(), host_op()), min_size=3, max_size=24))


@st.composite
def dirty_cycles(draw):
    """Logged slots; writes, GET, something that zaps sptes (or not), reads and fetches, GET again."""
    place = draw(st.sampled_from((HostRef("ram", 0), HostRef("disk", 0), HostRef("dev", 0))))
    steps = [_step("set_memory_region", slot=0, gpa=0, host=place, size=0x4000, flags=1),
             _step("set_memory_region", slot=1, gpa=0x100000, host=HostRef("ram", 0x20000), size=0x4000, flags=draw(st.sampled_from((0, 1))))]
    pages = st.sampled_from((0x0, 0x1000, 0x2000, 0x3000, 0x100000, 0x101000))
    zaps = [
        _step("delete_slot", slot=1),
        _step("set_memory_region", slot=1, gpa=0x100000, host=HostRef("ram", 0x20000), size=0x4000, flags=0),
        _step("set_memory_region", slot=2, gpa=0x200000, host=HostRef("ram", 0x30000), size=0x1000),
        _step("mprotect", host=place, size=0x4000, prot="r"),
        _step("mprotect", host=place, size=0x4000, prot="rw"),
        _step("madvise_dontneed", host=place, size=0x1000),
        _step("evict", host=place, size=0x4000),
        _step("set_memory_region", slot=0, flags=0),
        _step("set_memory_region", slot=0, flags=1),
        _step("set_memory_region", slot=0, gpa=0x40000),
        _step("set_memory_region", slot=0, gpa=0),
    ]
    for _ in range(draw(st.integers(1, 3))):
        for _ in range(draw(st.integers(1, 4))):
            steps.append(_access_at(draw, draw(pages) + draw(st.sampled_from((0, 0x10, 0xFFC))), ("write", "write", "read", "fetch")))
        steps.append(_step("get_dirty_log", slot=draw(st.sampled_from((0, 0, 1)))))
        for _ in range(draw(st.integers(0, 2))):
            steps.append(draw(st.sampled_from(zaps)))
        if draw(st.booleans()):
            steps.append(_step("host_write", host=HostRef(place.name, draw(st.sampled_from((0, 0x1000, 0x2000)))), data=b"\x42"))
        for _ in range(draw(st.integers(1, 4))):
            steps.append(_access_at(draw, draw(pages), ("read", "read", "fetch", "write")))
        steps.append(_step("get_dirty_log", slot=0))
    return steps


@st.composite
def many_slots(draw):
    """16-64 small slots packed side by side (some gaps), accesses and fetches at their edges."""
    n = draw(st.integers(16, 64))
    steps, edges = [], []
    gpa = 0
    for i in range(n):
        npages = draw(st.sampled_from((1, 1, 2)))
        gpa += draw(st.sampled_from((0, 0, 0, 0x1000)))
        host = draw(st.sampled_from((HostRef("ram", (i % 60) * 0x1000), HostRef("bios", 0), HostRef("disk", (i % 12) * 0x1000), HostRef("hole", 0))))
        steps.append(_step("set_memory_region", slot=i, gpa=gpa, host=host, size=npages << 12, flags=draw(st.sampled_from((0, 0, 1, 2)))))
        edges += [gpa, gpa + (npages << 12) - 1]
        gpa += npages << 12
    for _ in range(draw(st.integers(4, 16))):
        if draw(st.integers(0, 9)) == 0:
            steps.append(draw(st.sampled_from([_step("delete_slot", slot=draw(st.integers(0, n - 1))),
                                               _step("get_dirty_log", slot=draw(st.integers(0, n - 1))), draw(host_op())])))
            continue
        at = draw(st.sampled_from(edges)) + draw(st.sampled_from((-2, -1, 0, 1)))
        steps.append(_access_at(draw, max(at, 0)))
    return steps


EDGE_SLOTS = (0xFFFFE000, 0x100000000, 0xFFFFFF000, 0x1000000000, 0x7FFFFFFF0000, 0x7FFFFFFFC000, 0x800000000000,
              0xFFFFFFFFC000, 0x1000000000000, 0xFFFFFFFFF8000)


@st.composite
def edges(draw):
    """Slots around 4 GiB, 64 GiB, 2^47, 2^48 and just under 2^52, accesses across their ends; ioctls that the
    kernel refuses at 2^52 and on a wrap past 2^64."""
    steps = []
    for i, gpa in enumerate(draw(st.lists(st.sampled_from(EDGE_SLOTS), min_size=2, max_size=5, unique=True))):
        steps.append(_step("set_memory_region", slot=i, gpa=gpa, host=draw(st.sampled_from(PLACES)), size=draw(st.sampled_from((0x1000, 0x2000, 0x4000))),
                           flags=draw(st.sampled_from(FLAGS))))
    steps.append(draw(st.sampled_from([
        _step("set_memory_region", slot=9, gpa=(1 << 52) - 0x1000, host=HostRef("ram", 0), size=0x1000),
        _step("set_memory_region", slot=9, gpa=1 << 52, host=HostRef("ram", 0), size=0x1000),
        _step("set_memory_region", slot=9, gpa=(1 << 64) - 0x1000, host=HostRef("ram", 0), size=0x2000),
        _step("check_extension", cap=draw(st.sampled_from((15, 30, 36, 59, 143, 81, 10, 9999)))),
    ])))
    for _ in range(draw(st.integers(3, 16))):
        base = draw(st.sampled_from((*EDGE_SLOTS, 0xFFFFF000, 0x1000000000 - 0x1000)))
        steps.append(_access_at(draw, base + draw(st.sampled_from((0, 0x1000, 0x2000, 0x3000))) + draw(st.sampled_from(PAGE_OFFSETS))))
        if draw(st.integers(0, 5)) == 0:
            steps.append(draw(st.one_of(host_op(), slot_op(ids=(0, 1, 2)))))
    return steps


FLAVOURS = {"mixed": mixed, "dirty": dirty_cycles, "many_slots": many_slots, "edges": edges}


@st.composite
def scenarios(draw, flavours=tuple(FLAVOURS)):
    flavour = draw(st.sampled_from(flavours))
    path = draw(st.sampled_from(["native", "emulated"]))
    return _scenario(draw(FLAVOURS[flavour]()), path)
