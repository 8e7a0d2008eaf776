"""A quick smoke of every benchmark script: it runs on tiny sizes and prints its figures.

The figures themselves are measured by hand (benchmarks/RESULTS.md); nothing here is timed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

CASES = {
    "bench_capture_versions.py": (
        ["--baseline", "HEAD", "--rounds", "1", "--pairs", "1", "--epochs", "1"]
        + ["--frameworks", "torch"],
        ["torch: 1 rounds x 1 pairs", "paired current/baseline: median"],
    ),
    "bench_core.py": (["--quick"], ["import modelboard:", "fingerprint 10 MB:", "points stored"]),
    "bench_evaluation.py": (
        ["--samples", "2000", "--repeats", "1"],
        ["compute_evaluation, 2,000 samples", "run.evaluate, stored, 5 plots"],
    ),
    "bench_leaderboard.py": (
        ["--runs", "300", "--repeats", "1"],
        ["query plan:", "modelboard ls, 1,000 runs:"],
    ),
    "bench_keras_fit.py": (
        ["--epochs", "1", "--repeats", "1"],
        ["ratio tracked/untracked:"],
    ),
    "bench_ui.py": (
        ["--runs", "300", "--repeats", "1"],
        ["300 runs (built in", "leaderboard sorted by val_accuracy:", "run page:"],
    ),
    "bench_writer.py": (
        ["--points", "20000", "--kill-after", "1.5", "--rates", "10000"],
        ["raw sqlite3 executemany", "writer / raw:", "SIGKILL at 10,000 points/s offered"],
    ),
    "bench_scale.py": (
        ["--smoke"],
        ["300 runs, sqlite:", "leaderboard", "export_parquet", "ls_all"],
    ),
    "bench_pg_writers.py": (
        ["--writers", "2", "--points", "200"],
        ["points/s through one PostgreSQL server:", "lost: 0; extra: 0"]
        if os.environ.get("MODELBOARD_TEST_PG")
        else ["no PostgreSQL server"],
    ),
    "bench_torch_loop.py": (
        ["--rounds", "1", "--epochs", "1"],
        ["gradient captures per tracked loop:", "wall ratio tracked/untracked:"],
    ),
}


def test_every_benchmark_has_a_smoke_case() -> None:
    assert sorted(p.name for p in BENCHMARKS.glob("bench_*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_on_tiny_sizes(script: str, tmp_path: Path) -> None:
    args, expected = CASES[script]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    for line in expected:
        assert line in done.stdout, f"{script} did not print {line!r}:\n{done.stdout[-2000:]}"
