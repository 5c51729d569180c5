"""`kvmtui SCENARIO` (the app) and `kvmtui serve`: the two commands that start Textual. How they run; their
arguments, descriptions and shared options are in cli.COMMANDS. A module of their own: a trace compiles none of it."""

from __future__ import annotations

import argparse
import sys

from .cli import _live_unavailable, _load, _load_or_report
from .status import EXIT_BAD_INPUT, EXIT_OK, EXIT_UNAVAILABLE


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
    import gc
    from importlib import import_module
    from pathlib import Path

    from .progress import Progress

    try:
        size = f" ({Path(args.scenario).stat().st_size / 1e6:.1f} MB)"
    except OSError:
        size = ""
    # A live line, never a silent terminal: through the load, then through Textual's start-up, which is most of a
    # cold start (over a second where no bytecode is cached); the line is gone before the app takes the screen.
    with Progress(f"kvmtui: reading {args.scenario}{size}") as progress:
        scenario, err = _load(args.scenario, args.maps)
        if scenario is not None:
            # The scenario, then Textual's modules, live as long as the app: out of the cyclic collector's sight
            # (the app does the same for its run once mounted). A 32,764-slot scenario otherwise makes each full
            # collection of the start-up a pause of ~80 ms, one of them landing on the first keys pressed.
            gc.freeze()
            progress.stage("kvmtui: starting the app")
            import_module(".tui.app", __package__)
            gc.freeze()
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
