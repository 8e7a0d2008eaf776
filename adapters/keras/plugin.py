"""The Keras adapter's hook implementations; each answers None for objects not of Keras.

Nothing here imports keras or tensorflow at module level: the hooks look at ``sys.modules``
and the object's type, and import the adapter's working modules only for Keras objects.
Model hooks are ``tryfirst``: under Keras's torch backend a Keras model is also a
``torch.nn.Module``, and the Keras adapter must answer before the PyTorch one.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from modelboard.adapters.keras.detect import (
    is_image_data_generator,
    is_image_iterator,
    is_keras_layer,
    is_keras_model,
    is_tf_dataset,
    is_tf_tensor,
)
from modelboard.plugins import FrameworkInfo, hookimpl

if TYPE_CHECKING:
    from modelboard.plugins.options import TrackOption
    from modelboard.plugins.types import TrainingHandle
    from modelboard.records import (
        AugmentationRecord,
        NetworkRecord,
        ParameterGradientStats,
        SplitRecord,
    )
    from modelboard.tracking.run import Run

__all__ = [
    "modelboard_detect_framework",
    "modelboard_track_options",
    "modelboard_describe_network",
    "modelboard_attach_training",
    "modelboard_compute_gradients",
    "modelboard_predict",
    "modelboard_describe_split",
    "modelboard_describe_augmentations",
    "modelboard_environment",
    "modelboard_reproduce",
]


@hookimpl(tryfirst=True)
def modelboard_detect_framework(obj: Any) -> FrameworkInfo | None:
    """Claim Keras 3 models."""
    if not is_keras_model(obj):
        return None
    return FrameworkInfo("keras", sys.modules["keras"].__version__)


@hookimpl(tryfirst=True)
def modelboard_track_options(obj: Any) -> list[TrackOption] | None:
    """The options ``track()`` takes for this framework's models (see ``options``)."""
    if not is_keras_model(obj):
        return None
    from modelboard.adapters.keras.options import KERAS_OPTIONS

    return KERAS_OPTIONS


@hookimpl(tryfirst=True)
def modelboard_describe_network(obj: Any, options: dict[str, Any]) -> NetworkRecord | None:
    """Layers, parameters, optimizer, loss, metrics and the serialised config."""
    if not is_keras_model(obj):
        return None
    from modelboard.adapters.keras.network import describe_network

    return describe_network(obj, options)


@hookimpl(tryfirst=True)
def modelboard_attach_training(
    obj: Any, run: Run, options: dict[str, Any]
) -> TrainingHandle | None:
    """Wrap ``fit``/``compile`` and the optimizer; history and gradients flow into ``run``."""
    if not is_keras_model(obj):
        return None
    from modelboard.adapters.keras.training import attach_training

    return attach_training(obj, run, options)


@hookimpl(tryfirst=True)
def modelboard_compute_gradients(
    obj: Any, x: Any, y: Any, loss: Any, options: dict[str, Any]
) -> list[ParameterGradientStats] | None:
    """Gradient statistics for one batch (GradientTape, or torch.autograd on torch)."""
    if not is_keras_model(obj):
        return None
    from modelboard.adapters.keras.gradients import batch_gradients

    return batch_gradients(obj, x, y, loss, options)


@hookimpl(tryfirst=True)
def modelboard_predict(obj: Any, x: Any, options: dict[str, Any]) -> Any | None:
    """Class probabilities as numpy."""
    if not is_keras_model(obj):
        return None
    from modelboard.adapters.keras.predict import predict_probabilities

    return predict_probabilities(obj, x, options)


@hookimpl
def modelboard_describe_split(name: str, x: Any, y: Any) -> SplitRecord | None:
    """tf.data datasets, TensorFlow tensors and ``ImageDataGenerator.flow`` iterators."""
    if not (is_tf_dataset(x) or is_tf_tensor(x) or is_image_iterator(x)):
        return None
    from modelboard.adapters.keras.data import describe_split

    return describe_split(name, x, y)


@hookimpl
def modelboard_describe_augmentations(obj: Any) -> list[AugmentationRecord] | None:
    """``ImageDataGenerator`` arguments and Keras preprocessing/augmentation layers."""
    if not (is_image_data_generator(obj) or is_image_iterator(obj) or is_keras_layer(obj)):
        return None
    from modelboard.adapters.keras.data import describe_augmentations

    return describe_augmentations(obj)


@hookimpl
def modelboard_environment() -> dict[str, Any] | None:
    """Keras/TensorFlow versions, backend and devices, when Keras is already imported."""
    if "keras" not in sys.modules:
        return None
    from modelboard.adapters.keras.environment import describe_environment

    return describe_environment()


@hookimpl
def modelboard_reproduce(network: NetworkRecord) -> Any | None:
    """A new, uncompiled Keras model from the recorded config."""
    if network.framework != "keras":
        return None
    from modelboard.adapters.keras.reproduce import rebuild

    return rebuild(network)
