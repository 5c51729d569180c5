"""`kvmtui map` and `kvmtui diff` output: an aligned table for people (coloured on a terminal), or one JSON
object per line. Reads layouts; derives nothing."""

from __future__ import annotations

import json
from typing import IO

from .engine.layout import LayoutDiff
from .engine.uapi import short_flag_names
from .layouts import Layout, MapRow, describe_size, diff_json, map_json, range_text, slot_text
from .richless import BIG_TABLE, PLAIN_WIDTH, SGR, LazyRender, plain, plain_table, rich_console, styled

_AS_NAMES = {0: "memory", 1: "SMM (KVM-SMRAM)"}


def header(layout: Layout) -> str:
    return f"{layout.source}, after step {layout.step} of {layout.steps} ({layout.spaces_note})"


_MAP_COLUMNS = ("  gpa range", "size", "slot", "flags", "name", "hva")
_HOLE_TEXT = {"hole": "no slot: an access is an MMIO exit", "mmio": "mmio device {}", "qemu": "{} (QEMU, no slot: MMIO exit)"}


def print_map(layout: Layout, rows: list[MapRow], file: IO[str], terminal: bool, as_json: bool) -> None:
    if as_json:
        for r in rows:
            file.write(json.dumps(map_json(r), separators=(",", ":")) + "\n")
        return
    if (not terminal or len(rows) > BIG_TABLE) and _plain_map(layout, rows, file, terminal):
        return
    from rich.table import Table
    from rich.text import Text

    console = rich_console(file, terminal)
    console.print(_map_title(layout), style="bold" if terminal else None)
    for as_id in sorted(layout.tables):
        console.print(f"address space {as_id} ({_AS_NAMES.get(as_id, '?')})")
        table = Table(box=None, show_edge=False, pad_edge=False, show_header=True, header_style="bold" if terminal else "")
        for col in _MAP_COLUMNS:
            table.add_column(col, no_wrap=True, overflow="ignore" if not terminal else "ellipsis",
                             justify="right" if col in ("size", "slot") else "left")
        for r in (r for r in rows if r.as_id == as_id):
            if r.slot is not None:
                flags = Text(",".join(short_flag_names(r.slot.flags)) or "-")
                if terminal and r.slot.flags:
                    flags.stylize("yellow" if r.slot.readonly else "cyan")
                table.add_row("  " + range_text(r.gpa, r.size), describe_size(r.size), str(r.slot.number), flags, _name_cell(r),
                              f"{r.hva:#x}" if r.hva is not None else "")
            else:
                what = _HOLE_TEXT[r.kind].format(r.name)
                style = "dim" if r.kind == "hole" else "magenta"
                table.add_row(Text("  " + range_text(r.gpa, r.size), style=style if terminal else ""), describe_size(r.size), "",
                              "", Text(what, style=style if terminal else ""), "")
        console.print(table)


def _map_title(layout: Layout) -> str:
    nslots = sum(len(t) for t in layout.tables.values())
    return f"{header(layout)}: {nslots} slot{'s' if nslots != 1 else ''}"


def _name_cell(r: MapRow) -> str:
    return r.shown + (f" (over mmio {', '.join(r.shadowed)}: RAM answers)" if r.shadowed else "")


def _map_style(r: MapRow, column: int) -> str:
    """The colour Rich gives a cell of the map on a terminal."""
    if r.slot is not None:
        return ("yellow" if r.slot.readonly else "cyan") if column == 3 and r.slot.flags else ""
    return ("dim" if r.kind == "hole" else "magenta") if column in (0, 4) else ""


