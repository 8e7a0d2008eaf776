"""``mb.reproduce(run_id)``: rebuild an untrained model from a stored network record."""

from __future__ import annotations

from typing import Any

from modelboard.tracking.tracker import Tracker

__all__ = ["reproduce"]


def reproduce(run_id: str, tracker: Tracker | None = None) -> Any:
    """A new, untrained model with the architecture recorded for ``run_id``.

    The adapter of the run's framework rebuilds it (Keras: from the serialised config; PyTorch:
    by importing the module's class and calling it with the recorded constructor arguments).
    """
    tracker = tracker or Tracker()
    stored = tracker.get(run_id)
    if stored.network is None:
        raise ValueError(
            f"run {stored.id[:8]} has no network record: it was not started by track()"
        )
    model = tracker.plugins.hook.modelboard_reproduce(network=stored.network)
    if model is None:
        raise RuntimeError(
            f"no installed adapter rebuilds {stored.network.framework} models; install "
            f"modelboard[{stored.network.framework}]"
        )
    return model
