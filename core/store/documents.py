"""Record documents prepared for the store once, when they are queued.

A run's writer queues the latest version of each record document (``data``, ``network``...)
and writes it later from its own thread. ``PreparedDocument.of`` takes what the store needs at
queueing time: the record's JSON text and the ``run_values`` rows it gives. Both are immutable,
so later changes to the record never leak into the queued version, and the writer thread
writes them as they are: one serialization per update instead of a copy and a second one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete

from modelboard.records import GradientRecord, Record
from modelboard.store import tables
from modelboard.store.run_values import ValueRow, record_value_rows, replace_values, upsert_values

__all__ = ["PreparedDocument", "write_prepared_document", "insert_gradient_records"]


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
        return cls(type(record), record.to_json(), values)

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
                "payload": g.to_json(),
            }
            for g in gradient_records
        ],
    )
