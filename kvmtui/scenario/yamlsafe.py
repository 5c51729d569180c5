"""Reading a YAML file safely, with line numbers, and writing it back with its comments.

ruamel.yaml's round-trip mode keeps every node's position (for error messages) and the user's comments
and key order (for saving). Its round-trip constructor never builds Python objects from tags; on top of
that, explicit tags are refused outright (no tag is needed in a scenario) and aliases are counted so that a "billion laughs" document is
refused before anything walks it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import inputfile
from .errors import ScenarioError

if TYPE_CHECKING:
    from ruamel.yaml import YAML

MAX_BYTES = inputfile.MAX_SCENARIO_BYTES
MAX_EXPANDED_NODES = 1_000_000



def _yaml() -> YAML:
    from ruamel.yaml import YAML  # ruamel (~0.2 s to import) only on the careful and the editing paths

    y = YAML(typ="rt")
    y.allow_duplicate_keys = False
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap the user's long lines
    y.indent(mapping=2, sequence=4, offset=2)  # the samples' style: "  - slot: 0" under "slots:"
    return y


_LEADING_SPACE = re.compile(r"\s*")


def read_text(path: Path) -> str:
    """A scenario file's text: read by the one bounded reader (regular files only, size cap), then checked
    to hold something."""
    name = str(path)
    text = inputfile.read_text(path, what="a YAML scenario", limit=MAX_BYTES)
    lead = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]  # (matches everywhere)
    if lead < len(text) and text[lead] != "#":  # the first thing written is not a comment: not empty (no copy, no split)
        return text
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()):
        raise ScenarioError(name, None, None, "empty scenario (expected a mapping with at least `steps:` or `slots:`)")
    return text


MAX_DEPTH = 64  # a scenario nests four or five levels; the YAML parser slows quadratically with depth
MAX_NUMBER_CHARS = 80  # 2^64 is 20 decimal digits; room for 0x, underscores and a sign
_STRIP = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\n]|\'\')*\'|(?:^|(?<=\s))#[^\n]*', re.MULTILINE)
_BRACKETS = re.compile(r"[\[\]{}]")
_PLAIN_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|[0-9][0-9_]*)")


def _flow_depth(text: str) -> tuple[int, int]:
    """(deepest bracket nesting, offset where it passes MAX_DEPTH). Linear in the brackets: no parser."""
    depth = 0
    for m in _BRACKETS.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return depth, m.start()
        elif depth:
            depth -= 1
    return depth, -1


def check_nesting(text: str, name: str) -> None:
    """Refuse flow collections nested deeper than MAX_DEPTH before the parser spends time on them.

    First a count of brackets alone (almost every file stops here); only a file that seems deep has its
    quoted strings and comments taken out and is counted again, so brackets in a note do not count."""
    _, at = _flow_depth(text)
    if at < 0:
        return
    _, at = _flow_depth(_STRIP.sub(lambda m: " " * len(m.group()), text))
    if at >= 0:
        line = text.count("\n", 0, at) + 1
        col = at - (text.rfind("\n", 0, at) + 1) + 1
        raise ScenarioError(name, line, col, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")


def short(value: object, limit: int = 40) -> str:
    """repr() of a value for a one-line message, cut to about `limit` characters."""
    text = repr(value) if not isinstance(value, str) or len(value) <= limit else repr(value[:limit])[:-1] + "…" + repr(value)[-1]
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit + 8 else text[: limit + 4] + "…"


def load_yaml(text: str, name: str) -> Any:
    """Parse YAML text into ruamel's round-trip objects, refusing tags, complex keys, deep nesting,
    over-long numbers and alias bombs: all checked on the event stream, before anything is built."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    check_nesting(text, name)
    y = _yaml()
    try:
        aliases = 0
        first_alias: tuple[int, int] | None = None
        # one entry per open collection: [is_mapping, nodes seen in it]; a node at an even count in a
        # mapping is a key
        stack: list[list] = []
        for ev in y.parse(io.StringIO(text)):
            kind = type(ev).__name__
            m = ev.start_mark
            tag = getattr(ev, "tag", None)
            if tag is not None:
                raise ScenarioError(name, m.line + 1, m.column + 1, f"YAML tag {short(tag)} is not allowed (scenarios are plain data)")
            if kind in ("ScalarEvent", "AliasEvent", "SequenceStartEvent", "MappingStartEvent"):
                if stack:
                    top = stack[-1]
                    if top[0] and top[1] % 2 == 0 and kind in ("SequenceStartEvent", "MappingStartEvent"):
                        raise ScenarioError(name, m.line + 1, m.column + 1, "complex YAML key (a list or mapping used as a key) is not allowed: keys are names")
                    top[1] += 1
                if kind == "ScalarEvent" and ev.style is None and len(ev.value) > MAX_NUMBER_CHARS and _PLAIN_INT.fullmatch(ev.value):
                    raise ScenarioError(name, m.line + 1, m.column + 1, f"number with {len(ev.value)} digits is out of range (at most 64 bits)")
                if kind == "AliasEvent":
                    aliases += 1
                    if first_alias is None:
                        first_alias = (m.line + 1, m.column + 1)
                elif kind != "ScalarEvent":
                    stack.append([kind == "MappingStartEvent", 0])
                    if len(stack) > MAX_DEPTH:
                        raise ScenarioError(name, m.line + 1, m.column + 1, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")
            elif kind in ("SequenceEndEvent", "MappingEndEvent") and stack:
                stack.pop()
        doc = y.load(text)
    except ScenarioError:
        raise
    except MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "YAML syntax error").strip()
        if "duplicate key" in str(e):
            what = "duplicate key " + (e.problem or "").split("duplicate key", 1)[-1].strip()
        what = " ".join(what.split())  # one line, whatever the value spanned
        if len(what) > 120:
            what = what[:117] + "…"
        raise ScenarioError(name, m.line + 1 if m else None, m.column + 1 if m else None, f"YAML syntax error: {what}") from None
    except YAMLError as e:
        raise ScenarioError(name, None, None, f"YAML error: {short(str(e).splitlines()[0] if str(e) else '', 120)}") from None
    except RecursionError:
        raise ScenarioError(name, None, None, "YAML nested too deeply") from None
    except (ValueError, TypeError) as e:  # ruamel building a value it cannot hold; the checks above should have refused it
        raise ScenarioError(name, None, None, f"YAML value not allowed: {short(str(e), 120)}") from None
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
