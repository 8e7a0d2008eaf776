"""Describe a Keras 3 model as a ``NetworkRecord``: layers, parameters, optimizer, loss, config.

Only called with a Keras model in hand, so importing ``keras`` here imports nothing new.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelboard.adapters.keras.distribute import describe_strategy
from modelboard.adapters.keras.gradients import applying_optimizer
from modelboard.canonical import (
    architecture_signature,
    as_int_list,
    canonical_activation,
    canonical_type,
    fold_activations,
)
from modelboard.optimizer_names import canonical_optimizer
from modelboard.records import LayerRecord, NetworkRecord, OptimizerRecord

__all__ = [
    "describe_network",
    "describe_layers",
    "describe_optimizer",
    "describe_optimizers",
    "describe_scheduler",
    "find_optimizers",
    "optimizer_candidates",
    "optimizer_unknown_reason",
    "OptimizerHistory",
    "initial_learning_rate",
    "last_learning_rate",
    "iterations",
    "is_learning_rate_callback",
    "unbuilt_reason",
    "warn_unknown",
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


def unbuilt_reason(model: Any) -> str | None:
    """Why the model's weights cannot be counted yet, or None when every weight exists.

    A built model counts. A model Keras calls unbuilt still counts when every layer inside it
    is built and no class of the user's defines ``build`` (a GAN made of built sub-models):
    its weights are then those of its layers.
    """
    if is_built(model):
        return None
    layers = list(model._flatten_layers(include_self=False, recursive=True))
    if not layers:
        return "the model is not built and holds no layers yet"
    if _defines_own(model, "build"):
        return "the model is not built and its own build() may create weights"
    waiting = [layer.name for layer in layers if not layer.built]
    if waiting:
        return f"the model is not built: layers {', '.join(waiting[:5])} have no weights yet"
    return None


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside modelboard, pluggy and keras."""
    import sys

    frame: Any = sys._getframe(1)
    level = 1
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(("modelboard", "pluggy", "keras", "tensorflow")):
            return level
        frame, level = frame.f_back, level + 1
    return 1


def warn_unknown(network: NetworkRecord, fields: dict[str, str]) -> None:
    """Record each unknown field's reason in ``network.unknown`` and warn about it (at the
    user's line: ``track()`` or ``fit()``)."""
    for name, reason in fields.items():
        network.unknown[name] = reason
        warnings.warn(
            f"modelboard: {name} of {network.architecture!r} is unknown ({reason}); it stays "
            "empty until it can be known",
            RuntimeWarning,
            stacklevel=_user_stacklevel(),
        )


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
                type=type(layer).__name__,
                module=type(layer).__module__,
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


def _number(value: Any) -> float | None:
    try:
        return float(np.asarray(value.numpy() if hasattr(value, "numpy") else value))
    except (TypeError, ValueError):
        try:
            import keras

            return float(keras.ops.convert_to_numpy(value))
        except Exception:  # a value that cannot be evaluated outside training
            return None


def current_learning_rate(optimizer: Any) -> float | None:
    """The optimizer's learning rate now (a schedule evaluated at the current step)."""
    try:
        value = optimizer.learning_rate
    except (AttributeError, ValueError, TypeError):
        return None
    return _number(value)


def _schedule(optimizer: Any) -> Any:
    """The optimizer's ``LearningRateSchedule`` object, or None (a fixed or callback-set rate)."""
    import keras

    rate = getattr(optimizer, "_learning_rate", None)
    schedules = keras.optimizers.schedules.LearningRateSchedule
    return rate if isinstance(rate, schedules) else None


def iterations(optimizer: Any) -> int:
    """How many steps the optimizer has applied (0 when it cannot tell)."""
    try:
        return int(np.asarray(optimizer.iterations.numpy()))
    except (AttributeError, TypeError, ValueError):
        return 0


def initial_learning_rate(optimizer: Any) -> float | None:
    """The configured initial learning rate: a schedule at step 0, else the rate now (the
    training handle keeps the value it first saw, before callbacks change it)."""
    schedule = _schedule(optimizer)
    if schedule is not None:
        return _number(schedule(0))
    return current_learning_rate(optimizer)


def last_learning_rate(optimizer: Any) -> float | None:
    """The learning rate of the optimizer's last step (None before its first step)."""
    steps = iterations(optimizer)
    if steps <= 0:
        return None
    schedule = _schedule(optimizer)
    if schedule is not None:
        return _number(schedule(steps - 1))
    return current_learning_rate(optimizer)


