"""The small panels: status line, host mappings, dirty bitmaps, narration."""

from __future__ import annotations

from rich.markdown import Markdown as RichMarkdown
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from textual.strip import Strip
from textual.widgets import Static

from ...engine.addresses import format_size
from ..view import StepView
from .lines import RenderedLines
from .viewpanel import ViewKeeper, ViewPanel

DIRTY_CELLS = 512


class StatusLine(Static):
    """Title, kernel era, access path, step i of n, expectation met or not."""

    def show(self, view: StepView, breakpoints: int = 0, score: str | None = None) -> None:
        e = view.entry
        run = view.info
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
        self.update(t, layout=False)  # one line, always


class HostMappings(ViewPanel):
    """The VMM's VMAs: hva range, prot, backing, and how many touched pages are resident or poisoned."""

    def key(self, view: StepView):
        return view.host

    def draw(self, view: StepView) -> None:
        self._rows = view.host
        if view.host is None:
            self.update("live mode: the VMM's mappings are this process's own; see /proc/self/maps while it runs")
            return
        self.update(self._render_rows())

    def on_resize(self) -> None:
        self.redraw()

    def _render_rows(self):
        rows = self._rows
        if self.size.width and self.size.width < 64:  # narrow (80 columns): two lines per mapping, nothing cut
            t = Text()
            for v in rows:
                t.append(f"{v.name}", style="bold")
                t.append(f"  {format_size(v.end - v.start)} {v.prot} {v.backing}\n")
                t.append(f"  hva {v.start:#x}  resident {v.resident} · out {v.out} · poisoned {v.poisoned}\n")
            return t if rows else Text("(nothing mapped)")
        table = Table(box=None, pad_edge=False, expand=True, show_edge=False)
        for col in ("name", "hva", "size", "prot", "backing", "res", "out", "psn"):
            table.add_column(col, no_wrap=True, justify="right" if col in ("size", "res", "out", "psn") else "left")
        for v in rows:
            table.add_row(Text(v.name), f"{v.start:#x}", format_size(v.end - v.start), v.prot, v.backing, str(v.resident), str(v.out),
                          str(v.poisoned))
        if not rows:
            table.add_row("(nothing mapped)", "", "", "", "", "", "", "")
        return table


class DirtyLog(ViewPanel):
    """The dirty bitmap of every slot that logs: ■ dirty, · clean (page order)."""

    def key(self, view: StepView):
        return view.dirty

    def draw(self, view: StepView) -> None:
        if view.dirty is None:
            self.update("live mode: the kernel's dirty bitmaps are read by get_dirty_log steps (see their records)")
            return
        t = Text()
        if not view.dirty:
            t.append("No slot has KVM_MEM_LOG_DIRTY_PAGES.")
        for d in view.dirty:
            bits = d.pages
            t.append(f"slot {d.slot} · {d.npages} pages · {len(bits)} dirty", style="bold")
            if bits:
                t.append(f" · {list(bits[:16])}{' …' if len(bits) > 16 else ''}")
            t.append("\n")
            n = min(d.npages, DIRTY_CELLS)
            t.append("".join("■" if i in bits else "·" for i in range(n)))
            if d.npages > n:
                t.append(f" … (+{d.npages - n} pages)")
            t.append("\n")
        self.update(t)


class Narration(ViewKeeper, RenderedLines):
    """The scenario's description, then the current step's note (Markdown, drawn by Rich: a step changes
    one renderable, not a tree of widgets).

    Drawn in three parts, as one Markdown text would draw them: the step's line, its note, and the scenario's
    title and description. Only the step's line is new at each step; the note and the description are
    rendered once per text and width and kept (a long description is most of the panel)."""

    reveal: tuple[int, str, str] | None = None  # lesson mode: (step index, right or wrong, why)

    source = ""
    _parts: tuple[str, str, str] = ("", "", "")
    _kept: dict[tuple[str, int], list[Strip]] | None = None

    def key(self, view: StepView):
        return (view, self.reveal)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._kept = None  # drawn in the old styles

    def keep(self, view: StepView) -> None:
        super().keep(view)
        self._parts = self.parts(view)
        self.source = "\n\n".join(self._parts)

    def draw(self, view: StepView) -> None:
        self._parts = self.parts(view)
        self.source = "\n\n".join(self._parts)
        self.set_renderable(self.source)  # drawn by make_strips, from the parts
        self.scroll_home(animate=False)  # each step's note from its top

    def make_strips(self, width: int) -> list[Strip]:
        head, note, tail = self._parts
        kept = self._kept if self._kept is not None and len(self._kept) < 64 else {}
        self._kept = kept
        gap = kept.get(("", width))  # the blank row Markdown leaves between two blocks, as it draws it
        if gap is None:
            gap = kept[("", width)] = self._markdown("x\n\nx", width)[1:2]
        out = self._markdown(head, width)
        for part in (note, tail):
            strips = kept.get((part, width))
            if strips is None:
                strips = kept[(part, width)] = self._markdown(part, width)
            out += [*gap, *strips]
        return out

    def _markdown(self, text: str, width: int) -> list[Strip]:
        # the margins inside the lines: the scrollbar stays at the pane's edge, beyond them
        return self.strips_of(Padding(RichMarkdown(text), (0, 1)), width)

    def parts(self, view: StepView) -> tuple[str, str, str]:
        sc = view.info.scenario
        e = view.entry
        note = e.spec.note_for(view.info.kernel, view.info.path) or "_No note for this step._"
        if self.reveal is not None and self.reveal[0] == view.index:
            _, verdict, why = self.reveal
            note = f"**{verdict}**\n\n**Why:** {why}" + ("" if why == note else f"\n\n{note}")
        notes = "".join(f"\n\n> note: {n}" for n in sc.notes)
        return f"**Step {view.index + 1}** · {e.record.summary}", note, f"---\n\n**{sc.title}**\n\n{sc.description}{notes}"

    def text(self, view: StepView) -> str:
        return "\n\n".join(self.parts(view))
