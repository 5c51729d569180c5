"""The current step's path through the kernel: gfn ─▸ memslot ─▸ hva ─▸ pfn, then every call and its return."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from ...engine.addresses import PAGE_SHIFT, gpa_to_gfn, page_offset
from ...engine.calls import KernelCall
from ...engine.memslots import MemSlot
from ...engine.profiles import names_in_any_era
from ...engine.records import StepRecord
from ...engine.vocabulary import CallResult, Op, Outcome
from ...plain import plain_lines
from ...runner import TraceEntry
from ..view import StepView
from .lines import RenderedLines
from .repaint import set_border_text

KEY_GLYPH = "◆"


# The error values of the hva and pfn hops, in every era's spelling.
HVA_ERRORS = names_in_any_era("hva_bad", "hva_ro_bad")
PFN_ERRORS = names_in_any_era("pfn_fault", "pfn_hwpoison", "pfn_noslot", "pfn_ro_fault", "pfn_needs_io")


def _is_error(c: KernelCall) -> bool:
    return c.result is CallResult.ERROR


def resolution_path(rec: StepRecord) -> str:
    """The four hops of an access, read off the record's chain and fields."""
    gpa = rec.args["gpa"]
    slot = f"slot {rec.slot}" if rec.slot is not None else "no slot"
    hva = next((c.code for c in rec.chain if c.result is CallResult.ERROR and c.code in HVA_ERRORS), None)
    hva = hva or (f"hva {rec.hva:#x}" if rec.hva is not None else "no hva")
    pfn = next((c.code for c in reversed(rec.chain) if c.result is CallResult.ERROR and c.code in PFN_ERRORS), None)
    pfn = pfn or (f"pfn {rec.pfn:#x}" if rec.pfn is not None else "no pfn")
    return f"gfn {gpa_to_gfn(gpa):#x} ─▸ {slot} ─▸ {hva} ─▸ {pfn}"


def gmem_paths(slot: MemSlot | None, gpa: int) -> str | None:
    """For a guest_memfd slot: which memory each access path reads at gpa (kvm-semantics §i F1-F4)."""
    if slot is None or not slot.gmem:
        return None
    gfn = gpa >> PAGE_SHIFT
    off = slot.gmem_offset + ((gfn - slot.base_gfn) << PAGE_SHIFT) + page_offset(gpa)
    uaddr = slot.hva_of(gfn) + page_offset(gpa)
    if slot.gmem_hva is None:
        return (f"guest_memfd {slot.gmem} has no GUEST_MEMFD_FLAG_MMAP: native and emulated both read userspace_addr "
                f"{uaddr:#x}, the file is not used")
    same = slot.native_hva(gfn) + page_offset(gpa) == uaddr
    verdict = ("the same memory: userspace_addr is the file's own mmap" if same
               else "different memory: the two paths disagree here")
    return (f"native ─▸ {slot.gmem}+{off:#x} (kvm_gmem_get_pfn; userspace_addr ignored)\n"
            f"emulated ─▸ userspace_addr {uaddr:#x} (kvm_vcpu_read/write_guest)\n"
            f"  {verdict}")


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
        lines.append(exit_line(x)[2:])
    return "\n".join(lines)


def exit_line(x) -> str:
    return f"⇒ KVM_EXIT_MMIO {'write' if x.is_write else 'read'} phys_addr={x.phys_addr:#x} len={x.len} data={x.data.hex()}"