def describe_scheduler(scheduler: Any) -> dict[str, Any] | None:
    """A schedule object or a learning-rate callback as ``{"name", "kind", "config"}``."""
    import keras

    if scheduler is None:
        return None
    name = type(scheduler).__name__
    if isinstance(scheduler, keras.optimizers.schedules.LearningRateSchedule):
        try:
            config = dict(scheduler.get_config())
        except NotImplementedError as exc:
            config = {"error": f"get_config() not implemented: {exc}"}
        return {"name": name, "kind": "schedule", "config": config}
    if isinstance(scheduler, keras.callbacks.LearningRateScheduler):
        function = scheduler.schedule
        label = getattr(function, "__qualname__", None) or type(function).__name__
        module = getattr(function, "__module__", None)
        return {
            "name": name,
            "kind": "callback",
            "config": {"schedule": f"{module}.{label}" if module else label},
        }
    if isinstance(scheduler, keras.callbacks.ReduceLROnPlateau):
        fields = ("monitor", "factor", "patience", "min_delta", "cooldown", "min_lr", "mode")
        config = {f: getattr(scheduler, f, None) for f in fields}
        config["min_delta"] = abs(float(config["min_delta"] or 0.0))
        return {"name": name, "kind": "callback", "config": config}
    return {"name": name, "kind": "callback", "config": {}}


def is_learning_rate_callback(callback: Any) -> bool:
    """True for the Keras callbacks that change ``model.optimizer``'s learning rate."""
    import keras

    return isinstance(
        callback, (keras.callbacks.LearningRateScheduler, keras.callbacks.ReduceLROnPlateau)
    )


def _defines_own(model: Any, method: str) -> bool:
    """True when a class of the user's (not of Keras) defines ``method`` for ``model``."""
    for cls in type(model).__mro__:
        if method in vars(cls):
            return not (cls.__module__ == "keras" or cls.__module__.startswith("keras."))
    return False


def optimizer_candidates(model: Any) -> list[tuple[str, Any]]:
    """``(key, optimizer)`` of the compiled ``model.optimizer`` (key ``optimizer``) and of every
    other Keras optimizer among the model's attributes (key: the attribute name)."""
    import keras

    compiled = getattr(model, "compiled", False)
    standard = getattr(model, "optimizer", None) if compiled else None
    found = [("optimizer", standard)] if standard is not None else []
    seen = {id(standard)}
    for name, value in vars(model).items():
        if isinstance(value, keras.optimizers.Optimizer) and id(value) not in seen:
            seen.add(id(value))
            found.append((str(name), value))
    return found


def find_optimizers(model: Any, trained: bool = False) -> list[tuple[str, Any]]:
    """``(key, optimizer)`` of every optimizer the model trains with.

    Of the :func:`optimizer_candidates`, once any has stepped, the ones that stepped are the
    answer; after training (``trained``) with none stepped, there is none to name. Before, the
    standard optimizer counts when the model's train step is Keras's own or no other optimizer
    is there: a custom ``compile`` that calls ``super().compile()`` leaves an ``rmsprop`` that
    its custom ``train_step`` never uses.
    """
    candidates = optimizer_candidates(model)
    stepped = [(key, o) for key, o in candidates if iterations(o) > 0]
    if stepped or trained:
        return stepped
    others = [(key, o) for key, o in candidates if key != "optimizer"]
    if others and len(others) < len(candidates) and _defines_own(model, "train_step"):
        return others
    return candidates


def optimizer_unknown_reason(model: Any, trained: bool = False) -> str:
    """Why no optimizer of ``model`` can be found."""
    if trained and optimizer_candidates(model):
        return (
            "training ran but neither model.optimizer nor any Keras optimizer among the "
            "model's attributes stepped (the train step uses an optimizer kept elsewhere)"
        )
    if not getattr(model, "compiled", False):
        return "the model is not compiled and keeps no Keras optimizer as an attribute"
    return "model.optimizer is None and no Keras optimizer is among the model's attributes"


@dataclass
class OptimizerHistory:
    """What the training handle saw of the optimizers: the learning rate each had when first
    seen (its configured initial value), the rate each applied in the last epoch, and the
    learning-rate callbacks of the last ``fit`` (they act on ``model.optimizer``); ``trained``
    once a ``fit`` ran a batch."""

    initial: dict[int, float | None] = field(default_factory=dict)
    last: dict[int, float | None] = field(default_factory=dict)
    callbacks: list[Any] = field(default_factory=list)
    scheduler: Any = None
    trained: bool = False

    def see(self, optimizers: list[tuple[str, Any]]) -> None:
        """Note the initial learning rate of optimizers not seen before."""
        for _, optimizer in optimizers:
            named = applying_optimizer(optimizer)
            if id(named) not in self.initial:
                self.initial[id(named)] = initial_learning_rate(named)


