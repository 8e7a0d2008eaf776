"""Acceptance 1: a random search of 8 trials over batch_size, epochs, optimizer and learning
rate on digits, in Keras and in PyTorch, with ``parallel=2``: 8 child runs under one parent,
the best trial named, and the same seed draws the same parameters.

The trials run in spawned worker processes (TensorFlow never loads in the test process)."""

from __future__ import annotations

from pathlib import Path

import pytest
import search_trainers
from search_trainers import space

import modelboard as mb
from modelboard.experiments.space import draw_trials

SEED = 11


def _check_search(tracker: mb.Tracker, result, framework: str) -> list[dict]:  # type: ignore[no-untyped-def]
    children = tracker.store.list_runs(parent_id=result.search_id, newest_first=False)
    assert len(children) == 8
    assert {c.status for c in children} == {"finished"}
    assert {c.framework for c in children} == {framework}
    by_trial = {int(c.tags["trial"]): c for c in children}
    assert sorted(by_trial) == list(range(8))
    # the same seed draws the same parameters: what the trials ran is sklearn's draw
    drawn = draw_trials(space(), "random", 8, SEED)
    assert [by_trial[i].params for i in range(8)] == drawn
    assert [t.params for t in result.trials] == drawn
    # each trial's value is what train_fn returned, the framework's own number, and the same
    # value the run recorded as its last val_accuracy
    for trial in result.trials:
        stored = tracker.get(trial.run_id)
        curve = stored.training.metrics["val_accuracy"].values
        assert len(curve) == trial.params["epochs"]
        assert trial.value == pytest.approx(curve[-1], abs=1e-6)
        assert stored.network is not None  # run.track(model) recorded the network
    best = max(result.trials, key=lambda t: (t.value, -t.index))
    assert result.best_index == best.index and result.best_run_id == best.run_id
    parent = tracker.get(result.search_id).run
    assert parent.flags["best_trial"] == best.run_id
    assert parent.flags["best_value"] == pytest.approx(best.value)
    assert parent.params["seed"] == SEED and parent.params["n_trials"] == 8
    assert parent.params["space"]["learning_rate"]["name"] == "loguniform"
    assert len({t.worker for t in result.trials}) == 2  # both workers took trials
    return drawn


@pytest.mark.keras
def test_a_keras_search_of_8_trials_in_2_processes(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        result = mb.search(
            search_trainers.train_keras,
            space(),
            n_trials=8,
            seed=SEED,
            metric="val_accuracy",
            parallel=2,
            tracker=tracker,
        )
        _check_search(tracker, result, "keras")


@pytest.mark.torch
def test_a_torch_search_of_8_trials_in_2_processes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    with mb.Tracker(tmp_path / "store", announce=False) as tracker:
        result = mb.search(
            search_trainers.train_torch,
            space(),
            n_trials=8,
            seed=SEED,
            metric="val_accuracy",
            parallel=2,
            tracker=tracker,
        )
        _check_search(tracker, result, "torch")
