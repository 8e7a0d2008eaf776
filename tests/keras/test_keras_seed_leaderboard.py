"""Acceptance 1: the seed's basic_cnn on 8x8 digits, 2 epochs after track(), records every field
of the seed paper's leaderboard row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import modelboard as mb

pytestmark = pytest.mark.filterwarnings("ignore:Please import:DeprecationWarning")  # scipy, legacy
SEED_AUGMENTATIONS = {
    "featurewise_center": True,
    "featurewise_std_normalization": True,
    "rotation_range": 90,
    "width_shift_range": 0.1,
    "height_shift_range": 0.1,
    "zoom_range": 0.2,
}


@pytest.fixture
def seed_run(
    tracker: Any, basic_cnn: Any, digits: dict, image_data_generator: Any
) -> Iterator[Any]:
    """The seed's pipeline: data with augmentations, track, compile, fit 2 epochs on the flow."""
    x_tr, y_tr, x_va, y_va = (digits[k] for k in ("x_train", "y_train", "x_val", "y_val"))
    generator = image_data_generator(**SEED_AUGMENTATIONS)
    generator.fit(x_tr)
    data = mb.Data("digits", train=(x_tr, y_tr), val=(x_va, y_va), augmentations=generator)
    model = basic_cnn()
    run = tracker.track(model, name="basic_cnn", data=data)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        generator.flow(x_tr, y_tr, batch_size=32, seed=0),
        validation_data=(generator.standardize(x_va.copy()), y_va),
        epochs=2,
        verbose=0,
    )
    yield run
    run.finish()


def test_basic_cnn_run_holds_every_field_of_the_seed_leaderboard(
    tracker: Any, seed_run: Any, digits: dict
) -> None:
    run = seed_run
    run.flush()
    stored = tracker.get(run.id)
    data, network, metrics = stored.data, stored.network, stored.training.metrics
    assert data.name == "digits"  # data_name
    assert stored.name == "basic_cnn" and network.architecture == "basic_cnn"  # model_name
    assert len(metrics["val_accuracy"].values) == 2  # val accuracy per epoch
    assert 0.0 <= metrics["val_accuracy"].last <= 1.0
    augmentations = data.augmentations[0].params  # augmentations
    assert {k: augmentations[k] for k in SEED_AUGMENTATIONS} == SEED_AUGMENTATIONS
    assert augmentations["fitted"] is True  # generator.fit(x_train) ran before mb.Data
    splits = data.splits  # x and y shapes of train and val
    assert (splits["train"].x_shape, splits["train"].y_shape) == ([1400, 8, 8, 1], [1400, 10])
    assert (splits["val"].x_shape, splits["val"].y_shape) == ([397, 8, 8, 1], [397, 10])
    assert (data.image["width"], data.image["height"], data.image["channels"]) == (8, 8, 1)
    assert network.optimizer.name == "adam"  # optimizer
    assert network.optimizer.learning_rate == pytest.approx(0.001)
    assert network.loss == "categorical_crossentropy"  # loss function
    assert data.num_classes == 10 and network.output_shape == [None, 10]  # num_classes
    assert network.batch_size == 32  # batch size, from the generator's flow
    assert network.epochs_planned == 2 and network.epochs_run == 2  # epochs
    assert network.steps_per_epoch == 44
    assert stored.gradients and stored.gradients[0].step == 0

    # precision and recall per class: run.evaluate, which predicts through the adapter's hook
    x_va, y_va = digits["x_val"], digits["y_val"]
    evaluation = run.evaluate(x_va, y_va, plots=False)
    for key in ("precision", "recall"):
        assert len(evaluation.per_class[key]) == 10
        assert all(0.0 <= v <= 1.0 for v in evaluation.per_class[key])
    run.finish()
    predicted = run.predict(x_va).argmax(axis=1)
    assert evaluation.metrics["accuracy"] == pytest.approx(np.mean(predicted == y_va.argmax(1)))
    stored = tracker.get(run.id)
    assert "val" in stored.evaluations
    row = tracker.leaderboard().iloc[0]
    expected = {
        "data_name": "digits",
        "model_name": "basic_cnn",
        "train_x_shape": "[1400, 8, 8, 1]",
        "train_y_shape": "[1400, 10]",
        "val_x_shape": "[397, 8, 8, 1]",
        "val_y_shape": "[397, 10]",
        "width": 8,
        "height": 8,
        "channels": 1,
        "optimizer": "adam",
        "loss_function": "categorical_crossentropy",
        "num_classes": 10,
        "batch_size": 32,
        "epochs": 2,
        "val_accuracy": pytest.approx(evaluation.metrics["accuracy"]),
    }
    assert {k: row[k] for k in expected} == expected
    assert "rotation_range=90" in row["augmentations"]
    for column in ("val_precision_per_class", "val_recall_per_class"):
        assert len(json.loads(row[column])) == 10
