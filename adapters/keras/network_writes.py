"""Changes to a run's network record while ``fit`` runs, written together.

Every write of the network record snapshots the whole document (its JSON round trip on the
training thread, then its serialization and upsert on the writer's), which for a small model
costs more than a short epoch's tracking otherwise does. So the training callback stages its
changes here: each is applied to ``run.network`` at once (what the run holds in memory is
always current) and written at most ``delay`` seconds after the first change not yet written,
by a timer thread, or at once on :meth:`NetworkWrites.flush` (the end of ``fit``, ``detach``,
``compile``). A crash loses at most the last ``delay`` seconds of changes, and a ``fit``
shorter than that writes its record once. Nothing is written for a change that changes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelboard.tracking.run import Run

__all__ = ["NETWORK_WRITE_DELAY_S", "NetworkWrites", "same_value"]

log = logging.getLogger(__name__)

NETWORK_WRITE_DELAY_S = 1.0
"""The longest a staged change of the network record waits before it is written."""


def same_value(a: Any, b: Any) -> bool:
    """True when ``a`` and ``b`` hold the same value: records field by field (without their
    JSON forms, which ``==`` of records compares), lists, tuples and dicts item by item. A NaN
    is never the same (written again rather than a change missed)."""
    if a is b:
        return True
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        if type(a) is not type(b):
            return False
        return all(
            same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same_value(value, b[key]) for key, value in a.items())
        )
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # an ``==`` that does not answer a bool (arrays)
        return False


class NetworkWrites:
    """Stages changes of ``run.network``; writes them within ``delay`` seconds, or on flush."""

    def __init__(self, run: Run, delay: float | None = None) -> None:
        self.run = run
        self.delay = NETWORK_WRITE_DELAY_S if delay is None else float(delay)
        self._dirty = False
        self._in_flight = 0  # flushes between taking the staged changes and writing them
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()  # guards the three above; never held while writing

    @property
    def pending(self) -> bool:
        """True while a staged change is not written yet."""
        return self._dirty

    def stage(self, **fields: Any) -> bool:
        """Set ``fields`` on the run's network record now; write them within the delay. True
        when anything changed (a field given its current value changes nothing)."""
        network = self.run.network
        if network is None:
            raise RuntimeError("this run has no network record; track a model first")
        changed = False
        for key, value in fields.items():
            if not hasattr(network, key):
                raise AttributeError(f"NetworkRecord has no field {key!r}")
            if not same_value(getattr(network, key), value):
                setattr(network, key, value)
                changed = True
        if not changed:
            return False
        with self._lock:  # after the fields: a flush that takes the flag sees them
            self._dirty = True
            if self._timer is not None:
                return True
            timer = threading.Timer(self.delay, self._due)
            timer.name = "modelboard-keras-network"
            timer.daemon = True
            self._timer = timer
        timer.start()
        return True

    def _due(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # a write from the timer thread must not vanish unseen
            log.warning(
                "modelboard: writing the network record of run %s failed: %r",
                self.run.id[:8],
                exc,
            )

    def flush(self) -> None:
        """Write what is staged now (nothing when nothing is, or the run is finished).

        A flush that runs while another one waits to write (the timer's, blocked while the
        run finishes) writes too, so that the run's last write holds every staged change."""
        with self._lock:
            timer, self._timer = self._timer, None
            write = self._dirty or self._in_flight > 0
            self._dirty = False
            self._in_flight += 1
        if timer is not None:
            timer.cancel()
        try:
            if write and not self.run.finished and self.run.network is not None:
                self.run.update_network()  # the record as it is now: every staged field in it
        finally:
            with self._lock:
                self._in_flight -= 1

    def cancel(self) -> None:
        """Stop the timer (what is staged stays staged)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
