"""Keras predictions: ``output="logits" | "probabilities"`` (``from_logits=`` kept as an alias),
and a ``PyDataset`` of ``(x, y)`` batches described and evaluated (any backend)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

import modelboard as mb

L = keras.layers


def _linear() -> Any:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), L.Flatten(), L.Dense(10)])


def test_output_says_what_the_model_returns(tracker: Any, digits: dict) -> None:
    model, x = _linear(), digits["x_val"][:12]
    logits = model.predict(x, verbose=0)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    run = tracker.track(model, output="logits", gradients_every=0)
    np.testing.assert_allclose(run.predict(x), softmax, rtol=1e-5)
    np.testing.assert_allclose(run.predict(x, output="probabilities"), logits, rtol=1e-6)
    np.testing.assert_allclose(run.predict(x, from_logits=False), logits, rtol=1e-6)
    run.finish()


def test_a_py_dataset_is_described_and_evaluated(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    x, y = digits["x_val"][:90], digits["y_val"][:90]

    class Batches(keras.utils.PyDataset):
        def __init__(self, batch_size: int) -> None:
            super().__init__()
            self.batch_size = batch_size
            self.order = np.random.default_rng(0).permutation(len(x))

        def __len__(self) -> int:
            return -(-len(x) // self.batch_size)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
            return x[rows], y[rows]

    batches = Batches(batch_size=25)
    data = mb.Data("digits", train=batches)
    split = data.record.splits["train"]
    assert (split.size, split.batch_size, split.steps_per_epoch) == (90, 25, len(batches))
    assert split.y_shape == [90, 10] and split.unknown == {}
    assert mb.data.training_facts(data) == {"batch_size": 25, "steps_per_epoch": 4}
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model, data=data, gradients_every=0)
    from_batches = run.evaluate(batches, split="test", plots=False)
    from_arrays = run.evaluate(x, y, split="arrays", plots=False)
    run.finish()
    assert from_batches.n_samples == 90
    assert from_batches.confusion_matrix == from_arrays.confusion_matrix
    assert from_batches.metrics["accuracy"] == from_arrays.metrics["accuracy"]
