"""The base of every record: versioned, JSON round-trippable, compared by content."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from functools import partial
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from modelboard.serialization import dumps, from_jsonable, loads, to_jsonable

__all__ = ["Record"]

R = TypeVar("R", bound="Record")


class Record:
    """Mixin for record dataclasses.

    Subclasses are ``@dataclass(eq=False)`` classes with a ``SCHEMA_VERSION``. ``to_dict`` gives
    plain JSON types plus ``schema_version``; ``from_dict`` rebuilds nested records from the
    field type hints. Two records are equal when their JSON forms are equal, so NaN equals NaN.
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, tagged where JSON needs it (see ``modelboard.serialization``)."""
        out: dict[str, Any] = {"schema_version": self.SCHEMA_VERSION}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            out[field.name] = to_jsonable(getattr(self, field.name))
        return out

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys): equal records give equal text."""
        return dumps(self.to_dict())

    @classmethod
    def from_dict(cls: type[R], data: dict[str, Any]) -> R:
        """Rebuild a record from ``to_dict`` output; unknown keys from newer writers are ignored."""
        cls._check_version(data)
        return cls._from_fields(data, from_jsonable)

    @classmethod
    def _from_fields(cls: type[R], data: dict[str, Any], decode: Any) -> R:
        """The record of ``data``'s fields, each passed through ``decode`` (``None``: taken as
        it is) and built to its field's type where that holds records."""
        kwargs = {}
        for name, build in _field_builders(cls):
            if name in data:
                value = data[name] if decode is None else decode(data[name])
                kwargs[name] = value if build is None else build(value)
        return cls(**kwargs)

    @classmethod
    def from_json(cls: type[R], text: str) -> R:
        """Inverse of :meth:`to_json`."""
        if '"$' not in text and "\\u0024" not in text:
            # no tagged value anywhere (no key starts with "$"): plain JSON, decoded once
            data = json.loads(text)
            if isinstance(data, dict):
                cls._check_version(data)
                return cls._from_fields(data, None)
        return cls.from_dict(loads(text))

    @classmethod
    def _check_version(cls, data: dict[str, Any]) -> None:
        version = data.get("schema_version", cls.SCHEMA_VERSION)
        if isinstance(version, int) and version > cls.SCHEMA_VERSION:
            from modelboard.errors import StoreVersionError

            raise StoreVersionError(
                f"{cls.__name__} has schema version {version}, newer than this modelboard's "
                f"{cls.SCHEMA_VERSION}; upgrade modelboard (pip install -U modelboard) to read it"
            )

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Record)
        return self.to_json() == other.to_json()

    __hash__ = None  # type: ignore[assignment]


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    """The resolved type hints of a record class (resolved once: ``from_dict`` runs often)."""
    hints = _FIELD_TYPES.get(cls)
    if hints is None:
        hints = _FIELD_TYPES[cls] = typing.get_type_hints(cls)
    return hints


_BUILDERS: dict[type, list[tuple[str, Any]]] = {}


def _holds_record(hint: Any) -> bool:
    """Whether a field type has a record in it (elsewhere ``_build`` returns values as is)."""
    if isinstance(hint, type) and issubclass(hint, Record):
        return True
    return any(_holds_record(arg) for arg in get_args(hint))


def _field_builders(cls: type) -> list[tuple[str, Any]]:
    """(field name, builder) per field of a record class, made once: the builder is ``None``
    for a field whose decoded JSON value is already what it holds (no records inside)."""
    builders = _BUILDERS.get(cls)
    if builders is None:
        hints = _field_types(cls)
        builders = []
        for field in dataclasses.fields(cls):
            hint = hints[field.name]
            builders.append((field.name, partial(_build, hint) if _holds_record(hint) else None))
        _BUILDERS[cls] = builders
    return builders


def _build(hint: Any, value: Any) -> Any:
    """Coerce a decoded JSON value to the type a field declares (records, lists, dicts)."""
    if value is None:
        return None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        for arg in get_args(hint):
            if arg is type(None):
                continue
            if isinstance(arg, type) and issubclass(arg, Record) and isinstance(value, dict):
                return arg.from_dict(value)
            if get_origin(arg) in (list, dict):
                return _build(arg, value)
        return value
    if isinstance(hint, type) and issubclass(hint, Record) and isinstance(value, dict):
        return hint.from_dict(value)
    if origin is list and isinstance(value, list):
        (item,) = get_args(hint) or (Any,)
        return [_build(item, v) for v in value]
    if origin is dict and isinstance(value, dict):
        args = get_args(hint)
        item = args[1] if len(args) == 2 else Any
        return {k: _build(item, v) for k, v in value.items()}
    return value
