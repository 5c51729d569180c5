"""The sptes of a VM: one entry per mapped gfn, absent meaning not present."""

from __future__ import annotations

from collections.abc import Callable

from .records import SpteState
from .values import fast_dataclass

_NONE = SpteState.NONE


@fast_dataclass(frozen=True, slots=True)
class Spte:
    """One gfn's shadow pte: its state (ro, rw, wp, mmio), the host pfn it maps, and an mmio spte's generation."""

    state: SpteState
    pfn: int | None = None
    gen: int = 0  # memslot generation an mmio spte was made in (modern)


class Sptes:
    __slots__ = ("_map", "get", "install")

    def __init__(self) -> None:
        self._bind({})

    def _bind(self, m: dict[int, Spte]) -> None:
        self._map = m
        # get(gfn) -> Spte | None and install(gfn, spte) are the dict's own methods: every access and fault
        # calls them, and a Python method around a dict method doubles their cost.
        self.get: Callable[[int], Spte | None] = m.get
        self.install: Callable[[int, Spte], None] = m.__setitem__

    def state(self, gfn: int) -> SpteState:
        s = self._map.get(gfn)
        return _NONE if s is None else s.state

    def zap(self, gfn: int) -> bool:
        return self._map.pop(gfn, None) is not None

    def zap_all(self) -> int:
        n = len(self._map)
        self._map.clear()
        return n

    def gfns_in(self, base_gfn: int, npages: int) -> list[int]:
        end = base_gfn + npages
        if npages <= len(self._map):
            return [g for g in range(base_gfn, end) if g in self._map]
        return sorted(g for g in self._map if base_gfn <= g < end)

    def zap_range(self, base_gfn: int, npages: int) -> int:
        gfns = self.gfns_in(base_gfn, npages)
        for g in gfns:
            del self._map[g]
        return len(gfns)

    def write_protect(self, gfns: list[int] | range) -> int:
        """rw -> wp: the spte stays, writes fault again (kvm_mmu_slot_remove_write_access)."""
        n = 0
        for g in gfns:
            s = self._map.get(g)
            if s is not None and s.state is SpteState.RW:
                self._map[g] = Spte(SpteState.WP, s.pfn, s.gen)
                n += 1
        return n

    def items(self):
        return self._map.items()

    def __len__(self) -> int:
        return len(self._map)

    def copy(self) -> Sptes:
        other = Sptes.__new__(Sptes)
        other._bind(self._map.copy())
        return other