def describe_optimizer(
    optimizer: Any,
    key: str = "optimizer",
    history: OptimizerHistory | None = None,
    scheduler: Any = None,
) -> OptimizerRecord:
    """Canonical name, class, initial and last learning rates, config and scheduler.

    A ``LossScaleOptimizer`` (mixed precision) is recorded by its inner optimizer's name and
    class; ``config["wrapper"]`` names the wrapper. ``scheduler`` is a learning-rate callback
    acting on this optimizer; without one, the optimizer's schedule object is its scheduler.
    """
    named = applying_optimizer(optimizer)
    config: dict[str, Any] = {"class_name": type(optimizer).__name__, **optimizer.get_config()}
    if named is not optimizer:
        config["wrapper"] = type(optimizer).__name__
    initial = initial_learning_rate(named)
    last = last_learning_rate(named)
    if history is not None:
        initial = history.initial.get(id(named), initial)
        if _schedule(named) is None and iterations(named) > 0:
            last = history.last.get(id(named), last)
    return OptimizerRecord(
        name=canonical_optimizer(type(named).__name__),
        class_name=type(named).__name__,
        key=key,
        learning_rate=initial,
        learning_rate_last=last,
        config=config,
        scheduler=describe_scheduler(scheduler if scheduler is not None else _schedule(named)),
    )


def describe_optimizers(
    model: Any, history: OptimizerHistory | None = None
) -> list[OptimizerRecord]:
    """The records of :func:`find_optimizers`; learning-rate callbacks (and a ``scheduler=``
    option) go to the standard optimizer, on which Keras's callbacks act."""
    found = find_optimizers(model, history.trained if history is not None else False)
    records = []
    for key, optimizer in found:
        scheduler = None
        if history is not None and (key == "optimizer" or len(found) == 1):
            given = [*history.callbacks, history.scheduler]
            scheduler = next((s for s in given if s is not None), None)
        records.append(describe_optimizer(optimizer, key, history, scheduler))
    return records


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


def describe_compile(
    model: Any,
    reproduce: dict[str, Any] | None = None,
    history: OptimizerHistory | None = None,
) -> dict[str, Any]:
    """``optimizer``/``optimizers``, ``loss``, ``metrics`` of a compiled model, and
    ``reproduce`` (the given dict) with the full serialised ``compile_config`` (loss and metric
    objects included). An uncompiled model gives only the optimizers kept as attributes."""
    optimizers = describe_optimizers(model, history)
    if not getattr(model, "compiled", False):
        if not optimizers:
            return {}
        return {"optimizer": optimizers[0], "optimizers": optimizers}
    compile_config = model.get_compile_config() or {}
    metrics = _metric_names(compile_config.get("metrics"))
    metrics += _metric_names(compile_config.get("weighted_metrics"))
    return {
        "optimizer": optimizers[0] if optimizers else None,
        "optimizers": optimizers,
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


def describe_network(
    model: Any, options: dict[str, Any], history: OptimizerHistory | None = None
) -> NetworkRecord:
    """The ``NetworkRecord`` of a Keras model, compiled or not, built or not.

    Parameters of a model whose weights do not all exist yet are not counted: they are in
    ``unknown`` with the reason (and a warning), and the training handle fills them in once
    ``fit`` builds the model. ``options["scheduler"]`` (a schedule or learning-rate callback)
    is recorded as the standard optimizer's scheduler.
    """
    if history is None and options.get("scheduler") is not None:
        history = OptimizerHistory(scheduler=options["scheduler"])
    layers = describe_layers(model)
    fold_activations(layers)
    built = is_built(model)
    unbuilt = unbuilt_reason(model)
    weights = list({id(v): v for v in model.weights}.values()) if unbuilt is None else []
    trainable_weights = {id(v): v for v in model.trainable_weights}.values()
    trainable = sum(_size(v) for v in trainable_weights) if unbuilt is None else 0
    total = sum(_size(v) for v in weights)
    size_bytes = sum(_size(v) * np.dtype(str(v.dtype)).itemsize for v in weights)
    model_config, reproduce = serialise_model(model)
    reproduce["built"] = built
    compiled = describe_compile(model, reproduce, history)
    network = NetworkRecord(
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
        optimizers=compiled.get("optimizers", []),
        loss=compiled.get("loss"),
        metrics=compiled.get("metrics", []),
        model_config=model_config,
        reproduce=compiled.get("reproduce", reproduce),
        distribution=describe_strategy(model),
    )
    if network.optimizer is None:
        network.unknown["optimizer"] = optimizer_unknown_reason(model)  # warned at fit
    if unbuilt is not None:
        fields = ("total_params", "trainable_params", "non_trainable_params", "size_bytes")
        reason = f"{unbuilt}; filled in once it is built (by fit or model.build)"
        warn_unknown(network, {"total_params": reason})
        for name in (*fields[1:], "layers"):
            network.unknown[name] = reason
    return network
