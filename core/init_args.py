"""``@mb.record_init``: a class decorator that keeps each instance's constructor arguments.

>>> import modelboard as mb
>>> @mb.record_init                                   # doctest: +SKIP
... class LSTMClassifier(nn.Module):
...     def __init__(self, vocab_size=1000, embed_dim=32, hidden=64): ...

``LSTMClassifier(vocab_size=500, embed_dim=16, hidden=24)`` then carries its arguments (the
defaults it did not get filled in) and ``tracker.track(model)`` records them, so that
``mb.reproduce`` rebuilds exactly this model. Arguments must be JSON values (numbers, strings,
booleans, ``None``, lists and dicts of them); anything else (a layer, a tensor, a function)
makes the record say "not rebuildable" with the reason. The arguments are kept for the
decorated class itself: a subclass must be decorated too.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["INIT_ARGS_ATTRIBUTE", "RecordedInit", "json_problem", "record_init", "recorded_init"]

INIT_ARGS_ATTRIBUTE = "__modelboard_init__"
_C = TypeVar("_C", bound=type)


@dataclass(frozen=True)
class RecordedInit:
    """The constructor arguments of one instance, for the class that received them."""

    owner: type
    args: dict[str, Any]
    problem: str | None = None


def json_problem(value: Any, where: str, depth: int = 0) -> str | None:
    """Why ``value`` is not a plain JSON value (``where`` names it), or ``None`` when it is."""
    if value is None or isinstance(value, (bool, int, str)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value}, not a finite number"
    if depth > 16:
        return f"{where} is nested too deeply"
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = json_problem(item, f"{where}[{index}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{where} has the key {key!r}, not a string"
            found = json_problem(item, f"{where}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    return f"{where} is a {kind}, not a JSON value (number, string, bool, None, list, dict)"


def _plain(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def record_init(cls: _C) -> _C:
    """Decorate a class so that each instance keeps its ``__init__`` arguments (see above)."""
    original: Callable[..., None] = cls.__init__  # type: ignore[misc]
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        if type(self) is not cls:  # a subclass keeps its own arguments, if decorated
            return
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return
        bound.apply_defaults()
        values: dict[str, Any] = {}
        problem = None
        for name, param in list(signature.parameters.items())[1:]:
            value = bound.arguments.get(name)
            if param.kind is param.VAR_POSITIONAL:
                if value:
                    problem = f"{cls.__qualname__} took positional *{name} arguments"
                continue
            if param.kind is param.VAR_KEYWORD:
                values.update(value or {})
                continue
            values[name] = value
        for name, value in values.items():
            problem = problem or json_problem(value, f"argument {name}")
        recorded = RecordedInit(cls, {} if problem else _plain(values), problem)
        object.__setattr__(self, INIT_ARGS_ATTRIBUTE, recorded)

    cls.__init__ = __init__  # type: ignore[misc]
    return cls


def recorded_init(obj: Any) -> RecordedInit | None:
    """The arguments ``@record_init`` kept for ``obj``, when they are for ``obj``'s own class."""
    found = getattr(obj, INIT_ARGS_ATTRIBUTE, None)
    if isinstance(found, RecordedInit) and found.owner is type(obj):
        return found
    return None
