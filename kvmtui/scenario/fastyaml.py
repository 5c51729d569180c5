"""The fast YAML path: libyaml's C event parser (through PyYAML) feeding a lean builder that keeps positions
(libyaml_build.py), after simpleyaml's plain reader, which needs no YAML library, has had its try.

ruamel's round-trip loader is pure Python (about 10 s a megabyte); it stays for editing and saving, where
comments and key order matter (yamlsafe.load_yaml). Reading a scenario needs only the values and where
each was written, so this builder makes plain dicts and lists (with their line and column) from
libyaml's events. It gives the same values as the careful path (YAML 1.2: `yes`/`on` are text, no base-60,
`0x` hex, 1.2 floats), refuses the same things (explicit tags, duplicate keys, alias bombs) with the same
one-line messages; tests/test_fast_yaml.py holds the two paths to that over every YAML file in the repo
and every bad-input fixture.

Where the wording of an error comes from the parser itself (a syntax error, an undefined alias), the two
parsers phrase it differently: for a file up to CAREFUL_MESSAGE_BYTES the careful path is asked for its
words (a second or two at most), beyond that libyaml's own message is given in the same one-line form.
Scalars the fast builder does not settle itself (octal, underscores, exponents, dates: rare in scenarios)
are handed to ruamel's constructor one at a time, so their meaning cannot drift.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .errors import ScenarioError
from .yamlsafe import _check_expansion, check_nesting, load_yaml

CAREFUL_MESSAGE_BYTES = 256 << 10

# The YAML 1.2 implicit int, float and timestamp forms as ruamel resolves them (ruamel/yaml/resolver.py):
# a plain scalar matching one of these is a number or a date there, so it is constructed by ruamel here.
_NUMERIC_LIKE = re.compile(
    r"""(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+
    |[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN)
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
    |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
     (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)\Z""",
    re.VERBOSE,
)
_DECIMAL = re.compile(r"[0-9]+\.[0-9]+")
_WORDS: dict[str, Any] = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
                          "null": None, "Null": None, "NULL": None, "~": None, "": None}


# The one-line scalar forms the fast readers (fastitems, simpleyaml) recognise, as regular-expression source:
# printable ASCII only; what they leave out (escapes, quotes inside, a trailing space) goes through libyaml.
DOUBLE_QUOTED = r'"[ !#-\[\]-~]{0,4000}"'
SINGLE_QUOTED = r"'[ -&(-~]{0,4000}'"
PLAIN = r"[A-Za-z0-9_](?:[A-Za-z0-9_ .,()/+=-]{0,4000}[A-Za-z0-9_.,()/+=-])?"  # (trailing spaces are not its)
FLOW_PLAIN = r"[A-Za-z0-9_](?:[A-Za-z0-9_ .()/+=-]{0,4000}[A-Za-z0-9_.()/+=-])?"  # in a flow mapping a comma ends it


class YMap(dict):
    """A mapping with where it and each of its keys and values were written (0-based, as ruamel's `lc`)."""

    __slots__ = ("_marks", "col", "line")
    line: int
    col: int
    _marks: list[int]  # key line, key column, value line, value column: four per key, in key order

    @property
    def lc(self) -> YMap:
        return self

    def key(self, k: Any) -> tuple[int, int]:
        i = 4 * list(self).index(k)
        return self._marks[i], self._marks[i + 1]

    def value(self, k: Any) -> tuple[int, int]:
        i = 4 * list(self).index(k)
        return self._marks[i + 2], self._marks[i + 3]


class YSeq(list):
    """A sequence with where it and each item were written (0-based)."""

    __slots__ = ("_marks", "col", "line")
    line: int
    col: int
    _marks: list[int]  # line, column: two per item

    @property
    def lc(self) -> YSeq:
        return self

    def item(self, i: int) -> tuple[int, int]:
        return self._marks[2 * i], self._marks[2 * i + 1]


class _Careful(Exception):
    """An error only the careful path phrases exactly (a parser error, an undefined alias)."""

    def __init__(self, fallback: ScenarioError) -> None:
        self.fallback = fallback


class _Unsupported(Exception):
    """A construct the lean builder leaves to the careful path (merge keys, mappings as keys): rare in a
    scenario, so such a document is read the careful way."""


@lru_cache(maxsize=4096)
def _ruamel_scalar(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


def plain_scalar(v: str) -> Any:
    """A plain (unquoted) scalar's value under YAML 1.2, as ruamel's round-trip loader gives it."""
    if not v:
        return None
    c = v[0]
    if c in "0123456789+-.":
        if v.isdigit() and v.isascii() and (c != "0" or len(v) == 1):
            return int(v)
        if v[:2] == "0x" and "_" not in v and len(v) > 2:
            try:
                return int(v, 16)
            except ValueError:
                return v  # 0x12zz: text (no YAML 1.2 form matches it)
        if _DECIMAL.fullmatch(v):  # `kernel: 3.6`: ruamel's ScalarFloat equals, prints and reprs as this float
            return float(v)
        if _NUMERIC_LIKE.match(v):
            return _ruamel_scalar(v)
        return v
    if c in "tTfFnN~":
        return _WORDS.get(v, v)
    if v in ("<<", "="):  # merge keys and the value tag: the careful path knows them
        raise _Unsupported(v)
    return v


class HasAliases(Exception):
    """load_fast(..., aliases=False) met an alias (or a merge key)."""


def load_fast(text: str, name: str, *, aliases: bool = True) -> Any:
    """Parse YAML text into YMap / YSeq / scalars, refusing what the careful path refuses (deep nesting,
    tags, complex keys, over-long numbers, duplicate keys, alias bombs) with the same words. With
    aliases=False a document that uses an alias raises HasAliases instead (the caller reads it otherwise)."""
    check_nesting(text, name)
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        # NEL, LS, PS: line breaks to libyaml (YAML 1.1), plain characters to YAML 1.2 and the careful path:
        # values and positions would differ, so such a (rare) text is read the careful way
        return load_yaml(text, name)
    from .simpleyaml import read_simple

    doc = read_simple(text)  # (a plain header needs no YAML library: PyYAML is imported below only when it is not)
    if doc is not None:
        return doc
    from yaml import MarkedYAMLError as _LibyamlMarkedError
    from yaml import YAMLError as _LibyamlError

    from .libyaml_build import build

    try:
        doc, first_alias = build(text, name)
    except _Careful as c:
        raise _careful_error(text, name, c.fallback) from None
    except _Unsupported:
        if not aliases:  # a merge key (it comes with an alias): the caller reads the text its own way
            raise HasAliases from None
        return load_yaml(text, name)
    except _LibyamlMarkedError as e:
        m = e.problem_mark or e.context_mark
        what = (e.problem or e.context or "YAML syntax error").strip()
        if "nesting depth" in what:  # libyaml's own bound (1000 levels): the careful path would recurse for long
            raise ScenarioError(name, m.line + 1 if m else None, m.column + 1 if m else None, "YAML nested too deeply") from None
        own = ScenarioError(name, m.line + 1 if m else None, m.column + 1 if m else None, f"YAML syntax error: {what}")
        raise _careful_error(text, name, own) from None
    except _LibyamlError as e:
        own = ScenarioError(name, None, None, f"YAML error: {str(e).splitlines()[0]}")
        raise _careful_error(text, name, own) from None
    if first_alias is not None:
        if not aliases:
            raise HasAliases
        _check_expansion(doc, name, first_alias)
    return doc


def _careful_error(text: str, name: str, own: ScenarioError) -> ScenarioError:
    """The careful path's words for an error the parsers phrase differently (small files), else ours."""
    own.file = name
    if len(text.encode("utf-8", "surrogatepass")) <= CAREFUL_MESSAGE_BYTES:
        try:
            load_yaml(text, name)
        except ScenarioError as e:
            return e
    return ScenarioError(name, own.line, own.col, own.message)
