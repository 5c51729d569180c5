"""The small panels: status line, host mappings, dirty bitmaps, narration."""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ...engine.addresses import format_size
from ..view import StepView

DIRTY_CELLS = 512


class StatusLine(Static):
    """Title, kernel era, access path, step i of n, expectation met or not."""

    def show(self, view: StepView, breakpoints: int = 0, score: str | None = None) -> None:
        e = view.entry
        run = view.run
        met = "expect ?" if e.expect_met is None and e.unchecked else {None: "no expect", True: "expect ✓", False: "expect ✗"}[e.expect_met]
        self.set_class(e.expect_met is False, "-unmet")
        t = Text(overflow="ellipsis", no_wrap=True)
        t.append(f" step {view.index + 1}/{view.total} ", style="bold")
        t.append(f"│ {met} │ kernel {run.kernel} │ {run.path} │ ")
        if score is not None:
            t.append(f"lesson {score}", style="bold reverse")
            t.append(" │ ")
        if breakpoints:
            t.append(f"{breakpoints} breakpoint{'s' if breakpoints > 1 else ''} │ ")
        t.append(run.scenario.title, style="bold")
        self.update(t)


class HostMappings(Static):
    """The VMM's VMAs: hva range, prot, backing, and how many touched pages are resident or poisoned."""

    def show(self, view: StepView) -> None:
        if not view.run.shows_internals:
            self._rows = None
            self.update("live mode: the VMM's mappings are this process's own; see /proc/self/maps while it runs")
            return
        host = view.kvm.host
        vmas = host.vmas
        counts = [host.count_pages(v.start, v.end) for v in vmas]  # resident, not resident, poisoned: O(ranges)
        self._rows = list(zip(vmas, counts, strict=True))
        self.update(self._render_rows())

    def on_resize(self) -> None:
        if getattr(self, "_rows", None) is not None:
            self.update(self._render_rows())

    def _render_rows(self):
        rows = self._rows
        if self.size.width and self.size.width < 64:  # narrow (80 columns): two lines per mapping, nothing cut
            t = Text()
            for v, (res, out, psn) in rows:
                t.append(f"{v.mapping.name}", style="bold")
                t.append(f"  {format_size(v.end - v.start)} {v.prot} {v.mapping.backing}\n")
                t.append(f"  hva {v.start:#x}  resident {res} · out {out} · poisoned {psn}\n")
            return t if rows else Text("(nothing mapped)")
        table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
        for col in ("name", "hva", "size", "prot", "backing", "res", "out", "psn"):
            table.add_column(col, no_wrap=True, justify="right" if col in ("size", "res", "out", "psn") else "left")
        for v, (res, out, psn) in rows:
            table.add_row(Text(v.mapping.name), f"{v.start:#x}", format_size(v.end - v.start), v.prot, v.mapping.backing, str(res), str(out), str(psn))
        if not rows:
            table.add_row("(nothing mapped)", "", "", "", "", "", "", "")
        return table


class DirtyLog(Static):
    """The dirty bitmap of every slot that logs: ■ dirty, · clean (page order)."""

    def show(self, view: StepView) -> None:
        slots = view.kvm.memslots
        t = Text()
        bitmaps = sorted(slots.dirty_bitmaps.items())
        if not bitmaps:
            t.append("No slot has KVM_MEM_LOG_DIRTY_PAGES.")
        for sid, bits in bitmaps:
            s = slots.id_to_memslot(sid)
            if s is None:
                continue
            t.append(f"slot {sid} · {s.npages} pages · {len(bits)} dirty", style="bold")
            if bits:
                t.append(f" · {sorted(bits)[:16]}{' …' if len(bits) > 16 else ''}")
            t.append("\n")
            n = min(s.npages, DIRTY_CELLS)
            t.append("".join("■" if i in bits else "·" for i in range(n)))
            if s.npages > n:
                t.append(f" … (+{s.npages - n} pages)")
            t.append("\n")
        self.update(t)


class Narration(Static):
    """The scenario's description, then the current step's note (Markdown, drawn by Rich: a step changes
    one renderable, not a tree of widgets)."""

    reveal: tuple[int, str, str] | None = None  # lesson mode: (step index, right or wrong, why)

    def show(self, view: StepView) -> None:
        sc = view.run.scenario
        e = view.entry
        note = e.spec.note_for(view.run.kernel, view.run.path) or "_No note for this step._"
        if self.reveal is not None and self.reveal[0] == view.index:
            _, verdict, why = self.reveal
            note = f"**{verdict}**\n\n**Why:** {why}" + ("" if why == note else f"\n\n{note}")
        notes = "".join(f"\n\n> note: {n}" for n in sc.notes)
        self.source = f"**Step {view.index + 1}** · {e.record.summary}\n\n{note}\n\n---\n\n**{sc.title}**\n\n{sc.description}{notes}"
        self.update(RichMarkdown(self.source))
