"""The simulated run: a Scenario's steps on the engine's Machine, each record held to its `expect:`.

Steps become kernel requests through resolve.py and records are judged by judge.py, exactly as the live
run does; what is here is the simulator's side (the machine, its history for stepping back, the userspace
MMIO devices). Every kernel decision comes from kvmtui.engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING

from .engine import (
    DEFAULT_SETTINGS,
    History,
    HostSettings,
    Machine,
    Step,
    get_profile,
)
from .engine.kvm import Kvm
from .engine.profiles import with_address_spaces
from .engine.records import StepRecord
from .engine.values import builder, fast_dataclass
from .resolve import ACCESS_KINDS, HostLayout, Symbols, resolve_step
from .scenario.model import Scenario, StepSpec

if TYPE_CHECKING:
    from .judge import Judged, Sight
    from .scenario.model import Expect


@fast_dataclass(frozen=True, slots=True)
class TraceEntry:
    """One record as the trace and the app show it: the engine's record plus where it came from."""

    index: int  # 1-based over setup and steps
    spec: StepSpec
    record: StepRecord
    unmet: tuple[str, ...] | None  # None: no expect; () none unmet
    unchecked: tuple[str, ...] = ()  # what the backend cannot show (judge.py): never counted as met

    @property
    def phase(self) -> str:
        return self.spec.phase

    @property
    def expect_met(self) -> bool | None:
        """True: every expected field held; False: one did not; None: no expect, or nothing unmet but
        something the backend cannot show (unchecked is not met)."""
        if self.unmet is None:
            return None
        if self.unmet:
            return False
        return None if self.unchecked else True


# TraceEntry(...) as a plain function (values.builder): one per step of a streamed trace
_trace_entry = builder(TraceEntry)


def mmio_answer(scenario: Scenario):
    devices = scenario.mmio
    fill = scenario.mmio_fill

    def answer(gpa: int, n: int) -> bytes:
        out = bytearray()
        for a in range(gpa, gpa + n):
            byte = fill
            for d in devices:
                if d.gpa <= a < d.gpa + d.size:
                    byte = fill if d.read is None else d.read
                    break
            out.append(byte)
        return bytes(out)

    return answer


@cache
def _judge() -> tuple[Callable[[Expect, StepRecord, Sight], Judged], Sight]:
    """judge.judge and the simulator's sight, judge.py imported by the first step that has an `expect:` (a
    real-size trace has none, and every module imported is compiled at a cold start)."""
    from .judge import SIMULATED
    from .judge import judge as judge_record

    return judge_record, SIMULATED


def judge(expect: Expect, rec: StepRecord, sight: Sight | None = None) -> Judged:
    """judge.judge, by default with the simulator's sight."""
    judge_record, simulated = _judge()
    return judge_record(expect, rec, simulated if sight is None else sight)


def entry_of(j: int, spec: StepSpec, rec: StepRecord, kernel: str, path: str, sight: Sight | None = None) -> TraceEntry:
    """Step j's (0-based) entry: its record held to what the step expects under this era and path."""
    expect = spec.expect.for_era(kernel, path) if spec.expect is not None else None
    if expect is None:
        return TraceEntry(j + 1, spec, rec, None)
    judged = judge(expect, rec, sight)
    return TraceEntry(j + 1, spec, rec, judged.unmet, judged.unchecked)


