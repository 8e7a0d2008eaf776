"""The network record of Sequential, functional, subclassed and nested models (acceptance 3)."""

from __future__ import annotations

import json
from typing import Any

import keras
import numpy as np
import pytest

import modelboard as mb

L = keras.layers


def _keras_layer_count(model: Any) -> int:
    """Layers as Keras lists them, nested models expanded (the model itself not counted)."""
    total = 0
    for layer in model.layers:
        total += 1
        if isinstance(layer, keras.Model):
            total += _keras_layer_count(layer)
    return total


def _leaf_params(network: Any) -> tuple[int, int]:
    leaves = [layer for layer in network.layers if not layer.is_container]
    return (
        sum(layer.trainable_params for layer in leaves),
        sum(layer.non_trainable_params for layer in leaves),
    )


def _plain(value: Any) -> Any:
    """A config as JSON gives it back (tuples become lists)."""
    return json.loads(json.dumps(value))


def _keras_params(variables: Any) -> int:
    return int(sum(np.prod(v.shape) for v in variables))


def _check_totals(network: Any, model: Any) -> None:
    assert network.total_params == model.count_params()
    assert network.trainable_params == _keras_params(model.trainable_weights)
    assert network.non_trainable_params == _keras_params(model.non_trainable_weights)
    assert _leaf_params(network) == (network.trainable_params, network.non_trainable_params)
    assert len(network.layers) == _keras_layer_count(model)


@keras.saving.register_keras_serializable(package="modelboard_tests")
class TwoBranch(keras.Model):
    """A subclassed model: two dense branches added."""

    def __init__(self, units: int = 6, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.left = L.Dense(units, activation="relu")
        self.right = L.Dense(units, activation="tanh")
        self.head = L.Dense(3, activation="softmax")

    def call(self, x: Any) -> Any:
        return self.head(self.left(x) + self.right(x))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


def test_basic_cnn_layers_canonical_types_and_totals(tracker: Any, basic_cnn: Any) -> None:
    model = basic_cnn()
    run = tracker.track(model)
    run.finish()
    network = tracker.get(run.id).network
    _check_totals(network, model)
    assert network.framework == "keras" and network.architecture == "basic_cnn"
    assert run.name == "basic_cnn"
    assert [layer.canonical_type for layer in network.layers] == [
        "conv2d",
        "maxpool2d",
        "conv2d",
        "maxpool2d",
        "conv2d",
        "maxpool2d",
        "flatten",
        "dense",
        "dropout",
        "dense",
    ]
    conv = network.layers[0]
    assert conv.path == "conv2d" and conv.type == "Conv2D" and conv.depth == 0
    assert conv.module == "keras.src.layers.convolutional.conv2d"
    assert conv.canonical_config == {
        "filters": 32,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "same",
        "dilation": [1, 1],
        "groups": 1,
        "use_bias": True,
        "activation": "relu",
    }
    assert conv.config == _plain(model.layers[0].get_config())
    assert conv.output_shape == [None, 8, 8, 32]
    assert conv.trainable_params == 3 * 3 * 1 * 32 + 32
    assert network.layers[1].canonical_config == {"pool_size": [2, 2], "strides": [2, 2]}
    assert network.layers[8].canonical_config == {"rate": 0.3}
    assert network.layers[9].canonical_config == {
        "units": 10,
        "use_bias": True,
        "activation": "softmax",
    }
    assert network.input_shape == [None, 8, 8, 1] and network.output_shape == [None, 10]
    assert network.size_bytes == 4 * model.count_params()
    assert network.optimizer is None and network.loss is None


def test_functional_two_input_model(tracker: Any) -> None:
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = L.Conv2D(4, 3, activation="relu")(image)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Concatenate()([x, L.Dense(5)(meta)])
    x = L.BatchNormalization()(x)
    out = L.Dense(2, activation="softmax")(x)
    model = keras.Model([image, meta], out, name="two_input")
    run = tracker.track(model)
    run.finish()
    network = tracker.get(run.id).network
    _check_totals(network, model)
    assert network.non_trainable_params == 2 * 9  # moving mean and variance
    types = [layer.canonical_type for layer in network.layers]
    assert types.count("input") == 2 and "concatenate" in types
    assert network.input_shape == [[None, 8, 8, 1], [None, 3]]
    norm = next(layer for layer in network.layers if layer.canonical_type == "batchnorm")
    assert norm.canonical_config == {"features": 9}


def test_subclassed_model_is_described_again_once_fit_builds_it(tracker: Any) -> None:
    model = TwoBranch(name="two_branch")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    run = tracker.track(model)
    assert run.network.total_params == 0 and run.network.reproduce["built"] is False
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(32) % 3]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    run.finish()
    network = tracker.get(run.id).network
    _check_totals(network, model)
    assert network.total_params == 2 * (4 * 6 + 6) + 6 * 3 + 3
    assert [layer.path for layer in network.layers] == ["dense", "dense_1", "dense_2"]
    assert network.epochs_run == 1 and network.optimizer.name == "adam"
    rebuilt = mb.reproduce(run.id, tracker=tracker)
    assert type(rebuilt) is TwoBranch and rebuilt.units == 6


