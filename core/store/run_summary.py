"""Run summaries: each run's ``run_values`` in one row, for whole-store reads.

A whole-store leaderboard of 100,000 runs would fetch ~10 M ``run_values`` rows, and turning
each into Python objects costs more than everything else. A summary holds the same values in
one row per run: ``numbers``, the run's numbers as one float64 array (little-endian), and
``texts``, its texts as one JSON list, both in the order of the run's *layout*: the sorted
(kind, name) pairs holding a number, then those holding a text. Runs made by the same code share
a layout; a layout is stored once in ``summary_layouts`` under a hash of itself. A chunk of runs
with one layout then reads as one numpy matrix (``np.frombuffer``), a column per value.

Exact or absent: database triggers (:func:`create_triggers`) delete a run's summary whenever
any of its ``run_values`` rows is inserted, updated or deleted, however it is written. A
summary is written when a run reaches a final status (:func:`refresh_summary`, in the same
transaction as its last values) and by the schema migration for runs already stored
(:func:`build_summaries`); a reader takes a run without one (a running run, or one changed since)
from ``run_values``. Only SQLite and PostgreSQL get summaries (they have the triggers).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite

from modelboard.store import tables

__all__ = [
    "Layout",
    "SUMMARY_DIALECTS",
    "create_triggers",
    "summaries_enabled",
    "summary_parts",
    "write_summary",
    "refresh_summary",
    "build_summaries",
    "fetch_summaries",
    "summarised_pairs",
]

#: Databases whose stores keep summaries (the triggers that keep them exact exist there).
SUMMARY_DIALECTS = ("sqlite", "postgresql")
_BUILD_BATCH = 2000  # runs per batch when building summaries for runs already stored

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS run_values_drop_summary_insert AFTER INSERT ON run_values "
    "BEGIN DELETE FROM run_summaries WHERE run_id = NEW.run_id; END",
    "CREATE TRIGGER IF NOT EXISTS run_values_drop_summary_update AFTER UPDATE ON run_values "
    "BEGIN DELETE FROM run_summaries WHERE run_id IN (NEW.run_id, OLD.run_id); END",
    "CREATE TRIGGER IF NOT EXISTS run_values_drop_summary_delete AFTER DELETE ON run_values "
    "BEGIN DELETE FROM run_summaries WHERE run_id = OLD.run_id; END",
)
_PG_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION modelboard_drop_run_summary() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM run_summaries WHERE run_id = OLD.run_id;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.run_id IS DISTINCT FROM OLD.run_id) THEN
            DELETE FROM run_summaries WHERE run_id = NEW.run_id;
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS run_values_drop_summary ON run_values",
    "CREATE TRIGGER run_values_drop_summary AFTER INSERT OR UPDATE OR DELETE ON run_values "
    "FOR EACH ROW EXECUTE FUNCTION modelboard_drop_run_summary()",
)


def summaries_enabled(conn: Connection) -> bool:
    """Whether this database keeps run summaries."""
    return conn.dialect.name in SUMMARY_DIALECTS


def create_triggers(conn: Connection) -> None:
    """The triggers that delete a run's summary when its ``run_values`` change."""
    statements = {"sqlite": _SQLITE_TRIGGERS, "postgresql": _PG_TRIGGERS}.get(conn.dialect.name)
    for statement in statements or ():
        conn.execute(text(statement))


@dataclass(frozen=True)
class Layout:
    """The (kind, name) pairs of a summary's ``numbers`` and of its ``texts``, in order."""

    numbers: tuple[tuple[str, str], ...]
    texts: tuple[tuple[str, str], ...]
    #: pairs whose row holds neither (a parameter set to ``None``): no value, but stored
    empty: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_json(cls, payload: str) -> Layout:
        doc = json.loads(payload)
        return cls(
            tuple((str(k), str(n)) for k, n in doc["num"]),
            tuple((str(k), str(n)) for k, n in doc["text"]),
            tuple((str(k), str(n)) for k, n in doc.get("none", ())),
        )

    def pairs(self) -> set[tuple[str, str]]:
        """Every (kind, name) a run of this layout has a ``run_values`` row of."""
        return {*self.numbers, *self.texts, *self.empty}


def _layout_text(
    numbers: Sequence[tuple[str, str]],
    texts: Sequence[tuple[str, str]],
    empty: Sequence[tuple[str, str]],
) -> str:
    return json.dumps({"num": numbers, "text": texts, "none": empty}, separators=(",", ":"))


