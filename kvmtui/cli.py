"""The kvmtui command line: one table of commands (COMMANDS), parsers built from it with the options they share
declared once in parent parsers, exit codes. Each command imports what it uses when it runs (a headless command
never loads Textual, and every module imported is compiled at a cold start).

Exit status: 0 fine, 1 expectations unmet (or differences), 2 bad input or usage, 3 a backend not available.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

from . import __version__
from .status import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE

ERAS = ("3.6", "3.7", "modern")
PATHS = ("native", "emulated")
OPENS = "a scenario YAML file, an ELF image, a VMM log (QEMU -trace kvm_set_user_memory, strace of the KVM ioctls), or a bundled sample's name"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors are exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _parent(*arguments: tuple[tuple[str, ...], dict]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    for flags, options in arguments:
        p.add_argument(*flags, **options)
    return p


# The options several commands share, each declared once (a command names the ones it takes in COMMANDS).
PARENTS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "version": lambda: _parent((("--version",), {"action": "version", "version": f"kvmtui {__version__}"})),
    "kernel": lambda: _parent((("--kernel",), {"choices": ERAS, "help": "kernel era to simulate (default: the scenario's, else modern); "
                                                "not with --live, which runs this machine's kernel"})),
    "path": lambda: _parent((("--path",), {"choices": PATHS, "help": "guest access path: native (MMU fault path) or emulated "
                                            "(instruction emulator); default: the scenario's"})),
    "live": lambda: _parent((("--live",), {"action": "store_true", "help": "run the steps on this machine's real /dev/kvm instead "
                                            "of the simulator"})),
    "maps": lambda: _parent((("--maps",), {"metavar": "F", "help": "for a VMM log: its /proc/PID/maps file (host mappings named "
                                            "by their paths, with their prot and backing)"})),
    "mtree": lambda: _parent((("--mtree",), {"metavar": "F", "help": "QEMU's `info mtree -f` output: slots and ranges named by "
                                              "QEMU's regions, matched by range"})),
}
# Options that only the simulator reads: refused beside --live (exit 2) rather than silently ignored.
SIM_ONLY = ("kernel",)


class Command(NamedTuple):  # (a NamedTuple: --version and --help import no dataclasses machinery)
    """One subcommand: its words in the help, the shared options it takes, its own, and what runs it."""

    name: str
    usage: str  # for the top-level help: "trace SCENARIO"
    summary: str
    description: str
    parents: tuple[str, ...]
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    samples: tuple[str, ...] = ()  # arguments that may name a bundled sample (resolved before run)


def _app_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help=f"{OPENS} (kvmtui samples)")
    p.add_argument("--lesson", action="store_true", help="lesson mode: before each step with an outcome, guess what will happen "
                   "(number keys); right or wrong and why, score K/N, a summary at the end (l toggles it in the app)")
    p.add_argument("--theme", help="a Textual theme name, or high-contrast (for projectors); default: the config file's, else textual-dark")
    p.add_argument("--config", help="the settings file (TOML: theme, plain_words, [keymap]); default: $KVMTUI_CONFIG, else "
                   "config.toml in the platform's config directory (~/.config/kvmtui/ on Linux)")


def _trace_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", help=OPENS)
    p.add_argument("--json", action="store_true", help="one JSON object per step (trace-format.md)")


def _check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    p.add_argument("--json", action="store_true", help="one JSON object per step: both records and the differing fields")


def _import_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("log")
    p.add_argument("-o", "--output", required=True, help="the scenario file to write")
    p.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")


def _samples_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--paths", action="store_true", help="print each sample's file path, one per line (to copy and edit them)")


def _serve_arguments(p: argparse.ArgumentParser) -> None:
    from .serve import DEFAULT_HOST, DEFAULT_PORT

    p.add_argument("scenario", help=OPENS)
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    p.add_argument("--lesson", action="store_true", help="open every visitor's app in lesson mode")
    p.add_argument("--theme", help="a Textual theme name, or high-contrast")
    p.add_argument("--live", action="store_true", help=argparse.SUPPRESS)  # declared to be refused with a reason


def _layout(name: str) -> Callable:
    """A function of cli_layout (map and diff), imported when that command is used."""
    return _lazy("cli_layout", name)


def _lazy(module: str, name: str) -> Callable:
    """A function of a command's own module (cli_layout, cli_app, cli_import), imported when that command runs:
    every module imported is compiled at a cold start, and a trace runs none of the others' code."""

    def call(*args):
        from importlib import import_module

        return getattr(import_module(f".{module}", __package__), name)(*args)

    return call


def _live_unavailable() -> bool:
    """Say why live mode cannot run here, if it cannot."""
    from .live.kvmapi import kvm_available

    ok, why = kvm_available()
    if not ok:
        print(f"kvmtui: live mode unavailable: {why}", file=sys.stderr)
    return not ok


