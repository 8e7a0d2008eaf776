"""Lossless JSON for records: numpy values, NaN/Inf, non-string keys and unserialisable objects.

``to_jsonable`` turns any Python value into plain JSON types; ``from_jsonable`` undoes the
tags it added. Floats that JSON cannot hold become ``{"$float": "nan" | "inf" | "-inf"}``;
a dict with a key that is not a string becomes ``{"$dict": [[key, value], ...]}``; an object
that has no JSON form becomes ``{"$repr": repr(obj), "$type": "module.Class"}`` and is read
back as that dict, never a crash. A user's own dict with a key that starts with ``$`` is stored
in the ``$dict`` form too, so it never collides with a tag. Decoding never raises: a tag
that does not hold what this module writes (a hostile or damaged store) is read back as the
plain dict it is. Numpy and tensor arrays become nested lists, numpy scalars
Python scalars, tuples and sets lists.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
import pathlib
from collections.abc import Mapping
from typing import Any

__all__ = ["to_jsonable", "from_jsonable", "dumps", "loads"]

_FLOAT_TAG = "$float"
_DICT_TAG = "$dict"
_REPR_TAG = "$repr"
_TYPE_TAG = "$type"
_MAX_REPR = 2000


def _encode_float(value: float) -> Any:
    if math.isnan(value):
        return {_FLOAT_TAG: "nan"}
    if math.isinf(value):
        return {_FLOAT_TAG: "inf" if value > 0 else "-inf"}
    return value


def _type_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _unserialisable(obj: object) -> dict[str, str]:
    try:
        text = repr(obj)
    except Exception as exc:  # a broken __repr__ must not lose the record
        text = f"<unrepresentable {_type_name(obj)}: {type(exc).__name__}>"
    return {_REPR_TAG: text[:_MAX_REPR], _TYPE_TAG: _type_name(obj)}


def _array_like_to_list(obj: Any) -> Any | None:
    """Nested lists for numpy arrays and tensors (torch, tf) without importing a framework."""
    module = type(obj).__module__
    if module == "numpy" and hasattr(obj, "tolist"):
        return obj.tolist()
    if module.startswith("torch") and hasattr(obj, "detach"):
        return obj.detach().cpu().numpy().tolist()
    if module.startswith(("tensorflow", "keras")) and hasattr(obj, "numpy"):
        try:
            return obj.numpy().tolist()
        except Exception:
            return None
    return None


def to_jsonable(obj: Any, _depth: int = 0) -> Any:
    """Return ``obj`` as plain JSON types (str-keyed dict, list, str, int, float, bool)."""
    if _depth > 100:
        return _unserialisable(obj)
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int) and not isinstance(obj, bool):
        return int(obj)
    if isinstance(obj, float):
        return _encode_float(float(obj))
    if isinstance(obj, Mapping):
        items = list(obj.items())
        if all(isinstance(k, str) and not k.startswith("$") for k, _ in items):
            return {k: to_jsonable(v, _depth + 1) for k, v in items}
        return {
            _DICT_TAG: [[to_jsonable(k, _depth + 1), to_jsonable(v, _depth + 1)] for k, v in items]
        }
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, _depth + 1) for v in obj]
    if isinstance(obj, (set, frozenset)):
        values = [to_jsonable(v, _depth + 1) for v in obj]
        try:
            return sorted(values)
        except TypeError:
            return values
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(type(obj), "SCHEMA_VERSION") and hasattr(obj, "to_dict"):
            return obj.to_dict()  # a modelboard record: its to_dict is already encoded
        if hasattr(obj, "to_dict"):
            return to_jsonable(obj.to_dict(), _depth + 1)
        return to_jsonable(dataclasses.asdict(obj), _depth + 1)
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value, _depth + 1)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    # numpy scalars: integer, floating, bool
    module = type(obj).__module__
    if module == "numpy" and hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:
        return to_jsonable(obj.item(), _depth + 1)
    as_list = _array_like_to_list(obj)
    if as_list is not None:
        return to_jsonable(as_list, _depth + 1)
    return _unserialisable(obj)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    hash(value)  # a dict as a key: not something to_jsonable wrote
    return value


_FLOAT_TEXTS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _decode_pairs(pairs: Any) -> dict[Any, Any] | None:
    """The dict of a ``$dict`` tag; ``None`` when the tag does not hold ``[key, value]`` pairs."""
    if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
        return None
    try:
        return {_hashable(from_jsonable(k)): from_jsonable(v) for k, v in pairs}
    except TypeError:
        return None


def from_jsonable(obj: Any) -> Any:
    """Undo the tags of :func:`to_jsonable`: NaN/Inf floats and dicts with non-string keys.

    A tag holding something else (``{"$float": "abc"}``) stays the dict it is."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _FLOAT_TAG in obj:
            text = obj[_FLOAT_TAG]
            if isinstance(text, str) and text in _FLOAT_TEXTS:
                return _FLOAT_TEXTS[text]
        if len(obj) == 1 and _DICT_TAG in obj:
            decoded = _decode_pairs(obj[_DICT_TAG])
            if decoded is not None:
                return decoded
        return {k: from_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [from_jsonable(v) for v in obj]
    return obj


def dumps(obj: Any) -> str:
    """Serialise anything to strict JSON text (no bare NaN), keys in a stable order."""
    return json.dumps(to_jsonable(obj), allow_nan=False, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Any:
    """Parse text written by :func:`dumps` back into Python values."""
    return from_jsonable(json.loads(text))