def _layout_id(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def summary_parts(
    rows: Iterable[tuple[str, str, float | None, str | None]],
) -> tuple[str, bytes, str]:
    """A run's (layout text, numbers, texts) from its (kind, name, num, text) rows."""
    from array import array

    ordered = sorted(rows, key=lambda r: (r[0], r[1]))
    number_keys = []
    numbers = array("d")
    text_keys = []
    texts = []
    empty_keys = []
    for kind, name, num, value in ordered:
        has_number = num is not None and num == num  # NaN reads as "no number", as a row does
        if num is not None and has_number:
            number_keys.append((kind, name))
            numbers.append(float(num))
        if value is not None:
            text_keys.append((kind, name))
            texts.append(value)
        elif not has_number:
            empty_keys.append((kind, name))
    if sys.byteorder != "little":
        numbers.byteswap()
    packed = numbers.tobytes()
    layout = _layout_text(number_keys, text_keys, empty_keys)
    return layout, packed, json.dumps(texts, separators=(",", ":"))


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _store(conn: Connection, summaries: Sequence[tuple[str, str, bytes, str]]) -> None:
    """Write (run_id, layout text, numbers, texts) summaries, their layouts first."""
    if not summaries:
        return
    layouts = {_layout_id(layout): layout for _, layout, _, _ in summaries}
    stmt = _insert(conn, tables.summary_layouts).on_conflict_do_nothing(index_elements=["id"])
    conn.execute(stmt, [{"id": i, "payload": k} for i, k in layouts.items()])
    ids = [run_id for run_id, _, _, _ in summaries]
    rs = tables.run_summaries
    conn.execute(delete(rs).where(rs.c.run_id.in_(ids)))
    conn.execute(
        rs.insert(),
        [
            {"run_id": r, "layout": _layout_id(layout), "numbers": numbers, "texts": texts}
            for r, layout, numbers, texts in summaries
        ],
    )


def write_summary(conn: Connection, run_id: str) -> None:
    """Write the run's summary from its ``run_values`` as they are now (call it after the
    transaction's last value write: a later write deletes it again)."""
    if not summaries_enabled(conn):
        return
    rv = tables.run_values
    rows = conn.execute(
        select(rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(rv.c.run_id == run_id)
    ).all()
    _store(conn, [(run_id, *summary_parts(tuple(r) for r in rows))])


def refresh_summary(conn: Connection, run_id: str, status: str | None = None) -> None:
    """Write the run's summary if it has reached a final status (``status``, or the stored one
    when not given); a running run has none (its values still change)."""
    if not summaries_enabled(conn):
        return
    if status is None:
        status = conn.execute(
            select(tables.runs.c.status).where(tables.runs.c.id == run_id)
        ).scalar()
    if status is not None and status != "running":
        write_summary(conn, run_id)


def build_summaries(conn: Connection, run_ids: Sequence[str] | None = None) -> int:
    """Write the summaries of ``run_ids`` (every run when ``None``) from their ``run_values``,
    ``_BUILD_BATCH`` runs at a time; returns how many were written."""
    if not summaries_enabled(conn):
        return 0
    if run_ids is None:
        run_ids = [row[0] for row in conn.execute(select(tables.runs.c.id).order_by("id"))]
    rv = tables.run_values
    written = 0
    for start in range(0, len(run_ids), _BUILD_BATCH):
        batch = list(run_ids[start : start + _BUILD_BATCH])
        per_run: dict[str, list[tuple[str, str, float | None, str | None]]] = {r: [] for r in batch}
        query = select(rv.c.run_id, rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(
            rv.c.run_id.in_(batch)
        )
        for run_id, kind, name, num, value in conn.execute(query):
            per_run[run_id].append((kind, name, num, value))
        _store(conn, [(r, *summary_parts(rows)) for r, rows in per_run.items()])
        written += len(batch)
    return written


def fetch_summaries(
    conn: Connection, ids: Sequence[str], layouts: dict[str, Layout]
) -> list[tuple[str, str, bytes, str]]:
    """The (run_id, layout id, numbers, texts) summaries of ``ids`` that exist, through the
    driver's own cursor; ``layouts`` (id -> ``Layout``) gains the layouts they use."""
    if not ids or not summaries_enabled(conn):
        return []
    rs = tables.run_summaries.name
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute(
                f"SELECT run_id, layout, numbers, texts FROM {rs} WHERE run_id = ANY(%s)",
                [list(ids)],
            )
        else:
            marks = ",".join("?" * len(ids))
            cursor.execute(
                f"SELECT run_id, layout, numbers, texts FROM {rs} WHERE run_id IN ({marks})",
                list(ids),
            )
        rows = list(cursor.fetchall())
    finally:
        cursor.close()
    unknown = sorted({row[1] for row in rows} - layouts.keys())
    if unknown:
        sl = tables.summary_layouts
        for layout_id, payload in conn.execute(
            select(sl.c.id, sl.c.payload).where(sl.c.id.in_(unknown))
        ):
            layouts[layout_id] = Layout.from_json(payload)
    # a summary whose layout is missing (never written by this code) is not trusted
    return [row for row in rows if row[1] in layouts]


#: Above this share of runs without a summary, :func:`summarised_pairs` gives up (a scan of
#: the whole ``run_values`` index is then as fast).
_UNSUMMARISED_MAX = 0.2


def summarised_pairs(conn: Connection) -> set[tuple[str, str]] | None:
    """Every (kind, name) the store has a ``run_values`` row of, read from the layouts of the
    runs' summaries and the rows of the runs without one; ``None`` when too many runs have
    none (or the database keeps no summaries): then scan ``run_values`` instead."""
    if not summaries_enabled(conn):
        return None
    rs, sl, runs = tables.run_summaries, tables.summary_layouts, tables.runs
    bare = [
        row[0]
        for row in conn.execute(select(runs.c.id).where(runs.c.id.not_in(select(rs.c.run_id))))
    ]
    total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
    if total and len(bare) > _UNSUMMARISED_MAX * total:
        return None
    used = select(rs.c.layout).distinct().scalar_subquery()
    pairs: set[tuple[str, str]] = set()
    for (payload,) in conn.execute(select(sl.c.payload).where(sl.c.id.in_(used))):
        pairs |= Layout.from_json(payload).pairs()
    rv = tables.run_values
    for start in range(0, len(bare), _BUILD_BATCH):
        query = (
            select(rv.c.kind, rv.c.name)
            .where(rv.c.run_id.in_(bare[start : start + _BUILD_BATCH]))
            .distinct()
        )
        pairs.update((kind, name) for kind, name in conn.execute(query))
    return pairs
