"""`kvmtui map` and `kvmtui diff`: the guest-physical layout of anything kvmtui opens, and the difference of two.
Their own arguments and how they run; their descriptions and shared options are in cli.COMMANDS.

Exit status, as diff's: 0 the same (map: fine), 1 the layouts differ, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_DIFFER, EXIT_BAD_INPUT = 0, 1, 2
WHAT_OPENS = "a scenario YAML file, an ELF image, or a VMM log (QEMU -trace kvm_set_user_memory, strace of the KVM ioctls)"


def map_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help=WHAT_OPENS)
    p.add_argument("--at", type=int, metavar="N", help="after step N (0: before any; default: the last)")
    p.add_argument("--json", action="store_true", help="one JSON object per range")


def diff_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help=WHAT_OPENS)
    p.add_argument("b", metavar="B", help="the same kinds as A")
    p.add_argument("--json", action="store_true", help='one JSON object per differing range: {"gpa", "size", "as_id", "a", "b"}')
    for side in ("a", "b"):
        S = side.upper()
        p.add_argument(f"--at-{side}", type=int, metavar="N", help=f"{S} after step N (default: its last)")
        p.add_argument(f"--maps-{side}", metavar="F", help=f"a /proc/PID/maps file of {S}'s VMM (names, prot and backing)")
        p.add_argument(f"--mtree-{side}", metavar="F", help=f"QEMU's `info mtree -f` output for {S} (names)")


def cmd_map(args: argparse.Namespace) -> int:
    from .layout_report import print_map
    from .layouts import map_rows, open_layout

    layout, err = open_layout(args.file, args.at, args.maps, args.mtree)
    if layout is None:
        print(f"kvmtui: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print_map(layout, map_rows(layout), sys.stdout, sys.stdout.isatty(), args.json)
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from .layout_report import print_diff
    from .layouts import diff, open_layout

    a, err = open_layout(args.a, args.at_a, args.maps_a, args.mtree_a)
    if a is None:
        print(f"kvmtui: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    b, err = open_layout(args.b, args.at_b, args.maps_b, args.mtree_b)
    if b is None:
        print(f"kvmtui: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    diffs = diff(a, b)
    print_diff(a, b, diffs, sys.stdout, sys.stdout.isatty(), args.json)
    return EXIT_DIFFER if diffs else EXIT_OK