class Resolution(RenderedLines):
    """Shows one step's chain. Classes: -key-moment (a read-only write became KVM_EXIT_MMIO), -failed.

    The banner, the step, the four hops and the exit lines come first: they are what a class must see.
    Then the chain: one call per line with its arguments and notes, or, when that would not fit the panel
    (an 80x24 terminal), compact: `fn = ret` only, so the whole chain stays on screen. Then, when plain
    words are on, one sentence per key function and for the outcome."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.view: StepView | None = None
        self.plain = True
        self.reveal: tuple[int, bool, str] | None = None  # lesson mode: (step index, right, verdict) after an answer
        self.compact = False
        self.text = ""  # the step's text, unwrapped (what tests and copying read)

    def show(self, view: StepView) -> None:
        self.view = view
        self.redraw()
        self.scroll_home(animate=False)

    def on_resize(self) -> None:
        if self.view is not None:
            self.redraw()  # compact or not depends on the size

    def redraw(self) -> None:
        view = self.view
        if view is None:
            return
        rec = view.entry.record
        self.set_class(rec.key_moment, "-key-moment")
        self.set_class(rec.outcome not in (Outcome.OK, Outcome.MMIO), "-failed")
        set_border_text(self, title=f"Resolution · step {view.entry.index}")
        head, calls, tail = self._parts(view, compact=False)
        width = max(self.size.width - 2, 20)
        height = self.size.height
        self.compact = bool(height) and _rows(head, width) + _rows(calls, width) > height
        if self.compact:
            head, calls, tail = self._parts(view, compact=True)
        set_border_text(self, subtitle="compact chain · wider screen for args" if self.compact else "")
        t = Text()
        for part in (head, calls, tail):
            t.append_text(part)
        self.text = t.plain
        self.set_renderable(t)

    def _parts(self, view: StepView, compact: bool) -> tuple[Text, Text, Text]:
        reveal = self.reveal if self.reveal is not None and self.reveal[0] == view.index else None
        return head_text(view, reveal), calls_text(view.record, compact), tail_text(view.entry, self.plain)


def _reveal_line(reveal: tuple[int, bool, str]) -> Text:
    """Lesson mode, after an answer: right or wrong in a few words (the why is on the Note tab)."""
    _, right, verdict = reveal
    short = verdict.split(":")[0] + ("" if right else ": " + verdict.split("it was ")[-1].split(":")[0])
    t = Text()  # the style on the span, not the Text: what is appended after it is not reversed
    t.append(short.rstrip(".") + " (why: Note tab)\n", style="bold reverse" if right else "bold underline")
    return t


def head_text(view: StepView, reveal: tuple[int, bool, str] | None) -> Text:
    """The banner, the step, the four hops and the exits: what a class must see first."""
    rec = view.record
    head = _reveal_line(reveal) if reveal is not None else Text()
    if rec.key_moment:
        head.append(f" {KEY_GLYPH} READ-ONLY WRITE → KVM_EXIT_MMIO ", style="bold reverse")
        head.append("\n")
    head.append(rec.summary + "\n", style="bold")
    if view.entry.spec.note is None and rec.op == Op.SET_MEMORY_REGION and rec.kind:
        head.append(f"kind: {rec.kind}\n")
    if rec.is_access:
        head.append_text(_access_lines(view))
    for x in rec.exits:
        head.append(exit_line(x) + "\n", style="bold reverse" if rec.key_moment and x.is_write else "bold")
    if not rec.chain and not view.info.shows_internals:
        head.append("(live: the real kernel returns outcomes, exits and dirty bits, not its call chain)\n", style="italic")
    return head


def _access_lines(view: StepView) -> Text:
    rec = view.record
    t = Text()
    t.append(resolution_path(rec) + "\n", style="bold")
    if view.symbol:
        t.append(f"symbol <{view.symbol}>\n")
    paths = gmem_paths(view.used_slot, rec.args["gpa"])
    if paths:
        t.append(paths + "\n", style="bold")
    return t


def call_line(c: KernelCall, compact: bool) -> Text:
    """One kernel call: `fn(args) = ret  — note`, or `fn = ret` when compact."""
    style = "bold reverse" if c.key else ("bold" if c.bad else "")
    line = Text(no_wrap=compact, overflow="ellipsis")
    line.append(f"{KEY_GLYPH if c.key else ('✗' if c.bad else '·')} ", style=style)
    line.append(c.fn, style=style or "bold")
    if c.args and not compact:
        line.append(f"({c.args})", style=style)
    if c.ret:
        line.append(" = ")
        line.append(c.ret, style="bold underline" if (c.key or _is_error(c) or c.bad) else "")
    if c.note and not compact:
        line.append(f"  — {c.note}", style="italic")
    return line


def calls_text(rec: StepRecord, compact: bool) -> Text:
    calls = Text()
    for c in rec.chain:
        calls.append_text(call_line(c, compact))
        calls.append("\n")
    return calls


def tail_text(entry: TraceEntry, plain: bool) -> Text:
    """The spte changes, dirty pages, the expectation, and (plain words on) one sentence per key call."""
    rec = entry.record
    tail = Text()
    if rec.spte and rec.is_access:
        tail.append("spte " + "  ".join(f"{s.gfn:#x}: {s.before}→{s.after}" for s in rec.spte) + "\n")
    if rec.dirtied:
        tail.append("dirty " + ", ".join(f"slot {s} page {p}" for s, p in rec.dirtied) + "\n")
    if entry.unmet:
        tail.append("✗ expectation not met: " + "; ".join(entry.unmet) + "\n", style="bold")
    elif entry.expect_met:
        tail.append("✓ expectation met\n")
    if entry.unchecked:  # the live kernel does not show it: never counted as met
        tail.append("? unchecked (not visible live): " + "; ".join(entry.unchecked) + "\n", style="italic")
    lines = plain_lines(rec) if plain else []
    if lines:
        tail.append("In plain words (w hides)\n", style="bold underline")
        for pl in lines:
            tail.append(f"{pl.fn}: ", style="bold")
            tail.append(pl.text + "\n")
    return tail


def _rows(t: Text, width: int) -> int:
    """How many terminal rows a Text takes at this width (wrapped as the Static will wrap it)."""
    if not t.plain:
        return 0
    return sum(max(1, -(-cell_len(line) // width)) for line in t.plain.rstrip("\n").split("\n"))
