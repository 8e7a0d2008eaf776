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


def _batch_chain(dataset: Any) -> tuple[int | None, Any]:
    """The batch size of the first ``batch()`` in a dataset's chain and that batch's input."""
    current = dataset
    for _ in range(64):
        if current is None:
            break
        size = getattr(current, "_batch_size", None)
        if size is not None:
            try:
                return int(np.asarray(size)), getattr(current, "_input_dataset", None)
            except (TypeError, ValueError):
                return None, getattr(current, "_input_dataset", None)
        current = getattr(current, "_input_dataset", None)
    return None, None


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


def _describe_dataset(name: str, dataset: Any) -> SplitRecord:
    cardinality = _cardinality(dataset)
    batch_size, unbatched = _batch_chain(dataset)
    batched = batch_size is not None
    size = None
    if batched and unbatched is not None:
        inner = _cardinality(unbatched)
        size = inner if inner >= 0 else None
    elif not batched and cardinality >= 0:
        size = cardinality
    x_spec, y_spec = _spec_parts(dataset.element_spec)
    return SplitRecord(
        name=name,
        source="tf.data",
        size=size,
        x_shape=_spec_shape(x_spec, size, batched),
        y_shape=_spec_shape(y_spec, size, batched) if y_spec is not None else None,
        x_dtype=getattr(getattr(x_spec, "dtype", None), "name", None),
        y_dtype=getattr(getattr(y_spec, "dtype", None), "name", None),
        details={
            "element_spec": _spec_text(dataset.element_spec),
            "cardinality": cardinality,
            "cardinality_meaning": {-1: "infinite", -2: "unknown"}.get(cardinality, "elements"),
            "batch_size": batch_size,
            "dataset_type": type(dataset).__name__,
        },
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
