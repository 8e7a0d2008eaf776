"""Maintaining ``run_values``: the per-run scalars the leaderboard sorts and filters on in SQL.

Kinds: ``param`` and ``tag`` (from the run record), ``metric_last``, ``metric_min`` and
``metric_max`` (from the metrics table, finite values only for min and max), ``eval``
(``<split>_<metric>`` from evaluation records) and ``run`` (flags such as gradient health).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

from modelboard.records import RunRecord
from modelboard.store import tables
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

__all__ = [
    "ValueRow",
    "scalar_columns",
    "upsert_values",
    "replace_values",
    "merge_metric_summaries",
    "rebuild_run_values",
    "run_record_rows",
]

ValueRow = tuple[str, str, str, float | None, str | None]  # run_id, kind, name, num, text


def scalar_columns(value: Any) -> tuple[float | None, str | None]:
    """Split a value into the numeric and the text column (numbers sort as numbers)."""
    if isinstance(value, bool):
        return float(value), "true" if value else "false"
    if isinstance(value, (int, float)):
        number = float(value)
        return (number if math.isfinite(number) else None), repr(number) if not math.isfinite(
            number
        ) else None
    if value is None:
        return None, None
    if isinstance(value, str):
        return None, value
    return None, json.dumps(value, sort_keys=True, default=repr)


def _insert_for(conn: Connection) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(tables.run_values)
    return sqlite.insert(tables.run_values)


def upsert_values(conn: Connection, rows: Sequence[ValueRow]) -> None:
    """Insert or overwrite ``run_values`` rows."""
    if not rows:
        return
    stmt = _insert_for(conn)
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "kind", "name"],
        set_={"value_num": stmt.excluded.value_num, "value_text": stmt.excluded.value_text},
    )
    conn.execute(
        stmt,
        [
            {"run_id": r, "kind": k, "name": n, "value_num": num, "value_text": txt}
            for r, k, n, num, txt in rows
        ],
    )


def replace_values(
    conn: Connection, run_id: str, kinds: Iterable[str], rows: Sequence[ValueRow]
) -> None:
    """Delete the run's rows of ``kinds`` and write ``rows`` in their place."""
    conn.execute(
        delete(tables.run_values).where(
            tables.run_values.c.run_id == run_id, tables.run_values.c.kind.in_(list(kinds))
        )
    )
    upsert_values(conn, rows)


def run_record_rows(record: RunRecord) -> list[ValueRow]:
    """``param``, ``tag`` and ``run`` rows of a run record."""
    rows: list[ValueRow] = []
    for name, value in record.params.items():
        rows.append((record.id, "param", str(name), *scalar_columns(value)))
    for name, value in record.tags.items():
        rows.append((record.id, "tag", str(name), *scalar_columns(value)))
    for name, value in record.flags.items():
        rows.append((record.id, "run", str(name), *scalar_columns(value)))
    return rows


def merge_metric_summaries(
    conn: Connection, run_id: str, points: Sequence[tuple[str, int, int | None, float, float]]
) -> None:
    """Fold a batch of (key, step, epoch, value, wall_time) points into last/min/max rows."""
    last: dict[str, float] = {}
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for key, _step, _epoch, value, _wall in points:
        last[key] = value
        if math.isfinite(value):
            lows[key] = min(value, lows.get(key, value))
            highs[key] = max(value, highs.get(key, value))
    upsert_values(conn, [(run_id, "metric_last", k, *scalar_columns(v)) for k, v in last.items()])
    pick_low = func.least if conn.dialect.name == "postgresql" else func.min
    pick_high = func.greatest if conn.dialect.name == "postgresql" else func.max
    for kind, values, pick in (("metric_min", lows, pick_low), ("metric_max", highs, pick_high)):
        if not values:
            continue
        stmt = _insert_for(conn)
        current = tables.run_values.c.value_num
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id", "kind", "name"],
            set_={
                "value_num": pick(
                    func.coalesce(current, stmt.excluded.value_num), stmt.excluded.value_num
                )
            },
        )
        conn.execute(
            stmt,
            [
                {"run_id": run_id, "kind": kind, "name": k, "value_num": v, "value_text": None}
                for k, v in values.items()
            ],
        )


def rebuild_run_values(conn: Connection, run_ids: Sequence[str]) -> None:
    """Recompute every ``run_values`` row of the given runs from what the store holds."""
    from modelboard.serialization import loads

    m = tables.metrics
    for run_id in run_ids:
        conn.execute(delete(tables.run_values).where(tables.run_values.c.run_id == run_id))
        row = conn.execute(select(tables.runs.c.record).where(tables.runs.c.id == run_id)).first()
        if row is not None:
            upsert_values(conn, run_record_rows(RunRecord.from_dict(loads(row[0]))))
        points = conn.execute(
            select(m.c.key, m.c.step, m.c.epoch, m.c.value, m.c.wall_time)
            .where(m.c.run_id == run_id)
            .order_by(m.c.id)
        ).all()
        merge_metric_summaries(
            conn,
            run_id,
            [(k, s, e, float("nan") if v is None else float(v), w) for k, s, e, v, w in points],
        )
