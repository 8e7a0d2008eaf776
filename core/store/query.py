"""The leaderboard query: filter, sort and limit in the database, then one row per run."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from modelboard.leaderboard._columns import (
    RUN_COLUMNS,
    STANDARD_COLUMNS,
    Column,
    ColumnResolver,
    Source,
    plain,
)
from modelboard.leaderboard._filter import parse_filter
from modelboard.leaderboard._sql import QueryBuilder, probe_kinds
from modelboard.store import tables
from sqlalchemy import and_, or_, select, tuple_, union

if TYPE_CHECKING:
    import pandas as pd
    from modelboard.store import SQLStore
    from sqlalchemy import Connection

__all__ = ["leaderboard", "leaderboard_table", "leaderboard_ids", "DEFAULT_RUN_COLUMNS"]

DEFAULT_RUN_COLUMNS = ("id", "name", "project", "framework", "status", "created", "duration")
_CHUNK = 500
_FIRST_WINDOW = 1000  # candidates per source in the first window of a top-N query
_KEEP_WHEN_EMPTY = frozenset(RUN_COLUMNS)
_INT_KINDS = frozenset({"param", "hparam", "data", "network", "tag"})


def _all_rows(query: Any, conn: Connection) -> list[Any]:
    return list(conn.execute(query).all())


def _first_row(query: Any, conn: Connection) -> Any:
    return conn.execute(query).first()


def _sort_spec(sort: str | Sequence[str] | None) -> list[tuple[str, bool | None]]:
    """``"-loss"`` sorts descending, ``"+loss"`` ascending, ``"loss"`` by the metric's direction."""
    if sort is None:
        return []
    items = [sort] if isinstance(sort, str) else list(sort)
    out: list[tuple[str, bool | None]] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            if part[0] in "+-":
                out.append((part[1:].strip(), part[0] == "-"))
            else:
                out.append((part, None))
    return out


def _descending(column: Column, explicit: bool | None, ascending: bool | None) -> bool:
    if explicit is not None:
        return explicit
    if ascending is not None:
        return not ascending
    if column.direction is not None:
        return column.direction == "max"
    return column.run_field == "created"


def leaderboard_ids(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    project: str | None = None,
    limit: int | None = None,
    resolver: ColumnResolver | None = None,
    now: float | None = None,
) -> list[str]:
    """The ids of the runs the leaderboard shows, in order (filter, sort, limit run in SQL)."""
    resolver = resolver or ColumnResolver(probe_kinds(store))
    builder = QueryBuilder(store, resolver, now)
    runs = tables.runs
    conditions = []
    if project is not None:
        conditions.append(runs.c.project == project)
    if where is not None and where.strip():
        conditions.append(builder.compile_filter(where, parse_filter(where)))
    spec = _sort_spec(sort)
    sort_columns = [(resolver.resolve(name), explicit) for name, explicit in spec]
    if len(sort_columns) == 1 and limit is not None:
        column, explicit = sort_columns[0]
        if column.sources and not column.computed:
            return _top_by_value(store, builder, column, explicit, ascending, conditions, limit)
    order: list[Any] = []
    for column, explicit in sort_columns:
        order.extend(builder.sort_keys(column, _descending(column, explicit, ascending)))
    order.extend([runs.c.created.desc(), runs.c.id])
    query = select(runs.c.id).select_from(builder.from_clause()).where(*conditions)
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    return [r[0] for r in store._read(lambda conn: conn.execute(query).all())]


