"""The kvmtui command line. Argument parsing and exit codes only; Textual is imported only for the app.

Exit status: 0 fine, 1 expectations unmet (or differences), 2 bad input or usage, 3 a backend not available.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .status import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE

COMMANDS = ("trace", "check", "import", "compare", "samples", "map", "diff", "serve")
VALIDATE_IMPORT_STEPS = 5000
ERAS = ("3.6", "3.7", "modern")
PATHS = ("native", "emulated")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors are exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel", choices=ERAS, help="kernel era to simulate (default: the scenario's, else modern)")
    p.add_argument("--path", choices=PATHS, help="guest access path: native (MMU fault path) or emulated (instruction emulator)")


def build_parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="kvmtui",
        description="See how KVM maps guest memory: memslots, the fault path, sptes and MMIO exits, in three kernel eras.",
        epilog="commands: kvmtui SCENARIO (the app) | kvmtui trace SCENARIO | kvmtui check SCENARIO... | "
        "kvmtui import LOG -o SCENARIO | kvmtui compare SCENARIO... (simulator beside /dev/kvm) | kvmtui samples (the bundled samples) | "
        "kvmtui map FILE (the guest-physical address space) | kvmtui diff A B (two layouts).  "
        "What opens (SCENARIO, FILE, A, B), recognised by content: a scenario YAML file, an ELF image (its PT_LOAD segments as slots), "
        "a VMM log (QEMU's -trace kvm_set_user_memory output, or strace -e trace=ioctl of the KVM ioctls; --maps F names its "
        "mappings from /proc/PID/maps), or a bundled sample's name (rom, mmio, ...).  "
        "Run 'kvmtui COMMAND --help' for each. Exit status: 0 fine, 1 expectations unmet, 2 bad input, 3 backend unavailable.",
    )
    top.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    return top


def build_app_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui", description="Open SCENARIO in the kvmtui app. SCENARIO is anything kvmtui opens, recognised by content: "
                "a scenario YAML file, an ELF image, a VMM log (QEMU -trace kvm_set_user_memory, strace of the KVM ioctls), or a bundled sample's name.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("scenario", help="a scenario YAML file, an ELF image, a VMM log, or a bundled sample's name (kvmtui samples)")
    p.add_argument("--live", action="store_true", help="run the steps on this machine's real /dev/kvm")
    p.add_argument("--lesson", action="store_true", help="lesson mode: before each step with an outcome, guess what will happen "
                   "(number keys); right or wrong and why, score K/N, a summary at the end (l toggles it in the app)")
    p.add_argument("--theme", help="a Textual theme name, or high-contrast (for projectors); default: the config file's, else textual-dark")
    p.add_argument("--config", help="the settings file (TOML: theme, plain_words, [keymap]); default: $KVMTUI_CONFIG, else "
                   "config.toml in the platform's config directory (~/.config/kvmtui/ on Linux)")
    p.add_argument("--maps", metavar="F", help="for a VMM log: its /proc/PID/maps file (host mappings named by their paths)")
    p.add_argument("--mtree", metavar="F", help="QEMU's `info mtree -f` output: names for the address-space view (a)")
    _common(p)
    return p


def build_trace_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui trace", description="Print the step-by-step trace of SCENARIO: a table on a terminal, plain when piped, or JSON lines.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("scenario")
    p.add_argument("--json", action="store_true", help="one JSON object per step (trace-format.md)")
    p.add_argument("--live", action="store_true", help="run the steps on this machine's real /dev/kvm instead of the simulator")
    _common(p)
    return p


def build_compare_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui compare", description="Run each SCENARIO in the simulator (modern era) and on the real /dev/kvm, "
                "and show them step by step with the differences marked. Exit 0 same, 1 different, 2 bad input, 3 /dev/kvm not usable.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--path", choices=PATHS, help="guest access path (default: the scenario's)")
    p.add_argument("--json", action="store_true", help="one JSON object per step: both records and the differing fields")
    return p


def _live_unavailable() -> bool:
    """Say why live mode cannot run here, if it cannot."""
    from .live.kvmapi import kvm_available

    ok, why = kvm_available()
    if not ok:
        print(f"kvmtui: live mode unavailable: {why}", file=sys.stderr)
    return not ok


def _load_or_report(path: str):
    scenario, err = _load(path)
    if err:
        print(f"kvmtui: {err}", file=sys.stderr)
    return scenario


def cmd_compare(args: argparse.Namespace) -> int:
    from .checks import compare_files

    return compare_files(args.scenarios, _load_or_report, args.path, args.json)


def build_import_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui import", description="Turn a QEMU kvm_set_user_memory trace or an strace of the KVM ioctls "
                "(recognised by content) into a scenario file you can edit and keep.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("log")
    p.add_argument("-o", "--output", required=True, help="the scenario file to write")
    p.add_argument("--maps", help="a /proc/PID/maps file of the VMM, for the host mappings' prot and backing")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    return p


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


def build_check_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui check", description="Run each SCENARIO and check every step's expect: entries. Every file is "
                "checked, whatever an earlier one gave; the exit status is the worst of them.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--live", action="store_true", help="run the steps on this machine's real /dev/kvm; what the kernel does not "
                   "show (sptes, a fetch's bytes) is listed as unchecked, never as met")
    _common(p)
    return p


def cmd_samples(args: argparse.Namespace) -> int:
    from .bundled import bundled_samples, samples_dir

    found = bundled_samples()
    if not found:
        print("kvmtui: no bundled samples in this installation", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if args.paths:
        for s in found:
            print(s.path)
        return EXIT_OK
    width = max(len(s.name) for s in found)
    print(f"Bundled samples (in {samples_dir()}); open one with 'kvmtui NAME' or 'kvmtui trace NAME':")
    for s in found:
        print(f"  {s.name:<{width}}  {s.title}")
    return EXIT_OK


def build_samples_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="kvmtui samples", description="List the sample scenarios bundled with kvmtui. A sample's name works "
                "wherever a scenario file is expected and no file of that name exists (kvmtui rom, kvmtui trace rom).")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("--paths", action="store_true", help="print each sample's file path, one per line (to copy and edit them)")
    return p


def build_serve_parser() -> argparse.ArgumentParser:
    from .serve import DEFAULT_HOST, DEFAULT_PORT

    p = _Parser(prog="kvmtui serve", description="Serve the app to web browsers (textual-serve): each visitor gets their own "
                "copy of SCENARIO; save, export and screenshot are downloads in the browser. Listens on 127.0.0.1 by default.")
    p.add_argument("--version", action="version", version=f"kvmtui {__version__}")
    p.add_argument("scenario", help="a scenario YAML file, an ELF image, a VMM log, or a bundled sample's name")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--lesson", action="store_true", help="open every visitor's app in lesson mode")
    p.add_argument("--theme", help="a Textual theme name, or high-contrast")
    p.add_argument("--live", action="store_true", help=argparse.SUPPRESS)
    _common(p)
    return p


def cmd_serve(args: argparse.Namespace) -> int:
    if args.live:
        print("kvmtui serve: --live is refused: every visitor would run guest code on this machine's /dev/kvm", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 1 <= args.port <= 65535:
        print(f"kvmtui serve: --port {args.port} is not a TCP port (1-65535)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if _load_or_report(args.scenario) is None:  # bad input is reported here, not in every visitor's browser
        return EXIT_BAD_INPUT
    if args.theme:
        from .tui.theme import theme_names

        if args.theme not in theme_names():
            print(f"kvmtui serve: unknown theme {args.theme!r} (known: {', '.join(theme_names())})", file=sys.stderr)
            return EXIT_BAD_INPUT
    from .serve import app_command, serve

    serve(app_command(args.scenario, args.kernel, args.path, args.theme, args.lesson), args.host, args.port,
          f"kvmtui · {args.scenario.rsplit('/', 1)[-1]}")
    return EXIT_OK


def _resolve(arg: str) -> str:
    from .bundled import resolve

    return resolve(arg)


def _load(path: str, maps: str | None = None):
    """A scenario file; or, recognised by content, an ELF image or a QEMU trace / strace log."""
    from .scenario import ScenarioError
    from .scenario.opening import open_scenario

    try:
        return open_scenario(path, maps), None
    except ScenarioError as e:
        return None, str(e)


def cmd_trace(args: argparse.Namespace) -> int:
    from .runner import ScenarioRun

    scenario = _load_or_report(args.scenario)
    if scenario is None:
        return EXIT_BAD_INPUT
    if args.live:
        if _live_unavailable():
            return EXIT_UNAVAILABLE
        from .live.backend import LiveRun
        from .live.vm import LiveError
        from .scenario import ScenarioError

        try:
            with LiveRun(scenario, args.path) as run:
                entries = run.entries()
                _print_trace(run, entries, args.json)
        except ScenarioError as e:  # what the kernel's types cannot hold, named in the scenario
            print(f"kvmtui: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except (LiveError, OSError) as e:
            print(f"kvmtui: {args.scenario}: live run failed: {getattr(e, 'strerror', None) or e}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        return EXIT_OK
    sim = ScenarioRun(scenario, args.kernel, args.path)
    _print_trace(sim, sim.stream() if args.json else sim.entries(), args.json)  # JSON lines are written as they come
    return EXIT_OK


def _print_trace(run, entries, as_json: bool) -> None:
    if as_json:
        from .report import write_json_lines

        write_json_lines(run, entries, sys.stdout)
    else:
        from .report import print_table

        print_table(run, entries, sys.stdout, terminal=sys.stdout.isatty())


def cmd_check(args: argparse.Namespace) -> int:
    from .checks import check_files

    return check_files(args.scenarios, _load_or_report, args.kernel, args.path, args.live)


def _settings(args: argparse.Namespace):
    """The config file and --theme, checked before the terminal is taken over; None after reporting a problem."""
    from .config import load_config
    from .scenario import ScenarioError

    try:
        config = load_config(args.config)
    except ScenarioError as e:
        print(f"kvmtui: {e}", file=sys.stderr)
        return None
    from .tui.app import settings_problem

    theme = args.theme or config.theme
    problem = settings_problem(theme, config.keymap)
    if problem:
        where = f"{config.path}: " if config.path and not (args.theme and problem.startswith("unknown theme")) else ""
        print(f"kvmtui: {where}{problem}", file=sys.stderr)
        return None
    return theme, config


def cmd_app(args: argparse.Namespace) -> int:
    from .layouts import names_problem

    problem = names_problem(args.mtree)
    if problem:
        print(f"kvmtui: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from pathlib import Path

    from .progress import Progress

    try:
        size = f" ({Path(args.scenario).stat().st_size / 1e6:.1f} MB)"
    except OSError:
        size = ""
    with Progress(f"kvmtui: reading {args.scenario}{size}"):  # a big file: a live line, never a silent terminal
        scenario, err = _load(args.scenario, args.maps)
    if scenario is None:  # bad input is reported before the terminal is taken over
        print(f"kvmtui: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    settings = _settings(args)
    if settings is None:
        return EXIT_BAD_INPUT
    theme, config = settings
    if args.live and _live_unavailable():
        return EXIT_UNAVAILABLE
    from .tui.app import run_app

    return run_app(args.scenario, args.kernel, args.path, args.live, theme=theme, keymap=config.keymap, plain_words=config.plain_words,
                   lesson=args.lesson, scenario=scenario, maps=args.maps, mtree=args.mtree)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "trace":
            args = build_trace_parser().parse_args(argv[1:])
            args.scenario = _resolve(args.scenario)
            return cmd_trace(args)
        if argv and argv[0] == "check":
            args = build_check_parser().parse_args(argv[1:])
            args.scenarios = [_resolve(a) for a in args.scenarios]
            return cmd_check(args)
        if argv and argv[0] == "compare":
            args = build_compare_parser().parse_args(argv[1:])
            args.scenarios = [_resolve(a) for a in args.scenarios]
            return cmd_compare(args)
        if argv and argv[0] == "serve":
            args = build_serve_parser().parse_args(argv[1:])
            args.scenario = _resolve(args.scenario)
            return cmd_serve(args)
        if argv and argv[0] == "samples":
            return cmd_samples(build_samples_parser().parse_args(argv[1:]))
        if argv and argv[0] == "import":
            return cmd_import(build_import_parser().parse_args(argv[1:]))
        if argv and argv[0] in ("map", "diff"):
            from . import cli_layout

            if argv[0] == "map":
                args = cli_layout.build_map_parser().parse_args(argv[1:])
                args.file = _resolve(args.file)
                return cli_layout.cmd_map(args)
            args = cli_layout.build_diff_parser().parse_args(argv[1:])
            args.a, args.b = _resolve(args.a), _resolve(args.b)
            return cli_layout.cmd_diff(args)
        if not argv or argv[0] in ("-h", "--help", "--version"):
            parser = build_parser()
            if not argv:
                parser.print_help(sys.stderr)
                return EXIT_BAD_INPUT
            parser.parse_args(argv)
            return EXIT_OK
        args = build_app_parser().parse_args(argv)
        args.scenario = _resolve(args.scenario)
        return cmd_app(args)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
