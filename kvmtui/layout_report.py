"""`kvmtui map` and `kvmtui diff` output: an aligned table for people (coloured on a terminal), or one JSON
object per line. Reads layouts; derives nothing."""

from __future__ import annotations

import json
from typing import IO

from .engine.layout import LayoutDiff
from .engine.uapi import short_flag_names
from .layouts import Layout, MapRow, describe_size, diff_json, map_json, range_text, slot_text

_AS_NAMES = {0: "memory", 1: "SMM (KVM-SMRAM)"}


def _console(file: IO[str], terminal: bool):
    from rich.console import Console

    return Console(file=file, force_terminal=terminal, color_system="auto" if terminal else None,
                   width=None if terminal else 400, highlight=False, soft_wrap=not terminal)


def header(layout: Layout) -> str:
    return f"{layout.source}, after step {layout.step} of {layout.steps} ({layout.spaces_note})"


def print_map(layout: Layout, rows: list[MapRow], file: IO[str], terminal: bool, as_json: bool) -> None:
    if as_json:
        for r in rows:
            file.write(json.dumps(map_json(r), separators=(",", ":")) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    console = _console(file, terminal)
    nslots = sum(len(t) for t in layout.tables.values())
    console.print(f"{header(layout)}: {nslots} slot{'s' if nslots != 1 else ''}", style="bold" if terminal else None)
    for as_id in sorted(layout.tables):
        console.print(f"address space {as_id} ({_AS_NAMES.get(as_id, '?')})")
        table = Table(box=None, show_edge=False, pad_edge=False, show_header=True, header_style="bold" if terminal else "")
        for col in ("  gpa range", "size", "slot", "flags", "name", "hva"):
            table.add_column(col, no_wrap=True, overflow="ignore" if not terminal else "ellipsis",
                             justify="right" if col in ("size", "slot") else "left")
        for r in (r for r in rows if r.as_id == as_id):
            if r.slot is not None:
                flags = Text(",".join(short_flag_names(r.slot.flags)) or "-")
                if terminal and r.slot.flags:
                    flags.stylize("yellow" if r.slot.readonly else "cyan")
                name = r.shown
                if r.shadowed:
                    name += f" (over mmio {', '.join(r.shadowed)}: RAM answers)"
                table.add_row("  " + range_text(r.gpa, r.size), describe_size(r.size), str(r.slot.number), flags, name,
                              f"{r.hva:#x}" if r.hva is not None else "")
            else:
                what = {"hole": "no slot: an access is an MMIO exit", "mmio": f"mmio device {r.name}",
                        "qemu": f"{r.name} (QEMU, no slot: MMIO exit)"}[r.kind]
                style = "dim" if r.kind == "hole" else "magenta"
                table.add_row(Text("  " + range_text(r.gpa, r.size), style=style if terminal else ""), describe_size(r.size), "",
                              "", Text(what, style=style if terminal else ""), "")
        console.print(table)


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
    from rich.table import Table
    from rich.text import Text

    console = _console(file, terminal)
    console.print(Text(f"--- {header(a)}", style="bold red" if terminal else ""))
    console.print(Text(f"+++ {header(b)}", style="bold green" if terminal else ""))
    if not diffs:
        console.print("the guest-physical layouts are the same (slot ids and host addresses aside)")
        return
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold" if terminal else "")
    for col in ("", "as", "gpa range", "size", "a", "b"):
        table.add_column(col, no_wrap=True, overflow="ignore" if not terminal else "ellipsis", justify="right" if col in ("as", "size") else "left")
    colour = {"-": "red", "+": "green", "!": "yellow"}
    for d in diffs:
        m = _mark(d)
        style = colour[m] if terminal else ""
        table.add_row(Text(m, style=style), str(d.as_id), Text(range_text(d.gpa, d.size), style=style), describe_size(d.size),
                      slot_text(a, d.a), slot_text(b, d.b))
    console.print(table)
    total = sum(d.size for d in diffs)
    console.print(f"{len(diffs)} range{'s differ' if len(diffs) != 1 else ' differs'} ({describe_size(total)}): "
                  "- only a has a slot, + only b has one, ! both, with different flags")
