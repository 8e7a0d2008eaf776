"""Many writers, one PostgreSQL server: 32 processes, each a real tracked run logging through
``run.log``, started together; the points/s the server took, and the points lost (0 expected).

Run by hand::

    .venv/bin/python benchmarks/bench_pg_writers.py \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres [--writers 32] [--points 20000]

Each writer opens its own ``Tracker`` on a fresh database of the server, starts a run and
logs ``--points`` steps of ``--keys`` metrics (``run.log(step=i, loss=..., ...)``), then
finishes the run (the writer thread flushes every point before ``finish`` returns). The clock
runs from the common start to the last ``finish``; afterwards the ``metrics`` rows are counted
per run against what each run logged. Figures for 1,000 GPUs are worked out in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid


def writer(url: str, start_at: float, points: int, keys: int, index: int) -> None:
    """One writer process: a run, ``points`` steps of ``keys`` metrics, then finish."""
    from modelboard.plugins import create_plugin_manager
    from modelboard.tracking import Tracker

    tracker = Tracker(url, plugin_manager=create_plugin_manager(autoload=False))
    run = tracker.start_run(f"writer-{index}", tags={"bench": "pg_writers"})
    names = [f"m{k}" for k in range(keys)]
    while time.time() < start_at:
        time.sleep(0.005)
    began = time.time()
    for step in range(points):
        run.log(step=step, **{name: step * 0.001 + k for k, name in enumerate(names)})
    logged = time.time()
    run.finish()
    done = time.time()
    tracker.close()
    print(
        json.dumps(
            {"run": run.id, "began": began, "logged": logged, "done": done, "points": points * keys}
        )
    )


def _database(admin: str, name: str, create: bool) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if create:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        else:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
    return make_url(admin).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", default=os.environ.get("MODELBOARD_TEST_PG"), help="server URL")
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--points", type=int, default=20_000, help="steps per writer")
    parser.add_argument("--keys", type=int, default=4, help="metrics per step")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--writer", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        url, start_at, index, _ = args.writer
        writer(url, float(start_at), args.points, args.keys, int(index))
        return
    if not args.pg:
        print("no PostgreSQL server: pass --pg URL or set MODELBOARD_TEST_PG (skipped)")
        return
    name = f"bench_writers_{uuid.uuid4().hex[:8]}"
    url = _database(args.pg, name, create=True)
    try:
        from modelboard.store import SQLStore, resolve_location

        SQLStore(resolve_location(url)).close()  # the schema, made once before the writers
        start_at = time.time() + 5.0 + 1.0 * args.writers  # every process imported by then
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--points",
                    str(args.points),
                    "--keys",
                    str(args.keys),
                    "--writer",
                    url,
                    str(start_at),
                    str(i),
                    "x",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(args.writers)
        ]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=3600)
            if proc.returncode != 0:
                raise RuntimeError(f"a writer failed:\n{err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        late = max(r["began"] for r in results) - start_at
        elapsed = max(r["done"] for r in results) - start_at
        logged = sum(r["points"] for r in results)
        from sqlalchemy import func, select

        from modelboard.store import tables

        store = SQLStore(resolve_location(url))
        m = tables.metrics
        with store.engine.connect() as conn:
            per_run = dict(
                conn.execute(select(m.c.run_id, func.count()).group_by(m.c.run_id)).all()
            )
        store.close()
        lost = sum(r["points"] - per_run.get(r["run"], 0) for r in results)
        extra = sum(per_run.values()) - logged + lost
        print(
            f"{args.writers} writers x {args.points:,} steps x {args.keys} metrics = "
            f"{logged:,} points in {elapsed:.1f} s (last writer began {late:.2f} s late)"
        )
        print(f"points/s through one PostgreSQL server: {logged / elapsed:,.0f}")
        slowest = max(r["logged"] - r["began"] for r in results)
        print(f"slowest writer's logging loop: {slowest:.1f} s; flush at finish included above")
        print(f"rows counted afterwards: {sum(per_run.values()):,}; lost: {lost}; extra: {extra}")
        if lost or extra:
            raise SystemExit(f"{lost} points lost, {extra} extra rows")
    finally:
        if not args.keep:
            _database(args.pg, name, create=False)


if __name__ == "__main__":
    main()
