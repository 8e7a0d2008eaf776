"""Evaluations reach the store: records per split and ``<split>_<metric>`` leaderboard values."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import select

import modelboard as mb
from modelboard.store import tables

LEADERBOARD_METRICS = ("accuracy", "precision_macro", "recall_macro", "f1_macro", "auc_macro")


def _eval_values(tracker: mb.Tracker, run_id: str) -> dict[str, tuple[float | None, str | None]]:
    v = tables.run_values
    query = select(v.c.name, v.c.value_num, v.c.value_text).where(
        v.c.run_id == run_id, v.c.kind == "eval"
    )
    with tracker.store.engine.connect() as conn:
        return {name: (num, text) for name, num, text in conn.execute(query)}


def _scores(n: int, k: int, strength: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += strength
    return y, logits


def test_leaderboard_values_for_each_split(tracker: mb.Tracker) -> None:
    run = tracker.start_run()
    y, logits = _scores(120, 3, 1.0, 0)
    val = run.evaluate(y_true=y, y_score=logits, class_names=["a", "b", "c"], plots=False)
    test = run.evaluate(y_true=y[:60], y_pred=np.argmax(logits[:60], axis=1), split="test",
                        plots=False)  # fmt: skip
    run.finish()
    values = _eval_values(tracker, run.id)
    for metric in LEADERBOARD_METRICS:
        assert values[f"val_{metric}"][0] == val.metrics[metric]
    for metric in ("precision", "recall", "f1", "support", "auc"):
        assert json.loads(values[f"val_{metric}_per_class"][1]) == val.per_class[metric]
    assert values["test_accuracy"][0] == test.metrics["accuracy"]
    assert values["test_auc_macro"] == (None, None)  # labels only: a null, with its reason
    assert "y_score" in test.nulls["auc_macro"]
    stored = tracker.get(run.id).evaluations
    assert set(stored) == {"val", "test"}
    assert stored["val"] == val and stored["test"] == test


def test_runs_rank_by_evaluation_columns(tracker: mb.Tracker) -> None:
    strengths = {"weak": 0.2, "strong": 3.0, "middle": 1.0}
    for name, strength in strengths.items():
        run = tracker.start_run(name)
        y, logits = _scores(300, 4, strength, 1)
        run.evaluate(y_true=y, y_score=logits, plots=False)
        run.finish()
    v, r = tables.run_values, tables.runs
    for metric in ("val_f1_macro", "val_auc_macro", "val_accuracy"):
        query = (
            select(r.c.name)
            .join(v, v.c.run_id == r.c.id)
            .where(v.c.kind == "eval", v.c.name == metric)
            .order_by(v.c.value_num.desc())
        )
        with tracker.store.engine.connect() as conn:
            order = [row[0] for row in conn.execute(query)]
        assert order == ["strong", "middle", "weak"], metric
