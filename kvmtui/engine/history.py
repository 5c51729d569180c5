"""Time travel over a list of steps: records computed on demand, VM state at any step restored cheaply.

Checkpoints are snapshots (shallow copies of containers of immutable values) taken as the run goes
forward. They are spaced by the size of the state a snapshot copies (the memslot tables are immutable and
cost nothing to keep);
the state after step i is the nearest checkpoint at or before i plus a replay of the steps between.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from .kvm import Kvm
from .machine import Machine
from .records import StepRecord
from .steps import Step

MIN_CHECKPOINT_GAP = 32


class History:
    def __init__(self, machine: Machine, steps: Sequence[Step]) -> None:
        self.machine = machine
        self.steps = steps  # may grow (the app's probe appends); read lazily
        self.records: list[StepRecord] = []
        self._cp_index: list[int] = [0]  # checkpoint i holds the state before step _cp_index[i]
        self._cp_state: list[Kvm] = [machine.snapshot()]
        self._at = 0  # the machine's state is the state before step _at (== after _at steps)

    def __len__(self) -> int:
        return len(self.steps)

    def _gap(self) -> int:
        # What a snapshot copies: sptes and host pages. The memslot tables are immutable values a snapshot keeps
        # as they are (only dirty bitmaps are copied), so 32,764 slots do not space the checkpoints out.
        k = self.machine.kvm
        return max(MIN_CHECKPOINT_GAP, (len(k.sptes) + len(k.host.pages)) // 16)

    def compute_to(self, n: int) -> None:
        """Make sure records[0:n] exist."""
        n = min(n, len(self.steps))
        if len(self.records) >= n:
            return
        self._goto(len(self.records))
        while len(self.records) < n:
            self._forward()

    def _forward(self) -> None:
        i = self._at
        rec = self.machine.apply(self.steps[i])
        if i == len(self.records):
            self.records.append(rec)
        self._at += 1
        if self._at > self._cp_index[-1] and self._at - self._cp_index[-1] >= self._gap():
            self._cp_index.append(self._at)
            self._cp_state.append(self.machine.snapshot())

    def _goto(self, n: int) -> None:
        i = bisect_right(self._cp_index, n) - 1
        if n < self._at or self._cp_index[i] > self._at:
            self.machine.restore(self._cp_state[i])
            self._at = self._cp_index[i]
        while self._at < n:
            self._forward()

    def state_after(self, n: int) -> Machine:
        """The machine as it is after the first n steps (0 = after setup nothing ran)."""
        self.compute_to(n)
        self._goto(n)
        return self.machine

    def truncate(self, n: int) -> None:
        """Forget records and checkpoints past the first n steps (the steps after n are about to change)."""
        del self.records[n:]
        while len(self._cp_index) > 1 and self._cp_index[-1] > n:
            self._cp_index.pop()
            self._cp_state.pop()
        if self._at > n:
            self.machine.restore(self._cp_state[-1])
            self._at = self._cp_index[-1]
