"""Trials drawn with scikit-learn: the same seed draws the same parameters; bad spaces say why."""

from __future__ import annotations

import json

import pytest
from scipy.stats import loguniform, randint
from search_trainers import space
from sklearn.model_selection import ParameterSampler

from modelboard.experiments.space import describe_space, draw_trials


def test_the_same_seed_draws_the_same_trials_and_another_seed_others() -> None:
    first = draw_trials(space(), "random", 8, seed=3)
    assert first == draw_trials(space(), "random", 8, seed=3)
    assert first != draw_trials(space(), "random", 8, seed=4)
    assert len(first) == 8
    expected = list(ParameterSampler(space(), n_iter=8, random_state=3))
    assert [t["learning_rate"] for t in first] == [float(e["learning_rate"]) for e in expected]
    for trial in first:
        assert set(trial) == {"batch_size", "epochs", "optimizer", "learning_rate"}
        assert 1e-3 <= trial["learning_rate"] <= 1e-1
        json.dumps(trial)  # plain JSON values, numpy scalars converted


def test_a_grid_takes_every_combination_in_order() -> None:
    grid = draw_trials({"a": [1, 2], "b": ["x", "y", "z"]}, "grid", None, None)
    assert len(grid) == 6 and grid[0] == {"a": 1, "b": "x"} and grid[-1] == {"a": 2, "b": "z"}
    assert draw_trials({"a": [1, 2], "b": ["x", "y"]}, "grid", 3, None) == grid[:1] + [
        {"a": 1, "b": "y"},
        {"a": 2, "b": "x"},
    ]


def test_the_space_is_described_as_json() -> None:
    described = describe_space(
        {"lr": loguniform(1e-4, 1e-1), "units": randint(4, 9), "opt": ["adam"]}
    )
    assert described["opt"] == {"type": "choice", "values": ["adam"]}
    assert described["lr"]["type"] == "distribution" and described["lr"]["name"] == "loguniform"
    assert described["lr"]["args"] == [1e-4, 1e-1]
    assert described["units"]["name"] == "randint" and described["units"]["args"] == [4, 9]
    json.dumps(described)


@pytest.mark.parametrize(
    ("space_arg", "strategy", "n", "message"),
    [
        ({}, "random", 3, "non-empty dict"),
        ({"lr": 0.1}, "random", 3, r"write \[0.1\]"),
        ({"lr": []}, "random", 3, "empty list"),
        ({"lr": loguniform(1e-3, 1)}, "grid", None, "needs lists"),
        ({"lr": [0.1]}, "bayes", 3, "strategy must be one of"),
        ({"lr": [0.1]}, "random", None, "needs n_trials"),
        ({"act": [object()]}, "random", 1, "build the object inside train_fn"),
    ],
)
def test_a_bad_space_says_what_to_write(space_arg, strategy, n, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((ValueError, TypeError), match=message):
        draw_trials(space_arg, strategy, n, 0)
