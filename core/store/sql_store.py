"""``SQLStore``: every read and write of runs, records, metrics, gradients and artifacts."""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, case, delete, func, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DatabaseError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    StatementError,
)

from modelboard.errors import (
    AmbiguousRunIdError,
    ModelboardError,
    RunNotFoundError,
    StoreUnavailableError,
    StoreWriteError,
)
from modelboard.records import (
    ArtifactRecord,
    EvaluationRecord,
    GradientRecord,
    MetricSeries,
    Record,
    RunRecord,
    TrainingRecord,
)
from modelboard.store import tables
from modelboard.store.artifact_paths import is_run_id, run_folder
from modelboard.store.artifact_store import ArtifactStore, open_artifact_store
from modelboard.store.documents import (
    PreparedDocument,
    insert_gradient_records,
    write_prepared_document,
)
from modelboard.store.engine import READ_ONLY, make_engine
from modelboard.store.location import URI_ENV, StoreLocation
from modelboard.store.migrations import check_schema, ensure_schema
from modelboard.store.run_summary import refresh_summary
from modelboard.store.run_values import (
    EVALUATION_PREFIX,
    merge_metric_summaries,
    parse_document,
    replace_values,
    run_record_rows,
    write_record_values,
)

__all__ = ["SQLStore", "MetricPoint", "DEFAULT_HEARTBEAT_TIMEOUT_S"]

MetricPoint = tuple[str, int, "int | None", float, float]  # key, step, epoch, value, wall_time
T = TypeVar("T")

DEFAULT_HEARTBEAT_TIMEOUT_S = 30.0
_RETRIES = 8
DROPPED_KIND = "dropped"  # the records row that says what the writer could not store, and why

log = logging.getLogger("modelboard")
_warned_unreadable: set[tuple[str, str]] = set()


def _warn_unreadable(run_id: str, what: str, exc: BaseException) -> str:
    reason = f"the stored {what} of run {run_id[:8]} cannot be read ({type(exc).__name__}: {exc})"
    if (run_id, what) not in _warned_unreadable:
        _warned_unreadable.add((run_id, what))
        log.warning("modelboard: %s; it reads as empty", reason)
    return reason


def as_store_write_error(exc: BaseException, describe: str) -> StoreWriteError:
    """A refused or failed write as a ``StoreWriteError`` that says which kind it was."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
    if isinstance(exc, (OperationalError, InterfaceError)):
        full = "full" in reason.lower()
        hint = "free disk space" if full else "check that the database is reachable"
        return StoreWriteError(
            f"the store at {describe} could not take the write ({reason}); {hint}",
            refused_values=False,
        )
    return StoreWriteError(
        f"the store at {describe} refused the values ({type(exc).__name__}: {reason})",
        refused_values=True,
    )


_WRITE_FAILURES = (DBAPIError, StatementError, OverflowError, UnicodeError, ValueError)


def _sqlite_metric_rows(conn: Connection, run_id: str) -> list[Any]:
    """A run's metric rows in id order on SQLite, as plain tuples from the driver's cursor.

    The rows of one run lie in one range of ids (a span of the table, shared only with runs
    that wrote at the same time), so the range is read in id order straight off the table: no
    sort of the run's rows, which is what ``ORDER BY id`` on the run's index would cost. A
    range mostly of other runs' rows (a run resumed much later) is read through the index."""
    cursor = conn.connection.cursor()
    try:
        low, high, count = cursor.execute(
            "SELECT min(id), max(id), count(*) FROM metrics WHERE run_id = ?", (run_id,)
        ).fetchone()
        if low is None:
            return []
        columns = "SELECT key, step, epoch, value, wall_time FROM metrics"
        if high - low + 1 <= 4 * count:
            cursor.execute(
                f"{columns} NOT INDEXED WHERE id BETWEEN ? AND ? AND run_id = ? ORDER BY id",
                (low, high, run_id),
            )
        else:
            cursor.execute(f"{columns} WHERE run_id = ? ORDER BY id", (run_id,))
        return list(cursor.fetchall())
    finally:
        cursor.close()


