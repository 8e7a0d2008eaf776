"""The Keras basic_cnn, built for real, has the layer list the torch twin is compared against.

Slow-ish (imports TensorFlow, about 8 s); skipped where Keras is not installed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import torch

import modelboard as mb
from modelboard.canonical import signature_layers

pytestmark = [pytest.mark.torch, pytest.mark.keras]


def _keras_basic_cnn() -> Any:
    keras = pytest.importorskip("keras")
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ]
    )


def _from_keras_itself(model: Any) -> list[dict[str, Any]]:
    """The canonical list read straight from Keras's layer configs and parameter counts."""
    out = []
    for layer in model.layers:
        config = layer.get_config()
        name = type(layer).__name__
        params = int(layer.count_params())
        if name == "Conv2D":
            entry = {
                "filters": config["filters"],
                "kernel_size": list(config["kernel_size"]),
                "strides": list(config["strides"]),
                "padding": config["padding"],
                "dilation": list(config["dilation_rate"]),
                "groups": config["groups"],
                "use_bias": config["use_bias"],
                "activation": config["activation"],
            }
            out.append({"type": "conv2d", "config": entry, "params": params})
        elif name == "MaxPooling2D":
            strides = config["strides"] or config["pool_size"]
            entry = {"pool_size": list(config["pool_size"]), "strides": list(strides)}
            out.append({"type": "maxpool2d", "config": entry, "params": params})
        elif name == "Flatten":
            out.append({"type": "flatten", "config": {}, "params": params})
        elif name == "Dense":
            entry = {
                "units": config["units"],
                "use_bias": config["use_bias"],
                "activation": config["activation"],
            }
            out.append({"type": "dense", "config": entry, "params": params})
        elif name == "Dropout":
            out.append({"type": "dropout", "config": {"rate": config["rate"]}, "params": params})
    return out


def test_torch_basic_cnn_matches_the_real_keras_twin(
    torch_tracker: mb.Tracker, models: ModuleType
) -> None:
    keras_model = _keras_basic_cnn()
    keras_list = _from_keras_itself(keras_model)
    run = torch_tracker.track(models.BasicCNN(), example_input=torch.zeros(1, 1, 8, 8))
    torch_list = signature_layers(run.network.layers)
    assert torch_list == keras_list
    assert run.network.total_params == keras_model.count_params()
    run.finish()
    # When the Keras adapter describes networks, its canonical list must be the same.
    keras_network = torch_tracker.plugins.hook.modelboard_describe_network(
        obj=keras_model, options={}
    )
    if keras_network is not None and keras_network.framework != "torch":
        assert signature_layers(keras_network.layers) == torch_list
