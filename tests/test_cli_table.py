"""The command line is one table: every command takes the shared options from parent parsers, refuses what
cannot hold together (exit 2, one line), and hands what it was given to what runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmtui import __version__, cli
from kvmtui.tui import app as app_module

ROOT = Path(__file__).parent.parent
ROM = str(ROOT / "samples" / "rom.yaml")
IMPORT = ROOT / "tests" / "data" / "import"


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_the_shared_version_option(name, capsys):
    argv = ["--version"] if name == "app" else [name, "--version"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.strip() == f"kvmtui {__version__}"


def test_the_top_help_lists_every_command_of_the_table(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in cli.COMMANDS.values():
        assert f"kvmtui {command.usage}" in out and command.summary in out


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_each_command_takes_exactly_the_shared_options_it_names(name):
    command = cli.COMMANDS[name]
    flags = {a.option_strings[0] for a in cli.command_parser(command)._actions if a.option_strings}
    for parent in cli.PARENTS:
        if parent != "live" or name != "serve":  # (serve declares --live to refuse it with its reason)
            assert (f"--{parent}" in flags) == (parent in command.parents), parent


@pytest.mark.parametrize("argv", [
    ["trace", ROM, "--live", "--kernel", "3.6"],
    ["check", "--kernel", "3.7", "--live", ROM],
    [ROM, "--live", "--kernel", "modern"],
])
def test_kernel_with_live_is_refused_in_one_line(argv, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--kernel" in err and "--live" in err and "Traceback" not in err


def test_maps_reaches_the_app(monkeypatch):
    seen = {}

    def fake_run_app(path, kernel=None, run_path=None, live=False, scenario=None, **settings):
        seen.update(settings, scenario=scenario)
        return 0

    monkeypatch.setattr(app_module, "run_app", fake_run_app)
    maps = str(IMPORT / "pc-maps.maps")
    assert cli.main([str(IMPORT / "pc-maps.log"), "--maps", maps]) == 0
    assert seen["maps"] == maps
    from kvmtui.scenario.opening import open_scenario

    with_maps = [(h.name, h.size, h.hva) for h in seen["scenario"].host]
    assert with_maps == [(h.name, h.size, h.hva) for h in open_scenario(str(IMPORT / "pc-maps.log"), maps).host]
    assert with_maps != [(h.name, h.size, h.hva) for h in open_scenario(str(IMPORT / "pc-maps.log")).host]  # the maps file's VMAs


def test_maps_reaches_the_trace(capsys):
    maps = str(IMPORT / "pc-maps.maps")
    assert cli.main(["trace", str(IMPORT / "pc-maps.log"), "--maps", maps]) == 0
    capsys.readouterr()
    assert cli.main(["trace", ROM, "--maps", maps]) == 2  # read with the file it names: refused for a scenario file
    assert "--maps names the mappings of a VMM log; this is not one" in capsys.readouterr().err
