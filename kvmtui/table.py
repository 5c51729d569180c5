"""The trace as a table for people, and the simulator beside the live kernel (compare). Reads records;
derives nothing. Its own module: a JSON trace (report.py) compiles none of it at a cold start."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, TYPE_CHECKING

from .engine.profiles import names_in_any_era
from .engine.uapi import flag_names
from .engine.vocabulary import ACCESS_OPS, CallResult, Op, Outcome
from .report import entry_json
from .richless import BIG_TABLE, PLAIN_WIDTH, SGR, LazyRender, Paint, plain, plain_table_lines, rich_console, styled

if TYPE_CHECKING:  # (annotations only: run.py's Protocol is not built for a trace)
    from .run import Run
    from .runner import TraceEntry


# The members a table row compares with, read once: an Enum class attribute costs ~120 ns a lookup (Python
# 3.11's EnumType), and a row made a dozen of them.
_READ, _WRITE, _SET_MEMORY_REGION, _GET_DIRTY_LOG, _CHECK_EXTENSION = Op.READ, Op.WRITE, Op.SET_MEMORY_REGION, Op.GET_DIRTY_LOG, Op.CHECK_EXTENSION
_HARVEST_DIRTY_RING, _RESET_DIRTY_RINGS = Op.HARVEST_DIRTY_RING, Op.RESET_DIRTY_RINGS
_OK, _MMIO, _CALL_OK = Outcome.OK, Outcome.MMIO, CallResult.OK
_FLAGS_CELL: dict[int, str] = {}  # a slot's flags as the step cell shows them (" READONLY"): a few values, each spelled once


def _what(run: Run, e: TraceEntry) -> str:
    r = e.record
    a = r.args
    op = r.op
    if op in ACCESS_OPS:
        # hex(n) is {n:#x} without a format spec to parse (a third of the cost): a cell or two per row
        v = f" = {hex(a['value'])}" if op == _WRITE else ""
        sym = run.symbol(a["gpa"])
        return f"{op} {hex(a['gpa'])} /{a['size']}{v}" + (f" <{sym}>" if sym else "")
    if op == _SET_MEMORY_REGION:
        if a["size"] == 0:
            return f"delete slot {a['slot']}"
        flags = _FLAGS_CELL.get(a["flags"])
        if flags is None:
            flags = _FLAGS_CELL[a["flags"]] = "".join(f" {f}" for f in ["|".join(f.removeprefix("KVM_MEM_") for f in flag_names(a["flags"]))] if f)
        return f"slot {a['slot']} gpa {hex(a['gpa'])} size {hex(a['size'])}{flags}"
    if r.op == Op.GET_DIRTY_LOG:
        return f"get_dirty_log slot {a['slot']}"
    if r.op == Op.CHECK_EXTENSION:
        return f"check_extension {a['cap']}"
    if r.op == Op.CREATE_VM:
        return f"create_vm {a['vm_type']}"
    if r.op == Op.CREATE_GUEST_MEMFD:
        return f"create_guest_memfd {a['name']} {a['size']:#x}" + (f" {'|'.join(a['flags'])}" if a["flags"] else "")
    if r.op == Op.ENABLE_CAP:
        return f"enable_cap {a['cap'].removeprefix('KVM_CAP_')} {', '.join(hex(x) for x in a['args'])}"
    if r.op == Op.CLEAR_DIRTY_LOG:
        return f"clear_dirty_log slot {a['slot']} pages {a['first_page']}+{a['num_pages']}"
    if r.op == Op.HARVEST_DIRTY_RING:
        return f"harvest_dirty_ring vcpu {a['vcpu']}"
    if r.op == Op.RESET_DIRTY_RINGS:
        return "reset_dirty_rings"
    return f"{r.op} {a['hva']:#x}"


def describe_step(run: Run, e: TraceEntry) -> str:
    """The step as asked, without its result (lesson mode's question)."""
    return _what(run, e)


def _result(e: TraceEntry) -> str:
    r = e.record
    op = r.op
    if r.exits:
        return "; ".join(f"KVM_EXIT_MMIO {'W' if x.is_write else 'R'} {x.phys_addr:#x}/{x.len} {x.data.hex()}" for x in r.exits)
    if op in ACCESS_OPS:  # the two commonest first: each op has one cell rule
        return f"value {hex(r.value)}" if r.value is not None and op != _WRITE else ""
    if op == _SET_MEMORY_REGION:
        return r.kind + (" (REGION2)" if r.args.get("ioctl") == 2 else "") if r.kind else ""
    if op == _GET_DIRTY_LOG and r.dirty is not None:
        return f"dirty {r.dirty}"
    if op == _CHECK_EXTENSION:
        return str(r.cap_value)
    if op == _HARVEST_DIRTY_RING and r.ring is not None:
        return f"ring {[list(x) for x in r.ring[:8]]}" + ("…" if len(r.ring) > 8 else "")
    if op == _RESET_DIRTY_RINGS and r.value is not None:
        return f"{r.value} reset"
    return ""


# Lookups whose answer (a slot, or NULL) says where the step went.
_LOOKUPS = names_in_any_era("gfn_to_memslot") | {"find_vma_intersection"}


def _path(e: TraceEntry) -> str:
    """The chain in one line: the calls that returned something worth reading (an error, a route, an exit,
    the failing or key call, and the memslot lookup)."""
    parts = [f"{c.fn}={c.ret}" for c in e.record.chain
             if c.ret and (c.result is not _CALL_OK or c.key or c.bad or c.fn in _LOOKUPS)]
    return " ▸ ".join(parts[-4:]) if parts else ""


TABLE_COLUMNS = ("#", "step", "outcome", "result", "slot", "spte", "expect", "kernel path")


def _row(run: Run, e: TraceEntry) -> tuple[tuple[str, ...], str]:
    """The cells of one step (the outcome cell plain), and the outcome's colour on a terminal. A tuple: the
    piped table formats it with % as it is."""
    r = e.record
    outcome = r.outcome
    if r.op in ACCESS_OPS and r.key_moment:  # a key moment is a guest write's: no other record walks its chain for one
        outcome, colour = outcome + " ◆RO→MMIO", "bold magenta"
    else:
        colour = "green" if outcome == _OK else ("yellow" if outcome == _MMIO else "red")
    # (SpteStates are str: joined as they are, not formatted through Enum.__format__, ~0.6 us a row)
    spte = ",".join([s.before + "→" + s.after for s in r.spte[:2]]) if r.spte and r.op in ACCESS_OPS else ""
    return (str(e.index), _what(run, e), outcome, _result(e), "" if r.slot is None else str(r.slot), spte,
            "" if e.unmet is None else _expect_cell(e), _path(e)), colour


def _expect_cell(e: TraceEntry) -> str:
    """✓ all met; ✗ and what was not; ? and what the backend cannot show (unchecked is not met)."""
    if e.unmet is None:
        return ""
    if e.unmet:
        return "✗ " + "; ".join(e.unmet)
    return "? unchecked: " + "; ".join(e.unchecked) if e.unchecked else "✓"


def print_table(run: Run, entries: Iterable[TraceEntry], file: IO[str], terminal: bool) -> None:
    """The trace as a table. `entries` may be a stream (run.stream()): a row is made of each entry as it
    comes, and the entry is then let go: a 34,764-step run's records are never all alive at once (fewer
    objects for the collector to walk, less memory), only the rows' text (widths need every row first)."""
    sc = run.scenario
    rows = [_row(run, e) for e in entries]
    head = [f"{sc.title} — kernel {run.kernel}, {run.path} path, {len(rows)} steps", *(f"note: {note}" for note in sc.notes)]
    # Piped, or long on a terminal (Rich lays a table out at ~2 ms a row): written directly, Rich imported only
    # if some text needs it (start-up is most of a small trace)
    if (not terminal or len(rows) > BIG_TABLE) and _direct_table(head, rows, file, terminal):
        return
    console = rich_console(file, terminal)
    console.print(head[0], style="bold" if terminal else None)
    for line in head[1:]:
        console.print(line)
    _rich_table(console, rows, terminal)


def _direct_table(head: list[str], rows: list[tuple[tuple[str, ...], str]], file: IO[str], terminal: bool) -> bool:
    """The table laid out as Rich lays it out piped; on a terminal (a long table: the terminal wraps what is
    wider) with the colours Rich gives it. False, writing nothing, when Rich must lay it out."""
    console = LazyRender(file)
    lines = [plain(h, console.render) for h in head if "\t" not in h]
    if len(lines) != len(head):
        return False

    def paint(i: int, j: int, text: str) -> str:  # the outcome's first word in its colour, as _rich_table does
        if j != 2:
            return text
        first = text.split(" ◆")[0]
        return styled(first, rows[i][1]) + text[len(first):]

    table = _plain_table(console, rows, paint if terminal else None, SGR["bold"] if terminal else "")
    if table is None:
        return False
    if terminal:
        lines[0] = styled(lines[0], "bold")
    file.write("\n".join(lines) + "\n")
    # Written TABLE_BLOCK lines at a time: a text is stored one byte a character only if all of it is ASCII, and
    # the UTF-8 of such a block is a copy; one ~10 MB text with a single → in it would be two bytes a character
    # throughout, each encoded one by one (~20 ms of a 34,764-row table whose slot rows are all ASCII).
    for i in range(0, len(table), TABLE_BLOCK):
        block = table[i:i + TABLE_BLOCK]
        block.append("")
        file.write("\n".join(block))
    return True


def _rich_table(console, rows: list[tuple[tuple[str, ...], str]], terminal: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold" if terminal else "")
    for col in TABLE_COLUMNS:
        table.add_column(col, no_wrap=not terminal, overflow="fold" if terminal else "ignore",
                         justify="right" if col in ("#", "slot") else "left")
    for cells, colour in rows:
        outcome = Text(cells[2])
        if terminal:
            outcome.stylize(colour, 0, len(cells[2].split(" ◆")[0]))
        table.add_row(*cells[:2], outcome, *cells[3:])
    console.print(table)


TABLE_BLOCK = 4096  # lines of a long table joined and written at a time


def _plain_table(console: LazyRender, rows: list[tuple[tuple[str, ...], str]], paint: Paint | None = None,
                 head_style: str = "") -> list[str] | None:
    """The lines of the piped table, laid out as Rich lays out this table (columns as wide as their widest cell, two
    spaces apart, # and slot right-aligned), which Rich takes minutes for on 100,000 rows.
    None when the table is wider than PLAIN_WIDTH: Rich then decides how to squeeze it."""
    render = console.render

    def cell(text: str) -> str:  # cells are console markup to Rich (outcome excepted): what it would print
        return plain(text, render) if ("[" in text or ":" in text) else text

    cells_of: list[tuple[str, ...]] = [cells for cells, _ in rows]
    columns: list[tuple[str, ...]] = list(zip(*cells_of, strict=True)) if rows else [() for _ in TABLE_COLUMNS]
    marked = False
    for i, col in enumerate(columns):  # a column without "[" or ":" anywhere holds no markup: no cell looked at
        if i != 2:
            joined = "".join(col)
            if "[" in joined or ":" in joined:
                columns[i] = tuple(map(cell, col))
                marked = True
    # rows back from the columns only when some cell changed: else the rows as they are (34,764 x 8 cells)
    return plain_table_lines(TABLE_COLUMNS, list(zip(*columns, strict=True)) if marked else cells_of, PLAIN_WIDTH, paint, head_style, columns)


def _cell(r) -> str:
    parts = [r.outcome]
    if r.op in (Op.READ, Op.RESET_DIRTY_RINGS) and r.value is not None:
        parts.append(f"{r.value:#x}" if r.op == Op.READ else f"{r.value} reset")
    parts += [f"{'W' if x.is_write else 'R'}{x.phys_addr:#x}/{x.len}:{x.data.hex()}" for x in r.exits]
    if r.dirty is not None:
        parts.append(f"dirty {r.dirty}")
    if r.ring is not None:
        parts.append(f"ring {[list(x) for x in r.ring]}")
    return " ".join(parts)


def print_compare(path: str, sim: Run, sim_entries: list[TraceEntry], live_entries: list[TraceEntry], diffs, file: IO[str],
                  terminal: bool, as_json: bool) -> None:
    """The simulator beside the live kernel, a row per step, differences marked."""
    if as_json:
        import json

        for d, a, b in zip(diffs, sim_entries, live_entries, strict=False):
            file.write(json.dumps({"step": a.index, "op": a.record.op, "same": d.same, "differs": list(d.fields),
                                   "simulator": entry_json(sim, a), "live": entry_json(sim, b)}, separators=(",", ":")) + "\n")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, force_terminal=terminal, color_system="auto" if terminal else None,
                      width=None if terminal else 400, highlight=False, soft_wrap=not terminal)
    n = sum(1 for d in diffs if not d.same)
    console.print(f"{path}: simulator (modern, {sim.path}) beside /dev/kvm: {n} of {len(diffs)} steps differ")
    st = sim.settings
    console.print(f"  modelled host: kvm.mmio_caching={'Y' if st.mmio_caching else 'N'}, {'swap' if st.swap else 'no swap'} (read from this machine)")
    table = Table(box=None, show_edge=False, pad_edge=False)
    for col in ("#", "step", "simulator", "live", "differs"):
        table.add_column(col, no_wrap=not terminal, overflow="fold" if terminal else "ignore")
    for d, a in zip(diffs, sim_entries, strict=False):
        mark = Text("✗ " + ",".join(d.fields), style="bold" if terminal else "") if d.fields else Text("")
        table.add_row(str(a.index), _what(sim, a), _cell(d.left), _cell(d.right), mark)
    console.print(table)
    expected = [e for e in live_entries if e.unmet is not None]
    if expected:
        unmet = [e for e in expected if e.unmet]
        unchecked = [e for e in expected if not e.unmet and e.unchecked]
        console.print(f"  expectations on /dev/kvm: {len(expected) - len(unmet) - len(unchecked)} met, {len(unmet)} unmet, "
                      f"{len(unchecked)} with unchecked parts (what the kernel does not show)")
        for e in [*unmet, *unchecked]:
            console.print(f"  step {e.index} ({e.record.op}): {_expect_cell(e)}", markup=False)
