"""Checks on what a user logs, made at the call, before anything is queued for the store.

A value the store would refuse (a step past 64 bits, a name with NUL or a lone surrogate, a
name longer than the store's column) is a clear ``ValueError`` here, so it never reaches the
background writer, where it could block every later point.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["MAX_NAME_LENGTH", "INT64_MIN", "INT64_MAX", "check_index", "check_name", "check_text"]

#: Longest metric, parameter or tag name the store keeps (its ``name`` columns).
MAX_NAME_LENGTH = 255
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_index(value: Any, what: str) -> int:
    """A step or epoch as an int: whole numbers only (``1.0`` is 1, ``1.7`` is refused), in the
    signed 64-bit range the store holds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        item = getattr(value, "item", None)
        if not isinstance(value, bool) and callable(item) and getattr(value, "shape", None) == ():
            return check_index(item(), what)  # numpy or framework scalar
        raise TypeError(f"{what} must be a whole number, got {type(value).__qualname__} {value!r}")
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        real = float(value)
        if not math.isfinite(real) or real != math.floor(real):
            raise ValueError(f"{what} must be a whole number, got {value!r}")
        number = int(real)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(
            f"{what} {number} is outside the signed 64-bit range the store keeps "
            f"({INT64_MIN} to {INT64_MAX})"
        )
    return number


def check_text(value: str, what: str) -> str:
    """Text the store can keep on SQLite and PostgreSQL: no NUL, valid Unicode (no lone
    surrogates)."""
    if "\x00" in value:
        raise ValueError(f"{what} contains a NUL character (\\x00), which the store cannot keep")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} is not valid Unicode (a lone surrogate at position {exc.start}); "
            "decode the bytes it came from with errors='replace'"
        ) from None
    return value


def check_name(name: Any, what: str) -> str:
    """A metric, parameter or tag name: non-empty text the store can keep, at most
    ``MAX_NAME_LENGTH`` characters."""
    if not isinstance(name, str):
        name = str(name)
    if not name:
        raise ValueError(f"{what} name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            f"{what} name {name[:40]!r}... is {len(name)} characters long; "
            f"the store keeps names of at most {MAX_NAME_LENGTH}"
        )
    return check_text(name, f"{what} name {name[:40]!r}")
