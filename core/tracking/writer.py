"""``RunWriter``: buffers what a run records during training and writes it in batches.

Metric points, gradient records, and the latest version of record documents (the network
record an adapter updates each epoch) and of the run record (gradient flags) wait in memory; a
daemon thread writes them in one transaction every ``flush_interval`` seconds (0.5 by default,
so a crash loses at most the last second) and refreshes the run's heartbeat. Training hooks
therefore never wait on the database nor see its errors. A failed write keeps the batch and
tries again at the next tick, so nothing is dropped while the database is briefly unavailable.
"""

from __future__ import annotations

import logging
import threading
import time

from modelboard.records import GradientRecord, Record, RunRecord
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
        self._records: dict[str, Record] = {}
        self._run: RunRecord | None = None
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

    def put_record(self, kind: str, record: Record) -> None:
        """Queue the latest version of a record document (a copy: later changes don't leak)."""
        snapshot = type(record).from_json(record.to_json())
        with self._buffer_lock:
            self._records[kind] = snapshot

    def put_run(self, record: RunRecord) -> None:
        """Queue the latest version of the run record (a copy)."""
        snapshot = RunRecord.from_json(record.to_json())
        with self._buffer_lock:
            self._run = snapshot

    def flush(self) -> None:
        """Write everything queued so far, in one transaction. Raises if the store refuses."""
        with self._flush_lock:
            with self._buffer_lock:
                points, self._points = self._points, []
                grads, self._gradients = self._gradients, []
                records, self._records = self._records, {}
                run, self._run = self._run, None
            now = time.time()
            beat = now if now - self._last_beat >= self._heartbeat_interval else None
            if not (points or grads or records or run) and beat is None:
                return
            try:
                self._store.append(
                    self._run_id, points, grads, heartbeat=beat, records=records, run_record=run
                )
            except BaseException:
                with self._buffer_lock:  # keep the batch, in order, for the next try
                    self._points[:0] = points
                    self._gradients[:0] = grads
                    self._records = {**records, **self._records}  # newer versions win
                    if self._run is None:
                        self._run = run
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
