"""Saving a scenario: the user's YAML document edited in place, written atomically, comments kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml.scalarint import HexInt

from .errors import ScenarioError
from .loader import parse_scenario
from .outfile import output_problem, write_output
from .yamlsafe import dump_yaml, load_yaml, read_text


def load_document(path: str | Path) -> Any:
    """The round-trip document (ruamel CommentedMap) behind a scenario file, for editing."""
    p = Path(path)
    return load_yaml(read_text(p), str(path))


def save_document(doc: Any, path: str | Path, *, overwrite: bool = False) -> None:
    """Write doc to path through the one writer (outfile.py: through symlinks, links and mode kept,
    never over a non-regular file). The text is validated as a scenario first, so nothing invalid is
    ever saved, and an existing path is written only when asked."""
    p = Path(path)
    problem = output_problem(p, overwrite=overwrite)  # before the work: refusals come first
    if problem:
        raise ScenarioError(str(path), None, None, problem)
    text = dump_yaml(doc)
    parse_scenario(text, str(path), p.parent)
    write_output(p, text, overwrite=overwrite)


def hex_value(value: int) -> HexInt:
    """An integer that saves as 0x... like the addresses users write."""
    return HexInt(value)
