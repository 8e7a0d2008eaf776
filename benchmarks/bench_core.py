"""Core figures: import time, fingerprint speed, logging throughput.

Run by hand: ``.venv/bin/python benchmarks/bench_core.py [--quick]``. Goals (issue 2):
``import modelboard`` under 0.3 s; a 100 MB fingerprint under 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def import_time(repeats: int) -> float:
    """Median wall time of ``python -c 'import modelboard'`` minus a bare interpreter start."""

    def timed(code: str) -> float:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    return timed("import modelboard") - timed("pass")


def fingerprint_time(megabytes: int) -> float:
    """Seconds to fingerprint ``megabytes`` of float32 data (median of 3)."""
    import numpy as np

    from modelboard.fingerprint import fingerprint_array

    data = np.random.default_rng(0).random(megabytes * 1024 * 1024 // 4, dtype=np.float32)
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fingerprint_array(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def logging_throughput(points: int) -> tuple[float, float]:
    """Points per second of ``run.log`` (enqueue) and seconds until all are stored."""
    import modelboard as mb

    with tempfile.TemporaryDirectory() as folder, mb.Tracker(Path(folder)) as tracker:
        run = tracker.start_run("bench")
        start = time.perf_counter()
        for step in range(points):
            run.log(step=step, loss=1.0 / (step + 1), accuracy=step / points)
        logged = time.perf_counter() - start
        run.finish()
        stored = time.perf_counter() - start
        assert len(tracker.get(run.id).training.metrics["loss"].values) == points
    return 2 * points / logged, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke runs")
    args = parser.parse_args()
    repeats, megabytes, points = (1, 10, 2_000) if args.quick else (7, 100, 100_000)
    print(f"import modelboard: {import_time(repeats) * 1000:.0f} ms over a bare interpreter")
    print(f"fingerprint {megabytes} MB: {fingerprint_time(megabytes):.3f} s")
    rate, stored = logging_throughput(points)
    print(f"run.log: {rate:,.0f} points/s enqueued; {2 * points:,} points stored in {stored:.2f} s")


if __name__ == "__main__":
    main()
