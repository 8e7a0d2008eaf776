"""The leaderboard as a pandas DataFrame or as plain rows, from the store's query API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from modelboard.store import query_runs, select_run_ids
from modelboard.store.query import STREAM_CHUNK, column_resolver, select_columns, sort_names

if TYPE_CHECKING:
    import pandas as pd

    from modelboard.store import SQLStore

__all__ = ["leaderboard", "leaderboard_table", "leaderboard_ids"]


def leaderboard_ids(
    store: SQLStore,
    *,
    sort: str | Sequence[str] | None = None,
    ascending: bool | None = None,
    where: str | None = None,
    project: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    directions: Mapping[str, str] | None = None,
) -> list[str]:
    """The ids of the runs the leaderboard shows, in order (filter, sort, limit run in SQL)."""
    return select_run_ids(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        project=project,
        limit=limit,
        offset=offset,
        directions=directions,
    )


def leaderboard_table(
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
) -> tuple[list[str], list[list[Any]]]:
    """The leaderboard as column labels and rows of plain values (no pandas needed)."""
    page = query_runs(
        store,
        sort=sort,
        ascending=ascending,
        where=where,
        columns=columns,
        project=project,
        limit=limit,
        offset=offset,
        directions=directions,
    )
    return page.labels, page.rows


def leaderboard(
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
    chunk_size: int = STREAM_CHUNK,
) -> pd.DataFrame:
    """One row per run, best first: see ``modelboard.leaderboard`` for the language.

    Without a ``limit`` every matching run is read, ``chunk_size`` runs at a time, into
    compact columns (see ``modelboard.leaderboard._stream``): 100,000 runs need no more
    memory than the frame itself and a chunk.
    """
    import time

    from modelboard.leaderboard._stream import stream_frame

    now = time.time()
    resolver = column_resolver(store, directions)
    chosen = select_columns(resolver, columns)
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
    frame = stream_frame(store, ids, chosen, resolver, now, chunk_size)
    for label in [c for c in frame.columns if frame[c].dtype.kind == "O"]:
        frame[label] = frame[label].where(frame[label].notna(), float("nan"))  # one missing value
    frame.attrs["modelboard_sort"] = sort_names(sort)
    return frame
