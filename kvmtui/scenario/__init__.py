"""Scenario files (scenario-format.md): load, validate and save. No kernel logic lives here."""

from .errors import ScenarioError
from .loader import load_scenario, parse_scenario
from .model import Expect, HostSpec, MmioDevice, Scenario, StepSpec

__all__ = ["Expect", "HostSpec", "MmioDevice", "Scenario", "ScenarioError", "StepSpec", "load_scenario", "parse_scenario"]
