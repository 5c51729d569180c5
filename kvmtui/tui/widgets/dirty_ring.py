"""Today's dirty logging beside the bitmaps: the manual-protect state and one dirty ring per vCPU."""

from __future__ import annotations

from rich.text import Text

from ...engine.uapi import KVM_DIRTY_LOG_INITIALLY_SET, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
from ..view import StepView
from .viewpanel import ViewPanel

RING_SHOWN = 24  # entries listed per ring; the count says how many more


def manual_protect_text(value: int) -> str:
    if not value & KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE:
        return "manual protect: off (KVM_GET_DIRTY_LOG gets and clears)"
    init = " + INITIALLY_SET (new bitmaps start all set)" if value & KVM_DIRTY_LOG_INITIALLY_SET else ""
    return f"manual protect: on{init} · GET only reports; KVM_CLEAR_DIRTY_LOG clears and write-protects"


class DirtyRings(ViewPanel):
    """manual protect; then per vCPU: entries in the ring (harvested ones marked ✓), pushed and reset counts."""

    def key(self, view: StepView):
        return view.rings

    def draw(self, view: StepView) -> None:
        st = view.rings
        if st is None:
            self.update("live mode: the rings are read by harvest_dirty_ring steps (see their records)")
            return
        t = Text()
        t.append(manual_protect_text(st.manual_protect) + "\n")
        if not st.ring_size:
            t.append("dirty ring: off (KVM_CAP_DIRTY_LOG_RING not enabled)")
            self.update(t)
            return
        entries = st.ring_size // 16
        t.append(f"dirty ring: {st.ring_size} bytes per vCPU, {entries} entries, full at {entries - 64}"
                 " · KVM_GET/CLEAR_DIRTY_LOG answer ENXIO\n", style="bold")
        if not st.rings:
            t.append("no vCPU has run yet\n")
        for ring in st.rings:
            vcpu = ring.vcpu
            full = " · FULL: KVM_EXIT_DIRTY_RING_FULL until harvest + reset" if ring.soft_full else ""
            t.append(f"vCPU {vcpu}: {len(ring.entries)} in the ring ({ring.harvested} harvested ✓) · "
                     f"{ring.pushed_total} pushed · {ring.reset_total} reset{full}\n", style="bold" if full else "")
            shown = ring.entries[:RING_SHOWN]
            if shown:
                t.append("  " + " ".join(f"[{s},{o}]{'✓' if i < ring.harvested else ''}" for i, (s, o) in enumerate(shown)))
                if len(ring.entries) > RING_SHOWN:
                    t.append(f" … (+{len(ring.entries) - RING_SHOWN})")
                t.append("\n")
        self.update(t)
