"""What every driver (app, trace, check, compare, timeline) reads a run through, whichever backend made it.

The simulated run (runner.ScenarioRun) and the live run (live.backend.LiveRun) both implement `Run`; neither
imitates the other. Both turn steps into kernel requests with resolve.resolve_step and hold records to their
`expect:` with judge.judge. A backend that cannot show something says so through `shows_internals`, and an
expectation it cannot check is unchecked (TraceEntry.unchecked), never met.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from .engine.host import Mapping as HostMapping
    from .engine.kvm import Kvm
    from .engine.settings import HostSettings
    from .runner import ScenarioRun, TraceEntry
    from .scenario.model import Scenario, StepSpec


@runtime_checkable
class Run(Protocol):
    """A scenario bound to a backend: its steps, their records on demand, and the names to show them with."""

    @property
    def scenario(self) -> Scenario: ...
    @property
    def kernel(self) -> str: ...  # the era simulated, or "live"
    @property
    def path(self) -> str: ...  # "native" or "emulated"
    @property
    def specs(self) -> list[StepSpec]: ...
    @property
    def shows_internals(self) -> bool: ...  # sptes, host pages, kernel call chains
    @property
    def settings(self) -> HostSettings: ...  # the host modelled (module parameters, swap)
    @property
    def mappings(self) -> Mapping[str, HostMapping]: ...

    def __len__(self) -> int: ...
    def entry(self, i: int) -> TraceEntry: ...
    def entries(self) -> list[TraceEntry]: ...
    def stream(self) -> Iterator[TraceEntry]: ...  # every entry in order, kept only where the backend must
    def state_after(self, n: int) -> Kvm: ...  # a private copy
    def state_at(self, n: int) -> Kvm: ...  # borrowed, no copy: read it before the run moves again
    def insert_step(self, index: int, spec: StepSpec) -> TraceEntry: ...
    def symbol(self, gpa: int) -> str | None: ...
    def symbol_address(self, name: str) -> int | None: ...
    def host_label(self, hva: int) -> str: ...
    def close(self) -> None: ...


if TYPE_CHECKING:  # mypy holds the simulated run to the protocol here (the live one: live/backend.py)

    def _simulated_is_a_run(run: ScenarioRun) -> Run:
        return run
