"""``merge_metric_summaries`` keeps each metric's last, min and max in ``run_values`` across
batches, on SQLite and PostgreSQL: NaN and infinities never become a min or max, a NaN last
value keeps its text, and the cached driver SQL gives the same rows as the SQLAlchemy
statements it replaced."""

from __future__ import annotations

import math
from pathlib import Path

from sqlalchemy import select

import modelboard as mb
from modelboard.store import tables
from modelboard.store.run_values import (
    _merge_with_statements,
    merge_metric_summaries,
    scalar_columns,
)

Point = tuple[str, int, int | None, float, float]

BATCHES: list[list[Point]] = [
    [("loss", 0, 0, 2.5, 1.0), ("acc", 0, 0, math.nan, 1.0), ("loss", 1, 0, 1.5, 1.1)],
    [("acc", 1, 0, 0.25, 2.0), ("inf_only", 1, 0, math.inf, 2.0)],
    [("loss", 2, 1, 3.5, 3.0), ("acc", 2, 1, -math.inf, 3.0), ("acc", 3, 1, 0.75, 3.1)],
    [("loss", 3, 1, math.nan, 4.0), ("neg", 3, None, -4.0, 4.0), ("neg", 4, None, -1.0, 4.1)],
    [("acc", 4, 1, 0.5, 5.0), ("inf_only", 4, 1, -math.inf, 5.0)],
]


def _rows(
    tracker: mb.Tracker, run_id: str
) -> dict[tuple[str, str], tuple[float | None, str | None]]:
    rv = tables.run_values
    with tracker.store.engine.connect() as conn:
        rows = conn.execute(
            select(rv.c.kind, rv.c.name, rv.c.value_num, rv.c.value_text).where(
                rv.c.run_id == run_id, rv.c.kind.like("metric_%")
            )
        ).all()
    return {(kind, name): (num, text) for kind, name, num, text in rows}


def _expected(batches: list[list[Point]]) -> dict[tuple[str, str], tuple[float | None, str | None]]:
    """Last, min and max computed by hand from every point of every batch."""
    values: dict[str, list[float]] = {}
    for batch in batches:
        for key, _, _, value, _ in batch:
            values.setdefault(key, []).append(value)
    out: dict[tuple[str, str], tuple[float | None, str | None]] = {}
    for key, series in values.items():
        last = series[-1]
        out[("metric_last", key)] = (last, None) if math.isfinite(last) else (None, repr(last))
        finite = [v for v in series if math.isfinite(v)]
        if finite:
            out[("metric_min", key)] = (min(finite), None)
            out[("metric_max", key)] = (max(finite), None)
    return out


def test_summaries_over_batches_match_the_points_and_the_statement_path(
    any_store: str, tmp_path: Path
) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a", announce=False) as tracker:
        fast = tracker.start_run("fast")
        slow = tracker.start_run("statements")
        store = tracker.store
        for batch in BATCHES:
            with store.engine.begin() as conn:
                merge_metric_summaries(conn, fast.id, batch)
            with store.engine.begin() as conn:  # what merge_metric_summaries did before
                last = {}
                for key, _, _, value, _ in batch:
                    last[key] = value
                lows = {}
                highs = {}
                for key, _, _, value, _ in batch:
                    if math.isfinite(value):
                        lows[key] = min(lows.get(key, value), value)
                        highs[key] = max(highs.get(key, value), value)
                last_rows = [
                    (slow.id, "metric_last", k, *scalar_columns(v)) for k, v in last.items()
                ]
                _merge_with_statements(conn, slow.id, last_rows, lows, highs)
        with store.engine.begin() as conn:
            merge_metric_summaries(conn, fast.id, [])  # an empty batch changes nothing
        got = _rows(tracker, fast.id)
        assert got == _expected(BATCHES)
        assert got == _rows(tracker, slow.id)
        assert ("metric_min", "inf_only") not in got  # no finite value: no min, no max
        assert got[("metric_last", "loss")] == (None, "nan")
        fast.finish()
        slow.finish()


def test_summaries_through_run_log_across_writer_flushes(any_store: str, tmp_path: Path) -> None:
    with mb.Tracker(any_store, artifact_root=tmp_path / "a", announce=False) as tracker:
        run = tracker.start_run("logged")
        for batch in BATCHES:
            for key, step, epoch, value, _ in batch:
                run.log_point(key, step, value, epoch=epoch)
            run.flush()
        run.finish()
        assert _rows(tracker, run.id) == _expected(BATCHES)
