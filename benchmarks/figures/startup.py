"""Figure 4: start-up, each a fresh interpreter, median of ``rounds``; the variants take turns in
a rotated order, and each is given over a bare interpreter start of the same round."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.figures.common import progress, rotated, skipped, summary
from benchmarks.peers import missing

__all__ = ["measure"]

# the ``modelboard`` console script's body, against this interpreter's modelboard
_LS = "import sys; from modelboard.cli import main; sys.exit(main())"


def _commands(store_1k: str, scratch: Path) -> dict[str, tuple[str, list[str] | None, str | None]]:
    """variant -> (label, argv or None (made per call), peer)."""
    py = sys.executable
    return {
        "python": ("bare interpreter start (`python -c pass`)", [py, "-c", "pass"], None),
        "import_modelboard": ("`import modelboard`", [py, "-c", "import modelboard"], None),
        "plugins": (
            "`import modelboard` + loading the plugins",
            [py, "-c", "from modelboard.plugins import get_plugin_manager; get_plugin_manager()"],
            None,
        ),
        "ls_1k": (
            "`modelboard ls` on 1,000 runs",
            [py, "-c", _LS, "ls", "--store", store_1k],
            None,
        ),
        "tracker_new": ("`Tracker()` on a new store", None, None),
        "import_mlflow": ("`import mlflow`", [py, "-c", "import mlflow"], "mlflow"),
        "import_wandb": ("`import wandb`", [py, "-c", "import wandb"], "wandb"),
    }


def _tracker_argv(scratch: Path) -> list[str]:
    store = scratch / uuid.uuid4().hex
    return [sys.executable, "-c", f"import modelboard as mb; mb.Tracker({str(store)!r}).close()"]


def measure(store_1k: str, rounds: int) -> dict[str, Any]:
    """Figure 4; ``store_1k`` is a store of 1,000 runs (for ``ls``)."""
    with tempfile.TemporaryDirectory(prefix="mb-bench-") as name:
        scratch = Path(name)
        commands = _commands(store_1k, scratch)
        entries: dict[str, Any] = {}
        runnable = []
        for variant, (label, _, peer) in commands.items():
            reason = missing(peer) if peer else None
            if reason:
                entries[variant] = skipped(reason, label=label)
            else:
                runnable.append(variant)
        times: dict[str, list[float]] = {v: [] for v in runnable}
        errors: dict[str, str] = {}
        env = {"MODELBOARD_SILENT": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
        import os

        full_env = {**os.environ, **env}
        for round_index in range(rounds):
            for variant in rotated(runnable, round_index):
                if variant in errors:
                    continue
                argv = commands[variant][1] or _tracker_argv(scratch)
                start = time.perf_counter()
                done = subprocess.run(argv, capture_output=True, text=True, env=full_env)
                times[variant].append(time.perf_counter() - start)
                if done.returncode != 0:
                    errors[variant] = f"exit {done.returncode}: {done.stderr[-2000:]}"
        progress(f"  start-up: {rounds} rounds done")
        bare = times["python"]
        if "python" in errors:
            raise RuntimeError(f"a bare interpreter failed to start: {errors['python']}")
        for variant in runnable:
            if variant in errors:
                entries[variant] = {
                    "status": "failed",
                    "reason": errors[variant],
                    "label": commands[variant][0],
                }
                continue
            over = [t - b for t, b in zip(times[variant], bare, strict=True)]
            entries[variant] = {
                "status": "ok",
                "label": commands[variant][0],
                "seconds": summary(times[variant]),
                "over_bare_s": summary(over),
            }
    return {"variants": {v: entries[v] for v in commands}, "rounds": rounds}
