"""Figure 5: peak memory (``VmHWM``, else ``ru_maxrss``) of a fresh process that logs a
1M-point run, and of one that reads the leaderboard's top 50 at 100k runs, each over the same
process's peak right after ``import modelboard``."""

from __future__ import annotations

import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.figures.common import run_worker

__all__ = ["measure", "worker"]


def _peak_mib() -> float:
    """This process's peak resident memory. Linux: ``VmHWM``, which starts afresh at exec
    (``ru_maxrss`` keeps the parent's peak across fork and exec: a harness holding 250 MiB
    would report 250 MiB for every child)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes / KiB


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """Measure one case in this (fresh) process."""
    import modelboard as mb

    base = _peak_mib()
    if args["case"] == "run":
        keys = [f"metric_{i:03d}" for i in range(100)]
        values: dict[str, Any] = dict.fromkeys(keys, 0.5)
        with (
            tempfile.TemporaryDirectory(prefix="mb-bench-") as folder,
            mb.Tracker(Path(folder) / "store", announce=False) as tracker,
        ):
            run = tracker.start_run("memory")
            for step in range(int(args["points"]) // len(keys)):
                run.log(step=step, **values)
            run.finish()
    else:
        from benchmarks.figures.scale import top50

        top50(args["store"], 1)
    peak = _peak_mib()
    return {"peak_mib": peak, "after_import_mib": base, "added_mib": peak - base}


def measure(points: int, store: str | None, runs: int) -> dict[str, Any]:
    """Figure 5: a run of ``points`` points, and the top 50 of ``store`` (``runs`` runs)."""
    out: dict[str, Any] = {
        "run": {
            "status": "ok",
            "label": f"a run logging {points:,} points (100 keys), to `finish()`",
            **run_worker("memory", {"case": "run", "points": points}),
        }
    }
    if store is None:
        out["leaderboard"] = {"status": "skipped", "reason": "skipped: no store was built"}
    else:
        out["leaderboard"] = {
            "status": "ok",
            "label": f"`leaderboard(sort='val_accuracy', limit=50)` at {runs:,} runs (SQLite)",
            **run_worker("memory", {"case": "leaderboard", "store": store}),
        }
    return out
