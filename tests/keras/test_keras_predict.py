"""Class probabilities for evaluation, and the environment facts."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

L = keras.layers


def test_predict_gives_class_probabilities(tracker: Any, basic_cnn: Any, digits: dict) -> None:
    model = basic_cnn()
    run = tracker.track(model)
    probabilities = run.predict(digits["x_val"], batch_size=100)
    run.finish()
    assert isinstance(probabilities, np.ndarray) and probabilities.shape == (397, 10)
    assert probabilities.sum(axis=1) == pytest.approx(np.ones(397), rel=1e-5)
    np.testing.assert_allclose(probabilities, model.predict(digits["x_val"], verbose=0), rtol=1e-5)


def test_predict_turns_logits_into_probabilities(tracker: Any, digits: dict) -> None:
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(10)])
    model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy(from_logits=True))
    run = tracker.track(model)
    probabilities = run.predict(digits["x_val"][:20])
    raw = run.predict(digits["x_val"][:20], from_logits=False)
    run.finish()
    logits = model.predict(digits["x_val"][:20], verbose=0)
    np.testing.assert_allclose(raw, logits, rtol=1e-6)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)


def test_environment_names_keras_backend_and_versions(tracker: Any, basic_cnn: Any) -> None:
    run = tracker.track(basic_cnn())
    run.finish()
    environment = tracker.get(run.id).run.environment
    assert environment["packages"]["keras"] == keras.__version__
    assert environment["keras"]["backend"] == keras.backend.backend()
    assert environment["keras"]["devices"] and "numpy" in environment["packages"]
    assert tracker.get(run.id).run.framework == "keras"
