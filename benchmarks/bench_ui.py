"""Dashboard figures: the leaderboard page and a run page at 10,000 and 100,000 runs (SQLite).

Run by hand: ``.venv/bin/python benchmarks/bench_ui.py [--runs 10000 100000]``.
Goals (issue 13): the leaderboard page answers in under 1 s, a run page in under 0.5 s.
The stores are the leaderboard benchmark's (``bench_leaderboard.build_store``: 30 metrics and
20 params per run, written in bulk); each page is requested through the ASGI app in-process
(Starlette's test client), so the figure is the server's time, not the browser's drawing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_leaderboard import build_store  # noqa: E402

PAGES = {
    "leaderboard (newest first)": "/",
    "leaderboard sorted by val_accuracy": "/?sort=-val_accuracy",
    "leaderboard filtered and sorted": "/?where=val_accuracy+>+0.5+and+batch_size+<+64"
    "&sort=-val_accuracy",
    "leaderboard page 100": "/?offset=4950",
}


def _median(client, url: str, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text[:500]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from starlette.testclient import TestClient

    from modelboard.ui.app import create_app

    for runs in args.runs:
        with tempfile.TemporaryDirectory() as folder:
            built = build_store(Path(folder), runs)
            print(f"{runs:,} runs (built in {built:.0f} s)")
            with TestClient(create_app(folder)) as client:
                client.get("/")  # warm the connection pool
                for name, url in PAGES.items():
                    print(f"  {name}: {_median(client, url, args.repeats) * 1000:.0f} ms")
                run_id = client.app.state.tracker.runs(limit=1)[0].id
                run_ms = _median(client, f"/runs/{run_id}", args.repeats) * 1000
                print(f"  run page: {run_ms:.0f} ms")


if __name__ == "__main__":
    main()
