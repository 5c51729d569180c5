"""Frozen values that are cheap to build: the engine makes several per step (records, kernel calls, slots).

A frozen dataclass's generated __init__ stores each field with object.__setattr__(self, name, value): a
lookup and a C call per field, because the class's own __setattr__ refuses every store. `fast_init` builds
the instance without it: a plain twin class with the same slots takes the stores (a plain attribute store,
about a fifth of the cost), and the finished instance is then given its frozen class (`__class__`
assignment, allowed because the two layouts are the same). That is done in `__new__`, so `Cls(...)` builds a
complete value and `__init__` has nothing left to do.

Such a class is declared `@fast_dataclass(frozen=True, slots=True)`: dataclass(init=False), then fast_init.
The __init__ dataclass() would write is never called, and dataclass() writes each method with exec() at
every start (an __init__ is about a third of a class's cost; two dozen classes are built this way on every
command). To mypy it is `dataclass` itself, so calls are checked against the fields as for any dataclass.

The class stays a frozen dataclass in every other way (fields, eq, hash, repr, replace(), copy and pickle,
FrozenInstanceError); only the way its instances are built changes. Not for classes that are subclassed:
the twin has the layout of this class alone.

`builder(Cls)` is the same constructor as a plain function. Calling a class costs about 100 ns more than
calling a function (an argument tuple, the __new__ lookup, the __init__ check): the paths that build several
values for every guest access (a fault builds a dozen) use the builder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

C = TypeVar("C", bound=type)
T = TypeVar("T")


def mutable_twin(cls: type) -> type:
    """A plain class with the slots of `cls` (a slots dataclass with no base classes): the same layout, so an
    instance filled by plain stores may then be given the frozen class by `__class__` assignment."""
    return type(f"_{cls.__name__}Twin", (), {"__slots__": cls.__dict__["__slots__"]})


def fast_init(cls: C) -> C:
    """Give a frozen slots dataclass (no __post_init__, no default factories) a cheap constructor."""
    fields = dataclasses.fields(cls)
    assert cls.__dataclass_params__.frozen and "__slots__" in cls.__dict__, f"{cls.__name__}: a frozen slots dataclass"  # type: ignore[attr-defined]
    assert "__init__" not in cls.__dict__, f"{cls.__name__}: a dataclass(init=False), as fast_dataclass declares it"
    assert not hasattr(cls, "__post_init__"), f"{cls.__name__} has a __post_init__"
    assert cls.__bases__ == (object,), f"{cls.__name__}: no base classes (the twin copies this class's slots only)"
    ns: dict[str, Any] = {"_twin": mutable_twin(cls), "_cls": cls}
    params, body = [], []
    for f in fields:
        assert f.default_factory is dataclasses.MISSING and f.init, f"{cls.__name__}.{f.name}: plain fields only"
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            params.append(f"{f.name}=_d_{f.name}")
            ns[f"_d_{f.name}"] = f.default
        body.append(f"    self.{f.name} = {f.name}")
    # _twin() rather than object.__new__(_twin): a class with no __new__ of its own is the cheaper call.
    build = "\n".join(["    self = _twin()", *body, "    self.__class__ = _cls", "    return self"])
    sig = ", ".join(params)
    exec(f"def __new__(cls, {sig}):\n{build}\n\ndef _build({sig}):\n{build}\n", ns)
    new = ns["__new__"]
    new.__qualname__ = f"{cls.__qualname__}.__new__"
    cls.__new__ = new  # type: ignore[assignment]
    ns["_build"].__qualname__ = f"{cls.__qualname__}.build"
    cls._fast_build = staticmethod(ns["_build"])  # type: ignore[attr-defined]
    # (object.__init__ accepts the constructor's arguments only when the class defines __new__ and not __init__.)
    names = tuple(f.name for f in fields)
    # copy and pickle rebuild through __new__: hand it the fields (their state is then set again, unchanged).
    cls.__getnewargs__ = lambda self: tuple(getattr(self, n) for n in names)  # type: ignore[attr-defined]

    def _no_subclass(sub: type, **kw: object) -> None:
        raise TypeError(f"{cls.__name__} is built by fast_init: it cannot be subclassed")

    cls.__init_subclass__ = classmethod(_no_subclass)  # type: ignore[assignment]
    return cls


if TYPE_CHECKING:  # the constructor mypy checks calls against is the dataclass's own: the fields, in order
    from dataclasses import dataclass as fast_dataclass
else:

    def fast_dataclass(**params: Any) -> Callable[[type], type]:
        """dataclass(**params) without the __init__ it would write, then fast_init (the module docstring)."""
        return lambda cls: fast_init(dataclasses.dataclass(init=False, **params)(cls))


def builder(cls: type[T]) -> Callable[..., T]:
    """The constructor of a fast_init class as a plain function: builder(Cls)(...) == Cls(...)."""
    return cls.__dict__["_fast_build"].__func__  # type: ignore[no-any-return]
