"""The leaderboard of many runs, built column by column from chunks of the store.

A whole-store read (``tracker.leaderboard()`` without a limit, ``modelboard export``) reads the
runs ``STREAM_CHUNK`` at a time (``modelboard.store.query.iter_run_chunks``): a run with a
summary (``modelboard.store.run_summary``) as its one row, a run without one (still running, or
changed since) as its ``run_values`` rows. Each stored value goes straight into one array per
(kind, name) over all runs: no per-run dictionaries and no row lists. Columns are then computed
a whole column at a time (an entry's array is dropped once no column left reads it), and a
column that only ever holds numbers becomes a float64 (or int64) array without one Python
object per cell. The values and the frame's dtypes are those the row-by-row build
(:func:`modelboard.store.query_runs`) gives.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelboard.optimizer_names import canonical_optimizer
from modelboard.store.columns import GRADIENT_FLAGS, Column, ColumnResolver, Source
from modelboard.store.query import (
    INT_KINDS,
    KEEP_WHEN_EMPTY,
    RUN_FIELDS,
    STREAM_CHUNK,
    default_columns,
    iter_run_chunks,
    stored_sources,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelboard.store import SQLStore
    from modelboard.store.run_summary import Layout

__all__ = ["stream_frame"]

_FIELD_INDEX = {name: i for i, name in enumerate((*RUN_FIELDS, "duration"))}
#: Runs-table fields whose texts repeat from run to run (one object per distinct text).
_SHARED_FIELDS = frozenset(_FIELD_INDEX[n] for n in ("project", "framework", "status"))


class _Values:
    """Every stored value of the read, per (kind, name): one array over all runs, NaN (or
    ``None`` for texts) where a run has none, filled in chunk by chunk."""

    def __init__(self, size: int, wanted: set[tuple[str, str]] | None = None) -> None:
        self.size = size
        self.wanted = wanted
        self.num: dict[tuple[str, str], np.ndarray] = {}
        self.text: dict[tuple[str, str], np.ndarray] = {}
        self.shared: dict[str, str] = {}

    def _put_numbers(self, key: tuple[str, str], where: np.ndarray, values: np.ndarray) -> None:
        import numpy as np

        column = self.num.get(key)
        if column is None:
            column = self.num[key] = np.full(self.size, np.nan)
        column[where] = values

    def _put_texts(self, key: tuple[str, str], where: np.ndarray, values: np.ndarray) -> None:
        import numpy as np

        column = self.text.get(key)
        if column is None:
            column = self.text[key] = np.full(self.size, None, dtype=object)
        column[where] = values

    def share(self, text: Any) -> Any:
        """One object per distinct text read (``None`` and numbers pass through)."""
        return self.shared.setdefault(text, text) if isinstance(text, str) else text

    def drop(self, key: tuple[str, str]) -> None:
        """Forget an entry's values (no column left reads them)."""
        self.num.pop(key, None)
        self.text.pop(key, None)

    def add(self, rows: list[Any], position: pd.Index) -> None:
        """Fold one chunk of (run_id, kind, name, num, text) rows in, vectorised."""
        import numpy as np
        import pandas as pd

        if not rows:
            return
        # one list per column (``zip(*rows)`` costs 0.6 µs a row, these 0.1 µs)
        run_ids = [r[0] for r in rows]
        kinds = [r[1] for r in rows]
        names = [r[2] for r in rows]
        nums = [r[3] for r in rows]
        texts = [r[4] for r in rows]
        run_codes, chunk_ids = pd.factorize(np.asarray(run_ids, dtype=object))
        where = position.get_indexer(chunk_ids).astype(np.int32)[run_codes]
        kind_codes, kind_names = pd.factorize(np.asarray(kinds, dtype=object))
        name_codes, name_names = pd.factorize(np.asarray(names, dtype=object))
        pair_codes, pairs = pd.factorize(kind_codes.astype(np.int64) * len(name_names) + name_codes)
        keys = [(kind_names[p // len(name_names)], name_names[p % len(name_names)]) for p in pairs]
        numbers = np.array(nums, dtype=float)  # None reads as NaN
        text = np.array(texts, dtype=object)
        has_number = ~np.isnan(numbers)
        has_text = pd.notna(text)
        # equal texts share one object (names, shapes, signatures repeat from run to run),
        # and no text pins the chunk's freed rows in memory
        shared = self.shared
        written_at = np.flatnonzero(has_text)
        text[written_at] = [shared.setdefault(t, t) for t in text[written_at]]
        order = np.argsort(pair_codes, kind="stable")
        bounds = np.searchsorted(pair_codes[order], np.arange(len(keys) + 1))
        for code, key in enumerate(keys):
            if self.wanted is not None and key not in self.wanted:
                continue
            part = order[bounds[code] : bounds[code + 1]]
            known = part[has_number[part]]
            if len(known):
                self._put_numbers(key, where[known], numbers[known])
            written = part[has_text[part]]
            if len(written):
                self._put_texts(key, where[written], text[written])

    def add_summaries(
        self,
        rows: list[tuple[str, str, bytes, str]],
        layouts: dict[str, Layout],
        position: pd.Index,
    ) -> None:
        """Fold one chunk of run summaries in: per layout, one matrix of numbers (a column per
        value) and one of texts, cut into the same (position, value) pieces as rows give."""
        import json

        import numpy as np
        import pandas as pd

        groups: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            groups.setdefault(row[1], []).append(i)
        wanted = self.wanted
        for layout_id, members in groups.items():
            layout = layouts[layout_id]
            where = position.get_indexer([rows[i][0] for i in members]).astype(np.int32)
            numeric = [
                (j, key) for j, key in enumerate(layout.numbers) if wanted is None or key in wanted
            ]
            if numeric:
                blob = b"".join(rows[i][2] for i in members)
                matrix = np.frombuffer(blob, dtype="<f8").reshape(len(members), -1)
                for j, key in numeric:
                    column = matrix[:, j]
                    known = ~np.isnan(column)
                    if known.any():
                        self._put_numbers(key, where[known], column[known])
                del matrix, blob
            textual = [
                (j, key) for j, key in enumerate(layout.texts) if wanted is None or key in wanted
            ]
            if textual and len(members):
                lists = json.loads("[" + ",".join(rows[i][3] for i in members) + "]")
                table = np.empty((len(members), len(layout.texts)), dtype=object)
                table[:] = lists
                del lists
                shared = self.shared
                for j, key in textual:
                    codes, uniques = pd.factorize(table[:, j])
                    kept = np.empty(len(uniques), dtype=object)
                    kept[:] = [shared.setdefault(t, t) for t in uniques]
                    self._put_texts(key, where, kept[codes])
                del table

    def numbers(self, key: tuple[str, str]) -> np.ndarray:
        """The entry's numbers, NaN where a run has none (read only)."""
        import numpy as np

        column = self.num.get(key)
        return np.full(self.size, np.nan) if column is None else column

    def texts(self, key: tuple[str, str]) -> np.ndarray:
        """The entry's texts, ``None`` where a run has none (read only)."""
        import numpy as np

        column = self.text.get(key)
        return np.full(self.size, None, dtype=object) if column is None else column


def _key(source: Source) -> tuple[str, str]:
    return (source.kind, source.name)


def _numeric_column(column: Column, values: _Values) -> np.ndarray:
    """A column whose entries hold numbers only: the first number of its sources."""
    import numpy as np

    out = np.full(values.size, np.nan)
    for source in column.sources:
        numbers = values.numbers(_key(source))
        gaps = np.isnan(out)
        out[gaps] = numbers[gaps]
    return out


_NONFINITE = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


def _plain_numbers(numbers: np.ndarray, intify: bool) -> list[Any]:
    """Python floats, or (``intify``) ints where whole: ``plain`` of each, a column at once."""
    import numpy as np

    cells: list[Any] = numbers.tolist()
    if intify:
        whole = np.flatnonzero(np.isfinite(numbers) & (np.mod(numbers, 1) == 0))
        for i in whole.tolist():
            cells[i] = int(cells[i])
    return cells


def _object_column(column: Column, values: _Values, intify: bool) -> list[Any]:
    """A column with text somewhere: ``Column.value``'s rules (then ``plain`` when
    ``intify``), applied to each distinct text once and to the numbers a column at a time."""
    import numpy as np
    import pandas as pd

    out = np.full(values.size, None, dtype=object)
    missing = np.ones(values.size, dtype=bool)
    optimizer = column.canonical == "optimizer"
    for source in column.sources:
        numbers = values.numbers(_key(source))
        texts = values.texts(_key(source))
        has_number = ~np.isnan(numbers)
        has_text = pd.notna(texts)
        todo = missing & (has_number | has_text)
        if not todo.any():
            continue
        # a number with "true"/"false" beside it is a bool; a number otherwise is itself
        with_number = np.flatnonzero(todo & has_number)
        if len(with_number):
            beside = texts[with_number]
            flag = (beside == "true") | (beside == "false")
            plain_at = with_number[~flag]
            if len(plain_at):
                cell_values = _plain_numbers(numbers[plain_at], intify)
                out[plain_at] = np.array(cell_values + [None], dtype=object)[:-1]
            flag_at = with_number[flag]
            out[flag_at] = np.array([t == "true" for t in beside[flag]] + [None], dtype=object)[:-1]
        # a text alone: non-finite numbers restored, optimizer names made canonical
        text_at = np.flatnonzero(todo & ~has_number)
        if len(text_at):
            codes, uniques = pd.factorize(texts[text_at])
            read: list[Any] = []
            for text in uniques.tolist():
                value: Any = _NONFINITE.get(text, text)
                if optimizer and isinstance(value, str):
                    value = canonical_optimizer(value)
                read.append(value)
            out[text_at] = np.array(read + [None], dtype=object)[:-1][codes]
        missing &= ~todo
    return out.tolist()


def _gradient_health(values: _Values) -> list[Any]:
    """``ok``, the first raised flag's name, or ``None`` without any flag: a column at once."""
    import numpy as np
    import pandas as pd

    flags = [values.numbers(("run", f)) for f in GRADIENT_FLAGS]
    present = np.zeros(values.size, dtype=bool)
    for number, flag in zip(flags, GRADIENT_FLAGS, strict=True):
        present |= ~np.isnan(number) | pd.notna(values.texts(("run", flag)))
    out = np.full(values.size, None, dtype=object)
    out[present] = "ok"
    decided = np.zeros(values.size, dtype=bool)
    for number, name in zip(flags, ("nonfinite", "exploding", "vanishing"), strict=True):
        raised = (number == 1.0) & ~decided
        out[raised] = name
        decided |= raised
    return out.tolist()


def _cells(column: Column, values: _Values, fields: list[np.ndarray]) -> Any:
    """One column's cells: a float/int numpy array, or a list of Python values."""
    import numpy as np

    if column.run_field is not None:
        index = _FIELD_INDEX.get(column.run_field)
        return [None] * values.size if index is None else fields[index].tolist()
    if column.computed == "gradient_health":
        return _gradient_health(values)
    intify = bool(column.sources) and column.sources[0].kind in INT_KINDS
    if any(_key(s) in values.text for s in column.sources):
        return _object_column(column, values, intify)
    numbers = _numeric_column(column, values)
    if intify and len(numbers) and not np.isnan(numbers).any():
        whole = np.all(np.mod(numbers, 1) == 0) and np.all(np.abs(numbers) < 2.0**63)
        if whole:
            return numbers.astype(np.int64)
    return numbers


def _is_empty(cells: Any) -> bool:
    import numpy as np

    if isinstance(cells, np.ndarray) and cells.dtype.kind == "f":
        return bool(np.isnan(cells).all())
    return all(v is None for v in cells)


def stream_frame(
    store: SQLStore,
    ids: Sequence[str],
    chosen: list[Column] | None,
    resolver: ColumnResolver,
    now: float,
    chunk_size: int = STREAM_CHUNK,
) -> pd.DataFrame:
    """The leaderboard frame of ``ids`` (in order) with ``chosen`` columns, or the default set
    (every column the runs hold a value of), read ``chunk_size`` runs at a time."""
    import numpy as np
    import pandas as pd

    position = pd.Index(list(ids))
    default = chosen is None
    if chosen is None:  # planned from what the whole store holds; empty columns drop below
        stored = stored_sources(store)
        chosen = default_columns(resolver, stored)
        # only what a column shows: no features, fingerprints, or the unused min/max
        needed = {s for c in chosen for s in c.needs_sources} & stored
    else:
        needed = {s for c in chosen for s in c.needs_sources}
    values = _Values(len(ids), {_key(s) for s in needed})
    # the runs-table fields a column each (texts that repeat, such as statuses, shared)
    fields = [np.full(len(ids), None, dtype=object) for _ in _FIELD_INDEX]
    kept = np.zeros(len(ids), dtype=bool)
    chunks = iter_run_chunks(store, ids, needed, now=now, chunk_size=chunk_size, summaries=True)
    for chunk in chunks:
        if chunk.fields:
            at = position.get_indexer([row[0] for row in chunk.fields])
            kept[at] = True
            for index, read in enumerate(zip(*chunk.fields, strict=True)):
                if index in _SHARED_FIELDS:
                    read = tuple(values.share(v) for v in read)
                fields[index][at] = read
        values.add(chunk.values, position)
        values.add_summaries(chunk.summaries, chunk.layouts, position)
        chunk.summaries.clear()
        chunk.values.clear()  # free this chunk's rows before the next one is fetched
    count = int(kept.sum())
    data: dict[str, Any] = {}
    readers = Counter(_key(s) for c in chosen for s in {*c.sources, *c.needs_sources})
    for column in chosen:
        cells = _cells(column, values, fields)
        for source in {*column.sources, *column.needs_sources}:
            readers[_key(source)] -= 1
            if not readers[_key(source)]:  # no column left reads it: its values go now
                values.drop(_key(source))
        if not kept.all():  # deleted between the two queries
            cells = (
                np.asarray(cells)[kept]
                if isinstance(cells, np.ndarray)
                else [c for c, k in zip(cells, kept, strict=True) if k]
            )
        if default and column.label not in KEEP_WHEN_EMPTY and _is_empty(cells):
            continue
        data[column.label] = cells if isinstance(cells, np.ndarray) else pd.Series(cells)
    del values, fields  # the pieces go before the frame's blocks are made
    if not count:
        return pd.DataFrame(columns=list(data))
    return pd.DataFrame(data, index=pd.RangeIndex(count), copy=False)
