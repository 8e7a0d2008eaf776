"""Tracking: the ``Tracker``, live ``Run`` objects, their writer and their lifecycle."""

from modelboard.store.stored_run import StoredRun
from modelboard.tracking.run import Run
from modelboard.tracking.tracker import Tracker

__all__ = ["Run", "StoredRun", "Tracker"]
