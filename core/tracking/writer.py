"""``RunWriter``: buffers a run's metric points and gradient records and writes them in batches.

A daemon thread flushes every ``flush_interval`` seconds (0.5 by default, so a crash loses at
most the last second) and refreshes the run's heartbeat. A failed write keeps the batch and
tries again at the next tick, so nothing is dropped while the database is briefly locked.
"""

from __future__ import annotations

import logging
import threading
import time

from modelboard.records import GradientRecord
from modelboard.store import MetricPoint, SQLStore

__all__ = ["RunWriter", "FLUSH_INTERVAL_S", "HEARTBEAT_INTERVAL_S"]

FLUSH_INTERVAL_S = 0.5
HEARTBEAT_INTERVAL_S = 2.0

log = logging.getLogger("modelboard")


class RunWriter:
    """The write path of one run. Thread-safe; ``close()`` flushes and stops the thread."""

    def __init__(
        self,
        store: SQLStore,
        run_id: str,
        *,
        flush_interval: float = FLUSH_INTERVAL_S,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._flush_interval = flush_interval
        self._heartbeat_interval = min(heartbeat_interval, store.heartbeat_timeout / 3)
        self._points: list[MetricPoint] = []
        self._gradients: list[GradientRecord] = []
        self._buffer_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._last_beat = 0.0
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._loop, name=f"modelboard-writer-{run_id[:8]}", daemon=True
        )
        self._thread.start()

    def add_points(self, points: list[MetricPoint]) -> None:
        """Queue metric points; they reach the store within ``flush_interval``."""
        with self._buffer_lock:
            self._points.extend(points)

    def add_gradients(self, record: GradientRecord) -> None:
        """Queue a gradient record."""
        with self._buffer_lock:
            self._gradients.append(record)

    def flush(self) -> None:
        """Write everything queued so far, in one transaction. Raises if the store refuses."""
        with self._flush_lock:
            with self._buffer_lock:
                points, self._points = self._points, []
                grads, self._gradients = self._gradients, []
            now = time.time()
            beat = now if now - self._last_beat >= self._heartbeat_interval else None
            if not points and not grads and beat is None:
                return
            try:
                self._store.append(self._run_id, points, grads, heartbeat=beat)
            except BaseException:
                with self._buffer_lock:  # keep the batch, in order, for the next try
                    self._points[:0] = points
                    self._gradients[:0] = grads
                raise
            if beat is not None:
                self._last_beat = beat

    def _loop(self) -> None:
        while not self._stop.wait(self._flush_interval):
            try:
                self.flush()
                self.last_error = None
            except Exception as exc:  # the store is down or locked: keep the data, retry
                if self.last_error is None:
                    log.warning(
                        "modelboard: writing run %s failed, will retry: %s", self._run_id[:8], exc
                    )
                self.last_error = exc

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        self.flush()

    @property
    def pending(self) -> int:
        """How many points and gradient records wait to be written."""
        with self._buffer_lock:
            return len(self._points) + len(self._gradients)
