"""Maintaining ``run_values``: the per-run scalars the leaderboard sorts and filters on in SQL.

Kinds: ``param`` and ``tag`` (from the run record), ``metric_last``, ``metric_min`` and
``metric_max`` (from the metrics table, finite values only for min and max), ``eval``
(``<split>_<metric>`` from evaluation records), ``comparability`` (one per evaluated split:
``EvaluationRecord.comparability_text()``, read by ``modelboard.leaderboard.ranking``) and
``run`` (flags such as gradient health).
From the data record: ``data`` (name, fingerprint, geometry, shapes...), and one row per
``feature`` name, per ``fingerprint`` (the name is the fingerprint, the text the split) and per
``augmentation`` type, so that "which runs used feature x" is one indexed lookup. From the
network record: ``network`` (architecture, signature, parameter counts, the first optimizer's
canonical name, class, initial and last learning rate, ``optimizers`` when there are several...)
and ``hparam`` (its extra hyperparameters).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from modelboard.optimizer_names import canonical_optimizer
from modelboard.records import DataRecord, EvaluationRecord, NetworkRecord, Record, RunRecord
from modelboard.serialization import dumps, to_jsonable
from modelboard.store import tables

__all__ = [
    "ValueRow",
    "scalar_columns",
    "upsert_values",
    "replace_values",
    "merge_metric_summaries",
    "rebuild_run_values",
    "run_record_rows",
    "data_record_rows",
    "network_record_rows",
    "record_value_rows",
    "write_record_values",
    "evaluation_rows",
    "parse_document",
    "EVALUATION_PREFIX",
    "DATA_KINDS",
    "NETWORK_KINDS",
]

DATA_KINDS = ("data", "feature", "fingerprint", "augmentation")
NETWORK_KINDS = ("network", "hparam")
_NAME_MAX = 255

ValueRow = tuple[str, str, str, float | None, str | None]  # run_id, kind, name, num, text


def scalar_columns(value: Any) -> tuple[float | None, str | None]:
    """Split a value into the numeric and the text column (numbers sort as numbers).

    numpy scalars count as the Python numbers they hold (hyperparameters often come from
    numpy grids); a non-finite number keeps its text (``nan``, ``inf``) and no numeric value.
    """
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()
    if isinstance(value, bool):
        return float(value), "true" if value else "false"
    if isinstance(value, numbers.Real):
        number = float(value)
        return (number, None) if math.isfinite(number) else (None, repr(number))
    if value is None:
        return None, None
    if isinstance(value, str):
        return None, value
    return None, json.dumps(to_jsonable(value), sort_keys=True)


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


def _row(run_id: str, kind: str, name: str, value: Any) -> ValueRow:
    return (run_id, kind, str(name)[:_NAME_MAX], *scalar_columns(value))


def _augmentation_text(record: DataRecord) -> str | None:
    parts = []
    for aug in record.augmentations:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(aug.params.items()) if v is not None)
        parts.append(f"{aug.type}({args})")
    return "; ".join(parts) if parts else None


def data_record_rows(run_id: str, record: DataRecord) -> list[ValueRow]:
    """``data``, ``feature``, ``fingerprint`` and ``augmentation`` rows of a data record."""
    image = record.image or {}
    values: dict[str, Any] = {
        "name": record.name,
        "fingerprint": record.fingerprint,
        "num_classes": record.num_classes,
        "width": image.get("width"),
        "height": image.get("height"),
        "channels": image.get("channels"),
        "features": record.features,
        "num_features": len(record.features) if record.features is not None else None,
        "class_names": record.class_names,
        "augmentations": _augmentation_text(record),
        "preprocessing": "; ".join(record.preprocessing) or None,
    }
    for split, info in record.splits.items():
        values[f"{split}_size"] = info.size
        values[f"{split}_x_shape"] = info.x_shape
        values[f"{split}_y_shape"] = info.y_shape
        values[f"{split}_fingerprint"] = info.fingerprint
    rows = [_row(run_id, "data", k, v) for k, v in values.items() if v is not None]
    for position, feature in enumerate(record.features or []):
        rows.append(_row(run_id, "feature", feature, position))
    fingerprints = {info.fingerprint: split for split, info in record.splits.items()}
    fingerprints[record.fingerprint] = "data"
    for fingerprint, split in fingerprints.items():
        if fingerprint:
            rows.append(_row(run_id, "fingerprint", fingerprint, split))
    for aug in record.augmentations:
        rows.append(_row(run_id, "augmentation", aug.type, aug.params))
    return rows


def network_record_rows(run_id: str, record: NetworkRecord) -> list[ValueRow]:
    """``network`` and ``hparam`` rows of a network record."""
    optimizer = record.optimizer
    early = record.early_stopping or {}
    values: dict[str, Any] = {
        "framework": record.framework,
        "architecture": record.architecture,
        "signature": record.signature,
        "total_params": record.total_params,
        "trainable_params": record.trainable_params,
        "non_trainable_params": record.non_trainable_params,
        "size_bytes": record.size_bytes,
        "num_layers": sum(1 for layer in record.layers if not layer.is_container),
        "input_shape": record.input_shape,
        "output_shape": record.output_shape,
        # records of older versions hold class names ("Adam"): one vocabulary for every run
        "optimizer": canonical_optimizer(optimizer.name) if optimizer else None,
        "optimizer_class": optimizer.class_name if optimizer else None,
        "optimizers": len(record.optimizers) if len(record.optimizers) > 1 else None,
        "learning_rate": optimizer.learning_rate if optimizer else None,
        "learning_rate_last": optimizer.learning_rate_last if optimizer else None,
        "loss": record.loss,
        "metrics": record.metrics or None,
        "batch_size": record.batch_size,
        "epochs_planned": record.epochs_planned,
        "epochs_run": record.epochs_run,
        "steps_per_epoch": record.steps_per_epoch,
        "early_stopping": record.early_stopping is not None,
        "patience": early.get("patience"),
        "stopped_epoch": early.get("stopped_epoch"),
        "best_epoch": early.get("best_epoch"),
    }
    rows = [_row(run_id, "network", k, v) for k, v in values.items() if v is not None]
    rows.extend(_row(run_id, "hparam", k, v) for k, v in record.hyperparameters.items())
    return rows


EVALUATION_PREFIX = "evaluation:"


def evaluation_rows(run_id: str, record: EvaluationRecord) -> list[ValueRow]:
    """``eval`` rows: ``<split>_<metric>`` scalars and ``<split>_<name>_per_class`` lists."""
    rows: list[ValueRow] = [
        (run_id, "eval", f"{record.split}_{name}", *scalar_columns(value))
        for name, value in record.metrics.items()
    ]
    for name, values in record.per_class.items():
        rows.append((run_id, "eval", f"{record.split}_{name}_per_class", None, dumps(values)))
    rows.append((run_id, "comparability", record.split, None, record.comparability_text()))
    return rows


def record_value_rows(
    run_id: str, kind: str, record: Record
) -> tuple[tuple[str, ...], list[ValueRow]] | None:
    """The kinds a stored record owns wholly (replaced on every write) and its rows, or ``None``
    for records without any. Evaluation rows own no kind: each split adds its own names."""
    if kind == "data" and isinstance(record, DataRecord):
        return DATA_KINDS, data_record_rows(run_id, record)
    if kind == "network" and isinstance(record, NetworkRecord):
        return NETWORK_KINDS, network_record_rows(run_id, record)
    if kind.startswith(EVALUATION_PREFIX) and isinstance(record, EvaluationRecord):
        return (), evaluation_rows(run_id, record)
    return None


def write_record_values(conn: Connection, run_id: str, kind: str, record: Record) -> None:
    """Write the ``run_values`` rows that a stored record gives."""
    derived = record_value_rows(run_id, kind, record)
    if derived is None:
        return
    owned, rows = derived
    if owned:
        replace_values(conn, run_id, owned, rows)
    else:
        upsert_values(conn, rows)


def parse_document(kind: str, payload: str) -> Record | None:
    """The record stored under ``kind`` in the ``records`` table (``None`` for unknown kinds)."""
    if kind.startswith(EVALUATION_PREFIX):
        return EvaluationRecord.from_json(payload)
    if kind == "data":
        return DataRecord.from_json(payload)
    if kind == "network":
        return NetworkRecord.from_json(payload)
    return None


_SUMMARY_SQL: dict[tuple[str, str], tuple[str, str, str]] = {}  # (dialect, paramstyle) -> SQL


def _summary_sql(conn: Connection) -> tuple[str, str, str] | None:
    """The three upserts of ``merge_metric_summaries`` as driver SQL, made once per dialect and
    parameter style (``None`` for dialects other than SQLite and PostgreSQL)."""
    dialect = conn.dialect
    key = (dialect.name, dialect.paramstyle)
    cached = _SUMMARY_SQL.get(key)
    if cached is not None:
        return cached
    if dialect.name == "postgresql":
        low, high = "LEAST", "GREATEST"
    elif dialect.name == "sqlite":
        low, high = "min", "max"  # SQLite's scalar min/max of several arguments
    else:
        return None
    if dialect.paramstyle == "qmark":
        marks = "?, ?, ?, ?, ?"
    elif dialect.paramstyle in ("format", "pyformat"):
        marks = "%s, %s, %s, %s, %s"
    else:
        return None
    table = dialect.identifier_preparer.format_table(tables.run_values)
    insert = (
        f"INSERT INTO {table} (run_id, kind, name, value_num, value_text) VALUES ({marks}) "
        "ON CONFLICT (run_id, kind, name) DO UPDATE SET "
    )
    last = insert + "value_num = excluded.value_num, value_text = excluded.value_text"
    current, new = f"{table}.value_num", "excluded.value_num"
    low_sql, high_sql = (
        insert + f"value_num = {pick}(coalesce({current}, {new}), {new})" for pick in (low, high)
    )
    _SUMMARY_SQL[key] = last, low_sql, high_sql
    return _SUMMARY_SQL[key]


def merge_metric_summaries(
    conn: Connection, run_id: str, points: Sequence[tuple[str, int, int | None, float, float]]
) -> None:
    """Fold a batch of (key, step, epoch, value, wall_time) points into last/min/max rows.

    On SQLite and PostgreSQL the upserts are driver SQL made once per dialect (a flush of a few
    points is then three ``executemany`` calls); other dialects build SQLAlchemy statements."""
    if not points:
        return
    last = {point[0]: point[3] for point in points}
    if len(last) == 1:
        groups = {next(iter(last)): [point[3] for point in points]}
    else:
        groups = {}
        for point in points:
            groups.setdefault(point[0], []).append(point[3])
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for key, values in groups.items():
        finite = [v for v in values if v - v == 0]  # NaN and infinities fail this
        if finite:
            lows[key], highs[key] = min(finite), max(finite)
    last_rows = [(run_id, "metric_last", k, *scalar_columns(v)) for k, v in last.items()]
    sql = _summary_sql(conn)
    if sql is None:
        _merge_with_statements(conn, run_id, last_rows, lows, highs)
        return
    last_sql, low_sql, high_sql = sql
    conn.exec_driver_sql(last_sql, last_rows)
    for kind, summary, text in (("metric_min", lows, low_sql), ("metric_max", highs, high_sql)):
        if summary:
            conn.exec_driver_sql(text, [(run_id, kind, k, v, None) for k, v in summary.items()])


def _merge_with_statements(
    conn: Connection,
    run_id: str,
    last_rows: list[ValueRow],
    lows: dict[str, float],
    highs: dict[str, float],
) -> None:
    """``merge_metric_summaries`` with SQLAlchemy statements (dialects without cached SQL)."""
    upsert_values(conn, last_rows)
    pick_low = func.least if conn.dialect.name == "postgresql" else func.min
    pick_high = func.greatest if conn.dialect.name == "postgresql" else func.max
    for kind, summary, pick in (("metric_min", lows, pick_low), ("metric_max", highs, pick_high)):
        if not summary:
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
                for k, v in summary.items()
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
        documents = conn.execute(
            select(tables.records.c.kind, tables.records.c.payload).where(
                tables.records.c.run_id == run_id
            )
        ).all()
        for kind, payload in documents:
            record = parse_document(kind, payload)
            if record is not None:
                write_record_values(conn, run_id, kind, record)
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
