"""Checks of what the user logs, made at the call so that a bad value never reaches the writer.

Both stores must take every accepted value: integers fit the store's integer column (signed 64
bits on SQLite; 32 bits on PostgreSQL, whose ``metrics.step`` is an ``integer``), names fit
``String(255)`` and hold no NUL (PostgreSQL refuses it) nor lone surrogates (UTF-8 cannot hold
them, so neither SQLite nor PostgreSQL can).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from modelboard.errors import InvalidValueError

__all__ = ["check_name", "check_integer", "integer_bits", "check_text", "check_values", "NAME_MAX"]

NAME_MAX = 255


def check_text(what: str, text: str) -> None:
    """Refuse text that a database cannot store: NUL characters and lone surrogates."""
    if "\x00" in text:
        raise InvalidValueError(f"{what} contains a NUL character (\\x00); remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidValueError(
            f"{what} contains a lone surrogate ({text[exc.start : exc.end]!r} at {exc.start}), "
            "which UTF-8 cannot hold; decode the text with errors='replace' first"
        ) from None


def check_name(what: str, name: Any) -> str:
    """A metric, parameter or tag name: a non-empty string of at most 255 storable characters."""
    if not isinstance(name, str):
        raise InvalidValueError(f"{what} must be a string, got {type(name).__qualname__}")
    if not name:
        raise InvalidValueError(f"{what} is empty; give it a name")
    if len(name) > NAME_MAX:
        raise InvalidValueError(
            f"{what} {name[:40]!r}... has {len(name)} characters; the most is {NAME_MAX}"
        )
    check_text(f"{what} {name[:40]!r}", name)
    return name


def integer_bits(dialect: str) -> int:
    """The width of the step and epoch columns of a store on ``dialect``."""
    return 32 if dialect == "postgresql" else 64


def check_integer(what: str, value: Any, bits: int = 64) -> int:
    """An integer (numpy and 0-d integer tensors too) in the signed ``bits`` range; floats such
    as 1.7 are refused rather than truncated."""
    if isinstance(value, bool):
        raise InvalidValueError(f"{what} must be an integer, got a bool ({value})")
    try:
        number = operator.index(value)
    except TypeError:
        raise InvalidValueError(
            f"{what} must be an integer, got {type(value).__qualname__} {value!r:.40}"
            + ("; round it yourself, e.g. int(round(x))" if isinstance(value, float) else "")
        ) from None
    if not -(2 ** (bits - 1)) <= number <= 2 ** (bits - 1) - 1:
        raise InvalidValueError(
            f"{what} {number} is outside the signed {bits}-bit range "
            f"[-2**{bits - 1}, 2**{bits - 1} - 1] that this store holds"
        )
    return number


def _check_nested(what: str, value: Any, depth: int = 0) -> None:
    if depth > 100:
        return
    if isinstance(value, str):
        check_text(what, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str):
                check_text(f"a key of {what}", key)
            _check_nested(f"{what}[{key!r:.30}]", item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _check_nested(what, item, depth + 1)


def check_values(what: str, values: Mapping[str, Any]) -> None:
    """Parameter or tag names and values: names as :func:`check_name`, text without NUL or
    lone surrogates anywhere inside the value."""
    for name, value in values.items():
        check_name(f"{what} name", name)
        _check_nested(f"{what} {name!r}", value)