def _plain_map(layout: Layout, rows: list[MapRow], file: IO[str], terminal: bool = False) -> bool:
    """The piped map written directly, as Rich would print it (a 32,764-slot layout: Rich took minutes); on a
    terminal (a long map) with Rich's colours. False, writing nothing, when some table is too wide for that:
    Rich lays it out instead."""
    render = LazyRender(file).render
    out = [styled(plain(_map_title(layout), render), "bold" if terminal else "")]
    for as_id in sorted(layout.tables):
        cells = []
        shown = [r for r in rows if r.as_id == as_id]
        for r in shown:
            if r.slot is not None:
                cells.append(["  " + range_text(r.gpa, r.size), describe_size(r.size), str(r.slot.number),
                              ",".join(short_flag_names(r.slot.flags)) or "-",  # a Text cell: not markup
                              plain(_name_cell(r), render), f"{r.hva:#x}" if r.hva is not None else ""])
            else:  # Text cells: printed as they are
                cells.append(["  " + range_text(r.gpa, r.size), describe_size(r.size), "", "", _HOLE_TEXT[r.kind].format(r.name), ""])
        paint = (lambda i, j, text, shown=shown: styled(text, _map_style(shown[i], j))) if terminal else None
        table = plain_table(_MAP_COLUMNS, cells, PLAIN_WIDTH, paint, SGR["bold"] if terminal else "")
        if table is None:
            return False
        out += [plain(f"address space {as_id} ({_AS_NAMES.get(as_id, '?')})", render), table.rstrip("\n")]
    file.write("\n".join(out) + "\n")
    return True


def _mark(d: LayoutDiff) -> str:
    if d.a is None:
        return "+"
    if d.b is None:
        return "-"
    return "!"


def print_diff(a: Layout, b: Layout, diffs: list[LayoutDiff], file: IO[str], terminal: bool, as_json: bool) -> None:
    if as_json:
        for d in diffs:
            file.write(json.dumps(diff_json(d, a, b), separators=(",", ":")) + "\n")
        return
    if (not terminal or len(diffs) > BIG_TABLE) and _plain_diff(a, b, diffs, file, terminal):
        return
    from rich.table import Table
    from rich.text import Text

    console = rich_console(file, terminal)
    console.print(Text(f"--- {header(a)}", style="bold red" if terminal else ""))
    console.print(Text(f"+++ {header(b)}", style="bold green" if terminal else ""))
    if not diffs:
        console.print(_SAME)
        return
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold" if terminal else "")
    for col in _DIFF_COLUMNS:
        table.add_column(col, no_wrap=True, overflow="ignore" if not terminal else "ellipsis", justify="right" if col in ("as", "size") else "left")
    colour = {"-": "red", "+": "green", "!": "yellow"}
    for d in diffs:
        m = _mark(d)
        style = colour[m] if terminal else ""
        table.add_row(Text(m, style=style), str(d.as_id), Text(range_text(d.gpa, d.size), style=style), describe_size(d.size),
                      slot_text(a, d.a), slot_text(b, d.b))
    console.print(table)
    console.print(_diff_summary(diffs))


_DIFF_COLUMNS = ("", "as", "gpa range", "size", "a", "b")
_SAME = "the guest-physical layouts are the same (slot ids and host addresses aside)"


def _diff_summary(diffs: list[LayoutDiff]) -> str:
    total = sum(d.size for d in diffs)
    return (f"{len(diffs)} range{'s differ' if len(diffs) != 1 else ' differs'} ({describe_size(total)}): "
            "- only a has a slot, + only b has one, ! both, with different flags")


def _plain_diff(a: Layout, b: Layout, diffs: list[LayoutDiff], file: IO[str], terminal: bool = False) -> bool:
    """The piped diff written directly, as Rich would print it (on a terminal, a long diff in Rich's colours);
    False, writing nothing, when too wide."""
    render = LazyRender(file).render
    out = [styled(f"--- {header(a)}", "bold red" if terminal else ""), styled(f"+++ {header(b)}", "bold green" if terminal else "")]
    if not diffs:
        file.write("\n".join([*out, plain(_SAME, render)]) + "\n")
        return True
    cells = [[_mark(d), str(d.as_id), range_text(d.gpa, d.size), describe_size(d.size),
              plain(slot_text(a, d.a), render), plain(slot_text(b, d.b), render)] for d in diffs]
    colour = {"-": "red", "+": "green", "!": "yellow"}
    paint = (lambda i, j, text: styled(text, colour[cells[i][0]]) if j in (0, 2) else text) if terminal else None
    table = plain_table(_DIFF_COLUMNS, cells, PLAIN_WIDTH, paint, SGR["bold"] if terminal else "")
    if table is None:
        return False
    file.write("\n".join([*out, table.rstrip("\n"), plain(_diff_summary(diffs), render)]) + "\n")
    return True