def _top_by_value(
    store: SQLStore,
    builder: QueryBuilder,
    column: Column,
    explicit: bool | None,
    ascending: bool | None,
    conditions: list[Any],
    limit: int,
) -> list[str]:
    """Top ``limit`` by stored values, walking the (kind, name, value) index in order.

    One source and no filter: one indexed query. Otherwise the candidates are the best
    1,000 (then 8,000, ...) runs of each source's index, and the filter and the coalesced
    value are computed for those only. The window is exact once every source's next value
    ranks below the last row returned. Runs without a numeric value follow, ordered by the
    text value, as the general query would order them.
    """
    runs = tables.runs
    rv = tables.run_values
    descending = _descending(column, explicit, ascending)

    def ordered(value: Any) -> Any:
        return value.desc() if descending else value.asc()

    def has_key(source: Source) -> Any:
        return and_(rv.c.kind == source.kind, rv.c.name == source.name, rv.c.value_num.is_not(None))

    value = builder.numeric(column)
    assert value is not None
    base = builder.from_clause()
    window = max(limit, _FIRST_WINDOW) if conditions or len(column.sources) > 1 else None
    while True:
        if window is None:
            candidates = None
        else:
            parts = [
                select(rv.c.run_id)
                .where(has_key(source))
                .order_by(ordered(rv.c.value_num))
                .limit(window)
                .subquery()
                for source in column.sources
            ]
            candidates = union(*[select(part.c.run_id) for part in parts]).subquery("cand")
        source = (
            base if candidates is None else candidates.join(base, candidates.c.run_id == runs.c.id)
        )
        query = (
            select(runs.c.id, value)
            .select_from(source)
            .where(*conditions, value.is_not(None))
            .order_by(ordered(value), runs.c.created.desc(), runs.c.id)
            .limit(limit)
        )
        rows = store._read(partial(_all_rows, query))
        if window is None:
            break
        edges = [
            store._read(
                partial(
                    _first_row,
                    select(rv.c.value_num)
                    .where(has_key(source))
                    .order_by(ordered(rv.c.value_num))
                    .offset(window - 1)
                    .limit(1),
                )
            )
            for source in column.sources
        ]
        open_edges = [edge[0] for edge in edges if edge is not None]
        if not open_edges:  # every window held all values: exact
            break
        if len(rows) >= limit:
            last = rows[-1][1]
            beyond = [(e < last) if descending else (e > last) for e in open_edges]
            if all(beyond):  # nothing outside the windows can rank above the last row
                break
        window *= 8
    ids = [r[0] for r in rows]
    if len(ids) >= limit:
        return ids
    text = builder.text(column)
    rest_order: list[Any] = []
    if text is not None:
        rest_order.append(ordered(text).nulls_last())
    rest = (
        select(runs.c.id)
        .select_from(base)
        .where(*conditions, value.is_(None))
        .order_by(*rest_order, runs.c.created.desc(), runs.c.id)
        .limit(limit - len(ids))
    )
    return ids + [r[0] for r in store._read(lambda conn: conn.execute(rest).all())]


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def fetch_rows(
    store: SQLStore, ids: Sequence[str], sources: set[Source] | None, now: float
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[Source, tuple[Any, Any]]]]:
    """Runs-table fields and ``run_values`` of the given runs (only ``sources`` when given)."""
    runs = tables.runs
    rv = tables.run_values
    status = store.effective_status_clause(now)
    run_fields: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[Source, tuple[Any, Any]]] = {run_id: {} for run_id in ids}
    source_filter = None
    if sources:
        pairs = sorted((s.kind, s.name) for s in sources)
        source_filter = (
            tuple_(rv.c.kind, rv.c.name).in_(pairs)
            if store.engine.dialect.name != "sqlite" or len(pairs) < 400
            else or_(*[and_(rv.c.kind == k, rv.c.name == n) for k, n in pairs])
        )
    for chunk in _chunks(list(ids)):
        run_query = select(
            runs.c.id,
            runs.c.name,
            runs.c.project,
            runs.c.framework,
            status.label("status"),
            runs.c.created,
            runs.c.ended,
            runs.c.heartbeat,
            runs.c.parent_id,
        ).where(runs.c.id.in_(chunk))
        value_query = None
        if sources is None or source_filter is not None:
            value_query = select(
                rv.c.run_id, rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text
            ).where(rv.c.run_id.in_(chunk))
            if source_filter is not None:
                value_query = value_query.where(source_filter)

        def work(conn: Any, run_query: Any = run_query, value_query: Any = value_query) -> Any:
            found = conn.execute(run_query).all()
            stored = conn.execute(value_query).all() if value_query is not None else []
            return found, stored

        found, stored = store._read(work)
        for row in found:
            fields = dict(row._mapping)
            end = fields["ended"] if fields["ended"] is not None else fields["heartbeat"]
            fields["duration"] = None if end is None else max(0.0, end - fields["created"])
            run_fields[row.id] = fields
        for run_id, kind, name, num, text in stored:
            values[run_id][Source(kind, name)] = (num, text)
    return run_fields, values


