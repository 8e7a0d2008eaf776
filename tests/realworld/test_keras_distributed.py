"""Keras under ``tf.distribute.MirroredStrategy`` over two logical CPU devices.

The logical devices must be configured before TensorFlow initialises, so the training runs in a
fresh subprocess: this file run as a script (``python test_keras_distributed.py STORE CLIPPED
OUT``). The script trains a tiny model with ``SGD`` under the strategy while tracked, and
replays the same steps by hand on a copy of the model outside any strategy (``GradientTape`` on
each global batch), checking that the replay ends at the weights Keras trained to. The test
then reads the store (SQLite, and PostgreSQL where ``MODELBOARD_TEST_PG`` names a server) and
compares what was recorded with the replay: one run, one network with Keras's parameter count
and the strategy, per-epoch metrics equal to Keras's History, and gradient norms equal to the
global batch's gradients (not one replica's). A second, clipped model checks the applied norm
against the weight change ``|W1 - W0| / lr`` that Keras made.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import modelboard as mb

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None,
    reason="needs tensorflow and keras",
)

REPLICAS = 2
LEARNING_RATE = 0.1
CLIPNORM = 0.01
SAMPLES, BATCH, EPOCHS = 16, 8, 2
STEPS = SAMPLES // BATCH * EPOCHS


# -- the training script (runs in the subprocess) -------------------------------------------------


def _norm(arrays: Any) -> float:
    return math.sqrt(sum(float((a.astype("float64") ** 2).sum()) for a in arrays))


def _train(store: str, clipped_store: str, out: str) -> None:  # pragma: no cover - subprocess
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS
    )
    import keras

    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(REPLICAS)])
    assert strategy.num_replicas_in_sync == REPLICAS

    def build() -> Any:
        keras.utils.set_random_seed(1)
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input((4,)),
                layers.Dense(3, activation="tanh"),
                layers.Dense(2, activation="softmax"),
            ]
        )

    rng = np.random.default_rng(0)
    x = rng.random((SAMPLES, 4), dtype=np.float32)
    y = keras.utils.to_categorical(rng.integers(0, 2, SAMPLES), 2)
    loss_fn = keras.losses.CategoricalCrossentropy()

    def gradients(model: Any, xb: Any, yb: Any, scale: float = 1.0) -> list[Any]:
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, model(xb)) * scale
        return [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]

    # 1. Tracked outside the strategy's scope, SGD, a capture every step.
    with strategy.scope():
        model = build()
        model.compile(
            optimizer=keras.optimizers.SGD(LEARNING_RATE),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
    initial = [v.numpy() for v in model.trainable_variables]
    with mb.Tracker(store) as tracker:
        run = tracker.track(model, gradients_every=1)
        history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
        run.finish()

    replay = build()
    for variable, value in zip(replay.trainable_variables, initial, strict=True):
        variable.assign(value)
    by_step, per_replica_step0 = [], []
    for step in range(STEPS):
        batch = slice(step % (SAMPLES // BATCH) * BATCH, step % (SAMPLES // BATCH) * BATCH + BATCH)
        if step == 0:  # what one replica's apply receives: its half, loss divided by replicas
            half = BATCH // REPLICAS
            for r in range(REPLICAS):
                part = slice(r * half, (r + 1) * half)
                local = gradients(replay, x[part], y[part], 1 / REPLICAS)
                per_replica_step0.append([_norm([g]) for g in local])
        grads = gradients(replay, x[batch], y[batch])
        by_step.append({"norms": [_norm([g]) for g in grads], "global": _norm(grads)})
        for variable, grad in zip(replay.trainable_variables, grads, strict=True):
            variable.assign_sub(LEARNING_RATE * grad)
    replay_gap = max(
        float(np.abs(a.numpy() - b.numpy()).max())
        for a, b in zip(model.trainable_variables, replay.trainable_variables, strict=True)
    )

    # 2. Tracked inside the scope, SGD with clipnorm (Keras clips each replica's gradient
    #    before the all-reduce), one step.
    with strategy.scope():
        clipped = build()
        clipped.compile(
            optimizer=keras.optimizers.SGD(LEARNING_RATE, clipnorm=CLIPNORM),
            loss="categorical_crossentropy",
        )
        before = [v.numpy() for v in clipped.trainable_variables]
        with mb.Tracker(clipped_store) as tracker:
            clipped_run = tracker.track(clipped, gradients_every=1)
            clipped.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, epochs=1, verbose=0)
            clipped_run.finish()
    after = [v.numpy() for v in clipped.trainable_variables]

    result = {
        "run_id": run.id,
        "paths": [v.path for v in model.trainable_variables],
        "count_params": int(model.count_params()),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "steps": by_step,
        "per_replica_step0": per_replica_step0,
        "replay_gap": replay_gap,
        "clipped_run_id": clipped_run.id,
        "clipped_produced": _norm(gradients(build_like(build, before), x[:BATCH], y[:BATCH])),
        "clipped_applied": _norm(
            [(b - a) / LEARNING_RATE for b, a in zip(before, after, strict=True)]
        ),
    }
    Path(out).write_text(json.dumps(result))


def build_like(build: Any, weights: list[Any]) -> Any:  # pragma: no cover - subprocess
    """A new model from ``build`` with ``weights``, outside any strategy."""
    model = build()
    for variable, value in zip(model.trainable_variables, weights, strict=True):
        variable.assign(value)
    return model


# -- the test -------------------------------------------------------------------------------------


def _run_script(store: str, clipped_store: Path, out: Path) -> dict[str, Any]:
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "MODELBOARD_SILENT": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    done = subprocess.run(
        [sys.executable, __file__, store, str(clipped_store), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(out.read_text()))


def test_mirrored_strategy_is_one_run_with_the_global_batch_gradients(
    any_store: str, tmp_path: Path
) -> None:
    expected = _run_script(any_store, tmp_path / "clipped", tmp_path / "result.json")
    # The hand replay is the computation Keras made: it ends at the trained weights.
    assert expected["replay_gap"] < 1e-5

    with mb.Tracker(any_store, plugin_manager=mb.create_plugin_manager()) as tracker:
        runs = tracker.runs()
        assert [r.id for r in runs] == [expected["run_id"]]
        stored = tracker.get(expected["run_id"])
        assert stored.status == "finished"

        network = stored.network
        assert network.total_params == expected["count_params"]
        assert network.distribution is not None
        assert network.distribution["strategy"] == "MirroredStrategy"
        assert network.distribution["replicas"] == REPLICAS
        assert len(network.distribution["devices"]) == REPLICAS
        assert network.epochs_run == EPOCHS and network.batch_size == BATCH

        metrics = stored.training.metrics
        for name in ("loss", "accuracy"):
            assert metrics[name].values == pytest.approx(expected["history"][name], rel=1e-6)

        captures = sorted(
            (g for g in stored.gradients if g.source == "training"), key=lambda g: g.step
        )
        assert [g.step for g in captures] == list(range(STEPS))  # once per step, not per replica
        for capture, step in zip(captures, expected["steps"], strict=True):
            assert [p.name for p in capture.parameters] == expected["paths"]
            assert [p.l2_norm for p in capture.parameters] == pytest.approx(step["norms"], rel=1e-4)
            assert capture.global_norm == pytest.approx(step["global"], rel=1e-4)
            assert capture.applied_global_norm is None  # no clipping: applied = produced
        # What one replica's apply received differs: the capture is not of one replica.
        first = [p.l2_norm for p in captures[0].parameters]
        for norms in expected["per_replica_step0"]:
            assert first != pytest.approx(norms, rel=0.05)

    _check_clipped_run(tmp_path / "clipped", expected)


def _check_clipped_run(store: Path, expected: dict[str, Any]) -> None:
    """The clipped model, tracked inside the strategy's scope: the applied norm is Keras's."""
    with mb.Tracker(store, plugin_manager=mb.create_plugin_manager()) as tracker:
        stored = tracker.get(expected["clipped_run_id"])
        assert stored.network.distribution["replicas"] == REPLICAS
        (capture,) = [g for g in stored.gradients if g.source == "training"]
        assert capture.step == 0
        assert capture.global_norm == pytest.approx(expected["clipped_produced"], rel=1e-4)
        # Keras clips each replica's gradient, then sums: |W1 - W0| / lr is what it applied.
        assert capture.applied_global_norm == pytest.approx(expected["clipped_applied"], rel=1e-3)
        assert capture.applied_global_norm < capture.global_norm


if __name__ == "__main__":  # pragma: no cover - the subprocess
    _train(*sys.argv[1:4])
