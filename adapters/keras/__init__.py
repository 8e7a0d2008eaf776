"""The Keras 3 adapter (TensorFlow and torch backends). Filled by the Keras issue."""

from modelboard.adapters.keras.plugin import *  # noqa: F401,F403
