"""The lean builder over libyaml's C events (through PyYAML): YMap / YSeq / scalars with their positions.
fastyaml.load_fast reads a text with it when simpleyaml's plain reader gives up (anchors, block scalars,
escapes...); a module of its own, imported with PyYAML then: a real-size scenario's plain header compiles
none of it at a cold start."""

from __future__ import annotations

from typing import Any

from .errors import ScenarioError
from .fastyaml import YMap, YSeq, _Careful, plain_scalar
from .yamlsafe import _PLAIN_INT, MAX_DEPTH, MAX_NUMBER_CHARS, short


def build(text: str, name: str) -> tuple[Any, tuple[int, int] | None]:
    from yaml._yaml import CParser
    from yaml.events import (
        AliasEvent,
        MappingEndEvent,
        MappingStartEvent,
        ScalarEvent,
        SequenceEndEvent,
        SequenceStartEvent,
        StreamEndEvent,
    )

    p = CParser(text)
    get: Any = p.get_event  # events are read by attribute; libyaml fills them
    get()  # StreamStartEvent
    get()  # DocumentStartEvent (an empty stream was refused before: read_text)
    anchors: dict[str, tuple[Any, int, int]] = {}
    first_alias: tuple[int, int] | None = None
    duplicate: ScenarioError | None = None
    root: list[Any] = []
    # the open container and, for a mapping, the key waiting for its value; the enclosing ones on the stack
    stack: list[tuple[Any, list[int], bool, bool, Any, int, int]] = []
    cur: Any = root
    marks: list[int] = []
    is_map = have_key = False
    key: Any = None
    kl = kc = 0
    patch: list[int] | None = None  # marks of an empty value, placed where the next event starts (as ruamel does)
    while True:
        ev = get()
        cls = ev.__class__
        if patch is not None:
            m = ev.start_mark
            patch[-2], patch[-1] = m.line, m.column
            patch = None
        if cls is ScalarEvent:
            if ev.tag is not None:
                _tag_error(name, ev)
            m = ev.start_mark
            if ev.style == "":
                v = ev.value
                if len(v) > MAX_NUMBER_CHARS and _PLAIN_INT.fullmatch(v):
                    raise ScenarioError(name, m.line + 1, m.column + 1, f"number with {len(v)} digits is out of range (at most 64 bits)")
                node = plain_scalar(v)
            else:
                node = ev.value
            nl, nc = m.line, m.column
            if ev.anchor is not None:
                anchors[ev.anchor] = (node, nl, nc)
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if ev.tag is not None:
                _tag_error(name, ev)
            m = ev.start_mark
            if is_map and not have_key:
                raise ScenarioError(name, m.line + 1, m.column + 1, "complex YAML key (a list or mapping used as a key) is not allowed: keys are names")
            if len(stack) >= MAX_DEPTH + 1:  # the root list counts one
                raise ScenarioError(name, m.line + 1, m.column + 1, f"YAML nested too deeply (more than {MAX_DEPTH} levels)")
            new: Any = YMap() if cls is MappingStartEvent else YSeq()
            new.line, new.col = m.line, m.column
            new._marks = []
            if ev.anchor is not None:
                anchors[ev.anchor] = (new, m.line, m.column)
            stack.append((cur, marks, is_map, have_key, key, kl, kc))
            cur, marks, is_map, have_key = new, new._marks, cls is MappingStartEvent, False
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            node = cur
            nl, nc = node.line, node.col
            cur, marks, is_map, have_key, key, kl, kc = stack.pop()
        elif cls is AliasEvent:
            m = ev.start_mark
            if ev.anchor not in anchors:
                raise _Careful(ScenarioError(name, m.line + 1, m.column + 1, f"YAML syntax error: found undefined alias {ev.anchor!r}"))
            node, nl, nc = anchors[ev.anchor]  # positions are the anchored node's, as the careful path has them
            if first_alias is None:
                first_alias = (m.line + 1, m.column + 1)
        elif cls is StreamEndEvent:
            break
        else:  # DocumentEndEvent; a second document after it is refused, as the careful path does
            nxt = get()
            if nxt.__class__ is not StreamEndEvent:
                m = nxt.start_mark
                raise _Careful(ScenarioError(name, m.line + 1, m.column + 1, "YAML syntax error: expected a single document in the stream"))
            break
        # attach the value to the open container
        if is_map:
            if not have_key:  # (a collection as a key was refused where it started)
                key, kl, kc, have_key = node, nl, nc, True
                continue
            if key in cur:
                duplicate = duplicate or _duplicate(name, key, node, cur[key], kl, kc)
            else:
                cur[key] = node
                marks += (kl, kc, nl, nc)
            have_key = False
        else:
            cur.append(node)
            marks += (nl, nc)
        if node is None and cls is ScalarEvent and not ev.value and ev.start_mark.index == ev.end_mark.index:
            patch = marks
    if duplicate is not None:  # the careful path checks tags and syntax over the whole text before keys
        raise duplicate
    return (root[0] if root else None), first_alias


def _tag_error(name: str, ev: Any) -> None:
    m = ev.start_mark
    raise ScenarioError(name, m.line + 1, m.column + 1, f"YAML tag {short(ev.tag)} is not allowed (scenarios are plain data)")


def _duplicate(name: str, key: Any, value: Any, original: Any, line: int, col: int) -> ScenarioError:
    scalar = (str, int, float, bool, type(None))
    what = " ".join(f'duplicate key "{key}" with value "{value}" (original value: "{original}")'.split())  # one line, as the careful path
    if len(what) > 120:
        what = what[:117] + "…"
    msg = f"YAML syntax error: {what}"
    if not isinstance(value, scalar) or not isinstance(original, scalar):  # ruamel shows its own objects here
        raise _Careful(ScenarioError(name, line + 1, col + 1, msg))
    return ScenarioError(name, line + 1, col + 1, msg)
