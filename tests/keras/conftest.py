"""Fixtures of the Keras adapter's tests: the backend, digits data, the seed's models, a tracker.

The backend is fixed when keras is imported; ``test_keras_plugin.py``'s
``test_this_folder_passes_under_the_torch_backend`` reruns this folder in a subprocess with
``KERAS_BACKEND=torch`` and sets ``SUBPROCESS_ENV`` so it does not recurse.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import modelboard as mb  # noqa: E402

SUBPROCESS_ENV = "MODELBOARD_KERAS_TEST_SUBPROCESS"
BACKEND = keras.backend.backend()

if BACKEND == "tensorflow":
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(2)
elif BACKEND == "torch":
    import torch

    torch.set_num_threads(2)

L = keras.layers


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[mb.Tracker]:
    """A tracker on a fresh store, with a plugin manager of its own."""
    with mb.Tracker(tmp_path / "store", plugin_manager=mb.create_plugin_manager()) as t:
        yield t


@pytest.fixture(scope="session")
def digits() -> dict[str, np.ndarray]:
    """scikit-learn's 8x8 digits as float images in [0, 1], one-hot labels, split 1400/397."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images / 16.0).astype("float32")[..., None]
    y = np.eye(10, dtype="float32")[bunch.target]
    return {"x_train": x[:1400], "y_train": y[:1400], "x_val": x[1400:], "y_val": y[1400:]}


def make_basic_cnn(num_classes: int = 10, dropout: float = 0.3, name: str = "basic_cnn") -> Any:
    """The seed's basic_cnn sized for 8x8 images: 3 x (Conv2D, MaxPooling2D), Dense 64, Dropout,
    Dense softmax."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(32, 3, padding="same", activation="relu"),
            L.MaxPooling2D(pool_size=2, strides=2),
            L.Conv2D(64, 3, padding="same", activation="relu"),
            L.MaxPooling2D(pool_size=2, strides=2),
            L.Conv2D(128, 3, padding="same", activation="relu"),
            L.MaxPooling2D(pool_size=2, strides=2),
            L.Flatten(),
            L.Dense(64, activation="relu"),
            L.Dropout(dropout),
            L.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )


@pytest.fixture
def basic_cnn() -> Callable[..., Any]:
    """A factory of the seed's basic_cnn."""
    return make_basic_cnn


@pytest.fixture
def image_data_generator() -> Any:
    """The legacy ImageDataGenerator: through tf.keras as users get it, or Keras's own module."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        return tf.keras.preprocessing.image.ImageDataGenerator
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    return ImageDataGenerator


def _weights(model: Any) -> dict[str, np.ndarray]:
    """Each trainable variable's value by path."""
    return {v.path: np.array(v.numpy()) for v in model.trainable_variables}


def _reference_gradients(
    model: Any, x: np.ndarray, y: np.ndarray, training: bool = True
) -> dict[str, np.ndarray]:
    """Gradients of the mean categorical cross-entropy, computed here, not by the adapter."""
    loss_fn = keras.losses.CategoricalCrossentropy()
    variables = list(model.trainable_variables)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=training))
        grads = tape.gradient(loss, variables)
        return {v.path: np.asarray(g) for v, g in zip(variables, grads, strict=True)}
    import torch

    loss = loss_fn(torch.as_tensor(y), model(torch.as_tensor(x), training=training))
    grads = torch.autograd.grad(loss, [v.value for v in variables])
    return {v.path: g.detach().cpu().numpy() for v, g in zip(variables, grads, strict=True)}


@pytest.fixture
def weights() -> Callable[[Any], dict[str, np.ndarray]]:
    """``weights(model)``: each trainable variable's value by path, as numpy."""
    return _weights


@pytest.fixture
def reference_gradients() -> Callable[..., dict[str, np.ndarray]]:
    """``reference_gradients(model, x, y, training=True)``: independent gradients by path."""
    return _reference_gradients


@pytest.fixture(autouse=True)
def _fresh_keras_session() -> Iterator[None]:
    """Layer names restart per test, so paths do not depend on test order."""
    keras.backend.clear_session()
    yield


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
