"""Figure 3: the leaderboard's top 50 and a whole-store read at 1k, 10k and 100k runs, on SQLite
and (given a server) PostgreSQL.

The stores are written in bulk by ``benchmarks/bench_leaderboard.py``'s ``build_store`` (30
metrics and 20 params a run, exactly as ``SQLStore`` writes them). The top 50 is timed here;
the whole-store read is ``benchmarks/bench_scale.py``'s ``harness_figures(location, runs)``
(helper E's module), called when that module is present.
PostgreSQL: ``--pg URL`` or ``MODELBOARD_TEST_PG`` names a server on which the harness may
create and drop databases (one per size, dropped after).
"""

from __future__ import annotations

import contextlib
import importlib
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.figures.common import progress, skipped

__all__ = ["measure", "top50", "whole_store", "sqlite_store", "pg_database"]


def top50(location: str, repeats: int) -> dict[str, Any]:
    """First call and median of ``repeats`` of ``leaderboard(sort="val_accuracy", limit=50)``."""
    from modelboard.plugins import create_plugin_manager
    from modelboard.tracking import Tracker

    tracker = Tracker(
        location, plugin_manager=create_plugin_manager(autoload=False), read_only=True
    )
    try:

        def query() -> Any:
            return tracker.leaderboard(sort="val_accuracy", limit=50)

        start = time.perf_counter()
        frame = query()
        first = time.perf_counter() - start
        if len(frame) != 50 or not frame["val_accuracy"].is_monotonic_decreasing:
            raise RuntimeError("the top 50 came back wrong: not 50 rows by val_accuracy")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            query()
            times.append(time.perf_counter() - start)
    finally:
        tracker.close()
    return {
        "status": "ok",
        "first_s": first,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
    }


def whole_store(location: str, runs: int) -> dict[str, Any]:
    """helper E's whole-store read figures, or why there are none."""
    try:
        module = importlib.import_module("benchmarks.bench_scale")
    except ImportError:
        return skipped("skipped: bench_scale not present")
    figures = getattr(module, "harness_figures", None)
    if figures is None:
        return skipped("skipped: benchmarks/bench_scale.py has no harness_figures(location, runs)")
    return {"status": "ok", **figures(location, runs)}


@contextlib.contextmanager
def sqlite_store(folder: Path, runs: int) -> Iterator[tuple[str, float]]:
    """A SQLite store of ``runs`` runs under ``folder`` (kept: the memory figure reuses it)."""
    from benchmarks.bench_leaderboard import build_store

    store = folder / f"sqlite-{runs}"
    built = 0.0 if (store / "modelboard.db").exists() else build_store(store, runs)
    yield str(store), built


@contextlib.contextmanager
def pg_database(admin_url: str, runs: int) -> Iterator[tuple[str, float]]:
    """A new PostgreSQL database of ``runs`` runs on ``admin_url``'s server, dropped after."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from benchmarks.bench_leaderboard import build_store

    name = f"mb_bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        built = build_store(url, runs)  # type: ignore[arg-type]
        yield url, built
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def measure(sizes: list[int], folder: Path, repeats: int, pg_url: str | None) -> dict[str, Any]:
    """Figure 3 on SQLite, and on PostgreSQL when ``pg_url`` is given."""
    out: dict[str, Any] = {"sizes": sizes, "repeats": repeats, "backends": {}}
    backends: dict[str, Any] = {"sqlite": lambda runs: sqlite_store(folder, runs)}
    if pg_url:
        backends["postgresql"] = lambda runs: pg_database(pg_url, runs)
    else:
        out["backends"]["postgresql"] = skipped(
            "skipped: no PostgreSQL server given (--pg URL or MODELBOARD_TEST_PG)"
        )
    for backend, make in backends.items():
        rows: dict[str, Any] = {}
        for runs in sizes:
            progress(f"  scale: building {runs:,} runs on {backend}")
            try:
                with make(runs) as (location, built):
                    rows[str(runs)] = {
                        "build_s": built,
                        "top50": top50(location, repeats),
                        "whole_store": whole_store(location, runs),
                    }
            except Exception as exc:  # a server that refuses: say so, keep the other figures
                rows[str(runs)] = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
            progress(f"  scale: {backend} {runs:,} runs: {_short(rows[str(runs)])}")
        out["backends"][backend] = {"status": "ok", "sizes": rows}
    return out


def _short(row: dict[str, Any]) -> str:
    top = row.get("top50", {})
    if top.get("status") == "ok":
        return f"top 50 {top['median_s'] * 1000:.1f} ms (first {top['first_s'] * 1000:.1f} ms)"
    return str(row.get("reason", top.get("reason")))
