"""Record documents prepared for the store once, when they are queued.

A run's writer queues the latest version of each record document (``data``, ``network``...)
and writes it later from its own thread. ``PreparedDocument.of`` takes what the store needs at
queueing time: the record's JSON text and the ``run_values`` rows it gives. Both are immutable,
so later changes to the record never leak into the queued version, and the writer thread
writes them as they are: one serialization per update instead of a copy and a second one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete

from modelboard.records import GradientRecord, Record
from modelboard.serialization import to_jsonable
from modelboard.store import tables
from modelboard.store.run_values import ValueRow, record_value_rows, replace_values, upsert_values

__all__ = ["PreparedDocument", "record_json", "write_prepared_document", "insert_gradient_records"]

_MAX_DEPTH = 100  # as modelboard.serialization.to_jsonable: deeper values are cut there


def record_json(record: Record) -> str:
    """``record.to_json()``, the same text, made faster.

    ``to_json`` is ``dumps(to_dict())``: ``to_jsonable`` runs twice, over the fields and again
    over what the first pass made (so a tag of the first pass, such as NaN's ``{"$float":
    "nan"}``, is kept in a ``$dict`` tag). Plain values (exact ``str``, ``int``, ``bool``, finite
    ``float``, ``None``, lists, dicts of plain string keys, nested records) come out of both
    passes as they are and are taken so; every other value goes through both passes."""
    if type(record).to_dict is not Record.to_dict:  # a record that writes itself: as it says
        return record.to_json()
    return json.dumps(
        _record_dict(record, 0), allow_nan=False, sort_keys=True, separators=(",", ":")
    )


_FIELDS: dict[type, tuple[str, ...]] = {}


def _record_dict(record: Record, place: int) -> dict[str, Any]:
    """``Record.to_dict`` of ``record`` at depth ``place`` of the text's structure."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        fields = dataclasses.fields(record)  # type: ignore[arg-type]
        names = _FIELDS[cls] = tuple(f.name for f in fields)
    out: dict[str, Any] = {"schema_version": record.SCHEMA_VERSION}
    for name in names:
        out[name] = _plain(getattr(record, name), 0, place + 1)
    return out


def _plain(value: Any, depth: int, place: int) -> Any:
    """Both ``to_jsonable`` passes of ``value``: ``depth`` is the first pass's depth (it starts
    again in each record), ``place`` the second's (the depth in the whole text)."""
    if depth > _MAX_DEPTH or place > _MAX_DEPTH:
        return to_jsonable(to_jsonable(value, depth), place)
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float and value - value == 0.0:  # not NaN nor an infinity
        return value
    if kind is list:
        return [_plain(v, depth + 1, place + 1) for v in value]
    if kind is dict and all(type(k) is str and not k.startswith("$") for k in value):
        return {k: _plain(v, depth + 1, place + 1) for k, v in value.items()}
    if isinstance(value, Record) and dataclasses.is_dataclass(value):
        if type(value).to_dict is Record.to_dict:
            return _record_dict(value, place)
        return to_jsonable(value.to_dict(), place)  # the first pass takes its own encoding
    return to_jsonable(to_jsonable(value, depth), place)


@dataclass(frozen=True)
class PreparedDocument:
    """A record document as it will be stored: its type, its JSON text, and the kinds of
    ``run_values`` it owns with their rows (``None`` for documents that give none)."""

    record_type: type[Record]
    text: str
    values: tuple[tuple[str, ...], tuple[ValueRow, ...]] | None

    @classmethod
    def of(cls, run_id: str, kind: str, record: Record) -> PreparedDocument:
        """Prepare ``record``, stored under ``kind`` for run ``run_id``, as it is now."""
        derived = record_value_rows(run_id, kind, record)
        values = None if derived is None else (tuple(derived[0]), tuple(derived[1]))
        return cls(type(record), record_json(record), values)

    def record(self) -> Record:
        """The record again (for the journal, which keeps records)."""
        return self.record_type.from_json(self.text)


def write_prepared_document(
    conn: Connection, run_id: str, kind: str, document: PreparedDocument
) -> None:
    """Store ``document`` under ``kind`` (replacing the previous version) and its values."""
    records = tables.records
    conn.execute(delete(records).where(records.c.run_id == run_id, records.c.kind == kind))
    row = {"run_id": run_id, "kind": kind, "payload": document.text, "updated": time.time()}
    conn.execute(records.insert().values(**row))
    if document.values is None:
        return
    owned, rows = document.values
    if owned:
        replace_values(conn, run_id, owned, rows)
    else:
        upsert_values(conn, rows)


def insert_gradient_records(
    conn: Connection, run_id: str, gradient_records: Sequence[GradientRecord]
) -> None:
    """Insert gradient records, all in one ``executemany``."""
    if not gradient_records:
        return
    conn.execute(
        tables.gradients.insert(),
        [
            {
                "run_id": run_id,
                "step": g.step,
                "epoch": g.epoch,
                "wall_time": g.wall_time,
                "global_norm": g.global_norm if math.isfinite(g.global_norm) else None,
                "payload": record_json(g),
            }
            for g in gradient_records
        ],
    )