class ScenarioRun:
    """A scenario bound to an era and access path: the machine, the steps, the records on demand."""

    shows_internals = True  # the simulator knows its sptes and host pages; the live kernel does not say

    def __init__(self, scenario: Scenario, kernel: str | None = None, path: str | None = None,
                 settings: HostSettings = DEFAULT_SETTINGS) -> None:
        self.scenario = scenario
        self.kernel = kernel or scenario.kernel
        self.path = path or scenario.path
        self.settings = settings  # the host's (module parameters, swap): a live host's, or the kernel defaults
        self.layout = HostLayout.of(scenario)
        self.mappings = self.layout.mappings
        self.symbols = Symbols(scenario)
        self.specs: list[StepSpec] = list(scenario.all_steps)
        profile = get_profile(self.kernel)
        if scenario.address_spaces and profile.name == "modern":  # 3.x kernels had one address space
            profile = with_address_spaces(profile, scenario.address_spaces)
        self.profile = profile
        self.address_spaces = profile.address_spaces
        self.machine = Machine(profile, self.mappings.values(), self.path, mmio_answer(scenario), settings)  # type: ignore[arg-type]
        self.history = History(self.machine, _LazySteps(self))
        self._entries: list[TraceEntry] = []

    # Steps that depend on the VM's state (omitted set_memory_region fields) are resolved when reached.
    def engine_step(self, i: int, machine: Machine) -> Step:
        return resolve_step(self.specs[i], self.layout, machine.kvm.memslots_of)

    def symbol(self, gpa: int) -> str | None:
        """The nearest ELF symbol as "name+0xoff", or None."""
        return self.symbols.name(gpa)

    def symbol_address(self, name: str) -> int | None:
        return self.symbols.address(name)

    def close(self) -> None:
        """Nothing to release: the simulated VM is plain Python values."""

    def __len__(self) -> int:
        return len(self.specs)

    def entry(self, i: int) -> TraceEntry:
        """The trace entry of step i (0-based), computing records up to it."""
        self.history.compute_to(i + 1)
        while len(self._entries) <= i:
            j = len(self._entries)
            self._entries.append(entry_of(j, self.specs[j], self.history.records[j], self.kernel, self.path))
        return self._entries[i]

    def state_after(self, n: int) -> Kvm:
        """A private copy of the VM state after the first n steps."""
        return self.history.state_after(n).kvm.copy()

    def state_at(self, n: int) -> Kvm:
        """The VM state after the first n steps, borrowed (no copy, for views built at once): read it before
        the run moves again."""
        return self.history.state_after(n).kvm

    def insert_step(self, index: int, spec: StepSpec) -> TraceEntry:
        """Insert a step at index (0-based) and run it; the steps after it will be re-run when reached."""
        self.history.truncate(index)
        del self._entries[index:]
        self.specs.insert(index, spec)
        return self.entry(index)

    def stream(self) -> Iterator[TraceEntry]:
        """Every step's entry in order, each computed once and kept by no one: trace and check read a run
        this way, so memory stays flat however long the scenario. It runs on a machine of its own; the
        run's history (the app's stepping back and forth) is left as it was."""
        # The run's own profile and host settings: a log's address-space count and the live host's module
        # parameters hold for the streamed run exactly as for the stepped one.
        machine = Machine(self.profile, self.mappings.values(), self.path, mmio_answer(self.scenario),  # type: ignore[arg-type]
                          self.settings)
        apply, access, kernel, path = machine.apply, machine.access, self.kernel, self.path
        # engine_step's resolve_step, its arguments read once (the machine's tables are this machine's throughout)
        layout, memslots_of = self.layout, machine.kvm.memslots_of
        kinds, entry = ACCESS_KINDS, _trace_entry
        for j, spec in enumerate(self.specs):
            kind = kinds.get(spec.op)
            if kind is not None:  # a guest access: resolve_step's Access, handed to the machine without the step value
                p = spec.params
                rec = access(kind, p["gpa"], p["size"], p.get("value"), p.get("vcpu", 0))
            else:
                rec = apply(resolve_step(spec, layout, memslots_of))
            unmet: tuple[str, ...] | None = None
            unchecked: tuple[str, ...] = ()
            if spec.expect is not None:
                expect = spec.expect.for_era(kernel, path)
                if expect is not None:
                    judged = judge(expect, rec)
                    unmet, unchecked = judged.unmet, judged.unchecked
            yield entry(j + 1, spec, rec, unmet, unchecked)

    def entries(self) -> list[TraceEntry]:
        if self.specs:
            self.entry(len(self.specs) - 1)
        return list(self._entries)

    def host_label(self, hva: int) -> str:
        return self.layout.label(hva)


class _LazySteps(Sequence[Step]):
    """A sequence view that resolves each spec into an engine step against the machine's current state."""

    def __init__(self, run: ScenarioRun) -> None:
        self.run = run

    def __len__(self) -> int:
        return len(self.run.specs)

    def __getitem__(self, i: int) -> Step:  # type: ignore[override]  # integer indexes only: History reads one step at a time
        return self.run.engine_step(i, self.run.machine)
