"""Many points through ``run.log`` in several writer batches read back exactly, in logging
order, with the run's last/min/max right; runs writing at the same time never mix on read; a
process SIGKILLed after ``flush()`` keeps every flushed point (issue 16, figure 2)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import select

import modelboard as mb
from modelboard.store import tables
from modelboard.store.sql_store import group_metric_rows

KEYS = [f"m{k:02d}" for k in range(12)]


def _value(key: int, step: int) -> float:
    if step % 97 == 13 and key == 3:
        return math.nan
    if step % 211 == 7 and key == 5:
        return math.inf
    return math.sin(step * (key + 1)) * (key + 1)


def _run_values(tracker: mb.Tracker, run_id: str) -> dict[tuple[str, str], float | None]:
    rv = tables.run_values
    with tracker.store.engine.connect() as conn:
        rows = conn.execute(
            select(rv.c.kind, rv.c.name, rv.c.value_num).where(
                rv.c.run_id == run_id, rv.c.kind.like("metric_%")
            )
        ).all()
    return {(kind, name): value for kind, name, value in rows}


def test_points_across_many_batches_read_back_exactly_with_run_values(
    any_store: str, tmp_path: Path
) -> None:
    steps = list(range(3000)) + [10, 5, 2999]  # a few steps logged again, out of order
    expected: dict[str, list[tuple[int, int | None, float]]] = {k: [] for k in KEYS}
    with mb.Tracker(any_store, artifact_root=tmp_path / "a") as tracker:
        run = tracker.start_run("batches")
        for number, step in enumerate(steps):
            epoch = step // 500 if step % 2 else None
            values = {key: _value(k, step) for k, key in enumerate(KEYS)}
            if number % 5 == 0:  # a key missing from some calls
                del values[KEYS[-1]]
            run.log(step=step, epoch=epoch, **values)
            for key, value in values.items():
                expected[key].append((step, epoch, value))
            if number in (700, 1900):
                run.flush()  # batches end mid-run as well as on the writer's own schedule
        run.log_point("lr", 4, 0.1)
        run.finish()
        stored = tracker.get(run.id).training.metrics
        assert list(stored) == [*KEYS, "lr"]  # the order the keys were first logged
        for key in KEYS:
            series = stored[key]
            got = list(zip(series.steps, series.epochs, series.values, strict=True))
            assert len(got) == len(expected[key])
            for (s, e, v), (es, ee, ev) in zip(got, expected[key], strict=True):
                assert (s, e) == (es, ee)
                assert (math.isnan(v) and math.isnan(ev)) or v == ev
            assert all(isinstance(w, float) for w in series.wall_times)
        assert stored["lr"].values == [0.1]
        summary = _run_values(tracker, run.id)
    for key in KEYS:
        values = [v for _, _, v in expected[key]]
        finite = [v for v in values if math.isfinite(v)]
        assert summary[("metric_min", key)] == min(finite)
        assert summary[("metric_max", key)] == max(finite)
        last = values[-1]
        assert summary[("metric_last", key)] == (last if math.isfinite(last) else None)


def test_runs_logging_at_the_same_time_read_back_only_their_own_points(tmp_path: Path) -> None:
    with mb.Tracker(tmp_path / "store") as tracker:
        first, second = tracker.start_run("first"), tracker.start_run("second")
        for step in range(4000):
            first.log(step=step, loss=float(step))
            second.log(step=step, loss=-float(step), acc=0.5)
            if step % 900 == 0:
                first.flush()
                second.flush()
        third = tracker.start_run("empty")
        first.finish()
        second.finish()
        third.finish()
        one = tracker.get(first.id).training.metrics
        two = tracker.get(second.id).training.metrics
        assert list(one) == ["loss"] and one["loss"].values == [float(s) for s in range(4000)]
        assert list(two) == ["loss", "acc"]
        assert two["loss"].values == [-float(s) for s in range(4000)]
        assert two["acc"].steps == list(range(4000))
        assert tracker.get(third.id).training.metrics == {}


def test_grouping_keeps_first_seen_order_and_reads_null_as_nan() -> None:
    rows = [("b", 0, None, 1.0, 9.0), ("a", 0, 1, None, 9.5), ("b", 1, 2, 3.0, 10.0)]
    series = group_metric_rows(rows)
    assert list(series) == ["b", "a"]
    assert series["b"].steps == [0, 1] and series["b"].epochs == [None, 2]
    assert series["b"].values == [1.0, 3.0] and series["b"].wall_times == [9.0, 10.0]
    assert math.isnan(series["a"].values[0]) and series["a"].epochs == [1]
    assert group_metric_rows([]) == {}


FLUSH_THEN_HANG = textwrap.dedent(
    """
    import sys, time
    import modelboard as mb

    run = mb.Tracker(sys.argv[1], announce=False).start_run("killed")
    keys = [f"k{i}" for i in range(50)]
    for step in range(2000):
        run.log(step=step, **{key: step + i / 100 for i, key in enumerate(keys)})
    run.flush()
    print(run.id, flush=True)
    while True:
        time.sleep(1)
    """
)


def test_a_process_killed_after_flush_keeps_every_flushed_point(tmp_path: Path) -> None:
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-c", FLUSH_THEN_HANG, str(store)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    with mb.Tracker(store) as tracker:
        metrics = tracker.get(run_id).training.metrics
        summary = _run_values(tracker, run_id)
    assert len(metrics) == 50
    for i in range(50):
        series = metrics[f"k{i}"]
        assert series.steps == list(range(2000))
        assert series.values == [step + i / 100 for step in range(2000)]
        assert summary[("metric_last", f"k{i}")] == 1999 + i / 100
        assert summary[("metric_min", f"k{i}")] == i / 100


def test_a_run_whose_rows_are_far_apart_reads_back_in_logging_order(tmp_path: Path) -> None:
    """Most of the run's id range belongs to another run (the index path of the read)."""
    with mb.Tracker(tmp_path / "store") as tracker:
        sparse = tracker.start_run("sparse")
        sparse.log(step=5, loss=1.0, acc=0.1)
        sparse.flush()
        busy = tracker.start_run("busy")
        for step in range(3000):
            busy.log(step=step, loss=0.5)
        busy.finish()
        sparse.log(step=2, loss=2.0)  # an earlier step logged later stays later
        sparse.finish()
        metrics = tracker.get(sparse.id).training.metrics
        assert list(metrics) == ["loss", "acc"]
        assert metrics["loss"].steps == [5, 2] and metrics["loss"].values == [1.0, 2.0]
        assert metrics["acc"].values == [0.1]
        assert len(tracker.get(busy.id).training.metrics["loss"].steps) == 3000
