"""``modelboard search FILE.py`` (run or join a search) and ``modelboard ls --search ID``.

The file defines ``train_fn(params, run)`` and ``space``; it may also define ``metric``,
``mode``, ``n_trials``, ``strategy``, ``seed`` and ``prune``, which the options override.
Workers (``--parallel N``) import the file themselves.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "run", "ls_search"]

_FILE_SETTINGS = ("metric", "mode", "n_trials", "strategy", "seed", "prune")


def add_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """Add ``search`` to the ``modelboard`` subparsers ``sub``."""
    p = sub.add_parser(
        "search",
        parents=common,
        help="run a hyperparameter search from a Python file (train_fn and space)",
        description=(
            "Run a hyperparameter search: FILE.py defines train_fn(params, run), which trains, "
            "logs and returns the metric, and space (names to lists or scipy distributions); "
            "it may define metric, mode, n_trials, strategy, seed and prune. Each trial is a "
            "child run of one search run. --join ID adds workers to a search already running "
            "(on a PostgreSQL store, from any machine). See docs/search.md."
        ),
    )
    p.add_argument("file", metavar="FILE.py", help="Python file that defines train_fn and space")
    p.add_argument("--trials", type=int, dest="n_trials", help="number of trials (random search)")
    p.add_argument("--parallel", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--join", metavar="ID", help="work on the trials of search run ID")
    p.add_argument(
        "--metric", help="the value train_fn returns (default: the file's, or val_accuracy)"
    )
    p.add_argument("--mode", choices=("max", "min"), help="max: higher is better (default)")
    p.add_argument("--strategy", choices=("random", "grid"), help="default random")
    p.add_argument("--seed", type=int, help="seed of the random draw (default 0)")
    p.add_argument("--prune", choices=("median",), help="stop trials below the median early")
    p.add_argument("--name", help="name of the search run (default: search)")
    p.add_argument(
        "--stale-after",
        type=float,
        help="seconds without a heartbeat before a claimed trial is taken again (default 60)",
    )


def _settings(module: Any, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FILE_SETTINGS:
        value = getattr(args, name, None)
        if value is None:
            value = getattr(module, name, None)
        if value is not None:
            out[name] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``modelboard search``; expected failures are one line on stderr and exit code 2."""
    from modelboard.errors import ModelboardError

    try:
        return _search(args)
    except (ModelboardError, ValueError, TypeError, OSError, ImportError, AttributeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"modelboard search: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _search(args: argparse.Namespace) -> int:
    from modelboard.experiments import FileFunction, search
    from modelboard.tracking import Tracker

    path = Path(args.file)
    if not path.is_file():
        raise OSError(f"no such file: {path} (give the Python file that defines train_fn)")
    train_fn = FileFunction(path, "train_fn")
    module = train_fn.module()
    if not callable(getattr(module, "train_fn", None)):
        raise AttributeError(f"{path} defines no function train_fn(params, run)")
    space = getattr(module, "space", None)
    if space is None and args.join is None:
        raise ValueError(f"{path} defines no space (a dict of name to values or distributions)")
    with Tracker(args.store) as tracker:
        result = search(
            train_fn,
            space,
            parallel=args.parallel,
            tracker=tracker,
            join=args.join,
            name=args.name,
            stale_after=args.stale_after,
            **_settings(module, args),
        )
    summary = {
        "search_id": result.search_id,
        "metric": result.metric,
        "mode": result.mode,
        "best_trial": result.best_run_id,
        "best_trial_index": result.best_index,
        "best_value": result.best_value,
        "best_params": result.best_params,
        "trials": result.counts(),
    }
    if getattr(args, "json", False):
        import json

        print(json.dumps(summary, indent=2, default=str))
        return 0
    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts().items()))
    print(f"search {result.search_id[:8]}: {counts}")
    if result.best_run_id is None:
        print("no trial finished with a value")
    else:
        print(
            f"best: trial {result.best_index} (run {result.best_run_id[:8]}) "
            f"{result.metric}={result.best_value:.6g} {result.best_params}"
        )
    print(f"modelboard ls --search {result.search_id[:8]}")
    return 0


def ls_search(args: argparse.Namespace) -> int:
    """``modelboard ls --search ID``: the search's trials, the best one marked."""
    from modelboard.cli._commands import _console, _print_json, open_tracker
    from modelboard.cli.render import rows_table
    from modelboard.experiments.claims import trial_rows
    from modelboard.experiments.search_run import best_trial

    tracker = open_tracker(args.store)
    search_run = tracker.store.get_run(args.search)
    params = search_run.params
    if search_run.tags.get("search") != "true" or "metric" not in params:
        raise ValueError(
            f"run {search_run.id[:8]} ({search_run.name}) is not a search run; "
            "modelboard ls --where \"tags.search = 'true'\" lists the searches"
        )
    metric, mode = str(params["metric"]), str(params["mode"])
    trials = trial_rows(tracker.store.engine, search_run.id)
    best = best_trial(trials, mode)
    names = sorted({name for t in trials for name in t.params})
    labels = ["best", "trial", "status", "run", *names, metric]
    rows = [
        [
            "*" if best is not None and t.index == best.index else "",
            t.index,
            t.status,
            (t.run_id or "")[:8],
            *[t.params.get(n) for n in names],
            t.value,
        ]
        for t in trials
    ]
    if args.json:
        _print_json(
            [
                {
                    "best": bool(best is not None and t.index == best.index),
                    "trial": t.index,
                    "status": t.status,
                    "run_id": t.run_id,
                    "params": t.params,
                    metric: t.value,
                }
                for t in trials
            ]
        )
        return 0
    console = _console()
    title = f"search {search_run.id[:8]} ({search_run.name}): {metric}, {mode} is best"
    console.print(rows_table(labels, rows, title=title))
    if best is None:
        console.print("no trial finished with a value yet")
    else:
        console.print(
            f"best: trial {best.index} (run {(best.run_id or '')[:8]}) {metric}={best.value:.6g}"
        )
    return 0
