"""The current step's path through the kernel: gfn ─▸ memslot ─▸ hva ─▸ pfn, then every call and its return."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...engine.records import StepRecord
from ...runner import TraceEntry
from ..view import StepView

KEY_GLYPH = "◆"


def _is_error(ret: str) -> bool:
    return ret.startswith(("-E", "KVM_PFN_ERR", "KVM_HVA_ERR", "fault_pfn", "hwpoison_pfn", "bad_", "KVM_EXIT_INTERNAL"))


def resolution_path(rec: StepRecord) -> str:
    """The four hops of an access, read off the record's chain and fields."""
    gpa = rec.args["gpa"]
    slot = f"slot {rec.slot}" if rec.slot is not None else "no slot"
    hva = next((c.ret for c in rec.chain if "gfn_to_hva" in c.fn and c.ret.startswith(("KVM_HVA", "bad_hva"))), None)
    hva = hva or (f"hva {rec.hva:#x}" if rec.hva is not None else "no hva")
    pfn = next((c.ret for c in reversed(rec.chain) if c.ret.startswith(("KVM_PFN", "fault_pfn", "hwpoison_pfn", "bad_pfn")) and "," not in c.ret), None)
    pfn = pfn or (f"pfn {rec.pfn:#x}" if rec.pfn is not None else "no pfn")
    return f"gfn {gpa >> 12:#x} ─▸ {slot} ─▸ {hva} ─▸ {pfn}"


def chain_text(entry: TraceEntry) -> str:
    """The step as plain text: what the copy action puts on the clipboard."""
    rec = entry.record
    lines = [f"step {entry.index}: {rec.summary}"]
    if rec.is_access:
        lines.append(resolution_path(rec))
    for c in rec.chain:
        ret = f" = {c.ret}" if c.ret else ""
        note = f"   # {c.note}" if c.note else ""
        lines.append(f"{KEY_GLYPH + ' ' if c.key else '  '}{c.fn}({c.args}){ret}{note}")
    for x in rec.exits:
        lines.append(f"KVM_EXIT_MMIO {'write' if x.is_write else 'read'} phys_addr={x.phys_addr:#x} len={x.len} data={x.data.hex()}")
    return "\n".join(lines)


class Resolution(VerticalScroll):
    """Shows one step's chain. Classes: -key-moment (a read-only write became KVM_EXIT_MMIO), -failed."""

    DEFAULT_CSS = "Resolution > Static { width: 1fr; }"

    def compose(self):
        yield Static(id="resolution-body")

    def show(self, view: StepView) -> None:
        entry = view.entry
        rec = entry.record
        t = Text()
        key = rec.key_moment
        self.set_class(key, "-key-moment")
        self.set_class(rec.outcome not in ("ok", "mmio"), "-failed")
        self.border_title = f"Resolution · step {entry.index}"
        if key:
            t.append(f" {KEY_GLYPH} READ-ONLY WRITE → KVM_EXIT_MMIO ", style="bold reverse")
            t.append("\n")
        t.append(rec.summary + "\n", style="bold")
        if entry.spec.note is None and rec.op == "set_memory_region" and rec.kind:
            t.append(f"kind: {rec.kind}\n")
        if rec.is_access:
            t.append(resolution_path(rec) + "\n", style="bold")
            sym = view.run.symbol(rec.args["gpa"])
            if sym:
                t.append(f"symbol <{sym}>\n")
        if not rec.chain and not view.run.shows_internals:
            t.append("(live: the real kernel returns outcomes, exits and dirty bits, not its call chain)\n", style="italic dim")
        for c in rec.chain:
            style = "bold reverse" if c.key else ("bold" if c.bad else "")
            t.append(f"{KEY_GLYPH if c.key else ('✗' if c.bad else '·')} ", style=style)
            t.append(c.fn, style=style or "bold")
            if c.args:
                t.append(f"({c.args})", style=style or "dim")
            if c.ret:
                t.append(" = ")
                t.append(c.ret, style="bold underline" if (c.key or _is_error(c.ret) or c.bad) else "")
            if c.note:
                t.append(f"  — {c.note}", style="italic dim" if not c.key else "italic")
            t.append("\n")
        for x in rec.exits:
            t.append(f"⇒ KVM_EXIT_MMIO {'write' if x.is_write else 'read '} phys_addr={x.phys_addr:#x} len={x.len} data={x.data.hex()}\n", style="bold")
        if rec.spte and rec.is_access:
            t.append("spte " + "  ".join(f"{s.gfn:#x}: {s.before}→{s.after}" for s in rec.spte) + "\n")
        if rec.dirtied:
            t.append("dirty " + ", ".join(f"slot {s} page {p}" for s, p in rec.dirtied) + "\n")
        if entry.unmet:
            t.append("✗ expectation not met: " + "; ".join(entry.unmet) + "\n", style="bold")
        elif entry.expect_met:
            t.append("✓ expectation met\n")
        self.query_one("#resolution-body", Static).update(t)
        self.scroll_home(animate=False)
