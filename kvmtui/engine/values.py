"""Frozen values that are cheap to build: the engine makes several per step (records, kernel calls, slots).

A frozen dataclass's generated __init__ stores each field with object.__setattr__(self, name, value), which
looks the name up on every call: about three times the cost of a plain store. `fast_init` gives a frozen
slots dataclass an __init__ with the same signature that stores through the slots' own descriptors instead.
The class stays a frozen dataclass in every other way (eq, hash, repr, replace(), FrozenInstanceError).
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

C = TypeVar("C", bound=type)


def fast_init(cls: C) -> C:
    """Replace the __init__ of a frozen slots dataclass (no __post_init__, no default factories)."""
    fields = dataclasses.fields(cls)
    assert cls.__dataclass_params__.frozen and "__slots__" in cls.__dict__, f"{cls.__name__}: a frozen slots dataclass"  # type: ignore[attr-defined]
    assert not hasattr(cls, "__post_init__"), f"{cls.__name__} has a __post_init__"
    ns: dict[str, object] = {}
    params, body = [], []
    for f in fields:
        assert f.default_factory is dataclasses.MISSING and f.init, f"{cls.__name__}.{f.name}: plain fields only"
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            params.append(f"{f.name}=_d_{f.name}")
            ns[f"_d_{f.name}"] = f.default
        ns[f"_s_{f.name}"] = cls.__dict__[f.name].__set__  # the slot's member descriptor
        body.append(f"    _s_{f.name}(self, {f.name})")
    exec(f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body) + "\n", ns)
    init = ns["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls
