"""The seed paper's two networks in Keras 3, sized for 8x8 single-channel digits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

__all__ = ["basic_cnn", "vgg_cnn", "build", "make_optimizer"]


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
