"""The plainest YAML read without a YAML library: what is left of a real-size scenario once fastitems has
read its long runs (a header of keys and values, a few slots, a placeholder per run).

Importing PyYAML compiles some twenty modules at every cold start (PYTHONDONTWRITEBYTECODE=1, a fresh
clone), a quarter of `kvmtui trace`'s import time; such a header takes far less to read than that. The
grammar is narrow on purpose: block mappings and sequences (an entry's mapping on its dash's line, or an
entry's flow value), keys that are names, each value on its key's line and one of a few one-line forms
whose YAML reading needs no parser (a plain scalar of letters, digits and ` _.,()/+=-`, read by fastyaml's
plain_scalar as the YAML path reads it; a quoted string without escapes or quotes inside; a flow list of
words; a flow mapping of such values), comments, printable ASCII only. Anything else (an empty value, a
block scalar, a duplicate key, an anchor, a tab, ...) makes read_simple return None and the caller reads
the text through libyaml: errors and their messages always come from there. The values and the positions
of every key, value and item are those fastyaml's builder gives (tests/test_fast_yaml.py holds the two
to that over every YAML file in the repository and generated texts).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .fastyaml import DOUBLE_QUOTED as _DQ
from .fastyaml import FLOW_PLAIN as _FPLAIN
from .fastyaml import PLAIN as _PLAIN
from .fastyaml import SINGLE_QUOTED as _SQ
from .fastyaml import YMap, YSeq, plain_scalar
from .yamlsafe import _PLAIN_INT, MAX_DEPTH, MAX_NUMBER_CHARS

# a line that is not empty (a character class first: the search skips the empty lines in C)
_LINE = re.compile(r"[^\n][^\n]*")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]{0,79}):(?: +|$)")
_WORDS = r"\[(?:[A-Za-z0-9_]{1,80}(?:, [A-Za-z0-9_]{1,80}){0,63})?\]"
_FVALUE = rf"{_DQ}|{_SQ}|{_WORDS}|{_FPLAIN}"
_FMAP = rf"\{{(?:[A-Za-z_][A-Za-z0-9_]{{0,79}}: (?:{_FVALUE})(?:, [A-Za-z_][A-Za-z0-9_]{{0,79}}: (?:{_FVALUE})){{0,63}})?\}}"
_VALUE = re.compile(rf"({_DQ}|{_SQ}|{_WORDS}|{_FMAP}|{_PLAIN})(?: +#.*| *)")  # then a comment, or the line's end
_PAIR = re.compile(rf"([A-Za-z_][A-Za-z0-9_]{{0,79}}): ({_FVALUE})")
_WORD = re.compile(r"[A-Za-z0-9_]+")


class _No(Exception):
    """Not in the grammar read here."""


class _Tok(NamedTuple):
    dash: bool  # an entry's dash (at col), else a key (key set) or an entry's value
    line: int  # 0-based
    col: int  # 0-based
    key: str | None = None
    value: str = ""  # the value's text (a key's: "" when on later lines)
    vcol: int = 0


def read_simple(text: str) -> Any:
    """The document in `text` as fastyaml's builder gives it (YMap / YSeq / scalars), or None when the text
    is not in the grammar read here."""
    if not text.isascii():
        return None
    try:
        toks = _tokens(text)
        if not toks or toks[0].key is None:
            return None
        doc, i = _mapping(toks, 0, toks[0].col, 1)
        return doc if i == len(toks) else None
    except _No:
        return None


def _tokens(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    line = 0
    at = 0
    for m in _LINE.finditer(text):
        whole = m.group()
        if not whole.isprintable():  # a tab, a CR or a control character: not read here
            raise _No
        content = whole.lstrip(" ")
        if not content or content[0] == "#":  # spaces only, or a comment line
            continue
        line += text.count("\n", at, m.start())
        at = m.start()
        col = len(whole) - len(content)
        if content[:2] == "- ":
            toks.append(_Tok(True, line, col))
            content = content[2:]
            col += 2
            if not content or content[0] in " -#":
                raise _No  # an empty entry, a nested sequence on one line, extra spaces: left to the parser
        elif content[0] == "-":
            raise _No
        k = _KEY.match(content)
        if k is not None:
            rest = content[k.end():]
            if rest[:1] == "#":  # `key: # comment`: the value is on later lines
                rest = ""
            toks.append(_Tok(False, line, col, k.group(1), rest, col + k.end()))
        elif toks and toks[-1].dash and toks[-1].line == line:
            toks.append(_Tok(False, line, col, None, content, col))
        else:
            raise _No
    return toks


def _scalar(raw: str) -> Any:
    if raw[0] == '"' or raw[0] == "'":
        return raw[1:-1]
    if len(raw) > MAX_NUMBER_CHARS and _PLAIN_INT.fullmatch(raw):
        raise _No  # the YAML path's message
    return plain_scalar(raw)


def _words(raw: str, line: int, col: int) -> YSeq:
    seq = YSeq()
    seq.line, seq.col = line, col
    marks: list[int] = []
    seq._marks = marks
    for w in _WORD.finditer(raw):
        seq.append(_scalar(w.group()))
        marks += (line, col + w.start())
    return seq


def _value(text: str, line: int, col: int) -> Any:
    """A value on one line (with any comment after it)."""
    m = _VALUE.fullmatch(text)
    if m is None:
        raise _No
    raw = m.group(1)
    c = raw[0]
    if c == "[":
        return _words(raw, line, col)
    if c != "{":
        return _scalar(raw)
    fm = YMap()
    fm.line, fm.col = line, col
    marks: list[int] = []
    fm._marks = marks
    for p in _PAIR.finditer(raw):
        key = plain_scalar(p.group(1))
        if key in fm:
            raise _No  # the YAML path's message
        v = p.group(2)
        fm[key] = _words(v, line, col + p.start(2)) if v[0] == "[" else _scalar(v)
        marks += (line, col + p.start(1), line, col + p.start(2))
    return fm


def _mapping(toks: list[_Tok], i: int, col: int, depth: int) -> tuple[YMap, int]:
    """The block mapping whose first key is toks[i] (at `col`), and the index after it."""
    if depth > MAX_DEPTH:
        raise _No
    m = YMap()
    m.line, m.col = toks[i].line, col
    marks: list[int] = []
    m._marks = marks
    n = len(toks)
    while i < n and toks[i].col == col and toks[i].key is not None:
        t = toks[i]
        key = plain_scalar(t.key)  # type: ignore[arg-type]
        if key in m:
            raise _No
        i += 1
        if t.value:
            node = _value(t.value, t.line, t.vcol)
            nl, nc = t.line, t.vcol
            if i < n and toks[i].col > col:  # a value continued on later lines, or a key under a scalar
                raise _No
        elif i < n and toks[i].dash and toks[i].col >= col:  # a sequence (at the key's column: indentless)
            node, i = _sequence(toks, i, toks[i].col, depth + 1)
            nl, nc = node.line, node.col
        elif i < n and toks[i].key is not None and toks[i].col > col:
            node, i = _mapping(toks, i, toks[i].col, depth + 1)
            nl, nc = node.line, node.col
        else:
            raise _No  # an empty (null) value: its position is the parser's
        m[key] = node
        marks += (t.line, t.col, nl, nc)
    if i < n and toks[i].col >= col:
        raise _No
    return m, i


def _sequence(toks: list[_Tok], i: int, col: int, depth: int) -> tuple[YSeq, int]:
    """The block sequence whose first dash is toks[i] (at `col`), and the index after it."""
    if depth > MAX_DEPTH:
        raise _No
    s = YSeq()
    s.line, s.col = toks[i].line, col
    marks: list[int] = []
    s._marks = marks
    n = len(toks)
    while i < n and toks[i].dash and toks[i].col == col:
        t = toks[i + 1]  # the entry's content, on the dash's line
        if t.key is None:
            node: Any = _value(t.value, t.line, t.col)
            i += 2
            if i < n and toks[i].col > col:
                raise _No
        else:
            node, i = _mapping(toks, i + 1, t.col, depth + 1)
        s.append(node)
        marks += (t.line, t.col)
    return s, i
