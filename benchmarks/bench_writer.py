"""Writer figures: the sustained rate of ``run.log`` into a store, against raw sqlite3
``executemany`` of the same rows in the same run, and the points lost at SIGKILL when a
process logs at a paced rate (10k, 100k and 1M points/s offered).

Run by hand: ``.venv/bin/python benchmarks/bench_writer.py [--points N] [--kill-after S]``.
Goals (issue 12): the writer sustains at least half of raw ``executemany``; a SIGKILL loses no
point logged more than 1 s before it, at any offered rate (the logging call waits when the
writer is behind, so the offered rate may exceed the rate actually logged).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path


def writer_rate(folder: Path, points: int) -> tuple[float, float]:
    """Points/s from the first ``run.log`` to ``finish()`` returning, and the enqueue-side
    points/s (the logging loop alone, backpressure waits included)."""
    import modelboard as mb

    with mb.Tracker(folder / "writer") as tracker:
        run = tracker.start_run("rate")
        start = time.perf_counter()
        for step in range(points):
            run.log(step=step, x=0.5)
        logged = time.perf_counter() - start
        run.finish()
        total = time.perf_counter() - start
        stored = len(tracker.get(run.id).training.metrics["x"].steps)
    assert stored == points, (stored, points)
    return points / total, points / logged


def measure_log_throughput(n_steps: int, n_keys: int, store_dir: Path) -> dict[str, float]:
    """Points/s through ``run.log`` of ``n_keys`` metrics at each of ``n_steps`` steps (one call
    a step): ``points_per_s`` from the first call until ``finish()`` returned (everything
    flushed) and every point was read back (``store.get_training``) and counted;
    ``write_points_per_s`` without the read. ``store_dir`` must not hold a store yet."""
    import modelboard as mb

    keys = [f"metric_{k:03d}" for k in range(n_keys)]
    values = [dict.fromkeys(keys, 0.25 + step % 7) for step in range(min(n_steps, 1000))]
    with mb.Tracker(store_dir) as tracker:
        run = tracker.start_run("log-throughput")
        start = time.perf_counter()
        for step in range(n_steps):
            run.log(step=step, **values[step % len(values)])
        logged = time.perf_counter() - start
        run.finish()
        total = time.perf_counter() - start
        read_start = time.perf_counter()
        training = tracker.store.get_training(run.id)
        read = time.perf_counter() - read_start
    stored = sum(len(series.steps) for series in training.metrics.values())
    points = n_steps * n_keys
    if stored != points or len(training.metrics) != n_keys:
        raise AssertionError(f"{stored} points read back of {points} logged")
    return {
        "points": points,
        "seconds": total + read,
        "points_per_s": points / (total + read),  # logged, flushed and read back
        "write_points_per_s": points / total,  # logged and flushed
        "log_loop_points_per_s": points / logged,
        "read_back_s": read,
    }


def measure_raw_sqlite_throughput(n_steps: int, n_keys: int, store_dir: Path) -> dict[str, float]:
    """Points/s of raw sqlite3 ``executemany`` of the rows :func:`measure_log_throughput`
    writes, into a modelboard store's own ``metrics`` table (same indexes, WAL, synchronous
    NORMAL), building the rows included, 50,000 rows a transaction."""
    import modelboard as mb

    with mb.Tracker(store_dir) as tracker:
        run_id = tracker.start_run("raw").id
        database = tracker.store.location.url.removeprefix("sqlite:///")
    keys = [f"metric_{k:03d}" for k in range(n_keys)]
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    rows = [
        (run_id, key, step, None, 0.25 + step % 7, time.time())
        for step in range(n_steps)
        for key in keys
    ]
    for offset in range(0, len(rows), 50_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows[offset : offset + 50_000],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return {"points": len(rows), "seconds": elapsed, "points_per_s": len(rows) / elapsed}


def raw_sqlite_rate(folder: Path, points: int) -> float:
    """Points/s of raw sqlite3 ``executemany`` of the same rows into a modelboard store's own
    ``metrics`` table (same indexes, WAL), 50,000 rows a transaction."""
    import modelboard as mb

    with mb.Tracker(folder / "raw") as tracker:
        run_id = tracker.start_run("raw").id
        database = tracker.store.location.url.removeprefix("sqlite:///")
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    now = time.time()
    start = time.perf_counter()
    rows = [(run_id, "x", step, None, 0.5, now) for step in range(points)]
    for offset in range(0, points, 50_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows[offset : offset + 50_000],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return points / elapsed


PACED = textwrap.dedent(
    """
    import sys, time
    import modelboard as mb

    rate = float(sys.argv[2])
    run = mb.Tracker(sys.argv[1]).start_run("paced")
    print(run.id, flush=True)
    start = time.time()
    step = 0
    next_report = start
    while True:
        due = int((time.time() - start) * rate)
        while step < due:
            run.log(step=step, x=1.0)
            step += 1
            if step % 2000 == 0 and time.time() >= next_report:
                break
        now = time.time()
        if now >= next_report:
            print(step, now, flush=True)
            next_report = now + 0.05
        if step >= due:
            time.sleep(0.0005)
    """
)


def sigkill_loss(folder: Path, rate: float, kill_after: float) -> dict[str, float]:
    """SIGKILL a process logging at ``rate`` points/s after ``kill_after`` s; what it lost."""
    import modelboard as mb

    store = folder / f"kill-{int(rate)}"
    proc = subprocess.Popen(
        [sys.executable, "-c", PACED, str(store), str(rate)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    progress: list[tuple[int, float]] = []
    started = time.time()
    while time.time() - started < kill_after:
        step, when = proc.stdout.readline().split()
        progress.append((int(step), float(when)))
    killed_at = time.time()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with mb.Tracker(store) as tracker:
        steps = tracker.get(run_id).training.metrics["x"].steps
    before = max((s for s, t in progress if t <= killed_at - 1.0), default=0)
    span = progress[-1][1] - progress[0][1]
    return {
        "logged_rate": (progress[-1][0] - progress[0][0]) / span if span else 0.0,
        "logged_total": progress[-1][0],
        "stored": len(steps),
        "logged_1s_before_kill": before,
        "lost_of_those": max(0, before - len(steps)),
        "lost_last_second_s": (progress[-1][0] - len(steps)) / max(1.0, progress[-1][0] / span)
        if span
        else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--kill-after", type=float, default=4.0)
    parser.add_argument("--rates", default="10000,100000,1000000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        raw = raw_sqlite_rate(folder, args.points)
        stored, enqueued = writer_rate(folder, args.points)
        print(f"raw sqlite3 executemany, {args.points:,} points: {raw:,.0f} points/s")
        print(f"writer, {args.points:,} points logged and stored: {stored:,.0f} points/s")
        print(f"  logging loop alone (backpressure included): {enqueued:,.0f} points/s")
        print(f"writer / raw: {stored / raw:.2f}")
        for rate in (float(r) for r in args.rates.split(",")):
            r = sigkill_loss(folder, rate, args.kill_after)
            print(
                f"SIGKILL at {rate:,.0f} points/s offered: logged {r['logged_rate']:,.0f}/s, "
                f"{r['logged_total']:,} logged, {r['stored']:,} stored, "
                f"{r['lost_of_those']:,} lost of the {r['logged_1s_before_kill']:,} logged "
                f"over 1 s before the kill"
            )


if __name__ == "__main__":
    main()