def test_nested_mobilenet_backbone(tracker: Any) -> None:
    backbone = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=5)
    inputs = keras.Input((32, 32, 3))
    outputs = L.Dense(2, activation="softmax")(backbone(inputs))
    model = keras.Model(inputs, outputs, name="mobilenet_head")
    run = tracker.track(model)
    run.finish()
    network = tracker.get(run.id).network
    _check_totals(network, model)
    container = next(layer for layer in network.layers if layer.is_container)
    assert container.path == backbone.name and container.canonical_type == "model"
    assert container.trainable_params + container.non_trainable_params == backbone.count_params()
    inside = [layer for layer in network.layers if layer.path.startswith(backbone.name + "/")]
    assert len(inside) == len(backbone.layers)
    assert all(layer.depth == 1 for layer in inside)
    types = {layer.canonical_type for layer in inside}
    assert {"conv2d", "depthwise_conv2d", "batchnorm", "activation", "add"} <= types
    relu6 = next(layer for layer in inside if layer.path.endswith("Conv1_relu"))
    assert relu6.canonical_config["activation"] == "relu6"


def test_signature_equal_for_same_architecture_different_weights(
    tracker: Any, basic_cnn: Any
) -> None:
    first, second = basic_cnn(), basic_cnn(name="other_name")
    second.set_weights([w + 1.0 for w in first.get_weights()])
    run_a, run_b = tracker.track(first), tracker.track(second)
    different = basic_cnn(num_classes=5)
    run_c = tracker.track(different)
    for run in (run_a, run_b, run_c):
        run.finish()
    assert run_a.network.signature == run_b.network.signature
    assert run_a.network.signature != run_c.network.signature


def test_compile_after_track_fills_optimizer_loss_and_metrics(tracker: Any, basic_cnn: Any) -> None:
    model = basic_cnn()
    run = tracker.track(model)
    assert run.network.optimizer is None
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=10, decay_rate=0.5)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=0.9),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
        metrics=["accuracy", keras.metrics.AUC(name="auc")],
    )
    run.finish()
    network = tracker.get(run.id).network
    assert network.optimizer.name == "sgd"
    assert network.optimizer.learning_rate == pytest.approx(0.01)
    assert network.optimizer.config["momentum"] == pytest.approx(0.9)
    scheduler = network.optimizer.scheduler
    assert scheduler["name"] == "ExponentialDecay" and scheduler["kind"] == "schedule"
    assert scheduler["config"]["decay_rate"] == pytest.approx(0.5)
    assert network.loss == "categorical_crossentropy"
    loss_config = network.reproduce["compile_config"]["loss"]["config"]
    assert loss_config["label_smoothing"] == 0.1
    assert network.metrics == ["accuracy", "auc"]


def test_reproduce_rebuilds_an_uncompiled_model_with_the_same_config(
    tracker: Any, basic_cnn: Any
) -> None:
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    run = tracker.track(model)
    run.finish()
    rebuilt = mb.reproduce(run.id, tracker=tracker)
    assert rebuilt is not model and isinstance(rebuilt, keras.Sequential)
    assert _plain(rebuilt.get_config()) == _plain(model.get_config())
    assert rebuilt.count_params() == model.count_params()
    assert rebuilt.compiled is False and getattr(rebuilt, "optimizer", None) is None
    assert "compile_config" not in tracker.get(run.id).network.model_config
