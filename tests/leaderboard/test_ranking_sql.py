"""The comparable leaderboard reads every run's ranking columns in one SQL query
(``query_run_table``): its rows equal the per-run read's (``query_runs``), and the board's
entries equal a plain Python grouping of the runs, on SQLite and PostgreSQL, with filters.

Real runs through the Tracker API: predictions made here, evaluated with ``run.evaluate``
against the run's ``mb.Data`` (two validation splits: two comparability groups), seeds of
several configurations, and runs that only logged their metric (the ``unknown`` group).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from pg_databases import new_pg_database

import modelboard as mb
from modelboard.leaderboard.ranking import comparable_board
from modelboard.store import query_runs
from modelboard.store.query import query_run_table
from modelboard.tracking import Tracker

_CONFIGS = [  # (project, optimizer, learning rate, width, seeds, split)
    ("p1", "adam", 0.01, 8, (0, 1, 2), "a"),
    ("p1", "adam", 0.01, 8, (0, 1), "b"),
    ("p1", "sgd", 0.1, 8, (0, 1, 2, 3), "a"),
    ("p2", "Adam", 0.01, 16, (5,), "a"),
    ("p2", "adam", 1, 16, (0, 1), "a"),
]


def _build(tracker: Tracker) -> None:
    rng = np.random.default_rng(7)
    y = {"a": rng.integers(0, 3, 60), "b": rng.integers(0, 3, 45)}
    x = {split: rng.random((len(labels), 4)) for split, labels in y.items()}
    for project, optimizer, lr, width, seeds, split in _CONFIGS:
        for seed in seeds:
            data = mb.Data(f"toy-{split}", val=(x[split], y[split]))
            params = {"optimizer": optimizer, "learning_rate": lr, "width": width, "seed": seed}
            run = tracker.start_run(
                f"{optimizer}-{width}", data=data, hparams=params, project=project
            )
            skill = 0.4 + 0.1 * width / 8 + 0.05 * rng.random()  # some right, some wrong
            hits = rng.random(len(y[split])) < skill
            scores = np.full((len(y[split]), 3), 0.1)
            guess = np.where(hits, y[split], (y[split] + 1) % 3)
            scores[np.arange(len(guess)), guess] = 0.8
            run.evaluate(y_true=y[split], y_score=scores, split="val", plots=False)
            run.finish()
    for seed in (0, 1):  # a logged metric only: its data is not known
        run = tracker.start_run("logged", hparams={"width": 4, "seed": seed}, project="p1")
        run.log(epoch=0, val_accuracy=0.3 + 0.1 * seed)
        run.finish()
    run = tracker.start_run("no value", hparams={"width": 4, "seed": 9}, project="p1")
    run.finish()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tracker(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        built = Tracker(str(tmp_path_factory.mktemp("ranking-sql") / "store"), announce=False)
        _build(built)
        yield built
        built.close()
        return
    with new_pg_database() as url:
        built = Tracker(url, announce=False)
        _build(built)
        yield built
        built.close()


_COLUMNS = [
    "id",
    "name",
    "framework",
    "status",
    "duration",
    "data_name",
    "val_accuracy",
    "eval.val_accuracy",
    "comparability.val",
    "optimizer",
    "learning_rate",
    "batch_size",
    "params.width",
    "params.seed",
    "gradient_health",
]


@pytest.mark.parametrize(
    "where, project",
    [(None, None), ("params.width >= 8", None), ("optimizer = 'adam'", "p2"), (None, "p1")],
)
def test_one_query_reads_what_the_per_run_read_does(tracker, where, project) -> None:  # type: ignore[no-untyped-def]
    options: dict[str, Any] = {"sort": "val_accuracy", "where": where, "project": project}
    fast = query_run_table(tracker.store, _COLUMNS, **options)
    slow = query_runs(tracker.store, columns=_COLUMNS, **options)
    assert fast is not None and fast.labels == slow.labels
    assert len(fast.rows) > 0 and fast.ids == slow.ids
    for got, want in zip(fast.rows, slow.rows, strict=True):
        for label, a, b in zip(fast.labels, got, want, strict=True):
            if label == "duration":
                assert a == pytest.approx(b), label
            else:
                assert json.dumps(a) == json.dumps(b), label  # 1 and 1.0 differ here


def _expected(tracker: Tracker, where: str | None, project: str | None) -> dict[Any, Any]:
    """The board's entries by straightforward Python: every matching run's record, grouped by
    its evaluation's fingerprint and its parameters apart from the seed."""
    flat = query_runs(tracker.store, where=where, project=project, columns=["id", "val_accuracy"])
    entries: dict[Any, list[tuple[str, float]]] = defaultdict(list)
    for run_id, value in flat.rows:
        if value is None or not math.isfinite(value):
            continue
        stored = tracker.get(run_id)
        evaluation = stored.evaluations.get("val")
        fingerprint = evaluation.data_fingerprint if evaluation is not None else None
        params = {k: v for k, v in stored.run.params.items() if k != "seed"}
        key = (fingerprint or "unknown", json.dumps(params, sort_keys=True))
        entries[key].append((run_id, float(value)))
    return {
        (
            fingerprint[:12] if fingerprint != "unknown" else fingerprint,
            frozenset(r for r, _ in runs),
        ): (
            len(runs),
            sum(v for _, v in runs) / len(runs),
            min(v for _, v in runs),
            max(v for _, v in runs),
        )
        for (fingerprint, _), runs in entries.items()
    }


@pytest.mark.parametrize(
    "where, project",
    [(None, None), ("params.width >= 8", None), ("optimizer = 'adam'", None), (None, "p2")],
)
def test_entries_equal_a_python_grouping_of_the_runs(tracker, where, project) -> None:  # type: ignore[no-untyped-def]
    board = comparable_board(tracker.store, sort="val_accuracy", where=where, project=project)
    got = {
        (e["data_fingerprint"], frozenset(e["runs"])): (e["n"], e["mean"], e["min"], e["max"])
        for e in board.entries
    }
    expected = _expected(tracker, where, project)
    assert got.keys() == expected.keys()
    for key, (n, mean, low, high) in expected.items():
        assert got[key][0] == n and got[key][1] == pytest.approx(mean)
        assert got[key][2:] == (low, high)
    assert len(board.groups) == len({fingerprint for fingerprint, _ in expected})
    for entry in board.entries:  # best first within each group, seeds as recorded
        runs = [tracker.get(r) for r in entry["runs"]]
        assert entry["seeds"] == [r.run.params.get("seed") for r in runs]
    for group in board.groups:
        means = [e["mean"] for e in board.entries if e["group"] == group["group"]]
        assert means == sorted(means, reverse=True)
    if where is None and project is None:
        assert board.missing == 1  # the run that never had a value
        several = [e for e in board.entries if e["n"] > 1]
        assert several and all(e["interval"].startswith("t over") for e in several)