def _load_or_report(path: str, maps: str | None = None):
    scenario, err = _load(path, maps)
    if err:
        print(f"kvmtui: {err}", file=sys.stderr)
    return scenario


def cmd_compare(args: argparse.Namespace) -> int:
    from .checks import compare_files

    return compare_files(args.scenarios, _load_or_report, args.path, args.json)


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

    scenario = _load_or_report(args.scenario, args.maps)
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
    if args.json:
        from .split_trace import use_second_core, write_json_split

        # A long trace on a machine with a second CPU: a forked child writes its end. The child's lines are
        # bytes, copied to stdout's byte buffer (which a caller that swapped in a StringIO does not have).
        if use_second_core(len(sim)) and hasattr(sys.stdout, "buffer"):
            write_json_split(sim, sys.stdout)
            return EXIT_OK
    # JSON lines are written as they come; the table needs every row first (widths), but not the entries:
    # each is let go once its row is made (print_table)
    _print_trace(sim, sim.stream(), args.json)
    return EXIT_OK


def _print_trace(run, entries, as_json: bool) -> None:
    if as_json:
        from .report import write_json_lines

        write_json_lines(run, entries, sys.stdout)
    else:
        from .table import print_table

        print_table(run, entries, sys.stdout, terminal=sys.stdout.isatty())


def cmd_check(args: argparse.Namespace) -> int:
    from .checks import check_files

    return check_files(args.scenarios, _load_or_report, args.kernel, args.path, args.live)


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("app", "SCENARIO", "open SCENARIO in the app",
            f"Open SCENARIO in the kvmtui app. SCENARIO is anything kvmtui opens, recognised by content: {OPENS}.",
            ("version", "kernel", "path", "live", "maps", "mtree"), _app_arguments, _lazy("cli_app", "cmd_app"), ("scenario",)),
    Command("trace", "trace SCENARIO", "the step-by-step trace: a table, plain when piped, or --json lines",
            "Print the step-by-step trace of SCENARIO: a table on a terminal, plain when piped, or JSON lines.",
            ("version", "kernel", "path", "live", "maps"), _trace_arguments, cmd_trace, ("scenario",)),
    Command("check", "check SCENARIO...", "run each file and check its expect: entries",
            "Run each SCENARIO and check every step's expect: entries. Every file is checked, whatever an earlier one "
            "gave; the exit status is the worst of them. With --live, what the kernel does not show (sptes, a fetch's "
            "bytes) is listed as unchecked, never as met.",
            ("version", "kernel", "path", "live"), _check_arguments, cmd_check, ("scenarios",)),
    Command("import", "import LOG -o SCENARIO", "a QEMU trace or strace log as a scenario file",
            "Turn a QEMU kvm_set_user_memory trace or an strace of the KVM ioctls (recognised by content) into a "
            "scenario file you can edit and keep.",
            ("version", "maps"), _import_arguments, _lazy("cli_import", "cmd_import")),
    Command("compare", "compare SCENARIO...", "the simulator beside /dev/kvm, differences marked",
            "Run each SCENARIO in the simulator (modern era) and on the real /dev/kvm, and show them step by step "
            "with the differences marked. Every file is compared, whatever an earlier one gave. Exit 0 same, "
            "1 different, 2 bad input, 3 /dev/kvm not usable: the worst of the files.",
            ("version", "path"), _compare_arguments, cmd_compare, ("scenarios",)),
    Command("samples", "samples", "the bundled samples",
            "List the sample scenarios bundled with kvmtui. A sample's name works wherever a scenario file is "
            "expected and no file of that name exists (kvmtui rom, kvmtui trace rom).",
            ("version",), _samples_arguments, cmd_samples),
    Command("map", "map FILE", "the guest-physical address space after a step",
            "The whole guest-physical address space of FILE after its last step (or step N), as QEMU's "
            "`info mtree -f` shows it: each slot with its name and flags, the holes (an access there is an MMIO "
            "exit), the scenario's MMIO devices.",
            ("version", "maps", "mtree"), _layout("map_arguments"), _layout("cmd_map"), ("file",)),
    Command("diff", "diff A B", "where two layouts differ",
            "Compare the guest-physical layouts of A and B after their last steps (or steps N): the ranges where "
            "one has a slot and the other none, or both have slots with different flags. Slot ids and host "
            "addresses alone are no difference. Exit 0 same, 1 different, 2 bad input.",
            ("version",), _layout("diff_arguments"), _layout("cmd_diff"), ("a", "b")),
    Command("serve", "serve SCENARIO", "the app in web browsers (textual-serve)",
            "Serve the app to web browsers (textual-serve): each visitor gets their own copy of SCENARIO; save, "
            "export and screenshot are downloads in the browser. Listens on 127.0.0.1 by default.",
            ("version", "kernel", "path"), _serve_arguments, _lazy("cli_app", "cmd_serve"), ("scenario",)),
)}


