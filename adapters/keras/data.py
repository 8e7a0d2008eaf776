"""Describe Keras-side data: tf.data datasets, TensorFlow tensors, ``ImageDataGenerator`` and its
iterators, and Keras preprocessing/augmentation layers.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from modelboard.adapters.keras.detect import (
    is_image_data_generator,
    is_image_iterator,
    is_keras_layer,
    is_preprocessing_layer,
    is_tf_dataset,
    is_tf_tensor,
)
from modelboard.records import AugmentationRecord, SplitRecord

__all__ = [
    "describe_split",
    "describe_augmentations",
    "image_data_generator_params",
    "preprocessing_augmentations",
    "dataset_batch_size",
]

_GENERATOR_SOURCE = "keras.ImageDataGenerator"
_LAYER_SOURCE = "keras.layers"


def _array_split(name: str, x: Any, y: Any, source: str) -> SplitRecord | None:
    from modelboard.data import describe_arrays

    return describe_arrays(name, np.asarray(x), None if y is None else np.asarray(y), source)


def _batch_op(dataset: Any) -> Any:
    """The first ``batch()`` (or ``padded_batch()``...) in a dataset's chain, from the top."""
    current = dataset
    for _ in range(64):
        if current is None:
            return None
        if getattr(current, "_batch_size", None) is not None:
            return current
        current = getattr(current, "_input_dataset", None)
    return None


def _constant(value: Any) -> Any:
    try:
        return np.asarray(value).item()
    except (TypeError, ValueError):
        return None


def _batch_chain(dataset: Any) -> tuple[int | None, Any]:
    """The batch size of the first ``batch()`` in a dataset's chain and that batch's input."""
    op = _batch_op(dataset)
    if op is None:
        return None, None
    size = _constant(op._batch_size)
    return (int(size) if size is not None else None), getattr(op, "_input_dataset", None)


def dataset_batch_size(dataset: Any) -> int | None:
    """The batch size of a batched ``tf.data.Dataset``, or None when it cannot be told."""
    return _batch_chain(dataset)[0]


def _spec_parts(spec: Any) -> tuple[Any, Any]:
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        return spec[0], spec[1]
    if isinstance(spec, tuple) and len(spec) == 1:
        return spec[0], None
    return spec, None


def _spec_shape(spec: Any, size: int | None, batched: bool) -> list[int | None] | None:
    shape = getattr(spec, "shape", None)
    if shape is None:
        return None
    listed = shape.as_list() if shape.rank is not None else []
    dims = [None if d is None else int(d) for d in listed]
    if batched and dims:
        dims[0] = size
    elif not batched:
        dims = [size, *dims]
    return dims


def _spec_text(spec: Any) -> Any:
    if isinstance(spec, dict):
        return {str(k): _spec_text(v) for k, v in spec.items()}
    if isinstance(spec, (tuple, list)):
        return [_spec_text(v) for v in spec]
    shape = getattr(spec, "shape", None)
    dtype = getattr(spec, "dtype", None)
    if shape is None:
        return repr(spec)
    dims = shape.as_list() if shape.rank is not None else None
    return {"shape": dims, "dtype": getattr(dtype, "name", str(dtype)), "kind": type(spec).__name__}


def _cardinality(dataset: Any) -> int:
    return int(np.asarray(dataset.cardinality()))


_INFINITE, _UNKNOWN = -1, -2


def _expected_batches(elements: int, batch_size: int, drop_remainder: bool) -> int:
    return elements // batch_size if drop_remainder else -(-elements // batch_size)


def _dataset_sizes(dataset: Any, cardinality: int) -> dict[str, Any]:
    """``size``, ``batch_size``, ``steps_per_epoch`` and the reasons for those not known.

    ``size`` counts the elements before ``batch()``; it is known only when the batches after it
    are exactly those elements batched (no ``take``, ``skip``, ``repeat`` or ``filter`` after
    ``batch()``). An infinite pipeline has neither size nor steps, never a finite guess.
    """
    op = _batch_op(dataset)
    unknown: dict[str, str] = {}
    facts: dict[str, Any] = {"size": None, "batch_size": None, "steps_per_epoch": None}
    if cardinality == _INFINITE:
        reason = "infinite: the tf.data pipeline repeats without end (repeat() without a count)"
        unknown["size"] = unknown["steps_per_epoch"] = reason
    elif cardinality == _UNKNOWN:
        reason = (
            "unknown cardinality: tf.data cannot count this pipeline's elements (filter(), "
            "a generator...) without reading it"
        )
        unknown["size"] = unknown["steps_per_epoch"] = reason
    if op is None:
        reason = "the tf.data pipeline has no batch()"
        unknown["batch_size"] = reason
        unknown.setdefault("steps_per_epoch", reason)
        if cardinality >= 0:
            facts["size"] = cardinality
        return {**facts, "unknown": unknown}
    batch_size = _constant(op._batch_size)
    drop = bool(_constant(getattr(op, "_drop_remainder", False)))
    facts["batch_size"] = int(batch_size) if batch_size is not None else None
    if facts["batch_size"] is None:
        unknown["batch_size"] = "batch() was given a batch size that is not a constant"
    if cardinality < 0:
        return {**facts, "unknown": unknown}
    facts["steps_per_epoch"] = cardinality
    elements = _cardinality(op._input_dataset) if hasattr(op, "_input_dataset") else _UNKNOWN
    if elements < 0 or facts["batch_size"] is None:
        unknown["size"] = "tf.data cannot count the elements before batch()"
    elif _expected_batches(elements, facts["batch_size"], drop) != cardinality:
        unknown["size"] = (
            f"steps after batch() change the number of batches ({cardinality} where "
            f"{elements} elements make {_expected_batches(elements, facts['batch_size'], drop)})"
        )
    else:
        facts["size"] = elements
    return {**facts, "unknown": unknown, "drop_remainder": drop}


