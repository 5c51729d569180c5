"""Reading a YAML file safely, with line numbers, and writing it back with its comments.

ruamel.yaml's round-trip mode keeps every node's position (for error messages) and the user's comments
and key order (for saving). Its round-trip constructor never builds Python objects from tags; on top of
that, explicit tags are refused outright (no tag is needed in a scenario) and aliases are counted so that a "billion laughs" document is
refused before anything walks it.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .errors import ScenarioError

MAX_BYTES = 16 << 20
MAX_EXPANDED_NODES = 1_000_000



def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the user's long lines
    y.indent(mapping=2, sequence=4, offset=2)  # the samples' style: "  - slot: 0" under "slots:"
    return y


def read_text(path: Path) -> str:
    name = str(path)
    try:
        if path.is_dir():
            raise ScenarioError(name, None, None, "is a directory (expected a scenario file)")
        raw = path.read_bytes()
    except ScenarioError:
        raise
    except FileNotFoundError:
        raise ScenarioError(name, None, None, "no such file") from None
    except PermissionError:
        raise ScenarioError(name, None, None, "permission denied") from None
    except OSError as e:
        raise ScenarioError(name, None, None, f"cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError(name, None, None, f"file too large ({len(raw)} bytes; a scenario is at most {MAX_BYTES})")
    if b"\x00" in raw:
        raise ScenarioError(name, None, None, "binary file (contains NUL bytes): neither a YAML scenario nor an ELF image")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(name, line, None, f"not UTF-8 text (bad byte {raw[e.start]:#04x})") from None
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ScenarioError(name, None, None, "empty scenario (expected a mapping with at least `steps:` or `slots:`)")
    return text


def load_yaml(text: str, name: str) -> Any:
    """Parse YAML text into ruamel's round-trip objects, refusing tags and alias bombs."""
    y = _yaml()
    try:
        aliases = 0
        first_alias: tuple[int, int] | None = None
        for ev in y.parse(io.StringIO(text)):
            tag = getattr(ev, "tag", None)
            if tag is not None:
                m = ev.start_mark
                raise ScenarioError(name, m.line + 1, m.column + 1, f"YAML tag {tag!r} is not allowed (scenarios are plain data)")
            if type(ev).__name__ == "AliasEvent":
                aliases += 1
                if first_alias is None:
                    first_alias = (ev.start_mark.line + 1, ev.start_mark.column + 1)
        doc = y.load(text)
    except ScenarioError:
        raise
    except MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "YAML syntax error").strip()
        if "duplicate key" in str(e):
            what = "duplicate key " + (e.problem or "").split("duplicate key", 1)[-1].strip()
        raise ScenarioError(name, m.line + 1 if m else None, m.column + 1 if m else None, f"YAML syntax error: {what}") from None
    except YAMLError as e:
        raise ScenarioError(name, None, None, f"YAML error: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise ScenarioError(name, None, None, "YAML nested too deeply") from None
    if aliases:
        _check_expansion(doc, name, first_alias or (None, None))
    return doc


def _check_expansion(doc: Any, name: str, where: tuple[int | None, int | None]) -> None:
    memo: dict[int, int] = {}

    def size(obj: Any, depth: int) -> int:
        if depth > 200:
            raise ScenarioError(name, *where, "YAML nested too deeply")
        key = id(obj)
        if key in memo:
            return memo[key]
        if isinstance(obj, dict):
            n = 1 + sum(size(v, depth + 1) for v in obj.values())
        elif isinstance(obj, list):
            n = 1 + sum(size(v, depth + 1) for v in obj)
        else:
            n = 1
        memo[key] = n
        if n > MAX_EXPANDED_NODES:
            raise ScenarioError(name, *where, f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes (an alias bomb?)")
        return n

    size(doc, 0)


def dump_yaml(doc: Any) -> str:
    buf = io.StringIO()
    _yaml().dump(doc, buf)
    return buf.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside the target, then rename: a crash never leaves half a file."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