def default_columns(resolver: ColumnResolver, present: set[Source]) -> list[Column]:
    """Every column the default leaderboard shows, for the values the selected runs hold."""
    columns = [Column(name, run_field=name) for name in DEFAULT_RUN_COLUMNS]
    columns.extend(c for c in STANDARD_COLUMNS.values() if not c.hidden)
    taken = {c.label for c in columns}
    for metric in resolver.metric_columns(present):
        # a logged metric may share a standard column's name (Keras logs ``learning_rate``):
        # keep both, the metric under ``metrics.<name>``
        if metric.label in taken:
            metric = replace(metric, label=f"metrics.{metric.label}")
        taken.add(metric.label)
        columns.append(metric)
    for kind, label in (("param", "params"), ("hparam", "hparams"), ("tag", "tags")):
        for name in sorted({s.name for s in present if s.kind == kind}):
            columns.append(Column(f"{label}.{name}", (Source(kind, name),)))
    return columns


def leaderboard_table(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    columns: Sequence[str] | str | None = None,
    project: str | None = None,
    limit: int | None = None,
    directions: Mapping[str, str] | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """The leaderboard as column labels and rows of plain values (no pandas needed)."""
    now = time.time()
    resolver = ColumnResolver(probe_kinds(store), directions)
    chosen: list[Column] | None = None
    if columns is not None:
        names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
        chosen = list({c.label: c for c in (resolver.resolve(n) for n in names if n)}.values())
    ids = leaderboard_ids(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        project=project,
        limit=limit,
        resolver=resolver,
        now=now,
    )
    needed: set[Source] | None = None
    if chosen is not None:
        needed = {s for column in chosen for s in column.needs_sources}
    run_fields, values = fetch_rows(store, ids, needed, now)
    default = chosen is None
    if chosen is None:
        present = {s for per_run in values.values() for s in per_run}
        chosen = default_columns(resolver, present)
    rows = []
    for run_id in ids:
        fields = run_fields.get(run_id)
        if fields is None:  # deleted between the two queries
            continue
        per_run = values[run_id]
        row = []
        for column in chosen:
            value = column.value(fields, per_run)
            if column.sources and column.sources[0].kind in _INT_KINDS:
                value = plain(value)
            row.append(value)
        rows.append(row)
    labels = [c.label for c in chosen]
    if default:
        keep = [
            i
            for i, label in enumerate(labels)
            if label in _KEEP_WHEN_EMPTY or any(row[i] is not None for row in rows)
        ]
        labels = [labels[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    return labels, rows


def leaderboard(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    columns: Sequence[str] | str | None = None,
    project: str | None = None,
    limit: int | None = None,
    directions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per run, best first: see ``modelboard.leaderboard`` for the language."""
    import pandas as pd

    labels, rows = leaderboard_table(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        columns=columns,
        project=project,
        limit=limit,
        directions=directions,
    )
    frame = pd.DataFrame(rows, columns=labels)
    for label in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        frame[label] = frame[label].where(frame[label].notna(), float("nan"))  # one missing value
    frame.attrs["modelboard_sort"] = [name for name, _ in _sort_spec(sort)]
    return frame
