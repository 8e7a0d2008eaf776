"""Whole-store reads at 10,000 and 100,000 runs, on SQLite and on PostgreSQL: time and peak memory.

Run by hand::

    .venv/bin/python benchmarks/bench_scale.py --runs 10000 100000 --keep /tmp/scale \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python benchmarks/bench_scale.py --smoke        # 300 runs, SQLite (and --pg)

Goals (issue 14): ``tracker.leaderboard()`` and ``tracker.runs()`` without a limit, and
``modelboard export`` to CSV and Parquet, at 100,000 runs on SQLite within 5 s and 500 MB;
PostgreSQL within 2x; ``modelboard ls`` prints a page and says how many runs it left out.

The stores are the leaderboard benchmark's (``bench_leaderboard.build_store``: 30 metrics with
last/min/max and 20 params per run, 111 ``run_values`` rows a run, written in bulk). The
PostgreSQL store is a row copy of the SQLite one (``COPY`` of ``runs`` and ``run_values``).
Every figure comes from a fresh process: wall time of the call, and the process's peak
resident memory (``ru_maxrss``) with the memory after imports beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_leaderboard import build_store  # noqa: E402

OPERATIONS = ("leaderboard", "runs", "export_csv", "export_parquet", "ls_page", "ls_all")


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    """This process's CPU time (user + system): on a loaded machine it moves less than wall
    time does (a database server's own CPU time is not in it)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(store: str, operation: str, out_dir: Path) -> dict[str, float | int | str]:
    """One operation in this (fresh) process: seconds, peak MB, and what it produced."""
    import contextlib
    import io

    import pandas  # noqa: F401  (imported before the clock: every reader but ls needs it)

    from modelboard.cli import main
    from modelboard.plugins import create_plugin_manager
    from modelboard.tracking import Tracker

    tracker = Tracker(store, plugin_manager=create_plugin_manager(autoload=False))
    before = _peak_mb()
    cpu = _cpu_s()
    start = time.perf_counter()
    result: int | str
    if operation == "leaderboard":
        result = len(tracker.leaderboard())
    elif operation == "runs":
        result = sum(1 for _ in tracker.runs())
    elif operation.startswith("export_"):
        fmt = operation.split("_", 1)[1]
        target = out_dir / f"board.{fmt}"
        with contextlib.redirect_stdout(io.StringIO()) as said:
            code = main(["export", "--store", store, "--out", str(target)])
        assert code == 0, said.getvalue()
        result = said.getvalue().strip()
    else:
        args = ["ls", "--store", store] + (["--limit", "0"] if operation == "ls_all" else [])
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            code = main(args)
        assert code == 0
        result = "printed"
    seconds = time.perf_counter() - start
    cpu = _cpu_s() - cpu
    tracker.close()
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "peak_mb": _peak_mb(),
        "imports_mb": before,
        "result": result,
    }


def _run_measure(store: str, operation: str, out_dir: Path) -> dict[str, float | int | str]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", operation, "--store", store, "--out", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{operation} on {store} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def harness_figures(location: str, runs: int) -> dict[str, Any]:
    """The whole-store reads of ``benchmarks/run.py``'s scale figure: ``leaderboard()`` and
    ``runs()`` without a limit, each in a fresh process, on the store at ``location``."""
    with tempfile.TemporaryDirectory() as tmp:
        measured = {
            operation: _run_measure(location, operation, Path(tmp))
            for operation in ("leaderboard", "runs")
        }
    return {
        "runs": runs,
        **{
            f"{operation}_{key}": m[key]
            for operation, m in measured.items()
            for key in ("seconds", "cpu_s", "peak_mb")
        },
    }


def build_copied_store(source: Path, folder: Path, runs: int) -> float:
    """A store of ``runs`` copies of the runs in the store at ``source`` (one made by
    ``modelboard demo``: real records), each with a new id and its own created time: the
    ``runs`` and ``run_values`` rows, which are all that whole-store reads touch (records,
    metrics and gradients are not copied). Returns seconds taken."""
    import random
    import sqlite3
    import uuid

    from modelboard.store import SQLStore, resolve_location, tables

    start = time.perf_counter()
    SQLStore(resolve_location(folder)).close()  # the schema
    src = sqlite3.connect(source / "modelboard.db")
    run_cols = [c.name for c in tables.runs.columns]
    value_cols = [c.name for c in tables.run_values.columns]
    originals = src.execute(f"SELECT {', '.join(run_cols)} FROM runs").fetchall()
    values: dict[str, list[tuple]] = {}
    for row in src.execute(f"SELECT {', '.join(value_cols)} FROM run_values"):
        values.setdefault(row[0], []).append(row[1:])
    src.close()
    dst = sqlite3.connect(folder / "modelboard.db")
    indexes = [i.name for i in tables.run_values.indexes]
    for name in indexes:
        dst.execute(f"DROP INDEX {name}")
    rng = random.Random(0)
    base = time.time() - runs * 60
    id_at, created_at = run_cols.index("id"), run_cols.index("created")
    record_at = run_cols.index("record")
    run_batch, value_batch = [], []
    for i in range(runs):
        row = list(originals[i % len(originals)])
        old, new = row[id_at], uuid.UUID(int=rng.getrandbits(128)).hex
        row[id_at], row[created_at] = new, base + i * 60
        row[record_at] = row[record_at].replace(old, new)
        run_batch.append(row)
        value_batch.extend((new, *v) for v in values.get(old, ()))
        if len(value_batch) > 200_000 or i == runs - 1:
            dst.executemany(
                f"INSERT INTO runs VALUES ({', '.join('?' * len(run_cols))})", run_batch
            )
            dst.executemany(
                f"INSERT INTO run_values ({', '.join(value_cols)}) "
                f"VALUES ({', '.join('?' * len(value_cols))})",
                value_batch,
            )
            run_batch, value_batch = [], []
    dst.commit()
    dst.close()
    with SQLStore(resolve_location(folder)).engine.begin() as conn:
        for index in tables.run_values.indexes:
            index.create(conn)
    return time.perf_counter() - start


