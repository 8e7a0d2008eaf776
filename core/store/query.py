"""Querying runs in the database: the leaderboard's filter, sort, pages, counts and columns.

This is the store's public read API for views (the leaderboard, the CLI, a dashboard)::

    page = query_runs(store, where="framework = 'torch'", sort="val_accuracy", limit=20, offset=40)
    page.labels, page.rows, page.ids            # one page, computed in the database
    count_runs(store, where="framework = 'torch'")
    value_kinds(store, ["val_accuracy"])         # {"val_accuracy": {"eval", "metric_last"}}

Names, the filter language and sort keys are described in ``modelboard.store.columns`` and
``modelboard.store.filter``. Filters are compiled to SQL with bound parameters only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, exists, func, select, tuple_, union

from modelboard.optimizer_names import canonical_optimizer
from modelboard.store import tables
from modelboard.store.columns import (
    RUN_COLUMNS,
    STANDARD_COLUMNS,
    Column,
    ColumnResolver,
    Probe,
    Source,
    plain,
)
from modelboard.store.filter import FilterError, parse_filter
from modelboard.store.filter_sql import QueryBuilder
from modelboard.store.run_summary import Layout, fetch_summaries, summarised_pairs

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.sql.elements import ColumnElement

    from modelboard.store.sql_store import SQLStore

__all__ = [
    "RunPage",
    "RunChunk",
    "query_runs",
    "query_run_table",
    "iter_run_chunks",
    "select_columns",
    "default_columns",
    "stored_sources",
    "INT_KINDS",
    "KEEP_WHEN_EMPTY",
    "STREAM_CHUNK",
    "select_run_ids",
    "count_runs",
    "value_kinds",
    "column_resolver",
    "sort_names",
    "DEFAULT_RUN_COLUMNS",
    "VALUE_KINDS",
]

DEFAULT_RUN_COLUMNS = ("id", "name", "project", "framework", "status", "created", "duration")
#: Kinds of stored values a plain column name can refer to, in the order names resolve.
VALUE_KINDS = ("eval", "metric_last", "param", "hparam", "data", "tag", "run", "network")
_FIRST_WINDOW = 1000  # candidates per source in the first window of a top-N query
_KEEP_WHEN_EMPTY = KEEP_WHEN_EMPTY = frozenset(RUN_COLUMNS)
#: Kinds whose integral numbers read back as ints (a column's first source decides).
_INT_KINDS = INT_KINDS = frozenset({"param", "hparam", "data", "network", "tag"})
#: Runs per chunk of a whole-store read (one query for their fields, one for their values).
STREAM_CHUNK = 1000


@dataclass
class RunPage:
    """One page of runs: ``labels`` (columns), ``rows`` (plain values, one list per run, in
    order), the runs' ``ids``, the page's ``offset`` and the names ``sort`` ordered by."""

    labels: list[str]
    rows: list[list[Any]]
    ids: list[str] = field(default_factory=list)
    offset: int = 0
    sort: list[str] = field(default_factory=list)


def value_kinds(
    store: SQLStore, names: Iterable[str] | None = None, kinds: Sequence[str] = VALUE_KINDS
) -> dict[str, set[str]]:
    """Which kinds of stored values (``eval``, ``param``, ``tag``...) hold each name.

    With ``names``, one indexed query per name; without, every name the store holds (its
    distinct names and kinds, for a column picker).
    """
    rv = tables.run_values
    wanted = list(kinds)
    if names is None:
        query: Any = select(rv.c.name, rv.c.kind).where(rv.c.kind.in_(wanted)).distinct()
        found: dict[str, set[str]] = {}
        for name, kind in store._read(partial(_all_rows, query)):
            found.setdefault(name, set()).add(kind)
        return found
    out = {}
    for name in names:
        query = select(
            *[
                exists().where(rv.c.kind == kind, rv.c.name == name).label(f"k{i}")
                for i, kind in enumerate(wanted)
            ]
        )
        row = store._read(partial(_one_row, query))
        out[name] = {kind for kind, hit in zip(wanted, row, strict=True) if hit}
    return out


def _probe(store: SQLStore) -> Probe:
    def probe(name: str, kinds: Sequence[str]) -> set[str]:
        return value_kinds(store, [name], kinds)[name]

    return probe


def column_resolver(store: SQLStore, directions: Mapping[str, str] | None = None) -> ColumnResolver:
    """A resolver of column names against what ``store`` holds (``directions``: see
    :func:`modelboard.metric_direction.metric_direction`)."""
    return ColumnResolver(_probe(store), directions)


def _all_rows(query: Any, conn: Connection) -> list[Any]:
    return list(conn.execute(query).all())


def _driver_rows(query: Any, conn: Connection) -> list[Any]:
    """The rows as the database driver gives them (tuples: no SQLAlchemy row per run)."""
    result = conn.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _first_row(query: Any, conn: Connection) -> Any:
    return conn.execute(query).first()


def _one_row(query: Any, conn: Connection) -> Any:
    return conn.execute(query).one()


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


def sort_names(sort: str | Sequence[str] | None) -> list[str]:
    """The column names of a sort (``"-loss, name"`` gives ``["loss", "name"]``)."""
    return [name for name, _ in _sort_spec(sort)]


def _descending(column: Column, explicit: bool | None, ascending: bool | None) -> bool:
    if explicit is not None:
        return explicit
    if ascending is not None:
        return not ascending
    if column.direction is not None:
        return column.direction == "max"
    return column.run_field == "created"


def _conditions(
    builder: QueryBuilder, where: str | None, project: str | None
) -> list[ColumnElement[bool]]:
    runs = tables.runs
    conditions: list[ColumnElement[bool]] = []
    if project is not None:
        conditions.append(runs.c.project == project)
    if where is not None and where.strip():
        conditions.append(builder.compile_filter(where, parse_filter(where)))
    return conditions


def _check_page(limit: int | None, offset: int) -> None:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be a number of runs, 0 or more, got {limit}")
    if offset < 0:
        raise ValueError(f"offset must be a number of runs, 0 or more, got {offset}")


def select_run_ids(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    project: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    directions: Mapping[str, str] | None = None,
    resolver: ColumnResolver | None = None,
    now: float | None = None,
) -> list[str]:
    """Ids of the runs that match ``where`` (and ``project``), sorted, skipping ``offset`` runs
    and returning at most ``limit``: filter, sort and page all run in the database.

    Ties and unsorted runs come newest first. ``FilterError`` for a bad filter or sort name.
    """
    _check_page(limit, offset)
    resolver = resolver or column_resolver(store, directions)

    builder = QueryBuilder(store, resolver, now)
    runs = tables.runs
    conditions = _conditions(builder, where, project)
    sort_columns = []
    for name, explicit in _sort_spec(sort):
        builder.naming(name, -1)
        column = resolver.resolve(name)
        for source in column.needs_sources:
            builder.alias(source)  # counted against the join limit now, named in the error
        sort_columns.append((column, explicit))
    if limit == 0:
        return []
    if len(sort_columns) == 1 and limit is not None:
        column, explicit = sort_columns[0]
        if column.sources and not column.computed:
            top = _top_by_value(
                store, builder, column, explicit, ascending, conditions, offset + limit
            )
            return top[offset:]
    order: list[Any] = []
    for column, explicit in sort_columns:
        order.extend(builder.sort_keys(column, _descending(column, explicit, ascending)))
    order.extend([runs.c.created.desc(), runs.c.id])
    query = select(runs.c.id).select_from(builder.from_clause()).where(*conditions)
    query = query.order_by(*order)
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [r[0] for r in store._read(partial(_driver_rows, query))]


def count_runs(
    store: SQLStore,
    *,
    where: str | None = None,
    project: str | None = None,
    directions: Mapping[str, str] | None = None,
    now: float | None = None,
) -> int:
    """How many runs match ``where`` (and ``project``), counted in the database."""
    builder = QueryBuilder(store, column_resolver(store, directions), now)
    conditions = _conditions(builder, where, project)
    query = select(func.count()).select_from(builder.from_clause()).where(*conditions)
    return int(store._read(partial(_one_row, query))[0])


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
    return ids + [r[0] for r in store._read(partial(_all_rows, rest))]


def _fetch_rows(
    store: SQLStore, ids: Sequence[str], sources: set[Source] | None, now: float
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[Source, tuple[Any, Any]]]]:
    """Runs-table fields and ``run_values`` of the given runs (only ``sources`` when given),
    read row by row (the reference the summaries' path is tested against)."""
    names = (*RUN_FIELDS, "duration")
    run_fields: dict[str, dict[str, Any]] = {}
    values: dict[str, dict[Source, tuple[Any, Any]]] = {run_id: {} for run_id in ids}
    interned: dict[tuple[str, str], Source] = {}
    for chunk in iter_run_chunks(store, ids, sources, now=now):
        for row in chunk.fields:
            run_fields[row[0]] = dict(zip(names, row, strict=True))
        for run_id, kind, name, num, text in chunk.values:
            source = interned.get((kind, name))
            if source is None:
                source = interned[(kind, name)] = Source(kind, name)
            values[run_id][source] = (num, text)
    return run_fields, values


def _default_columns(resolver: ColumnResolver, present: set[Source]) -> list[Column]:
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


def query_runs(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    columns: Sequence[str] | str | None = None,
    project: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    directions: Mapping[str, str] | None = None,
) -> RunPage:
    """A page of leaderboard rows: the runs :func:`select_run_ids` picks, with ``columns``
    (names, or one comma-separated string) or, by default, every column they hold a value of.

    Values are plain Python (numbers, text, booleans); no pandas needed.
    """
    now = time.time()
    resolver = column_resolver(store, directions)
    chosen: list[Column] | None = None
    if columns is not None:
        names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
        chosen = list({c.label: c for c in (resolver.resolve(n) for n in names if n)}.values())
    ids = select_run_ids(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        project=project,
        limit=limit,
        offset=offset,
        resolver=resolver,
        now=now,
    )
    needed: set[Source] | None = None
    if chosen is not None:
        needed = {s for column in chosen for s in column.needs_sources}
    run_fields, values = _fetch_rows(store, ids, needed, now)
    default = chosen is None
    if chosen is None:
        present = {s for per_run in values.values() for s in per_run}
        chosen = _default_columns(resolver, present)
    rows = []
    shown = []
    for run_id in ids:
        fields = run_fields.get(run_id)
        if fields is None:  # deleted between the two queries
            continue
        shown.append(run_id)
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
    return RunPage(labels, rows, shown, offset, sort_names(sort))


def select_columns(
    resolver: ColumnResolver, columns: Sequence[str] | str | None
) -> list[Column] | None:
    """The columns ``columns`` names (one comma-separated string or a list), or ``None``
    for the default set (which depends on the values the selected runs hold)."""
    if columns is None:
        return None
    names = [c.strip() for c in columns.split(",")] if isinstance(columns, str) else columns
    return list({c.label: c for c in (resolver.resolve(n) for n in names if n)}.values())


def default_columns(resolver: ColumnResolver, present: set[Source]) -> list[Column]:
    """Every column the default leaderboard shows for runs holding ``present`` values (empty
    ones are dropped by the caller, run columns excepted: ``KEEP_WHEN_EMPTY``)."""
    return _default_columns(resolver, present)


def stored_sources(store: SQLStore) -> set[Source]:
    """Every (kind, name) the store holds a value of: from the summaries' layouts (and the
    rows of runs without a summary), else one scan of a covering index."""
    rv = tables.run_values
    query = select(rv.c.kind, rv.c.name).distinct()

    def work(conn: Connection) -> Any:
        pairs = summarised_pairs(conn)  # the runs' summaries know them: no scan
        return pairs if pairs is not None else _all_rows(query, conn)

    return {Source(k, n) for k, n in store._read(work)}


@dataclass
class RunChunk:
    """One chunk of a whole-store read: the runs-table ``fields`` of the chunk's runs (a tuple
    per run: ``RUN_FIELDS`` then ``duration``) and their ``run_values`` rows as plain tuples
    (run_id, kind, name, value_num, value_text), straight from the database driver."""

    fields: list[tuple[Any, ...]]
    values: list[tuple[str, str, str, float | None, str | None]]
    #: with ``summaries=True``: (run_id, layout id, numbers, texts) of the runs that have a
    #: summary (``modelboard.store.run_summary``; their ``values`` are not fetched), and the
    #: layouts they use
    summaries: list[tuple[str, str, bytes, str]] = field(default_factory=list)
    layouts: dict[str, Layout] = field(default_factory=dict)


#: The runs-table fields a chunk carries, in order (``duration`` follows, computed).
RUN_FIELDS = (
    "id",
    "name",
    "project",
    "framework",
    "status",
    "created",
    "ended",
    "heartbeat",
    "parent_id",
)


#: Above this many (kind, name) pairs the value query filters on the kinds only (comparing
#: every row with a long list of pairs costs the database more than the rows it saves).
_PAIR_FILTER_MAX = 32


def _value_sql(
    dialect: str, count: int, pairs: Sequence[tuple[str, str]] | None, kinds: Sequence[str] | None
) -> str:
    rv = tables.run_values.name
    head = f"SELECT run_id, kind, name, value_num, value_text FROM {rv} WHERE "
    if dialect == "postgresql":
        sql = head + "run_id = ANY(%s)"
        if pairs is not None:
            sql += " AND (kind, name) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
        elif kinds is not None:
            sql += " AND kind = ANY(%s)"
        return sql
    sql = head + "run_id IN (" + ",".join("?" * count) + ")"
    if pairs is not None:
        sql += " AND (kind, name) IN (VALUES " + ",".join(["(?, ?)"] * len(pairs)) + ")"
    elif kinds is not None:
        sql += " AND kind IN (" + ",".join("?" * len(kinds)) + ")"
    return sql


def _fetch_values(
    conn: Connection,
    ids: Sequence[str],
    pairs: Sequence[tuple[str, str]] | None,
    kinds: Sequence[str] | None = None,
) -> list[Any]:
    """The chunk's ``run_values`` rows through the driver's own cursor (no SQLAlchemy rows:
    a whole-store read fetches millions of them): only ``pairs`` when given, else only
    ``kinds`` when given."""
    dialect = conn.dialect.name
    params: Any
    if dialect == "postgresql":
        params = [list(ids)]
        if pairs is not None:
            params += [[k for k, _ in pairs], [n for _, n in pairs]]
        elif kinds is not None:
            params.append(list(kinds))
    elif dialect == "sqlite":
        params = list(ids)
        if pairs is not None:
            params += [v for pair in pairs for v in pair]
        elif kinds is not None:
            params += list(kinds)
    else:  # any other database: the portable statement
        rv = tables.run_values
        query = select(rv.c.run_id, rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(
            rv.c.run_id.in_(list(ids))
        )
        if pairs is not None:
            query = query.where(tuple_(rv.c.kind, rv.c.name).in_(list(pairs)))
        elif kinds is not None:
            query = query.where(rv.c.kind.in_(list(kinds)))
        return [tuple(r) for r in conn.execute(query)]
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(_value_sql(dialect, len(ids), pairs, kinds), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def iter_run_chunks(
    store: SQLStore,
    ids: Sequence[str],
    sources: Iterable[Source] | None = None,
    *,
    now: float | None = None,
    chunk_size: int = STREAM_CHUNK,
    summaries: bool = False,
) -> Iterator[RunChunk]:
    """The runs-table fields and ``run_values`` of ``ids``, ``chunk_size`` runs at a time:
    memory stays one chunk's rows, whatever the store's size. With ``sources``, at least
    their values (and no kind of value none of them has; many sources are filtered by kind).
    With ``summaries``, a run that has a summary comes as that one row instead of its values
    (``RunChunk.summaries``: every value of the run, whatever ``sources`` say).

    Each chunk is one read (queries on one connection); a run deleted meanwhile is absent.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be 1 or more, got {chunk_size}")
    now = time.time() if now is None else now
    runs = tables.runs
    status = store.effective_status_clause(now)
    pairs = None if sources is None else sorted({(s.kind, s.name) for s in sources})
    kinds = None if pairs is None else sorted({k for k, _ in pairs})
    if pairs is not None and len(pairs) > _PAIR_FILTER_MAX:
        pairs = None  # many to name: the kinds only, the other names skipped by the caller
    step = min(chunk_size, 30_000 - 2 * len(pairs or ()))
    layouts: dict[str, Layout] = {}
    for start in range(0, len(ids), step):
        chunk = list(ids[start : start + step])
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

        def work(conn: Connection, run_query: Any = run_query, chunk: list[str] = chunk) -> Any:
            found = _driver_rows(run_query, conn)
            if kinds is not None and not kinds:
                return found, [], []
            summarised = fetch_summaries(conn, chunk, layouts) if summaries else []
            if summarised:
                have = {row[0] for row in summarised}
                chunk = [run_id for run_id in chunk if run_id not in have]
            values = _fetch_values(conn, chunk, pairs, kinds) if chunk else []
            return found, values, summarised

        found, values, summarised = store._read(work)
        fields = []
        for row in found:
            created, ended, heartbeat = row[5], row[6], row[7]
            end = ended if ended is not None else heartbeat
            duration = None if end is None else max(0.0, end - created)
            fields.append((*row, duration))
        yield RunChunk(fields, values, summarised, layouts)


def _present_sources(store: SQLStore, sources: Sequence[Source]) -> set[Source]:
    """Which of ``sources`` the store holds a value of (one query, an index probe each)."""
    if not sources:
        return set()
    rv = tables.run_values
    query = select(
        *[
            exists().where(rv.c.kind == s.kind, rv.c.name == s.name).label(f"s{i}")
            for i, s in enumerate(sources)
        ]
    )
    row = store._read(partial(_one_row, query))
    return {s for s, hit in zip(sources, row, strict=True) if hit}


def _first_present(parts: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """SQL (number, text) of the first source holding a value, as ``Column.value`` reads."""
    if len(parts) == 1:
        return parts[0]
    whens = [(num.is_not(None)) | (text.is_not(None)) for num, text in parts]
    num = case(*[(w, num) for w, (num, _) in zip(whens, parts, strict=True)], else_=None)
    text = case(*[(w, text) for w, (_, text) in zip(whens, parts, strict=True)], else_=None)
    return num, text


def _stored_value(num: Any, text: Any, optimizer: bool, integral: bool) -> Any:
    """One stored (number, text) as ``Column.value`` then ``plain`` make it."""
    if num is not None:
        if text == "true" or text == "false":
            return text == "true"
        if integral and math.isfinite(num) and num.is_integer():
            return int(num)
        return num
    if text is None:
        return None
    if text in ("nan", "inf", "-inf"):
        return float(text)
    return canonical_optimizer(text) if optimizer else text


def query_run_table(
    store: SQLStore,
    columns: Sequence[str],
    *,
    sort: str | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    project: str | None = None,
    directions: Mapping[str, str] | None = None,
) -> RunPage | None:
    """Every matching run's ``columns`` (names), sorted by the one column ``sort`` names, in
    one SQL query: the values ``query_runs(..., columns=columns)`` gives, in its order, without
    reading each run's stored values row by row. ``None`` when the query would join more stored
    values than a database allows (``query_runs`` then does it). ``FilterError`` as there."""
    now = time.time()
    resolver = column_resolver(store, directions)
    chosen = list({c.label: c for c in (resolver.resolve(n) for n in columns if n)}.values())
    builder = QueryBuilder(store, resolver, now)
    conditions = _conditions(builder, where, project)
    order: list[Any] = []
    if sort is not None:
        builder.naming(sort, -1)
        sort_column = resolver.resolve(sort)
        order = builder.sort_keys(sort_column, _descending(sort_column, None, ascending))
    runs = tables.runs
    order.extend([runs.c.created.desc(), runs.c.id])
    wanted = list(dict.fromkeys(s for c in chosen for s in c.needs_sources))
    present = _present_sources(store, wanted)
    selected: list[Any] = []
    readers: list[Any] = []
    try:
        for column in chosen:
            readers.append(_reader(builder, column, present, selected))
    except FilterError:
        return None  # too many stored values for one query
    query = select(*selected).select_from(builder.from_clause()).where(*conditions)
    rows = store._read(partial(_driver_rows, query.order_by(*order)))
    count = len(rows)
    sql_columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else []
    if not rows:
        sql_columns = [() for _ in selected]
    del rows
    values = [read(sql_columns, count) for read in readers]
    table = [list(row) for row in zip(*values, strict=True)] if values else []
    labels = [c.label for c in chosen]
    index = labels.index("id") if "id" in labels else None
    ids = list(values[index]) if index is not None else []
    return RunPage(labels, table, ids, 0, sort_names(sort))


def _reader(
    builder: QueryBuilder, column: Column, present: set[Source], selected: list[Any]
) -> Any:
    """Add the SQL a column needs to ``selected``; return what reads its values from the
    result's columns (``reader(sql_columns, count)``: one value per run)."""
    at = len(selected)
    if column.run_field == "duration":
        cols = tables.runs.c
        selected.append(func.coalesce(cols.ended, cols.heartbeat) - cols.created)
        return lambda sql, n: [None if v is None else max(0.0, v) for v in sql[at]]
    if column.run_field is not None:
        selected.append(builder.run_field(column.run_field))
        return lambda sql, n: sql[at]
    if column.computed is not None:
        needs = [s for s in column.needs_sources if s in present]
        for source in needs:
            alias = builder.alias(source)
            selected.extend([alias.c.value_num, alias.c.value_text])

        def computed(sql: list[tuple[Any, ...]], n: int) -> list[Any]:
            pairs = [
                list(zip(sql[at + 2 * i], sql[at + 2 * i + 1], strict=True))
                for i in range(len(needs))
            ]
            return [
                column.value({}, {s: pairs[i][row] for i, s in enumerate(needs)})
                for row in range(n)
            ]

        return computed
    sources = [s for s in column.sources if s in present]
    if not sources:
        return lambda sql, n: [None] * n
    parts = [(builder.alias(s).c.value_num, builder.alias(s).c.value_text) for s in sources]
    selected.extend(_first_present(parts))
    optimizer = column.canonical == "optimizer"
    integral = column.sources[0].kind in _INT_KINDS

    def stored(sql: list[tuple[Any, ...]], n: int) -> list[Any]:
        # each distinct stored pair read once: a setting has few values among many runs
        pairs = list(zip(sql[at], sql[at + 1], strict=True))
        read = {pair: _stored_value(*pair, optimizer, integral) for pair in set(pairs)}
        return list(map(read.__getitem__, pairs))

    return stored
