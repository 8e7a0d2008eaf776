"""What every figure shares: the rotated order of variants, paired ratios with their median and
spread, a skipped entry that says why, and running a worker in a fresh interpreter."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "ROOT",
    "rotated",
    "summary",
    "paired_ratios",
    "skipped",
    "failed",
    "run_worker",
    "progress",
    "timed",
]


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """``names`` rotated by ``round_index // 2`` places, reversed on odd rounds: over
    ``2 * len(names)`` rounds every variant runs in every position, right after and right
    before each of the others."""
    shift = (round_index // 2) % len(names)
    order = list(names[shift:]) + list(names[:shift])
    return order if round_index % 2 == 0 else order[::-1]


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median and spread (min, max, quartiles when there are 4 or more) of ``values``."""
    ordered = sorted(values)
    out: dict[str, Any] = {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4)
        out["q1"], out["q3"] = q1, q3
    return out


def paired_ratios(times: dict[str, list[float]], baseline: str) -> dict[str, dict[str, Any]]:
    """Per variant: the ratios of its time to ``baseline``'s in the same round, summarised."""
    base = times[baseline]
    out = {}
    for name, values in times.items():
        ratios = [v / b for v, b in zip(values, base, strict=True)]
        out[name] = {
            "status": "ok",
            **summary(ratios),
            "ratios": ratios,
            "seconds": summary(values),
        }
    return out


def skipped(reason: str, **extra: Any) -> dict[str, Any]:
    """An entry for a variant that was not measured, with why."""
    return {"status": "skipped", "reason": reason, **extra}


def failed(reason: str, **extra: Any) -> dict[str, Any]:
    """An entry for a variant whose measurement raised."""
    return {"status": "failed", "reason": reason, **extra}


def progress(message: str) -> None:
    """One line of progress on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(work: Callable[[], Any]) -> float:
    """Seconds ``work()`` took."""
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def run_worker(
    module: str,
    arguments: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    show_stderr: bool = False,
) -> dict[str, Any]:
    """Run ``benchmarks.figures.<module>``'s ``worker(arguments)`` in a fresh interpreter and
    return the JSON it prints last; raises ``RuntimeError`` with its stderr when it fails.
    ``show_stderr`` passes the worker's progress lines through instead of keeping them."""
    code = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        f"from benchmarks.figures.{module} import worker\n"
        "print(json.dumps(worker(json.loads(sys.argv[1]))))\n"
    )
    full_env = {
        **os.environ,
        "MODELBOARD_SILENT": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONWARNINGS": "ignore",
        **(env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arguments)],
        stdout=subprocess.PIPE,
        stderr=None if show_stderr else subprocess.PIPE,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} worker failed (exit {done.returncode}): {_tail(done)}")
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{module} worker printed no result: {_tail(done)}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr[-3000:] if done.stderr else "(its stderr is above)"
