"""Open anything kvmtui reads, recognised by content: an ELF image, a VMM log (QEMU trace, strace), or a
scenario file. The one place that decides which."""

from __future__ import annotations

from .errors import ScenarioError
from .model import Scenario
from .sniff import is_elf, looks_like_log


def open_scenario(path: str, maps: str | None = None) -> Scenario:
    """The scenario in `path`; ScenarioError (file:line:col and what is wrong) for anything else.
    `maps` (a /proc/PID/maps file) belongs to a VMM log and is refused for anything else."""
    if is_elf(path):
        if maps:
            raise ScenarioError(path, None, None, "--maps names the mappings of a VMM log; this is an ELF image")
        from .firmware import scenario_from_elf

        return scenario_from_elf(path)
    if looks_like_log(path):
        from .importers import scenario_from_log

        return scenario_from_log(path, maps)
    if maps:
        raise ScenarioError(path, None, None, "--maps names the mappings of a VMM log; this is not one")
    from .loader import load_scenario  # the YAML parsers only for a YAML file

    return load_scenario(path)
