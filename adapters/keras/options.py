"""The options ``track(model, **options)`` takes for a Keras model (checked by the tracker)."""

from __future__ import annotations

from modelboard.plugins.options import TrackOption, shared

__all__ = ["KERAS_OPTIONS"]

KERAS_OPTIONS: list[TrackOption] = [
    *shared(
        "gradients_every",
        "architecture",
        "batch_size",
        "epochs",
        "predict_batch_size",
        "output",
        "example_input",
    ),
]
"""Every option the Keras adapter reads (``fit`` tells it the rest)."""
