"""``epochs_run`` is written at most once a second while ``fit`` runs (each write snapshots the
whole network record), and always at the end of a fit, also one that a callback broke."""

from __future__ import annotations

from typing import Any

import keras
import pytest


class _Breaks(keras.callbacks.Callback):
    """Raises at the end of epoch ``at`` (0-based), after the tracker's callback saw it."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch == self.at:
            raise RuntimeError("user callback failed")


def _model(basic_cnn: Any) -> Any:
    model = basic_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model


def test_epochs_of_a_fit_are_all_counted(tracker: Any, basic_cnn: Any, digits: dict) -> None:
    model = _model(basic_cnn)
    run = tracker.track(model, gradients_every=0)
    x, y = digits["x_train"][:64], digits["y_train"][:64]
    model.fit(x, y, epochs=4, batch_size=32, verbose=0)
    assert run.network.epochs_run == 4
    run.finish()
    assert tracker.get(run.id).network.epochs_run == 4


def test_a_fit_broken_by_a_callback_keeps_its_epochs(
    tracker: Any, basic_cnn: Any, digits: dict
) -> None:
    model = _model(basic_cnn)
    run = tracker.track(model, gradients_every=0)
    x, y = digits["x_train"][:64], digits["y_train"][:64]
    with pytest.raises(RuntimeError, match="user callback failed"):
        model.fit(x, y, epochs=5, batch_size=32, verbose=0, callbacks=[_Breaks(at=2)])
    run.finish()
    # the tracker's callback runs after the user's: it counted epochs 0 and 1 before the error
    # at epoch 2's end, and wrote only epoch 0's count (the next write was not due within a
    # second); finishing the run writes what it counted
    assert tracker.get(run.id).network.epochs_run == 2