def group_metric_rows(rows: Sequence[Sequence[Any]]) -> dict[str, MetricSeries]:
    """``(key, step, epoch, value, wall_time)`` rows in logging order as one series a key, in
    the order the keys first appear; a stored NULL value is NaN. The rows are split by key
    first and each group's columns cut out by list comprehensions: a few C-speed passes, not
    four appends a row."""
    groups: dict[str, list[Sequence[Any]]] = {}
    for row in rows:
        group = groups.get(row[0])
        if group is None:
            groups[row[0]] = [row]
        else:
            group.append(row)
    series: dict[str, MetricSeries] = {}
    for key, group in groups.items():
        values = [r[3] for r in group]
        if None in values:
            values = [math.nan if v is None else float(v) for v in values]
        series[key] = MetricSeries(
            steps=[r[1] for r in group],
            epochs=[r[2] for r in group],
            values=values,
            wall_times=[r[4] for r in group],
        )
    return series


def _forward_heartbeat(value: float) -> Any:
    """SQL for the heartbeat column set to ``value`` unless it already holds a newer one."""
    column = tables.runs.c.heartbeat
    return case((column.is_(None) | (column < value), value), else_=column)


class SQLStore:
    """A store in any database SQLAlchemy reaches; SQLite and PostgreSQL are tested.

    ``heartbeat_timeout`` is how old a running run's heartbeat may grow before the run reads as
    ``crashed``.
    """

    def __init__(
        self,
        location: StoreLocation,
        heartbeat_timeout: float = DEFAULT_HEARTBEAT_TIMEOUT_S,
        *,
        create: bool = True,
    ):
        """Open the store; ``create=False`` (read-only use) creates, migrates and writes
        nothing, and refuses a missing store or another application's database."""
        self.location = location
        self.heartbeat_timeout = heartbeat_timeout
        self.read_only = not create
        self._artifacts: ArtifactStore | None = None
        description = location.describe()
        if not create and location.is_sqlite:
            database = make_url(location.url).database
            if database and database != ":memory:" and not Path(database).exists():
                raise StoreUnavailableError(
                    f"no modelboard store at {description}; pass --store FOLDER_OR_URL or set "
                    f"{URI_ENV} (a tracked run creates ./.modelboard)"
                )
        self.engine = make_engine(location.url, create=create)
        try:
            if create:
                self.schema_version = self._with_retry(
                    lambda: ensure_schema(self.engine, description)
                )
            else:
                self.schema_version = check_schema(self.engine, description)
        except (OperationalError, InterfaceError) as exc:
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreUnavailableError(
                f"cannot open the store at {description}: {reason}. Check that the "
                f"server is running and the URL is right (--store or {URI_ENV})"
            ) from exc
        except DatabaseError as exc:  # SQLite: "file is not a database"
            self.engine.dispose()
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise StoreUnavailableError(
                f"the file behind the store at {description} is not a SQLite database or is "
                f"corrupt ({reason}); point --store (or {URI_ENV}) at a modelboard store "
                "folder, or move the file away to start a new store"
            ) from exc
        except ModelboardError:
            self.engine.dispose()
            raise
        if create:
            location.artifact_root.mkdir(mode=0o700, parents=True, exist_ok=True)

    # -- transactions -------------------------------------------------------------------------

    def _with_retry(self, work: Callable[[], T]) -> T:
        for attempt in range(_RETRIES):
            try:
                return work()
            except OperationalError as exc:
                transient = any(w in str(exc).lower() for w in ("locked", "busy", "deadlock"))
                if not transient or attempt == _RETRIES - 1:
                    raise
                time.sleep(min(0.05 * 2**attempt, 2.0))
        raise AssertionError("unreachable")

    def _write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction; a failure is a ``StoreWriteError`` (never a raw
        driver error), with ``refused_values`` telling a bad value from a full or lost store."""

        def attempt() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        try:
            return self._with_retry(attempt)
        except RunNotFoundError:
            raise
        except _WRITE_FAILURES as exc:
            raise as_store_write_error(exc, self.location.describe()) from exc

    def _read(self, work: Callable[[Connection], T]) -> T:
        def attempt() -> T:
            with self.engine.connect().execution_options(**{READ_ONLY: True}) as conn:
                return work(conn)

        return self._with_retry(attempt)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- runs ---------------------------------------------------------------------------------

    @staticmethod
    def _run_columns(record: RunRecord) -> dict[str, Any]:
        return {
            "project": record.project,
            "name": record.name,
            "status": record.status,
            "framework": record.framework,
            "created": record.created,
            "ended": record.ended,
            "heartbeat": record.heartbeat,
            "parent_id": record.parent_id,
            "record": record.to_json(),
        }

    def create_run(self, record: RunRecord) -> None:
        """Insert a new run."""

        def work(conn: Connection) -> None:
            conn.execute(tables.runs.insert().values(id=record.id, **self._run_columns(record)))
            replace_values(conn, record.id, ("param", "tag", "run"), run_record_rows(record))

        self._write(work)

    def update_run(self, record: RunRecord) -> None:
        """Overwrite a run's record and its query columns.

        The heartbeat column only moves forward: the writer thread refreshes it between updates,
        and an update carrying an older heartbeat must not make a live run look stale.
        """
        self._write(lambda conn: self._update_run_row(conn, record))

    def _update_run_row(self, conn: Connection, record: RunRecord) -> None:
        newer_heartbeat = (
            tables.runs.c.heartbeat
            if record.heartbeat is None
            else _forward_heartbeat(record.heartbeat)
        )
        result = conn.execute(
            update(tables.runs)
            .where(tables.runs.c.id == record.id)
            .values(**{**self._run_columns(record), "heartbeat": newer_heartbeat})
        )
        if result.rowcount == 0:
            raise RunNotFoundError(f"run {record.id} is not in the store (was it deleted?)")
        replace_values(conn, record.id, ("param", "tag", "run"), run_record_rows(record))
        refresh_summary(conn, record.id, record.status)

    def change_run(self, run_id: str, change: Callable[[RunRecord | None], RunRecord]) -> RunRecord:
        """Write ``change(stored)`` as the run's record, where ``stored`` is the record in the
        store (``None`` when it cannot be read), all in one transaction (SQLite's write lock,
        PostgreSQL's ``SELECT ... FOR UPDATE``): writers in several processes never lose each
        other's changes. Returns the record written."""

        def work(conn: Connection) -> RunRecord:
            query = select(tables.runs.c.record).where(tables.runs.c.id == run_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None:
                raise RunNotFoundError(f"run {run_id} is not in the store (was it deleted?)")
            try:
                stored: RunRecord | None = RunRecord.from_json(row.record)
            except Exception as exc:  # a damaged record is replaced, not kept forever
                _warn_unreadable(run_id, "run record", exc)
                stored = None
            record = change(stored)
            self._update_run_row(conn, record)
            return record

        return self._write(work)

    def _effective(self, record: RunRecord, now: float) -> RunRecord:
        stale = record.heartbeat is not None and now - record.heartbeat > self.heartbeat_timeout
        if record.status == "running" and stale:
            record.status = "crashed"
        return record

    def _record_from_row(self, row: Any, now: float) -> RunRecord:
        try:
            record = RunRecord.from_json(row.record)
        except Exception as exc:  # one damaged run must not break reading the store
            record = self._fallback_record(row, exc)
        record.heartbeat = row.heartbeat  # the column is newer than the JSON between updates
        return self._effective(record, now)

    def _fallback_record(self, row: Any, exc: Exception) -> RunRecord:
        """The run record rebuilt from the query columns, its reason in ``notes``."""
        mapping = row._mapping
        run_id = str(mapping.get("id") or "")
        reason = _warn_unreadable(run_id or "?", "run record", exc)
        return RunRecord(
            id=run_id,
            name=str(mapping.get("name") or ""),
            project=str(mapping.get("project") or "default"),
            framework=mapping.get("framework"),
            status=str(mapping.get("status") or "running"),
            created=float(mapping.get("created") or 0.0),
            ended=mapping.get("ended"),
            parent_id=mapping.get("parent_id"),
            notes=f"modelboard: {reason}",
            flags={"record_unreadable": True},
        )

    @staticmethod
    def _record_columns() -> list[Any]:
        c = tables.runs.c
        return [
            c.record,
            c.heartbeat,
            c.id,
            c.name,
            c.project,
            c.framework,
            c.status,
            c.created,
            c.ended,
            c.parent_id,
        ]

    def resolve_run_id(self, prefix: str) -> str:
        """The full id of the run whose id is ``prefix`` or starts with it."""
        prefix = prefix.strip().lower()
        if not prefix:
            raise RunNotFoundError("an empty run id matches no run")
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

        def work(conn: Connection) -> list[str]:
            return [
                r[0]
                for r in conn.execute(
                    select(tables.runs.c.id)
                    .where(tables.runs.c.id.like(escaped + "%", escape="\\"))
                    .limit(6)
                )
            ]

        matches = self._read(work)
        if prefix in matches:
            return prefix
        if not matches:
            raise RunNotFoundError(f"no run with id {prefix!r} in {self.location.describe()}")
        if len(matches) > 1:
            shown = ", ".join(m[:12] for m in matches[:5])
            raise AmbiguousRunIdError(
                f"run id prefix {prefix!r} matches several runs ({shown}); give more characters"
            )
        return matches[0]

    def get_run(self, run_id: str) -> RunRecord:
        """The run record with its effective status (``crashed`` once the heartbeat is stale)."""
        full_id = self.resolve_run_id(run_id)
        cols = tables.runs.c
        row = self._read(
            lambda conn: conn.execute(
                select(*self._record_columns()).where(cols.id == full_id)
            ).first()
        )
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r} in {self.location.describe()}")
        return self._record_from_row(row, time.time())

    def list_runs(
        self,
        *,
        project: str | None = None,
        status: str | Sequence[str] | None = None,
        parent_id: str | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[RunRecord]:
        """Run records, filtered in the database; ``status`` filters on the effective status."""
        now = time.time()
        cols = tables.runs.c
        query = select(*self._record_columns())
        if project is not None:
            query = query.where(cols.project == project)
        if parent_id is not None:
            query = query.where(cols.parent_id == parent_id)
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            query = query.where(self.effective_status_clause(now).in_(wanted))
        query = query.order_by(cols.created.desc() if newest_first else cols.created.asc())
        if limit is not None:
            query = query.limit(limit)
        rows = self._read(lambda conn: conn.execute(query).all())
        return [self._record_from_row(row, now) for row in rows]

    def effective_status_clause(self, now: float) -> Any:
        """SQL for a run's status as readers see it (stale running runs are ``crashed``)."""
        cols = tables.runs.c
        cutoff = now - self.heartbeat_timeout
        return case(
            ((cols.status == "running") & (cols.heartbeat < cutoff), "crashed"),
            else_=cols.status,
        )

    def delete_run(self, run_id: str) -> None:
        """Delete a run with everything recorded for it, its artifact folder included.

        A stored id that is not one of ours (a crafted ``../../x``) loses its rows, but never
        names a folder to delete: only a folder directly under the artifact root is removed.
        """
        full_id = self.resolve_run_id(run_id)

        def work(conn: Connection) -> None:
            for table in (
                tables.metrics,
                tables.gradients,
                tables.records,
                tables.artifacts,
                tables.run_values,
                tables.run_summaries,
            ):
                conn.execute(delete(table).where(table.c.run_id == full_id))
            trials = tables.search_trials  # a search run's trials go with it (its runs stay)
            conn.execute(delete(trials).where(trials.c.search_id == full_id))
            conn.execute(delete(tables.runs).where(tables.runs.c.id == full_id))

        self._write(work)
        if is_run_id(full_id):
            try:
                self.artifacts.delete_run(full_id)
            except ModelboardError as exc:  # the rows are gone; gc removes the folder later
                log.warning(
                    "modelboard: run %s is deleted but its artifact folder is not: %s; "
                    "`modelboard gc` removes it once the artifact store answers",
                    full_id[:8],
                    exc,
                )
            if self.location.artifacts_remote:  # and its local staging folder
                shutil.rmtree(self.artifact_dir(full_id, create=False), ignore_errors=True)

    # -- records ------------------------------------------------------------------------------

    def put_record(self, run_id: str, kind: str, record: Record) -> None:
        """Store a record (``data``, ``network``, ``evaluation:<split>``) and its values."""

        def work(conn: Connection) -> None:
            self._put_record_row(conn, run_id, kind, record)
            refresh_summary(conn, run_id)  # an ended run's summary, with the new values

        self._write(work)

    def write_run_summary(self, run_id: str) -> None:
        """Write the summary of an ended run (``modelboard.store.run_summary``) from its values
        as stored now; a running run gets none. Called once a run's last writes are stored."""
        self._write(lambda conn: refresh_summary(conn, run_id))

    @staticmethod
    def _put_record_row(conn: Connection, run_id: str, kind: str, record: Record) -> None:
        payload = record.to_json()
        conn.execute(
            delete(tables.records).where(
                tables.records.c.run_id == run_id, tables.records.c.kind == kind
            )
        )
        conn.execute(
            tables.records.insert().values(
                run_id=run_id, kind=kind, payload=payload, updated=time.time()
            )
        )
        write_record_values(conn, run_id, kind, record)

    def put_evaluation(self, run_id: str, record: EvaluationRecord) -> None:
        """Store an evaluation record and its ``<split>_<metric>`` leaderboard values."""
        self.put_record(run_id, EVALUATION_PREFIX + record.split, record)

    def get_records(self, run_id: str) -> dict[str, Record]:
        """Every record document of a run, keyed by kind."""
        rows = self._read(
            lambda conn: conn.execute(
                select(tables.records.c.kind, tables.records.c.payload).where(
                    tables.records.c.run_id == run_id
                )
            ).all()
        )
        out: dict[str, Record] = {}
        for kind, payload in rows:
            try:
                record = parse_document(kind, payload)
            except Exception as exc:  # reported for this record of this run alone
                _warn_unreadable(run_id, f"{kind} record", exc)
                continue
            if record is not None:
                out[kind] = record
        return out

    def get_dropped(self, run_id: str) -> dict[str, Any]:
        """What the writer could not store for a run and why: ``{"counts": {...}, "reasons":
        [...]}``, empty when nothing was dropped."""
        r = tables.records
        payload = self._read(
            lambda conn: conn.execute(
                select(r.c.payload).where(r.c.run_id == run_id, r.c.kind == DROPPED_KIND)
            ).scalar()
        )
        return dict(json.loads(payload)) if payload else {}

    def record_dropped(self, run_id: str, counts: Mapping[str, int], reason: str) -> None:
        """Add to the run's account of dropped values (a small ``records`` row)."""
        r = tables.records

        def work(conn: Connection) -> None:
            payload = conn.execute(
                select(r.c.payload).where(r.c.run_id == run_id, r.c.kind == DROPPED_KIND)
            ).scalar()
            doc: dict[str, Any] = json.loads(payload) if payload else {"counts": {}, "reasons": []}
            for what, n in counts.items():
                doc["counts"][what] = doc["counts"].get(what, 0) + int(n)
            if len(doc["reasons"]) < 20:
                doc["reasons"].append(reason[:500])
            conn.execute(delete(r).where(r.c.run_id == run_id, r.c.kind == DROPPED_KIND))
            conn.execute(
                r.insert().values(
                    run_id=run_id, kind=DROPPED_KIND, payload=json.dumps(doc), updated=time.time()
                )
            )

        self._write(work)

    # -- metrics and gradients ----------------------------------------------------------------

    def append(
        self,
        run_id: str,
        points: Sequence[MetricPoint],
        gradient_records: Sequence[GradientRecord] = (),
        heartbeat: float | None = None,
        records: Mapping[str, Record] | None = None,
        run_record: RunRecord | None = None,
    ) -> None:
        """Write a batch in one transaction: metric points, gradient records, record documents
        (``{kind: record}``), the run record and a heartbeat."""
        if not (points or gradient_records or records or run_record) and heartbeat is None:
            return

        def work(conn: Connection) -> None:
            for kind, record in (records or {}).items():
                self._put_record_row(conn, run_id, kind, record)
            if run_record is not None:
                self._update_run_row(conn, run_record)
            if points:
                conn.execute(
                    tables.metrics.insert(),
                    [
                        {
                            "run_id": run_id,
                            "key": k,
                            "step": s,
                            "epoch": e,
                            "value": v if not math.isnan(v) else None,
                            "wall_time": w,
                        }
                        for k, s, e, v, w in points
                    ],
                )
                merge_metric_summaries(conn, run_id, points)
            if gradient_records:
                conn.execute(
                    tables.gradients.insert(),
                    [
                        {
                            "run_id": run_id,
                            "step": g.step,
                            "epoch": g.epoch,
                            "wall_time": g.wall_time,
                            "global_norm": g.global_norm if math.isfinite(g.global_norm) else None,
                            "payload": g.to_json(),
                        }
                        for g in gradient_records
                    ],
                )
            if heartbeat is not None:
                conn.execute(
                    update(tables.runs)
                    .where(tables.runs.c.id == run_id)
                    .values(heartbeat=_forward_heartbeat(heartbeat))
                )
            if run_record is not None and points:  # the points came after the record's summary
                refresh_summary(conn, run_id, run_record.status)

        self._write(work)

    def append_points(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Write metric points (and their last/min/max summaries) in one transaction, with the
        driver's ``executemany`` on prepared rows: the writer's fast path."""
        if not points:
            return

        def work(conn: Connection) -> None:
            columns = "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) VALUES "
            if conn.dialect.paramstyle == "qmark" and run_id.isalnum():
                # SQLite binds NaN as NULL itself: the queued tuples go to the driver as they are
                conn.exec_driver_sql(f"{columns}('{run_id}', ?, ?, ?, ?, ?)", points)
            else:
                rows = [(run_id, k, s, e, None if v != v else v, w) for k, s, e, v, w in points]
                conn.exec_driver_sql(f"{columns}(%s, %s, %s, %s, %s, %s)", rows)
            merge_metric_summaries(conn, run_id, points)

        self._write(work)

    def write_documents(
        self,
        run_id: str,
        gradient_records: Sequence[GradientRecord] = (),
        records: Mapping[str, Record] | None = None,
        run_record: RunRecord | None = None,
    ) -> None:
        """Write gradient records, record documents and the run record in one transaction."""
        if gradient_records or records or run_record:
            self.append(run_id, (), gradient_records, records=records, run_record=run_record)

    def write_prepared(
        self,
        run_id: str,
        gradient_records: Sequence[GradientRecord] = (),
        documents: Mapping[str, PreparedDocument] | None = None,
    ) -> None:
        """Write gradient records and prepared record documents (``{kind: document}``, see
        ``modelboard.store.documents``) in one transaction: the run writer's path, which stores
        each document's text and values as they were prepared."""
        if not (gradient_records or documents):
            return

        def work(conn: Connection) -> None:
            for kind, document in (documents or {}).items():
                write_prepared_document(conn, run_id, kind, document)
            insert_gradient_records(conn, run_id, gradient_records)

        self._write(work)

    def beat(self, run_id: str, when: float) -> None:
        """Move the run's heartbeat forward to ``when``, in its own small transaction."""
        self._write(
            lambda conn: conn.execute(
                update(tables.runs)
                .where(tables.runs.c.id == run_id)
                .values(heartbeat=_forward_heartbeat(when))
            )
        )

    def get_training(self, run_id: str) -> TrainingRecord:
        """Every metric point of a run, grouped by metric name in logging order."""
        m = tables.metrics

        def work(conn: Connection) -> list[Any]:
            if conn.dialect.name == "sqlite":
                return _sqlite_metric_rows(conn, run_id)
            return list(
                conn.execute(
                    select(m.c.key, m.c.step, m.c.epoch, m.c.value, m.c.wall_time)
                    .where(m.c.run_id == run_id)
                    .order_by(m.c.id)
                ).all()
            )

        return TrainingRecord(metrics=group_metric_rows(self._read(work)))

    def get_gradients(self, run_id: str) -> list[GradientRecord]:
        """Every gradient capture of a run, in order."""
        g = tables.gradients
        rows = self._read(
            lambda conn: conn.execute(
                select(g.c.payload).where(g.c.run_id == run_id).order_by(g.c.id)
            ).all()
        )
        out = []
        for (payload,) in rows:
            try:
                out.append(GradientRecord.from_json(payload))
            except Exception as exc:  # reported for this run alone
                _warn_unreadable(run_id, "gradient record", exc)
        return out

    # -- artifacts ----------------------------------------------------------------------------

    @property
    def artifacts(self) -> ArtifactStore:
        """The store of artifact files: the local folder, or the object store of an fsspec
        artifact root (``MODELBOARD_ARTIFACT_ROOT=s3://bucket/prefix``)."""
        if self._artifacts is None:
            self._artifacts = open_artifact_store(self.location)
        return self._artifacts

    def artifact_dir(self, run_id: str, create: bool = True) -> Path:
        """The local folder of a run's artifacts under ``location.artifact_root``
        (``ArtifactPathError`` for an id that is not one of ours). With a remote artifact
        root it is the run's staging folder: files reach the object store through
        ``Run.log_artifact`` (``artifacts.put_file``)."""
        folder = run_folder(self.location.artifact_root, run_id)
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        return folder

    def add_artifact(self, run_id: str, record: ArtifactRecord) -> None:
        """Register a file already placed in the run's artifact folder (or object store)."""

        def work(conn: Connection) -> None:
            a = tables.artifacts
            conn.execute(delete(a).where(a.c.run_id == run_id, a.c.path == record.path))
            conn.execute(
                a.insert().values(
                    run_id=run_id,
                    path=record.path,
                    kind=record.kind,
                    size=record.size,
                    created=record.created,
                )
            )

        self._write(work)

    def get_artifacts(self, run_id: str) -> list[ArtifactRecord]:
        """The run's artifacts in the order they were added."""
        a = tables.artifacts
        rows = self._read(
            lambda conn: conn.execute(
                select(a.c.path, a.c.kind, a.c.size, a.c.created)
                .where(a.c.run_id == run_id)
                .order_by(a.c.created, a.c.path)
            ).all()
        )
        return [
            ArtifactRecord(path=p, kind=k, size=int(s), created=float(c)) for p, k, s, c in rows
        ]

    def delete_orphan_rows(self, dry_run: bool = False) -> int:
        """Delete rows of runs that no longer exist (a run deleted while its process still
        wrote); returns how many there were."""
        owned = (
            tables.metrics,
            tables.gradients,
            tables.records,
            tables.artifacts,
            tables.run_values,
        )

        def work(conn: Connection) -> int:
            total = 0
            for table in owned:
                orphan = table.c.run_id.not_in(select(tables.runs.c.id))
                if dry_run:
                    total += conn.execute(
                        select(func.count()).select_from(table).where(orphan)
                    ).scalar_one()
                else:
                    total += conn.execute(delete(table).where(orphan)).rowcount
            return int(total)

        return self._write(work)

    def known_run_ids(self) -> set[str]:
        """Ids of every stored run (for garbage collection of artifact folders)."""
        return {r[0] for r in self._read(lambda conn: conn.execute(select(tables.runs.c.id)).all())}
