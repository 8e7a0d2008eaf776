"""Training gradients captured inside compiled fit, and on-demand gradients (acceptance 2)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

L = keras.layers
BACKEND = keras.backend.backend()
LEARNING_RATE = 0.1


def _small_cnn() -> Any:
    """A CNN with no dropout, so the training forward pass is deterministic."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(8, 3, padding="same", activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(16, activation="relu"),
            L.Dense(10, activation="softmax"),
        ],
        name="small_cnn",
    )


def _jit_params() -> list[Any]:
    reason = "Keras's torch backend compiles with torch.compile: minutes on 2 CPU cores"
    skip_torch_jit = pytest.mark.skipif(BACKEND == "torch", reason=reason)
    return [False, pytest.param(True, marks=skip_torch_jit)]


@pytest.mark.parametrize("jit", _jit_params())
def test_captured_gradients_equal_an_independent_computation(
    tracker: Any, digits: dict, weights: Any, reference_gradients: Any, jit: bool
) -> None:
    x, y = digits["x_train"][:64], digits["y_train"][:64]
    model = _small_cnn()
    model.compile(
        optimizer=keras.optimizers.SGD(LEARNING_RATE),
        loss="categorical_crossentropy",
        jit_compile=jit,
    )
    run = tracker.track(model, gradients_every=1)
    before = weights(model)
    expected = reference_gradients(model, x, y, training=True)
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    after = weights(model)
    run.finish()

    captured = [g for g in tracker.get(run.id).gradients if g.source == "training"]
    assert [g.step for g in captured] == [0]
    stats = {p.name: p for p in captured[0].parameters}
    assert set(stats) == set(expected) and len(stats) == 6
    for name, grad in expected.items():
        p = stats[name]
        g = grad.astype("float64")
        assert p.l2_norm == pytest.approx(np.linalg.norm(g), rel=1e-5), name
        assert p.max_abs == pytest.approx(np.abs(g).max(), rel=1e-5), name
        assert p.mean == pytest.approx(g.mean(), rel=1e-4, abs=1e-6 * np.abs(g).max()), name
        assert p.std == pytest.approx(g.std(), rel=1e-4), name
        assert p.zero_fraction == pytest.approx(np.mean(grad == 0), abs=1e-6), name
        assert p.nonfinite_count == 0
        assert p.weight_norm == pytest.approx(np.linalg.norm(before[name]), rel=1e-5), name
        update = np.linalg.norm(after[name].astype("float64") - before[name]) / LEARNING_RATE
        assert p.l2_norm == pytest.approx(update, rel=2e-3), name
    assert captured[0].global_norm == pytest.approx(
        np.sqrt(sum(np.sum(g.astype("float64") ** 2) for g in expected.values())), rel=1e-5
    )
    assert captured[0].flags == {"vanishing": False, "exploding": False, "nonfinite": False}


def test_capture_schedule_follows_gradients_every(tracker: Any, digits: dict) -> None:
    model = _small_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model, gradients_every=4)
    x, y = digits["x_train"][:160], digits["y_train"][:160]
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # 20 optimizer steps
    run.finish()
    stored = tracker.get(run.id)
    assert [g.step for g in stored.gradients] == [0, 4, 8, 12, 16]
    assert [g.epoch for g in stored.gradients] == [0, 0, 0, 1, 1]
    assert stored.run.flags["gradients_nonfinite"] is False


def test_gradients_every_zero_turns_capture_off(tracker: Any, digits: dict) -> None:
    model = _small_cnn()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    run = tracker.track(model, gradients_every=0)
    model.fit(digits["x_train"][:64], digits["y_train"][:64], batch_size=32, verbose=0)
    assert "apply" not in model.optimizer.__dict__
    run.finish()
    stored = tracker.get(run.id)
    assert stored.gradients == []
    assert stored.training.metrics["loss"].steps == [0]


def test_nonfinite_gradients_are_flagged(tracker: Any, digits: dict) -> None:
    model = _small_cnn()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="categorical_crossentropy")
    run = tracker.track(model, gradients_every=1)
    x = digits["x_train"][:32].copy()
    x[0, 0, 0, 0] = np.nan
    model.fit(x, digits["y_train"][:32], batch_size=32, verbose=0)
    run.finish()
    stored = tracker.get(run.id)
    assert stored.gradients[0].flags["nonfinite"] is True
    assert any(p.nonfinite_count > 0 for p in stored.gradients[0].parameters)
    assert stored.run.flags["gradients_nonfinite"] is True


def test_on_demand_gradients_equal_an_independent_computation(
    tracker: Any, digits: dict, reference_gradients: Any
) -> None:
    model = _small_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model)
    x, y = digits["x_val"][:50], digits["y_val"][:50]
    expected = reference_gradients(model, x, y, training=False)
    record = run.gradients(x, y)
    by_loss_name = run.gradients(x, y, loss="categorical_crossentropy", log=False)
    run.finish()
    assert record.source == "on_demand"
    for result in (record, by_loss_name):
        stats = {p.name: p for p in result.parameters}
        assert set(stats) == set(expected)
        for name, grad in expected.items():
            norm = np.linalg.norm(grad.astype("float64"))
            assert stats[name].l2_norm == pytest.approx(norm, rel=1e-5), name
    assert [g.source for g in tracker.get(run.id).gradients] == ["on_demand"]


def test_on_demand_gradients_need_a_loss(tracker: Any, digits: dict) -> None:
    model = _small_cnn()
    run = tracker.track(model)
    with pytest.raises(ValueError, match="needs a loss"):
        run.gradients(digits["x_val"][:4], digits["y_val"][:4])
    run.finish()