def _describe_dataset(name: str, dataset: Any) -> SplitRecord:
    cardinality = _cardinality(dataset)
    facts = _dataset_sizes(dataset, cardinality)
    batched = _batch_op(dataset) is not None
    size = facts["size"]
    x_spec, y_spec = _spec_parts(dataset.element_spec)
    details: dict[str, Any] = {
        "element_spec": _spec_text(dataset.element_spec),
        "cardinality": cardinality,
        "cardinality_meaning": {_INFINITE: "infinite", _UNKNOWN: "unknown"}.get(
            cardinality, "batches" if batched else "elements"
        ),
        "batch_size": facts["batch_size"],
        "dataset_type": type(dataset).__name__,
    }
    if "drop_remainder" in facts:
        details["drop_remainder"] = facts["drop_remainder"]
    return SplitRecord(
        name=name,
        source="tf.data",
        size=size,
        x_shape=_spec_shape(x_spec, size, batched),
        y_shape=_spec_shape(y_spec, size, batched) if y_spec is not None else None,
        x_dtype=getattr(getattr(x_spec, "dtype", None), "name", None),
        y_dtype=getattr(getattr(y_spec, "dtype", None), "name", None),
        details=details,
        batch_size=facts["batch_size"],
        steps_per_epoch=facts["steps_per_epoch"],
        unknown=facts["unknown"],
    )


def describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    """A ``SplitRecord`` for tf.data, TensorFlow tensors or an ``ImageDataGenerator`` iterator."""
    if is_tf_dataset(x):
        if y is not None:
            raise TypeError(f"split {name!r}: a tf.data.Dataset carries its labels; pass it alone")
        return _describe_dataset(name, x)
    if is_tf_tensor(x) and (y is None or is_tf_tensor(y) or isinstance(y, np.ndarray)):
        return _array_split(name, x, y, "tf.tensor")
    if is_image_iterator(x) and y is None:
        record = _array_split(name, x.x, getattr(x, "y", None), "keras.ImageDataGenerator.flow")
        if record is not None:
            record.details.update(
                batch_size=int(x.batch_size),
                shuffle=bool(getattr(x, "shuffle", False)),
                augmentations=image_data_generator_params(x.image_data_generator),
            )
        return record
    return None


def _callable_name(value: Any) -> Any:
    if value is None or not callable(value):
        return value
    module = getattr(value, "__module__", None)
    name = getattr(value, "__qualname__", None) or type(value).__qualname__
    return f"{module}.{name}" if module else name


def image_data_generator_params(generator: Any) -> dict[str, Any]:
    """Every constructor argument of an ``ImageDataGenerator`` as it holds it.

    ``zoom_range`` is stored by Keras as ``[1 - z, 1 + z]`` and is given back as ``z`` when
    symmetric; functions are recorded by their qualified name.
    """
    params: dict[str, Any] = {}
    for name in inspect.signature(type(generator).__init__).parameters:
        if name == "self":
            continue
        value = getattr(generator, name, getattr(generator, f"_{name}", None))
        if name == "zoom_range" and isinstance(value, (list, tuple)) and len(value) == 2:
            low, high = float(value[0]), float(value[1])
            value = round(1.0 - low, 12) if abs((1.0 - low) - (high - 1.0)) < 1e-9 else [low, high]
        elif callable(value):
            value = _callable_name(value)
        elif isinstance(value, np.generic):
            value = value.item()
        params[name] = value
    params["fitted"] = getattr(generator, "mean", None) is not None
    return params


def _layer_record(layer: Any) -> AugmentationRecord:
    config = layer.get_config()
    return AugmentationRecord(source=_LAYER_SOURCE, type=type(layer).__name__, params=dict(config))


def preprocessing_augmentations(model: Any) -> list[AugmentationRecord]:
    """One record per preprocessing/augmentation layer anywhere inside a Keras model or layer."""
    if is_preprocessing_layer(model):
        return [_layer_record(model)]
    out: list[AugmentationRecord] = []
    seen: set[int] = set()

    def visit(layer: Any) -> None:
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if id(child) in seen:
                continue
            seen.add(id(child))
            if is_preprocessing_layer(child):
                out.append(_layer_record(child))
            else:
                visit(child)

    visit(model)
    return out


def describe_augmentations(obj: Any) -> list[AugmentationRecord] | None:
    """Records for an ImageDataGenerator (or its iterator) or Keras preprocessing layers."""
    if is_image_data_generator(obj):
        params = image_data_generator_params(obj)
        kind = type(obj).__name__
        return [AugmentationRecord(source=_GENERATOR_SOURCE, type=kind, params=params)]
    if is_image_iterator(obj):
        return describe_augmentations(obj.image_data_generator)
    if is_keras_layer(obj):
        return preprocessing_augmentations(obj)
    return None
