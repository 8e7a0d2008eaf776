"""Leaderboard figures: top 50 of 100,000 runs on SQLite, and ``modelboard ls`` on 1,000 runs.

Run by hand: ``.venv/bin/python benchmarks/bench_leaderboard.py [--runs N] [--keep DIR]``.
Goals (issue 6): the top 50 by a metric of 100,000 runs (30 metrics, 20 params each) under 1 s
through ``tracker.leaderboard``; ``modelboard ls`` on a 1,000-run store prints within 1 s.

The stores are written in bulk straight into the store's tables (``runs`` and ``run_values``,
the rows ``SQLStore`` writes for a run's record and for the last/min/max of its metrics); the
per-point ``metrics`` table is left empty, as no leaderboard query reads it.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

METRICS = ["loss", "val_loss", "accuracy", "val_accuracy"] + [f"m{i:02d}" for i in range(26)]
PARAMS = ["batch_size", "learning_rate", "optimizer"] + [f"p{i:02d}" for i in range(17)]


def build_store(folder: Path, runs: int, seed: int = 0) -> float:
    """Write ``runs`` finished runs into a new store at ``folder`` (with their run summaries,
    as runs finished through the API have them); returns seconds taken."""
    from modelboard.records import RunRecord
    from modelboard.store import SQLStore, resolve_location, tables
    from modelboard.store.run_summary import build_summaries
    from modelboard.store.run_values import run_record_rows, scalar_columns

    start = time.perf_counter()
    store = SQLStore(resolve_location(folder))
    rng = random.Random(seed)
    base = time.time() - runs * 60
    batch_runs: list[dict] = []
    batch_values: list[dict] = []

    def flush(conn) -> None:  # type: ignore[no-untyped-def]
        if batch_runs:
            conn.execute(tables.runs.insert(), batch_runs)
        if batch_values:
            conn.execute(tables.run_values.insert(), batch_values)
        batch_runs.clear()
        batch_values.clear()

    indexes = list(tables.run_values.indexes)
    with store.engine.begin() as conn:
        for index in indexes:  # built once at the end: faster than row by row, same index
            index.drop(conn)
        for i in range(runs):
            params = {
                "batch_size": rng.choice([16, 32, 64, 128]),
                "learning_rate": 10 ** rng.uniform(-4, -1),
                "optimizer": rng.choice(["adam", "sgd", "adagrad"]),
                **{f"p{j:02d}": rng.random() for j in range(17)},
            }
            record = RunRecord(
                id=uuid.UUID(int=rng.getrandbits(128)).hex,
                name=f"run-{i}",
                framework=rng.choice(["keras", "torch"]),
                status="finished",
                created=base + i * 60,
                ended=base + i * 60 + 30,
                heartbeat=base + i * 60 + 30,
                params=params,
                tags={"sweep": str(i % 10)},
            )
            batch_runs.append(
                {"id": record.id, **SQLStore._run_columns(record)}  # as create_run writes it
            )
            rows = run_record_rows(record)
            for name in METRICS:
                values = [rng.random() for _ in range(3)]
                for kind, value in (
                    ("metric_last", values[-1]),
                    ("metric_min", min(values)),
                    ("metric_max", max(values)),
                ):
                    rows.append((record.id, kind, name, *scalar_columns(value)))
            batch_values.extend(
                {"run_id": r, "kind": k, "name": n, "value_num": num, "value_text": txt}
                for r, k, n, num, txt in rows
            )
            if len(batch_values) >= 200_000:
                flush(conn)
        flush(conn)
        for index in indexes:
            index.create(conn)
        build_summaries(conn)
    store.close()
    return time.perf_counter() - start


def median_time(work, repeats: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(first call, median of the following ``repeats``) in seconds."""
    start = time.perf_counter()
    work()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def raw_sql(folder: Path, query) -> str:  # type: ignore[no-untyped-def]
    """The SQL SQLAlchemy emits for ``query``, with the bound values inlined."""
    from sqlalchemy.dialects import sqlite

    return str(query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def bench_top(folder: Path, repeats: int) -> dict[str, float]:
    from sqlalchemy import and_, select

    from modelboard.plugins import create_plugin_manager
    from modelboard.store import tables
    from modelboard.tracking import Tracker

    tracker = Tracker(folder, plugin_manager=create_plugin_manager(autoload=False))
    out: dict[str, float] = {}
    frame = tracker.leaderboard(sort="val_accuracy", limit=50, columns=["id", "val_accuracy"])
    assert len(frame) == 50 and frame["val_accuracy"].is_monotonic_decreasing
    out["top50_first"], out["top50"] = median_time(
        lambda: tracker.leaderboard(sort="val_accuracy", limit=50), repeats
    )
    out["top50_cols_first"], out["top50_cols"] = median_time(
        lambda: tracker.leaderboard(
            sort="val_accuracy", limit=50, columns=["id", "name", "val_accuracy", "val_loss"]
        ),
        repeats,
    )
    where = "framework = 'torch' and params.p03 > 0.5 and val_loss < 0.5"
    out["filtered_first"], out["filtered"] = median_time(
        lambda: tracker.leaderboard(sort="val_accuracy", where=where, limit=50), repeats
    )
    out["loss_asc_first"], out["loss_asc"] = median_time(
        lambda: tracker.leaderboard(sort="best_val_loss", limit=50), repeats
    )
    # a column read from several places (params.learning_rate, params.lr, network...):
    # the general plan, a scan of every run with one join per place
    out["coalesced_first"], out["coalesced"] = median_time(
        lambda: tracker.leaderboard(sort="learning_rate", limit=50), repeats
    )
    # the same top-50 query as plain SQL through sqlite3, no SQLAlchemy, no pandas
    runs, rv = tables.runs, tables.run_values
    key = rv.alias("sort_key")
    query = (
        select(runs.c.id)
        .select_from(
            runs.join(
                key,
                and_(
                    key.c.run_id == runs.c.id,
                    key.c.kind == "metric_last",
                    key.c.name == "val_accuracy",
                    key.c.value_num.is_not(None),
                ),
            )
        )
        .order_by(key.c.value_num.desc(), runs.c.created.desc(), runs.c.id)
        .limit(50)
    )
    sql = raw_sql(folder, query)
    connection = sqlite3.connect(folder / "modelboard.db")

    def raw() -> None:
        ids = [r[0] for r in connection.execute(sql)]
        assert len(ids) == 50

    out["raw_sql_first"], out["raw_sql"] = median_time(raw, repeats)
    plan = connection.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    print("query plan:", "; ".join(row[-1] for row in plan))
    connection.close()
    tracker.close()
    return out


def bench_ls(folder: Path, repeats: int) -> tuple[float, float]:
    exe = str(Path(sys.executable).parent / "modelboard")

    def ls() -> None:
        command = [exe, "ls", "--all", "--store", str(folder)]  # the flat page
        wide = {**os.environ, "COLUMNS": "250"}  # names are not cut on a narrow terminal
        done = subprocess.run(command, capture_output=True, text=True, env=wide)
        # a page of the 1,000 runs, and the line that says how many more there are
        assert done.returncode == 0 and "950 more runs" in done.stdout, done.stderr

    return median_time(ls, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse or keep the big store in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = args.keep or Path(tmp) / "big"
        if not (big / "modelboard.db").exists():
            seconds = build_store(big, args.runs)
            print(
                f"built {args.runs:,} runs x ({len(METRICS)} metrics, {len(PARAMS)} params) "
                f"in {seconds:.1f} s"
            )
        db = big / "modelboard.db"
        print(f"store size: {db.stat().st_size / 1e6:.0f} MB")
        for name, value in bench_top(big, args.repeats).items():
            print(f"{name:20s} {value * 1000:8.1f} ms")
        small = Path(tmp) / "small"
        build_store(small, 1000, seed=1)
        first, median = bench_ls(small, args.repeats)
        print(f"modelboard ls, 1,000 runs: first {first:.3f} s, median {median:.3f} s")


if __name__ == "__main__":
    main()
