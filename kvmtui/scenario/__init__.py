"""Scenario files (scenario-format.md): load, validate and save. No kernel logic lives here.

The loader (and with it the YAML parsers) is imported on first use: `kvmtui trace FILE.elf` or an imported
log never needs a YAML library, and every module imported is compiled at each cold start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ScenarioError
from .model import Expect, HostSpec, MmioDevice, Scenario, StepSpec

if TYPE_CHECKING:
    from .loader import load_scenario, parse_scenario

__all__ = ["Expect", "HostSpec", "MmioDevice", "Scenario", "ScenarioError", "StepSpec", "load_scenario", "parse_scenario"]


def __getattr__(name: str) -> Any:
    if name in ("load_scenario", "parse_scenario"):
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
