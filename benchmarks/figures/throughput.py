"""Figure 2: logging throughput, points per second, from the first logging call until every
point is flushed (and, where the logger can read, read back and counted).

Points are ``keys`` metrics logged together at each of ``steps`` steps (100 keys x 10,000 steps
is 1,000,000 points). Each measurement is a fresh process; the variants take turns in an order
rotated each round, and each round's rate is divided by raw sqlite3's rate of the same round.
The slow peers log fewer points (their rate is steady long before), said in their entry.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.figures.common import progress, rotated, run_worker, skipped, summary
from benchmarks.peers import missing

__all__ = ["VARIANTS", "measure", "worker"]

KEYS = 100

#: variant -> (label, peer or None, share of the full point count it logs)
VARIANTS: dict[str, tuple[str, str | None, float]] = {
    "modelboard": ("modelboard `run.log`, flushed by `finish()`, read back", None, 1.0),
    "sqlite_raw": ("raw sqlite3 `executemany` of the same rows into a store's table", None, 1.0),
    "wandb": ("W&B offline `run.log`, to `finish()`", "wandb", 1.0),
    "tensorboard": ("TensorBoard `add_scalar` (TF-free), to `close()`", "tensorboard", 0.1),
    "mlflow": ("MLflow `log_batch` (1,000 a call) on SQLite, read back", "mlflow", 0.02),
}


def _modelboard(keys: list[str], steps: int, folder: Path) -> float:
    import modelboard as mb

    with mb.Tracker(folder / "store", announce=False) as tracker:
        run = tracker.start_run("throughput")
        values: dict[str, Any] = dict.fromkeys(keys, 0.5)
        start = time.perf_counter()
        for step in range(steps):
            run.log(step=step, **values)
        run.finish()
        record = tracker.get(run.id)
        elapsed = time.perf_counter() - start
    stored = sum(len(record.training.metrics[key].steps) for key in keys)
    if stored != len(keys) * steps:
        raise RuntimeError(f"modelboard stored {stored} of {len(keys) * steps} points")
    return len(keys) * steps / elapsed


def _sqlite_raw(keys: list[str], steps: int, folder: Path) -> float:
    """The same rows into a modelboard store's own ``metrics`` table (its indexes, WAL),
    50,000 rows a transaction, as ``benchmarks/bench_writer.py`` measures it."""
    import modelboard as mb

    with mb.Tracker(folder / "raw", announce=False) as tracker:
        run_id = tracker.start_run("raw").id
        database = tracker.store.location.url.removeprefix("sqlite:///")
        tracker.get(run_id)  # the run is stored before the connection below opens
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    start = time.perf_counter()
    now = time.time()
    rows = [(run_id, key, step, None, 0.5, now) for step in range(steps) for key in keys]
    for offset in range(0, len(rows), 50_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rows[offset : offset + 50_000],
        )
        conn.execute("COMMIT")
    (stored,) = conn.execute("SELECT count(*) FROM metrics WHERE run_id = ?", (run_id,)).fetchone()
    elapsed = time.perf_counter() - start
    conn.close()
    if stored != len(rows):
        raise RuntimeError(f"sqlite3 stored {stored} of {len(rows)} rows")
    return len(rows) / elapsed


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """Measure one variant in this (fresh) process: ``{"points_per_s": ...}``."""
    from benchmarks.peers import apply_offline_environment

    keys = [f"metric_{i:03d}" for i in range(int(args["keys"]))]
    steps = int(args["steps"])
    name = args["variant"]
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as folder_name:
        folder = Path(folder_name)
        apply_offline_environment(folder / "peers")
        if name == "modelboard":
            rate = _modelboard(keys, steps, folder)
        elif name == "sqlite_raw":
            rate = _sqlite_raw(keys, steps, folder)
        elif name == "wandb":
            from benchmarks.peers import wandb_peer

            rate = wandb_peer.log_rate(keys, steps, folder)
        elif name == "tensorboard":
            from benchmarks.peers import tensorboard_peer

            rate = tensorboard_peer.log_rate(keys, steps, folder)
        elif name == "mlflow":
            from benchmarks.peers import mlflow_peer

            rate = mlflow_peer.log_rate(keys, steps)
        else:
            raise ValueError(f"unknown throughput variant {name!r}")
    return {"points_per_s": rate, "points": len(keys) * steps}


def measure(points: int, rounds: int) -> dict[str, Any]:
    """Figure 2: every variant ``rounds`` times, rotated, each in a fresh process."""
    entries: dict[str, Any] = {}
    runnable = []
    for name, (label, peer, _) in VARIANTS.items():
        reason = missing(peer) if peer else None
        if peer == "tensorboard" and reason is None:
            reason = missing_torch()
        if reason:
            entries[name] = skipped(reason, label=label)
        else:
            runnable.append(name)
    rates: dict[str, list[float]] = {name: [] for name in runnable}
    counts: dict[str, int] = {}
    for round_index in range(rounds):
        for name in rotated(runnable, round_index):
            share = VARIANTS[name][2]
            steps = max(10, int(points * share) // KEYS)
            result = run_worker("throughput", {"variant": name, "keys": KEYS, "steps": steps})
            rates[name].append(result["points_per_s"])
            counts[name] = result["points"]
        progress(
            f"  throughput round {round_index + 1}/{rounds}: "
            + ", ".join(f"{n} {rates[n][-1]:,.0f}/s" for n in runnable)
        )
    for name in runnable:
        entry: dict[str, Any] = {
            "status": "ok",
            "label": VARIANTS[name][0],
            "points": counts[name],
            "points_per_s": summary(rates[name]),
        }
        if "sqlite_raw" in rates:
            ratios = [r / raw for r, raw in zip(rates[name], rates["sqlite_raw"], strict=True)]
            entry["ratio_to_sqlite_raw"] = summary(ratios)
        entries[name] = entry
    return {
        "variants": {name: entries[name] for name in VARIANTS},
        "rounds": rounds,
        "keys": KEYS,
        "points": points,
    }


def missing_torch() -> str | None:
    """TensorBoard's writer is measured through ``torch.utils.tensorboard``."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "skipped: torch is not installed (TensorBoard is measured through torch's writer)"
    return None
