"""``RunList``: the runs of a listing, read from the store a chunk at a time.

``tracker.runs()`` picks the runs in one query (ids only) and returns a ``RunList``: a
sequence whose records are parsed when they are reached, ``chunk_size`` at a time, so that
listing 100,000 runs holds 100,000 ids, not 100,000 records. It compares equal to a list of
the same records, and ``list(runs)`` gives a plain list.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from sqlalchemy import select

from modelboard.records import RunRecord
from modelboard.store import tables

if TYPE_CHECKING:
    from modelboard.store.sql_store import SQLStore

__all__ = ["RunList", "list_run_ids", "RUN_CHUNK"]

RUN_CHUNK = 1000


def list_run_ids(
    store: SQLStore,
    *,
    project: str | None = None,
    status: str | Sequence[str] | None = None,
    limit: int | None = None,
    now: float | None = None,
) -> list[str]:
    """Ids of the runs ``store.list_runs`` would return, newest first, in one query."""
    now = time.time() if now is None else now
    cols = tables.runs.c
    query = select(cols.id)
    if project is not None:
        query = query.where(cols.project == project)
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        query = query.where(store.effective_status_clause(now).in_(wanted))
    query = query.order_by(cols.created.desc())
    if limit is not None:
        query = query.limit(limit)
    return [row[0] for row in store._read(lambda conn: conn.execute(query).all())]


class RunList(Sequence[RunRecord]):
    """Run records of fixed ``ids``, read ``chunk_size`` at a time as they are reached.

    A run deleted after the listing is left out when iterating (indexing it raises
    ``IndexError``); ``len`` counts the runs listed.
    """

    def __init__(
        self,
        store: SQLStore,
        ids: Sequence[str],
        *,
        now: float | None = None,
        chunk_size: int = RUN_CHUNK,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be 1 or more, got {chunk_size}")
        self._store = store
        self._ids = list(ids)
        self._now = time.time() if now is None else now
        self._chunk_size = chunk_size
        self._cached: tuple[int, list[RunRecord | None]] | None = None

    @property
    def ids(self) -> list[str]:
        """The listed runs' ids, in order."""
        return list(self._ids)

    def _read(self, ids: Sequence[str]) -> list[RunRecord | None]:
        store = self._store
        query = select(*store._record_columns()).where(tables.runs.c.id.in_(list(ids)))
        rows = store._read(lambda conn: conn.execute(query).all())
        found = {row.id: store._record_from_row(row, self._now) for row in rows}
        return [found.get(run_id) for run_id in ids]

    def _chunk(self, start: int) -> list[RunRecord | None]:
        if self._cached is None or self._cached[0] != start:
            self._cached = (start, self._read(self._ids[start : start + self._chunk_size]))
        return self._cached[1]

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[RunRecord]:
        for start in range(0, len(self._ids), self._chunk_size):
            for record in self._chunk(start):
                if record is not None:
                    yield record

    @overload
    def __getitem__(self, index: int) -> RunRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[RunRecord]: ...

    def __getitem__(self, index: int | slice) -> RunRecord | list[RunRecord]:
        if isinstance(index, slice):
            return [r for r in self._read(self._ids[index]) if r is not None]
        position = range(len(self._ids))[index]  # IndexError as a list raises it
        start = position - position % self._chunk_size
        record = self._chunk(start)[position - start]
        if record is None:
            raise IndexError(f"run {self._ids[position]} was deleted after the listing")
        return record

    def __eq__(self, other: object) -> bool:
        if isinstance(other, RunList):
            return list(self) == list(other)
        if isinstance(other, list):
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RunList({len(self)} runs)"

    def __add__(self, other: Any) -> list[RunRecord]:
        return list(self) + list(other)
