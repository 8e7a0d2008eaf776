"""The leaderboard's vocabulary and the CLI on real tracked models: a PyTorch CNN with Adam, a
Keras convnet compiled with "adam" (keras-io mnist_convnet, shrunk) and a PyTorch run with
RMSprop, trained on data made here, on SQLite and PostgreSQL.

- ``optimizer in ('adam', 'sgd')`` selects the PyTorch and the Keras Adam runs and not RMSprop,
  whatever case each framework spells its optimizer in;
- ``ls`` and ``show`` print the same learning rate, the one the optimizer was configured with;
- ``show`` prints shapes as ``(None, 6, 6, 4)``;
- ``compare`` fits in a screen or two by default; ``--all`` adds the per-class values and the
  environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pg_databases import new_pg_database

import modelboard as mb
from modelboard.cli import main

pytestmark = [pytest.mark.torch, pytest.mark.keras]

TORCH_LR = 0.003
KERAS_LR = 0.002


def _images(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(96, 8, 8, 1)).astype("float32")
    y = (x[:, :4].mean(axis=(1, 2, 3)) > 0).astype("int64") + 2 * (
        x[:, :, :4].mean(axis=(1, 2, 3)) > 0
    )
    return x, y.astype("int64")


def _torch_run(tracker: mb.Tracker, optimizer_name: str, lr: float) -> str:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x, y = _images(0)
    xt, yt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(y)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 4),
    )
    optimizer = getattr(torch.optim, optimizer_name)(model.parameters(), lr=lr)
    with tracker.track(model, optimizer=optimizer, name=f"torch_{optimizer_name.lower()}") as run:
        for epoch in range(2):
            for start in range(0, len(xt), 32):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(
                    model(xt[start : start + 32]), yt[start : start + 32]
                )
                loss.backward()
                optimizer.step()
            run.log(epoch=epoch, loss=loss.item())
        run.evaluate(xt, yt, plots=False)
    return run.id


def _keras_run(tracker: mb.Tracker) -> str:
    import keras

    keras.utils.set_random_seed(0)
    x, y = _images(1)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=KERAS_LR),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    with tracker.track(model, name="keras_adam") as run:
        model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
        run.evaluate(x, y, plots=False)
    return run.id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    import torch  # before TensorFlow (tests/conftest.py)

    torch.set_num_threads(2)
    folder: Path = tmp_path_factory.mktemp("vocabulary")

    def build(location: str) -> dict[str, str]:
        with mb.Tracker(location, artifact_root=folder / "artifacts") as tracker:
            return {
                "torch_adam": _torch_run(tracker, "Adam", TORCH_LR),
                "keras_adam": _keras_run(tracker),
                "torch_rmsprop": _torch_run(tracker, "RMSprop", 0.01),
            }

    if request.param == "sqlite":
        location = str(folder / "store")
        yield location, build(location)
        return
    with new_pg_database() as url:
        yield url, build(url)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def _ls(capsys: pytest.CaptureFixture[str], location: str, *argv: str) -> list[dict[str, Any]]:
    return json.loads(_cli(capsys, "ls", "--store", location, "--json", *argv))


def test_optimizer_filter_selects_pytorch_and_keras(store, capsys) -> None:  # type: ignore[no-untyped-def]
    location, ids = store
    by_id = {v: k for k, v in ids.items()}
    for where in ("optimizer in ('adam', 'sgd')", "optimizer = 'Adam'", "optimizer = 'ADAM'"):
        rows = _ls(capsys, location, "--where", where, "--columns", "id,framework,optimizer")
        assert {by_id[r["id"]] for r in rows} == {"torch_adam", "keras_adam"}, where
        assert {r["framework"] for r in rows} == {"torch", "keras"}
        assert {r["optimizer"] for r in rows} == {"adam"}  # one spelling in both frameworks
    rows = _ls(capsys, location, "--where", "optimizer = 'rmsprop'", "--columns", "id")
    assert [by_id[r["id"]] for r in rows] == ["torch_rmsprop"]
    with mb.Tracker(location, read_only=True) as tracker:
        frame = tracker.leaderboard(where="framework = 'TORCH'", columns="id")
    assert {by_id[i] for i in frame["id"]} == {"torch_adam", "torch_rmsprop"}


def test_ls_and_show_print_the_configured_learning_rate(store, capsys) -> None:  # type: ignore[no-untyped-def]
    location, ids = store
    rows = {
        r["id"]: r
        for r in _ls(capsys, location, "--columns", "id,learning_rate,learning_rate_last,epochs")
    }
    for key, configured in (("torch_adam", TORCH_LR), ("keras_adam", KERAS_LR)):
        shown = json.loads(_cli(capsys, "show", ids[key], "--store", location, "--json"))
        listed = rows[ids[key]]
        assert listed["learning_rate"] == pytest.approx(configured, rel=1e-6)  # float32 in Keras
        assert shown["columns"]["learning_rate"] == listed["learning_rate"]
        # a constant learning rate: the last one applied is the same, or not recorded at all
        assert listed["learning_rate_last"] in (None, pytest.approx(configured, rel=1e-6))
        assert shown["columns"]["learning_rate_last"] == listed["learning_rate_last"]
        assert shown["columns"]["optimizer"] == "adam"
        text = _cli(capsys, "show", ids[key], "--store", location)
        assert f"{listed['learning_rate']:.4g}" in text
    keras_row = rows[ids["keras_adam"]]
    assert keras_row["epochs"] == 2  # the epochs fit ran


def test_show_prints_shapes_with_none(store, capsys) -> None:  # type: ignore[no-untyped-def]
    location, ids = store
    text = _cli(capsys, "show", ids["keras_adam"], "--store", location)
    assert "(None, 6, 6, 4)" in text  # the Conv2D's output shape, batch dimension unknown
    assert "(None, 4)" in text
    assert "[, " not in text  # what rich made of [null, 6, 6, 4] before


def test_compare_is_a_summary_and_all_adds_the_rest(store, capsys) -> None:  # type: ignore[no-untyped-def]
    location, ids = store
    a, b = ids["torch_adam"], ids["keras_adam"]
    default = _cli(capsys, "compare", a, b, "--store", location)
    everything = _cli(capsys, "compare", a, b, "--store", location, "--all")
    lines, all_lines = len(default.splitlines()), len(everything.splitlines())
    assert lines <= 120, default  # two screens
    assert all_lines > 2 * lines
    for text in ("hyperparameters", "network", "layers (aligned)", "metrics", "evaluation"):
        assert text in default
    assert "val.accuracy" in default and "val.f1_macro" in default
    assert "loss.final" in default and "loss.best" in default
    assert "python_implementation" not in default and "precision[" not in default
    assert "python_implementation" in everything and "val.precision[" in everything