def build_parser() -> argparse.ArgumentParser:
    """`kvmtui --help` and `--version`: the commands, from the table."""
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = "\n".join(f"  kvmtui {c.usage:<{width}}  {c.summary}" for c in COMMANDS.values())
    return _Parser(
        prog="kvmtui", parents=[PARENTS["version"]()], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="See how KVM maps guest memory: memslots, the fault path, sptes and MMIO exits, in three kernel eras.",
        epilog=f"commands:\n{lines}\n\n"
        "What opens (SCENARIO, FILE, A, B), recognised by content: a scenario YAML file, an ELF image (its PT_LOAD\n"
        "segments as slots), a VMM log (QEMU's -trace kvm_set_user_memory output, or strace -e trace=ioctl of the KVM\n"
        "ioctls; --maps F names its mappings from /proc/PID/maps), or a bundled sample's name (rom, mmio, ...).\n"
        "Run 'kvmtui COMMAND --help' for each. Exit status: 0 fine, 1 expectations unmet, 2 bad input,\n"
        "3 backend unavailable.",
    )


def command_parser(command: Command) -> argparse.ArgumentParser:
    prog = "kvmtui" if command.name == "app" else f"kvmtui {command.name}"
    p = _Parser(prog=prog, description=command.description, parents=[PARENTS[name]() for name in command.parents])
    command.arguments(p)
    return p


def build_app_parser() -> argparse.ArgumentParser:
    return command_parser(COMMANDS["app"])


def build_serve_parser() -> argparse.ArgumentParser:
    return command_parser(COMMANDS["serve"])


def _conflict(command: Command, args: argparse.Namespace) -> str | None:
    """Options given together that cannot both hold."""
    if getattr(args, "live", False) and "live" in command.parents:
        given = [f"--{name}" for name in SIM_ONLY if getattr(args, name, None) is not None]
        if given:
            return (f"{' and '.join(given)} picks what the simulator models; --live runs this machine's own kernel: "
                    f"give one or the other")
    return None


def _resolve_samples(command: Command, args: argparse.Namespace) -> None:
    """A bundled sample's name where no file of that name exists: the sample's path."""
    from pathlib import Path

    for name in command.samples:
        value = getattr(args, name)
        if all(Path(v).exists() for v in (value if isinstance(value, list) else [value])):
            continue  # files, as almost always: bundled (and its module) is not needed
        from .bundled import resolve

        setattr(args, name, [resolve(v) for v in value] if isinstance(value, list) else resolve(value))


BATCH_COMMANDS = ("trace", "check", "compare", "import")


def _batch_gc() -> None:
    """A batch command builds hundreds of thousands of objects that live until it exits (specs, memslots,
    records) and frees almost nothing, so each of the cyclic collector's frequent default passes walks them
    all again: a sixth of `trace` on a 32,764-slot layout. Collections stay on (a cycle is still freed),
    only far less often; nothing of the command's output depends on when they run."""
    import gc

    gc.set_threshold(100_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "--version"):
            parser = build_parser()
            if not argv:
                parser.print_help(sys.stderr)
                return EXIT_BAD_INPUT
            parser.parse_args(argv)
            return EXIT_OK
        command = COMMANDS.get(argv[0]) if argv[0] != "app" else None
        if command is None:  # kvmtui SCENARIO: the app
            command, argv = COMMANDS["app"], ["", *argv]
        args = command_parser(command).parse_args(argv[1:])
        problem = _conflict(command, args)
        if problem:
            print(f"{'kvmtui' if command.name == 'app' else f'kvmtui {command.name}'}: {problem}", file=sys.stderr)
            return EXIT_BAD_INPUT
        _resolve_samples(command, args)
        if command.name in BATCH_COMMANDS:
            _batch_gc()
        return command.run(args)
    except SystemExit as e:
        return int(e.code) if isinstance(e.code, int) else EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


def entry() -> NoReturn:
    """The `kvmtui` command (console script and `python -m kvmtui`): main(), and after a batch command the
    process ends at once. Its objects (the VM's host pages and sptes, the records, the specs) would otherwise
    be freed one by one as the interpreter exits: 0.25 s of a 326,846-step trace, 0.06 s of a 32,764-slot one,
    for nothing, since the output is already written. The app and --help exit the ordinary way."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in BATCH_COMMANDS:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (BrokenPipeError, ValueError):  # the reader has gone (| head), or the stream is closed
                pass
        os._exit(code)
    raise SystemExit(code)
