"""``RunWriter``: buffers what a run records during training and writes it in batches.

Metric points (plain tuples), gradient records, and the latest version of record documents
and of the run record wait in memory; a daemon thread writes them every ``flush_interval``
seconds, or at once when enough points wait, in transactions of bounded size with the
driver's ``executemany``. A queued document is its JSON text and its ``run_values`` rows,
taken once by the caller (``modelboard.store.documents``); the run record is queued as its
JSON text. The heartbeat has its own thread and its own small transaction, so
a slow or failing data write never makes a live run read as ``crashed``.

Backpressure: the buffer holds at most ``max_lag`` seconds of points at the rate the writer
last sustained. A logging call that finds it fuller waits until the writer catches up, so a
SIGKILL loses at most the buffered points plus the transaction in flight (under a second) at
any logging rate. While the store fails, the call never waits; what piles up goes to the
run's journal (``modelboard.store.journal``) and is replayed once the store takes writes.

The run record is written whole only by the run's owner, keeping the stored entries of the
other writers (``modelboard.tracking.writers``); the other writers change only their own entry.

A batch the store refuses for its values (not for being full or unreachable) is split in
halves until the refused rows are found; those are dropped, counted in the run's ``dropped``
record with the reason, and logged once as a warning. Later batches are never blocked.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from modelboard.errors import RunNotFoundError, StoreWriteError
from modelboard.records import GradientRecord, Record, RunRecord
from modelboard.store import MetricPoint, SQLStore
from modelboard.store.documents import PreparedDocument
from modelboard.store.journal import append_journal, journal_path, replay_journal
from modelboard.tracking.writers import write_owner_run

__all__ = ["RunWriter", "FLUSH_INTERVAL_S", "HEARTBEAT_INTERVAL_S", "MAX_LAG_S"]

FLUSH_INTERVAL_S = 0.25
HEARTBEAT_INTERVAL_S = 2.0
MAX_LAG_S = 0.35  # seconds of points the buffer may hold before a logging call waits
_MIN_BOUND = 2_000
_MAX_BOUND = 500_000
_MIN_CHUNK = 500
_FIRST_RATE = 100_000.0  # points/s assumed until the writer has measured itself
_MAX_WAIT_S = 10.0  # a logging call never waits longer (a hung store must not hang training)
_SPILL_AFTER_FAILURES = 3  # failed ticks before what waits goes to the journal

log = logging.getLogger("modelboard")


@dataclass
class _Batch:
    points: list[MetricPoint] = field(default_factory=list)
    gradients: list[GradientRecord] = field(default_factory=list)
    records: dict[str, PreparedDocument] = field(default_factory=dict)
    run: str | None = None  # the run record's JSON text

    def __bool__(self) -> bool:
        return bool(self.points or self.gradients or self.records or self.run)


class RunWriter:
    """The write path of one run. Thread-safe; ``close()`` flushes and stops the threads."""

    def __init__(
        self,
        store: SQLStore,
        run_id: str,
        *,
        flush_interval: float = FLUSH_INTERVAL_S,
        heartbeat_interval: float = HEARTBEAT_INTERVAL_S,
        max_lag: float = MAX_LAG_S,
    ) -> None:
        self._store = store
        self._run_id = run_id
        self._flush_interval = flush_interval
        self._heartbeat_interval = min(heartbeat_interval, store.heartbeat_timeout / 3)
        self._max_lag = max_lag
        self._pending = _Batch()
        self._cond = threading.Condition(threading.RLock())  # re-entrant: a signal handler
        self._flush_lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._rate = _FIRST_RATE
        self._bound = self._bound_for(self._rate)
        self._failures = 0
        self._chunk = _MAX_BOUND  # the most points a transaction holds (smaller on a full disk)
        self._warned_wait = False
        self._journaled = journal_path(store, run_id).exists()
        self.last_error: BaseException | None = None
        self.dropped: dict[str, int] = {}
        self._thread = threading.Thread(
            target=self._loop, name=f"modelboard-writer-{run_id[:8]}", daemon=True
        )
        self._beater = threading.Thread(
            target=self._beat_loop, name=f"modelboard-heartbeat-{run_id[:8]}", daemon=True
        )
        self._thread.start()
        self._beater.start()

    # -- the caller's side --------------------------------------------------------------------

    def add_points(self, points: list[MetricPoint]) -> None:
        """Queue metric points; waits while the writer is more than ``max_lag`` behind."""
        cond = self._cond
        with cond:
            pending = self._pending.points
            pending.extend(points)
            size = len(pending)
            if size * 2 >= self._bound:
                self._wake.set()
            if size > self._bound and self._failures == 0:
                self._wait_for_writer()

    def _wait_for_writer(self) -> None:
        if threading.current_thread() in (self._thread, self._beater) or self._stop.is_set():
            return
        deadline = time.monotonic() + _MAX_WAIT_S
        while len(self._pending.points) > self._bound and self._failures == 0:
            self._wake.set()
            if time.monotonic() > deadline:
                if not self._warned_wait:
                    self._warned_wait = True
                    log.warning("modelboard: the store of run %s is slow", self._run_id[:8])
                return
            self._cond.wait(0.05)

    def add_gradients(self, record: GradientRecord) -> None:
        """Queue a gradient record."""
        with self._cond:
            self._pending.gradients.append(record)

    def put_record(self, kind: str, record: Record) -> None:
        """Queue the latest version of a record document, as it is now (its text and values:
        later changes don't leak)."""
        snapshot = PreparedDocument.of(self._run_id, kind, record)
        with self._cond:
            self._pending.records[kind] = snapshot

    def put_run(self, record: RunRecord) -> None:
        """Queue the latest version of the run record, as it is now (its text)."""
        snapshot = record.to_json()
        with self._cond:
            self._pending.run = snapshot

    @property
    def pending_points(self) -> int:
        """Points queued and not yet stored."""
        return len(self._pending.points)

    # -- writing ------------------------------------------------------------------------------

    @staticmethod
    def _bound_for(rate: float) -> int:
        return int(min(_MAX_BOUND, max(_MIN_BOUND, rate * MAX_LAG_S)))

    def _take(self) -> _Batch:
        """The next chunk to write: documents whole, points up to the bound."""
        with self._cond:
            batch, pending = self._pending, self._pending
            size = min(self._bound, self._chunk)
            if len(pending.points) <= size:
                self._pending = _Batch()
                return batch
            chunk = _Batch(pending.points[:size], pending.gradients, pending.records)
            chunk.run = pending.run
            self._pending = _Batch(pending.points[size:])
            return chunk

    def _give_back(self, batch: _Batch) -> None:
        """Put an unwritten batch back in front of what was queued since (newer wins)."""
        with self._cond:
            pending = self._pending
            pending.points[:0] = batch.points
            pending.gradients[:0] = batch.gradients
            pending.records = {**batch.records, **pending.records}
            if pending.run is None:
                pending.run = batch.run

    def flush(self) -> None:
        """Write everything queued so far. Raises ``StoreWriteError`` if the store cannot take
        it (what was not written stays queued) and ``RunNotFoundError`` for a deleted run."""
        with self._flush_lock:
            if self._journaled:
                self._journaled = False
                try:
                    replay_journal(self._store, self._run_id)
                except BaseException:
                    self._journaled = True
                    raise
            while True:
                batch = self._take()
                if not batch:
                    break
                try:
                    self._write(batch)
                    self._chunk = min(_MAX_BOUND, self._chunk * 2)
                except StoreWriteError as exc:
                    self._give_back(batch)
                    if exc.refused_values or len(batch.points) <= _MIN_CHUNK:
                        raise
                    self._chunk = max(_MIN_CHUNK, len(batch.points) // 4)  # room for less?
                except BaseException:
                    self._give_back(batch)
                    raise
                finally:
                    with self._cond:
                        self._cond.notify_all()

    def _write(self, batch: _Batch) -> None:
        if batch.gradients or batch.records:
            try:
                self._store.write_prepared(self._run_id, batch.gradients, batch.records)
            except StoreWriteError as exc:
                if not exc.refused_values:
                    raise
                self._write_documents_one_by_one(batch)
            batch.gradients, batch.records = [], {}
        if batch.run is not None:
            try:
                write_owner_run(self._store, RunRecord.from_json(batch.run))
            except StoreWriteError as exc:
                if not exc.refused_values:
                    raise
                self._drop({"run record": 1}, f"run record update: {exc}")
            batch.run = None
        if batch.points:
            started = time.perf_counter()
            self._write_points(batch.points)
            elapsed = time.perf_counter() - started
            if len(batch.points) >= 1000 and elapsed > 0:
                self._rate = 0.7 * self._rate + 0.3 * len(batch.points) / elapsed
                self._bound = self._bound_for(self._rate)

    def _write_points(self, points: list[MetricPoint]) -> None:
        """Write points; halves of a refused batch are retried until the bad rows are found."""
        try:
            self._store.append_points(self._run_id, points)
        except StoreWriteError as exc:
            if not exc.refused_values:
                raise
            if len(points) == 1:
                self._drop({"points": 1}, f"point {points[0][:3]!r:.200}: {exc}")
                return
            middle = len(points) // 2
            self._write_points(points[:middle])
            self._write_points(points[middle:])

    def _write_documents_one_by_one(self, batch: _Batch) -> None:
        store, run_id = self._store, self._run_id
        for gradient in batch.gradients:
            try:
                store.write_prepared(run_id, gradient_records=[gradient])
            except StoreWriteError as exc:
                if not exc.refused_values:
                    raise
                self._drop({"gradients": 1}, f"gradient record at step {gradient.step}: {exc}")
        for kind, document in batch.records.items():
            try:
                store.write_prepared(run_id, documents={kind: document})
            except StoreWriteError as exc:
                if not exc.refused_values:
                    raise
                self._drop({f"record:{kind}": 1}, f"{kind} record: {exc}")

    def _drop(self, counts: dict[str, int], reason: str) -> None:
        first = not self.dropped
        for what, n in counts.items():
            self.dropped[what] = self.dropped.get(what, 0) + n
        if first:
            log.warning(
                "modelboard: the store refused values of run %s; they are dropped and the "
                "rest is kept (store.get_dropped(run_id) lists them): %s",
                self._run_id[:8],
                reason,
            )
        try:
            self._store.record_dropped(self._run_id, counts, reason)
        except Exception as exc:
            log.warning("modelboard: could not record what run %s dropped: %s", self._run_id, exc)

    def spill(self) -> Path | None:
        """Move everything queued to the run's journal; its path, or ``None`` if there was
        nothing. Raises ``OSError`` when the journal cannot be written either."""
        with self._flush_lock:
            batch = self._take_all()
            if not batch:
                return None
            try:
                path = append_journal(
                    self._store,
                    self._run_id,
                    batch.points,
                    batch.gradients,
                    {kind: document.record() for kind, document in batch.records.items()},
                    None if batch.run is None else RunRecord.from_json(batch.run),
                )
            except BaseException:
                self._give_back(batch)
                raise
            self._journaled = True
            return path

    def _take_all(self) -> _Batch:
        with self._cond:
            batch, self._pending = self._pending, _Batch()
            self._cond.notify_all()
            return batch

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.flush()
            except RunNotFoundError:
                break  # deleted while running: close() reports it
            except Exception as exc:  # the store is down, locked or full: keep the data
                if self.last_error is None:
                    log.warning(
                        "modelboard: writing run %s failed, will retry: %s", self._run_id[:8], exc
                    )
                self.last_error = exc
                self._failures += 1
                with self._cond:
                    self._cond.notify_all()
                if self._failures >= _SPILL_AFTER_FAILURES and self.pending_points > self._bound:
                    with contextlib.suppress(OSError):  # else kept in memory; close() tells
                        self.spill()
                self._stop.wait(min(2.0, 0.1 * self._failures))
            else:
                self.last_error = None
                self._failures = 0

    def _beat_loop(self) -> None:
        while not self._stop.wait(self._heartbeat_interval):
            with contextlib.suppress(Exception):  # the data path reports store failures
                self._store.beat(self._run_id, time.time())

    def close(self) -> None:
        """Stop the threads and write what is left (see ``flush``)."""
        self._stop.set()
        self._wake.set()
        current = threading.current_thread()
        for thread in (self._thread, self._beater):
            if thread.is_alive() and current is not thread:
                thread.join(timeout=30)
        self.flush()
