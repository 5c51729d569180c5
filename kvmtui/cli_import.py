"""`kvmtui import`: a QEMU trace or strace log written as a scenario file. How it runs; its arguments,
description and shared options are in cli.COMMANDS. A module of its own: a trace compiles none of it."""

from __future__ import annotations

import argparse
import sys

from .status import EXIT_BAD_INPUT, EXIT_OK

VALIDATE_IMPORT_STEPS = 5000  # an imported scenario up to this many steps is loaded back before it is written

def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .scenario import ScenarioError
    from .scenario.importers import log_to_scenario, read_log, read_maps, scenario_yaml
    from .scenario.outfile import output_problem, write_output

    out = Path(args.output)
    problem = output_problem(out, overwrite=args.force)  # before reading the log: nothing is done for nothing
    if problem:
        print(f"kvmtui: {out}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        log = read_log(args.log)
        maps = read_maps(args.maps) if args.maps else None
        scenario = log_to_scenario(log, args.log, maps)
        text = scenario_yaml(scenario)
        if len(scenario.steps) <= VALIDATE_IMPORT_STEPS:
            from .scenario.loader import parse_scenario

            try:  # what is written loads (the round-trip loader is slow on huge files)
                parse_scenario(text, str(out), out.parent)
            except ScenarioError as e:  # named by the log's line: OUTPUT was not written
                raise ScenarioError(args.log, _log_line(text, e.line, scenario), None, e.message) from None
    except ScenarioError as e:
        print(f"kvmtui: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as e:
        print(f"kvmtui: {e.filename}: {e.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        write_output(out, text, overwrite=args.force)
    except ScenarioError as e:
        print(f"kvmtui: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {out}: {len(scenario.steps)} steps from {len(log.memslot_events)} memslot updates "
          f"({log.skipped} other lines skipped)")
    return EXIT_OK


def _log_line(text: str, out_line: int | None, scenario) -> int | None:
    """The log line behind line `out_line` of an imported scenario's text: each step starts with "  - "."""
    if out_line is None:
        return None
    k = sum(1 for ln in text.splitlines()[:out_line] if ln.startswith("  - "))
    return scenario.steps[k - 1].pos.line if 0 < k <= len(scenario.steps) else None
