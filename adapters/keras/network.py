"""Describe a Keras 3 model as a ``NetworkRecord``: layers, parameters, optimizer, loss, config.

Only called with a Keras model in hand, so importing ``keras`` here imports nothing new.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from modelboard.canonical import (
    architecture_signature,
    as_int_list,
    canonical_activation,
    canonical_type,
    fold_activations,
)
from modelboard.records import LayerRecord, NetworkRecord, OptimizerRecord

__all__ = [
    "describe_network",
    "describe_layers",
    "describe_optimizer",
    "describe_compile",
    "serialise_model",
    "current_learning_rate",
    "is_built",
]


def _size(variable: Any) -> int:
    return int(np.prod(tuple(variable.shape), dtype=np.int64))


def _param_counts(layer: Any) -> tuple[int, int]:
    trainable = sum(_size(v) for v in layer.trainable_weights)
    frozen = sum(_size(v) for v in layer.non_trainable_weights)
    return int(trainable), int(frozen)


def is_built(model: Any) -> bool:
    """True when every weight of the model exists (``count_params`` works)."""
    if not getattr(model, "built", False):
        return False
    try:
        model.count_params()
    except ValueError:
        return False
    return True


def _children(layer: Any) -> list[Any] | None:
    """The sub-layers of a container (a model, or a user's layer made of layers), else None."""
    import keras

    if isinstance(layer, keras.Model):
        return list(layer.layers)
    if type(layer).__module__.startswith("keras."):
        return None
    subs = layer._flatten_layers(include_self=False, recursive=False)
    return list(subs) or None


def _shape_tree(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_shape_tree(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _shape_tree(v) for k, v in value.items()}
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    return [None if d is None else int(d) for d in shape]


def _output_shape(layer: Any) -> list[Any] | None:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    shape = _shape_tree(output)
    return shape if isinstance(shape, list) else None


def _layer_config(layer: Any) -> dict[str, Any]:
    try:
        config = layer.get_config()
    except NotImplementedError as exc:
        return {"error": f"get_config() not implemented: {exc}"}
    return dict(config) if isinstance(config, dict) else {"value": config}


def _activation_name(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("config", {}).get("name") or value.get("class_name")
    if callable(value):
        value = getattr(value, "__name__", None)
    return canonical_activation(value) if value is not None else None


def _dims(class_name: str) -> int:
    found = re.search(r"(\d)D", class_name)
    return int(found.group(1)) if found else 2


def _activation_layer_name(layer: Any, config: dict[str, Any]) -> str | None:
    cls = type(layer).__name__
    if cls == "Activation":
        return _activation_name(config.get("activation"))
    if cls == "ReLU":
        if config.get("max_value") == 6 and not config.get("negative_slope"):
            return "relu6"
        if config.get("negative_slope"):
            return "leaky_relu"
    return canonical_activation(cls)


def _canonical_config(layer: Any, ctype: str, config: dict[str, Any]) -> dict[str, Any]:
    """The key hyperparameters under the names of ``modelboard.canonical``."""
    cls = type(layer).__name__
    dims = _dims(cls)
    if ctype.startswith(("conv", "depthwise_conv", "separable_conv")):
        out = {
            "filters": config.get("filters"),
            "kernel_size": as_int_list(config.get("kernel_size"), dims),
            "strides": as_int_list(config.get("strides"), dims),
            "padding": config.get("padding"),
            "dilation": as_int_list(config.get("dilation_rate", 1), dims),
            "groups": config.get("groups", 1),
            "use_bias": config.get("use_bias"),
            "activation": _activation_name(config.get("activation")),
        }
        if "depth_multiplier" in config:
            out["depth_multiplier"] = config["depth_multiplier"]
        return out
    if ctype == "dense":
        units = config.get("units")
        if units is None and "output_shape" in config:
            units = as_int_list(config["output_shape"], 1)
        return {
            "units": units,
            "use_bias": config.get("use_bias", config.get("bias_axes") is not None),
            "activation": _activation_name(config.get("activation")),
        }
    if "pool" in ctype and not ctype.startswith(("global", "adaptive")):
        pool = as_int_list(config.get("pool_size"), dims)
        strides = config.get("strides")
        strides = pool if strides is None else as_int_list(strides, dims)
        return {"pool_size": pool, "strides": strides}
    if ctype == "dropout":
        return {"rate": config.get("rate")}
    if ctype == "batchnorm":
        mean = getattr(layer, "moving_mean", None)
        return {"features": int(mean.shape[-1]) if mean is not None else None}
    if ctype in ("lstm", "gru", "rnn"):
        return {"units": config.get("units"), "layers": 1, "bidirectional": False}
    if ctype == "embedding":
        return {"input_dim": config.get("input_dim"), "output_dim": config.get("output_dim")}
    if ctype == "activation":
        return {"activation": _activation_layer_name(layer, config)}
    return {}


def _bidirectional(layer: Any) -> tuple[str, dict[str, Any]] | None:
    forward = getattr(layer, "forward_layer", None)
    if type(layer).__name__ != "Bidirectional" or forward is None:
        return None
    ctype = canonical_type(type(forward).__name__)
    config = _canonical_config(forward, ctype, _layer_config(forward))
    config["bidirectional"] = True
    return ctype, config


def describe_layers(model: Any) -> list[LayerRecord]:
    """Every layer, depth first, nested models expanded; containers carry their subtree's params."""
    records: list[LayerRecord] = []

    def visit(layer: Any, prefix: str, depth: int) -> None:
        path = f"{prefix}{layer.name}"
        config = _layer_config(layer)
        trainable, frozen = _param_counts(layer)
        children = _children(layer)
        special = _bidirectional(layer)
        if special is not None:
            ctype, cconfig = special
        else:
            ctype = canonical_type(type(layer).__name__)
            cconfig = _canonical_config(layer, ctype, config)
        records.append(
            LayerRecord(
                path=path,
                type=f"{type(layer).__module__}.{type(layer).__qualname__}",
                canonical_type="model" if children is not None else ctype,
                config=config,
                canonical_config=cconfig if children is None else {},
                output_shape=_output_shape(layer),
                trainable_params=trainable,
                non_trainable_params=frozen,
                depth=depth,
                is_container=children is not None,
            )
        )
        for child in children or []:
            visit(child, f"{path}/", depth + 1)

    for layer in model.layers:
        visit(layer, "", 0)
    return records


def current_learning_rate(optimizer: Any) -> float | None:
    """The optimizer's learning rate now (a schedule evaluated at the current step)."""
    try:
        value = optimizer.learning_rate
    except (AttributeError, ValueError, TypeError):
        return None
    try:
        return float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))
    except (TypeError, ValueError):
        try:
            import keras

            return float(keras.ops.convert_to_numpy(value))
        except Exception:  # a schedule that cannot be evaluated outside training
            return None


def describe_optimizer(optimizer: Any) -> OptimizerRecord:
    """Class, current learning rate, full config, and the schedule's config if it has one."""
    inner = getattr(optimizer, "inner_optimizer", None)
    named = inner if inner is not None else optimizer
    config = dict(optimizer.get_config())
    lr_config = named.get_config().get("learning_rate")
    return OptimizerRecord(
        name=type(named).__name__.lower(),
        learning_rate=current_learning_rate(optimizer),
        config={"class_name": type(optimizer).__name__, **config},
        scheduler=lr_config if isinstance(lr_config, dict) else None,
    )


def _loss_name(loss: Any) -> Any:
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, dict):
        return {str(k): _loss_name(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return [_loss_name(v) for v in loss]
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None)
    return str(name) if name else type(loss).__name__


def _metric_names(metrics: Any) -> list[str]:
    if metrics is None:
        return []
    if isinstance(metrics, str):
        return [metrics]
    if isinstance(metrics, dict):
        if "class_name" in metrics and "config" in metrics:
            return [str(metrics["config"].get("name") or metrics["class_name"])]
        return [n for v in metrics.values() for n in _metric_names(v)]
    if isinstance(metrics, (list, tuple)):
        return [n for v in metrics for n in _metric_names(v)]
    name = getattr(metrics, "name", None) or getattr(metrics, "__name__", None)
    return [str(name or type(metrics).__name__)]


def describe_compile(model: Any, reproduce: dict[str, Any] | None = None) -> dict[str, Any]:
    """``optimizer``, ``loss``, ``metrics`` of a compiled model, and ``reproduce`` (the given
    dict) with the full serialised ``compile_config`` (loss and metric objects included)."""
    if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
        return {}
    compile_config = model.get_compile_config() or {}
    metrics = _metric_names(compile_config.get("metrics"))
    metrics += _metric_names(compile_config.get("weighted_metrics"))
    return {
        "optimizer": describe_optimizer(model.optimizer),
        "loss": _loss_name(getattr(model, "loss", None)),
        "metrics": metrics,
        "reproduce": {**(reproduce or {}), "compile_config": compile_config},
    }


def serialise_model(model: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The model's full serialised config (no compile config) and what else reproduce needs."""
    import keras

    info: dict[str, Any] = {
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
    }
    try:
        config = dict(keras.saving.serialize_keras_object(model))
    except Exception as exc:  # a user's model without get_config: recorded, not fatal
        info["error"] = f"{type(exc).__name__}: {exc}"
        return None, info
    config.pop("compile_config", None)
    return config, info


def _io_shapes(model: Any, attribute: str) -> list[Any] | None:
    try:
        tensors = getattr(model, attribute)
    except (AttributeError, ValueError):
        return None
    if not tensors:
        return None
    shapes = _shape_tree(list(tensors))
    return shapes[0] if len(shapes) == 1 else shapes


def describe_network(model: Any, options: dict[str, Any]) -> NetworkRecord:
    """The ``NetworkRecord`` of a Keras model, compiled or not, built or not."""
    layers = describe_layers(model)
    fold_activations(layers)
    built = is_built(model)
    weights = list(model.weights) if built else []
    trainable = sum(_size(v) for v in model.trainable_weights) if built else 0
    total = int(model.count_params()) if built else 0
    size_bytes = sum(_size(v) * np.dtype(str(v.dtype)).itemsize for v in weights)
    model_config, reproduce = serialise_model(model)
    reproduce["built"] = built
    compiled = describe_compile(model, reproduce)
    return NetworkRecord(
        framework="keras",
        architecture=str(options.get("architecture") or model.name),
        layers=layers,
        total_params=total,
        trainable_params=int(trainable),
        non_trainable_params=total - int(trainable),
        size_bytes=int(size_bytes),
        signature=architecture_signature(layers),
        input_shape=_io_shapes(model, "inputs"),
        output_shape=_io_shapes(model, "outputs"),
        optimizer=compiled.get("optimizer"),
        loss=compiled.get("loss"),
        metrics=compiled.get("metrics", []),
        model_config=model_config,
        reproduce=compiled.get("reproduce", reproduce),
    )
