"""Recognise Keras and TensorFlow objects without importing either framework.

Every check first looks at ``sys.modules``: an object can only be a Keras model when Keras is
already imported, so nothing here ever imports a framework.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = [
    "is_keras_model",
    "is_keras_layer",
    "is_tf_dataset",
    "is_tf_tensor",
    "is_image_data_generator",
    "is_image_iterator",
    "is_preprocessing_layer",
]

_PREPROCESSING_MODULE = "keras.src.layers.preprocessing"


def _mro_modules(obj: Any) -> list[str]:
    return [getattr(cls, "__module__", "") or "" for cls in type(obj).__mro__]


def _from_keras(obj: Any) -> bool:
    return any(m == "keras" or m.startswith("keras.") for m in _mro_modules(obj))


def is_keras_model(obj: Any) -> bool:
    """True for an instance of ``keras.Model`` (Keras 3), any backend."""
    keras = sys.modules.get("keras")
    if keras is None or not _from_keras(obj):
        return False
    return isinstance(obj, keras.Model)


def is_keras_layer(obj: Any) -> bool:
    """True for an instance of ``keras.layers.Layer`` (models included)."""
    keras = sys.modules.get("keras")
    if keras is None or not _from_keras(obj):
        return False
    return isinstance(obj, keras.layers.Layer)


def is_preprocessing_layer(obj: Any) -> bool:
    """True for a Keras preprocessing or augmentation layer (RandomRotation, Rescaling...)."""
    return is_keras_layer(obj) and any(
        m.startswith(_PREPROCESSING_MODULE) for m in _mro_modules(obj)
    )


def is_tf_dataset(obj: Any) -> bool:
    """True for a ``tf.data.Dataset``."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not any(m.startswith("tensorflow") for m in _mro_modules(obj)):
        return False
    return isinstance(obj, tf.data.Dataset)


def is_tf_tensor(obj: Any) -> bool:
    """True for an eager TensorFlow tensor or variable."""
    tf = sys.modules.get("tensorflow")
    if tf is None or not any(m.startswith("tensorflow") for m in _mro_modules(obj)):
        return False
    return isinstance(obj, (tf.Tensor, tf.Variable))


def is_image_data_generator(obj: Any) -> bool:
    """True for the (legacy) ``ImageDataGenerator`` of Keras 3, tf.keras or Keras 2."""
    return type(obj).__name__ == "ImageDataGenerator" and (
        _from_keras(obj) or type(obj).__module__.startswith(("tensorflow", "tf_keras"))
    )


def is_image_iterator(obj: Any) -> bool:
    """True for what ``ImageDataGenerator.flow`` returns (it holds ``x``, ``y``, the generator)."""
    return _from_keras(obj) and hasattr(obj, "image_data_generator") and hasattr(obj, "x")
