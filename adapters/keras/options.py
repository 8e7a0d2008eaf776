"""The options ``track(model, **options)`` takes for a Keras model (checked by the tracker)."""

from __future__ import annotations

from typing import Any

from modelboard.plugins.options import SHARED_OPTIONS, TrackOption

__all__ = ["KERAS_OPTIONS"]


def _is_schedule(value: Any) -> bool:
    import keras

    kinds = (
        keras.optimizers.schedules.LearningRateSchedule,
        keras.callbacks.LearningRateScheduler,
        keras.callbacks.ReduceLROnPlateau,
    )
    return isinstance(value, kinds)


KERAS_OPTIONS: list[TrackOption] = [
    *SHARED_OPTIONS.values(),  # every shared option means the same here
    TrackOption(
        "scheduler",
        "a keras.optimizers.schedules.LearningRateSchedule or a learning-rate callback",
        "the learning-rate schedule, recorded on the standard optimizer when fit cannot show "
        "it (schedules and LearningRateScheduler/ReduceLROnPlateau callbacks are found)",
        lambda value: _is_schedule(value),
    ),
]
"""Every option the Keras adapter reads (``fit`` tells it the rest)."""