def build_summaries_of(folder: Path) -> float:
    """Write the run summaries of a store built row by row (as the schema migration does for
    an older store; a run finished through the API gets its own); returns seconds taken."""
    from modelboard.store import SQLStore, resolve_location
    from modelboard.store.run_summary import build_summaries

    start = time.perf_counter()
    store = SQLStore(resolve_location(str(folder)))
    try:
        with store.engine.begin() as conn:
            build_summaries(conn)
    finally:
        store.close()
    return time.perf_counter() - start


def copy_to_postgres(sqlite_folder: Path, url: str) -> float:
    """Copy the SQLite store's ``runs`` and ``run_values`` rows into a new PostgreSQL store
    (``COPY``, indexes and the runs' summaries built afterwards, as the schema migration
    builds them); returns seconds taken."""
    import sqlite3

    from modelboard.store import SQLStore, resolve_location, tables
    from modelboard.store.run_summary import build_summaries

    start = time.perf_counter()
    store = SQLStore(resolve_location(url))  # creates the schema
    source = sqlite3.connect(sqlite_folder / "modelboard.db")
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        indexes = list(tables.run_values.indexes)
        for index in indexes:
            cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
        # the rows are new: no summary to drop for each of them (built below)
        cursor.execute("ALTER TABLE run_values DISABLE TRIGGER run_values_drop_summary")
        for table in (tables.runs, tables.run_values):
            names = [c.name for c in table.columns]
            sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
            with cursor.copy(sql) as copy:
                for row in source.execute(f"SELECT {', '.join(names)} FROM {table.name}"):
                    copy.write_row(row)
        raw.commit()
        cursor.execute("ALTER TABLE run_values ENABLE TRIGGER run_values_drop_summary")
        raw.commit()
        with store.engine.begin() as conn:
            for index in indexes:
                index.create(conn)
        with store.engine.begin() as conn:
            build_summaries(conn)
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
        source.close()
        store.close()
    return time.perf_counter() - start


def _pg_store_url(admin_url: str, name: str) -> tuple[str, bool]:
    """A database ``name`` on the server (created if missing); True if it was just made."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        made = exists.first() is None
        if made:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), made


def _drop_pg(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--keep", type=Path, help="build the stores here once and reuse them")
    parser.add_argument(
        "--pg",
        default=os.environ.get("MODELBOARD_TEST_PG"),
        help="a PostgreSQL server URL (any database on it) to test too",
    )
    parser.add_argument("--ops", nargs="+", default=list(OPERATIONS), choices=OPERATIONS)
    parser.add_argument("--smoke", action="store_true", help="300 runs: does every step run?")
    parser.add_argument(
        "--copies-of",
        type=Path,
        metavar="STORE",
        help="instead of the wide bulk store: copies of this store's runs (e.g. made by "
        "`modelboard demo --quick`), the issue's way of building a big store",
    )
    parser.add_argument("--measure", choices=OPERATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.store, args.measure, args.out)))
        return
    sizes = [300] if args.smoke else args.runs
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) if args.smoke or args.keep is None else args.keep
        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        for runs in sizes:
            shape = "copies" if args.copies_of else "sqlite"
            folder = root / f"{shape}-{runs}"
            if not (folder / "modelboard.db").exists():
                if args.copies_of:
                    seconds = build_copied_store(args.copies_of, folder, runs)
                    seconds += build_summaries_of(folder)
                else:  # build_store writes the summaries itself
                    seconds = build_store(folder, runs)
                print(f"built {runs:,} runs (SQLite, {shape}) in {seconds:.0f} s")
            stores = [("sqlite", str(folder))]
            prefix = "bench_scale_copies" if args.copies_of else "bench_scale"
            pg_name = f"{prefix}_{runs}" + ("_smoke" if args.smoke else "")
            if args.pg:
                url, made = _pg_store_url(args.pg, pg_name)
                if made:
                    try:
                        seconds = copy_to_postgres(folder, url)
                    except BaseException:
                        _drop_pg(args.pg, pg_name)
                        raise
                    print(f"copied {runs:,} runs to PostgreSQL in {seconds:.0f} s")
                stores.append(("postgresql", url))
            for backend, store in stores:
                print(f"{runs:,} runs, {backend}:")
                for operation in args.ops:
                    # the smoke measures in this process (fast); figures come from fresh ones
                    m = (measure if args.smoke else _run_measure)(store, operation, out_dir)
                    print(
                        f"  {operation:15s} {m['seconds']:7.2f} s (cpu {m['cpu_s']:6.2f} s)  "
                        f"peak {m['peak_mb']:6.0f} MB "
                        f"(after imports {m['imports_mb']:.0f} MB)  {m['result']}"
                    )
            if args.smoke and args.pg:
                _drop_pg(args.pg, pg_name)


if __name__ == "__main__":
    main()
