"""The Keras side of ``modelboard demo``: the seed paper's two networks and their training loop.

Hook implementations of the demo hooks (see ``modelboard.plugins.hookspecs``). Nothing here
imports keras or tensorflow at module level.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from modelboard.plugins import hookimpl

if TYPE_CHECKING:
    import keras

    from modelboard.demo import DemoJob, DemoModels
    from modelboard.demo.data import DigitsData
    from modelboard.tracking import Run

__all__ = [
    "basic_cnn",
    "vgg_cnn",
    "build",
    "make_optimizer",
    "tensorflow_logs_dropped",
    "modelboard_demo_models",
    "modelboard_demo_session",
    "modelboard_demo_train",
]

FRAMEWORK = "keras"


# -- the networks -----------------------------------------------------------------------------


def basic_cnn(input_shape: tuple[int, int, int] = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """The seed's basic_cnn: 3 Conv2D (32, 64, 128), each followed by MaxPooling2D,
    Dense 64, Dropout 0.3, Dense softmax. ``padding="same"`` keeps 8x8 inputs alive to 1x1."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="basic_cnn",
    )


def vgg_cnn(input_shape: tuple[int, int, int] = (8, 8, 1), num_classes: int = 10) -> keras.Model:
    """A small VGG-style network: two blocks of two 3x3 convolutions and a max pool, then two
    dense layers (the seed's 256 and 120, halved) and a softmax; trained from scratch
    (``weights=None``: nothing can be downloaded, and ImageNet weights need 32x32 RGB)."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dense(60, activation="relu"),
            layers.Dense(num_classes, activation="softmax"),
        ],
        name="vgg_cnn",
    )


_BUILDERS = {"basic_cnn": basic_cnn, "vgg_cnn": vgg_cnn}


def build(model: str, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    """The network called ``model`` (``basic_cnn`` or ``vgg_cnn``)."""
    return _BUILDERS[model](input_shape, num_classes)


def make_optimizer(name: str, learning_rate: float) -> Any:
    """A Keras optimizer by the seed's names (``adam``, ``sgd``, ``adagrad``)."""
    import keras

    classes = {
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
        "adagrad": keras.optimizers.Adagrad,
    }
    return classes[name](learning_rate=learning_rate)


# -- the session: TensorFlow imported, one thread, its C++ log lines dropped -------------------

#: TensorFlow's C++ log lines (absl format), which ignore TF_CPP_MIN_LOG_LEVEL in TF 2.21.
_TF_LOG_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d+:\d+:\d+\.\d+\s+\d+ [\w.]+:\d+\]"
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|To enable the following instructions: )"
)


@contextlib.contextmanager
def tensorflow_logs_dropped() -> Iterator[None]:
    """Inside the block, drop TensorFlow's C++ log lines from file descriptor 2 (``E0000 ...
    failed call to cuInit``, start-up banners); every other line passes through unchanged."""
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as pipe, os.fdopen(os.dup(saved), "wb") as out:
            for line in pipe:
                if not _TF_LOG_LINE.match(line):
                    out.write(line)
                    out.flush()

    thread = threading.Thread(target=pump, name="modelboard-demo-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump sees the end and stops
        os.close(saved)
        thread.join(timeout=5)


@contextlib.contextmanager
def _session() -> Iterator[None]:
    """TensorFlow's log lines dropped for the whole demo; keras and TensorFlow imported, with
    one intra-op thread when TensorFlow has not started yet (on 2 busy cores that made the
    basic_cnn's epochs about 3 times faster)."""
    with tensorflow_logs_dropped():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras  # noqa: F401
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # raised once TensorFlow's runtime has started
            tf.config.threading.set_intra_op_parallelism_threads(1)
        yield


# -- one run ----------------------------------------------------------------------------------


def _seed(seed: int | None) -> None:
    """Seed Python, numpy, TensorFlow and Keras; turn on TensorFlow's op determinism (it has
    no switch to turn it off again: it stays on in this process)."""
    if seed is None:
        return
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


class _KerasData:
    """The fitted ImageDataGenerator and the ``mb.Data`` that records it, made once."""

    def __init__(self, data: DigitsData) -> None:
        import tensorflow as tf

        import modelboard as mb
        from modelboard.demo.data import AUGMENTATION_SETTINGS

        self.datagen = tf.keras.preprocessing.image.ImageDataGenerator(**AUGMENTATION_SETTINGS)
        self.datagen.fit(data.x_train)  # featurewise mean and std of the training images
        self.y_train = data.one_hot(data.y_train)
        self.y_val = data.one_hot(data.y_val)
        self.x_val = self.datagen.standardize(data.x_val.copy())
        self.record = mb.Data(
            "digits",
            train=(data.x_train, self.y_train),
            val=(data.x_val, self.y_val),
            augmentations=self.datagen,
            class_names=data.class_names,
            preprocessing=["pixels / 16 -> [0, 1]", "one-hot labels"],
        )


def _train(job: DemoJob) -> Run:
    import keras

    prepared = job.prepared(_KerasData)
    data, s = job.data, job.setting
    _seed(job.seed)
    model = build(s.model, data.x_train.shape[1:], data.num_classes)
    model.compile(
        optimizer=make_optimizer(s.optimizer, s.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )

    class _Steps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            job.advance(1)

    run = job.track(model, data=prepared.record)
    with run:
        flow = prepared.datagen.flow(
            data.x_train, prepared.y_train, batch_size=s.batch_size, shuffle=True, seed=job.seed
        )
        model.fit(
            flow,
            validation_data=(prepared.x_val, prepared.y_val),
            epochs=s.epochs,
            verbose=0,
            callbacks=[_Steps()],
        )
        run.evaluate(prepared.x_val, data.y_val, class_names=data.class_names)
    return run


# -- the hooks --------------------------------------------------------------------------------


@hookimpl
def modelboard_demo_models() -> DemoModels:
    """The seed paper's basic_cnn and vgg_cnn, in Keras 3 on TensorFlow."""
    from modelboard.demo import DemoModels

    return DemoModels(FRAMEWORK, tuple(_BUILDERS), requirements=("tensorflow", "keras"))


@hookimpl
def modelboard_demo_session(
    frameworks: list[str],
) -> contextlib.AbstractContextManager[None] | None:
    """Import TensorFlow (after torch: see the PyTorch adapter's ``tryfirst``) and filter its
    log lines for the whole demo."""
    return _session() if FRAMEWORK in frameworks else None


@hookimpl
def modelboard_demo_train(job: DemoJob) -> Run | None:
    """Train a Keras demo run with ``model.fit`` on the augmented digits."""
    return _train(job) if job.framework == FRAMEWORK else None
