"""``Tracker``: opens a store and starts runs, with or without a model."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from modelboard import settings
from modelboard.errors import ModelboardError, RunFinishedError, UnsupportedModelError
from modelboard.records import DataRecord, EvaluationRecord, NetworkRecord, RunRecord
from modelboard.store import SQLStore, resolve_location
from modelboard.tracking.distributed import next_run_key, process_group, rank_facts
from modelboard.tracking.environment import capture_environment
from modelboard.tracking.run import Run, as_data_record
from modelboard.tracking.start_line import announce_start
from modelboard.tracking.stored_run import StoredRun
from modelboard.tracking.writers import change_stored_run, merge_ranks, merge_writers, new_writer

if TYPE_CHECKING:
    from modelboard.tracking.distributed import ProcessGroup

__all__ = ["Tracker", "HEARTBEAT_TIMEOUT_ENV"]

HEARTBEAT_TIMEOUT_ENV = "MODELBOARD_HEARTBEAT_TIMEOUT"


def _heartbeat_timeout(value: float | None) -> float:
    if value is not None:
        return float(value)
    from modelboard import settings

    return settings.heartbeat_timeout()


def _fill_from_data(network: NetworkRecord, data: DataRecord) -> None:
    """Batch size and steps per epoch from a loader given as ``data=``, where the adapter left
    them empty; why they are unknown, when the loader says why."""
    from modelboard.data import training_facts, training_unknowns

    for name, value in training_facts(data).items():
        if getattr(network, name) is None:
            setattr(network, name, value)
    for name, reason in training_unknowns(data).items():
        if getattr(network, name) is None and name not in network.unknown:
            network.unknown[name] = reason


class Tracker:
    """The entry point: ``mb.Tracker()`` opens ``./.modelboard`` (or ``MODELBOARD_URI``).

    ``store`` is a folder or an SQLAlchemy URL (``postgresql+psycopg://...``).
    ``artifact_root`` (default ``MODELBOARD_ARTIFACT_ROOT``, else beside the store) is a folder
    or an fsspec URL such as ``s3://bucket/prefix`` (docs/artifacts.md).
    ``heartbeat_timeout`` (default 30 s, or ``MODELBOARD_HEARTBEAT_TIMEOUT``) is how long a run
    may go without a heartbeat before it reads as ``crashed``. ``read_only=True`` opens an
    existing store without creating, migrating or writing anything (what ``modelboard ls``,
    ``show``, ``compare`` and ``export`` use) and refuses to start runs. Each run started prints
    one line on stderr saying where it went, unless ``announce=False`` or ``MODELBOARD_SILENT``.
    """

    def __init__(
        self,
        store: str | os.PathLike[str] | None = None,
        *,
        project: str = "default",
        artifact_root: str | os.PathLike[str] | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
        heartbeat_timeout: float | None = None,
        read_only: bool = False,
        announce: bool = True,
    ) -> None:
        if plugin_manager is None:
            from modelboard.plugins import get_plugin_manager

            plugin_manager = get_plugin_manager()
        self.plugins = plugin_manager
        self.project = project
        self.location = resolve_location(store, artifact_root)
        self.read_only = read_only
        self.announce = announce
        self.store = SQLStore(
            self.location,
            heartbeat_timeout=_heartbeat_timeout(heartbeat_timeout),
            create=not read_only,
        )
        # the run that last tracked each model, to detach it when the model is tracked again;
        # weak, so that finished runs and their models can be freed
        self._tracked: weakref.WeakValueDictionary[int, Run] = weakref.WeakValueDictionary()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Tracker(store={self.location.describe()!r}, project={self.project!r})"

    # -- starting runs ------------------------------------------------------------------------

    def _check_writable(self) -> None:
        if self.read_only:
            raise ModelboardError(
                f"this tracker opened {self.location.describe()} read-only; open it with "
                "mb.Tracker(...) (read_only=False) to start runs"
            )

    def new_record(
        self,
        name: str | None,
        project: str | None,
        hparams: Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
        notes: str,
        parent: Run | str | None,
        framework: str | None,
        framework_version: str | None,
        distributed: dict[str, Any] | None = None,
    ) -> RunRecord:
        """A new run's record as ``start_run`` makes it (fresh id, running, heartbeat now),
        not yet stored: for code that creates runs itself, such as ``mb.search``'s workers."""
        self._check_writable()
        run_id = uuid.uuid4().hex
        now = time.time()
        parent_id = parent.id if isinstance(parent, Run) else parent
        return RunRecord(
            id=run_id,
            name=name or f"run-{run_id[:8]}",
            project=project or self.project,
            framework=framework,
            framework_version=framework_version,
            status="running",
            created=now,
            heartbeat=now,
            parent_id=parent_id,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            params=dict(hparams or {}),
            notes=notes,
            environment=capture_environment(self.plugins.hook),
            distributed=dict(distributed or {}),
            writers=[new_writer("owner", 0 if distributed else None)],
        )

    def start_run(
        self,
        name: str | None = None,
        *,
        data: Any = None,
        hparams: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        project: str | None = None,
        notes: str = "",
        parent: Run | str | None = None,
        framework: str | None = None,
    ) -> Run:
        """Start a run with no model: log metrics, or evaluate predictions made elsewhere.

        With ``MODELBOARD_RUN_ID`` set, this joins that run instead (see :meth:`resume`); in
        an initialised process group every rank's call makes one run (docs/distributed.md).
        """
        data_record = as_data_record(data) if data is not None else None  # checked before storing
        joining = settings.run_id()
        if joining is not None:
            return self._join(
                joining,
                data_record=data_record,
                group=process_group(self.plugins.hook),
                via="MODELBOARD_RUN_ID",
            )

        def start(group: ProcessGroup | None, distributed: dict[str, Any]) -> Run:
            record = self.new_record(
                name, project, hparams, tags, notes, parent, framework, None, distributed
            )
            self.store.create_run(record)
            run = Run(record, self.store, self.plugins, writer=record.writers[0], group=group)
            if data_record is not None:
                run.set_data(data_record)
            run.flush()
            if self.announce:
                announce_start(record, self.location)
            return run

        return self._start(start, None, {}, "start_run", name)

    def track(
        self,
        obj: Any,
        *,
        name: str | None = None,
        data: Any = None,
        hparams: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        project: str | None = None,
        notes: str = "",
        parent: Run | str | None = None,
        **options: Any,
    ) -> Run:
        """Start a run for a model; the adapter that claims it records network and training.

        Extra keyword arguments go to the adapter (``optimizer=``, ``example_input=``,
        ``gradients_every=``...); each adapter declares the ones it takes, and an unknown name
        or a value of the wrong kind raises ``TypeError`` before anything is stored.
        """
        hook = self.plugins.hook
        data_record = as_data_record(data) if data is not None else None  # checked before storing
        info = self._framework_of(obj, options)
        joining = settings.run_id()
        if joining is not None:
            return self._join(
                joining,
                obj=obj,
                options=options,
                data_record=data_record,
                group=process_group(self.plugins.hook),
                via="MODELBOARD_RUN_ID",
            )

        def start(group: ProcessGroup | None, distributed: dict[str, Any]) -> Run:
            network: NetworkRecord | None = hook.modelboard_describe_network(
                obj=obj, options=options
            )
            if network is not None and data_record is not None:
                _fill_from_data(network, data_record)
            run_name = name or (network.architecture if network is not None else None)
            record = self.new_record(
                run_name,
                project,
                hparams,
                tags,
                notes,
                parent,
                info.name,
                info.version,
                distributed,
            )
            self.store.create_run(record)
            run = Run(
                record,
                self.store,
                self.plugins,
                model=obj,
                options=options,
                writer=record.writers[0],
                group=group,
            )
            try:
                if data_record is not None:
                    run.set_data(data_record)
                if network is not None:
                    run.set_network(network)
                run.flush()  # a store that refuses writes fails here, before training starts
                self._attach(run, obj, options)
            except BaseException as exc:
                run.finish("failed", error=exc)
                raise
            if self.announce:
                announce_start(record, self.location)
            return run

        return self._start(start, obj, options, f"track:{info.name}", name)

    def _framework_of(self, obj: Any, options: dict[str, Any]) -> Any:
        """The adapter's ``FrameworkInfo`` for ``obj``, its options checked."""
        hook = self.plugins.hook
        info = hook.modelboard_detect_framework(obj=obj)
        if info is None:
            from modelboard.plugins import adapter_names

            raise UnsupportedModelError(obj, adapter_names(self.plugins))
        declared = hook.modelboard_track_options(obj=obj)
        if declared is not None:
            from modelboard.plugins.options import check_track_options

            check_track_options(info.name, declared, options)
        return info

    def _attach(self, run: Run, obj: Any, options: dict[str, Any]) -> None:
        """Hook ``obj``'s training for ``run``, detaching the run that tracked it before."""
        with self._lock:
            previous = self._tracked.get(id(obj))
            if previous is not None and previous.model is obj:
                previous.detach()
        run.attach(self.plugins.hook.modelboard_attach_training(obj=obj, run=run, options=options))
        with self._lock:
            self._tracked[id(obj)] = run

    # -- process groups and joining -----------------------------------------------------------

    def _start(
        self,
        start: Callable[[ProcessGroup | None, dict[str, Any]], Run],
        obj: Any,
        options: dict[str, Any],
        call: str,
        name: str | None,
    ) -> Run:
        """``start`` a run here, or, in a process group, once for all ranks: rank 0 starts it
        and publishes its id through the group (it never waits on the others, so a run made
        under ``if rank == 0:`` works too); the other ranks fetch the id and join the run as
        ``rank`` writers."""
        group = process_group(self.plugins.hook)
        if group is None:
            return start(None, {})
        key = next_run_key(call, name)
        facts = {"rank": group.rank, **rank_facts()}
        if group.rank == 0:
            distributed = {"backend": group.backend, "world_size": group.world_size}
            try:
                run = start(group, {**distributed, "ranks": [facts]})
            except BaseException as exc:  # the other ranks wait for an answer: give one
                group.publish(key, json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
                raise
            group.publish(key, json.dumps({"run_id": run.id}))
            return run
        answer = json.loads(group.fetch(key))
        if "run_id" not in answer:
            raise ModelboardError(
                f"rank 0 could not start the run ({answer.get('error')}); rank {group.rank} "
                "has none either"
            )
        return self._join(
            str(answer["run_id"]),
            obj=obj,
            options=options,
            group=group,
            facts=facts,
            role="rank",
            via="the process group",
        )

    def resume(
        self,
        run_id: str,
        *,
        reopen: bool = False,
        model: Any = None,
        data: Any = None,
        **options: Any,
    ) -> Run:
        """Join an existing run from this process: add metrics, evaluations and artifacts.

        The run keeps its owner: this writer is listed in ``record.writers`` with the role
        ``joined``, and its ``finish`` ends only its own entry, never the run. A run that is no
        longer running (finished, failed, killed, crashed) is joined only with ``reopen=True``:
        it then reads as running again, and this writer's ``finish`` sets its status. ``model``
        (and its adapter ``options``) makes ``run.predict``/``run.evaluate(x, y)`` work; its
        network is stored only when the run has none. See docs/distributed.md.
        """
        data_record = as_data_record(data) if data is not None else None
        if model is not None:
            self._framework_of(model, options)
        return self._join(
            run_id,
            reopen=reopen,
            obj=model,
            options=options,
            data_record=data_record,
            group=process_group(self.plugins.hook),
            via="tracker.resume",
        )

    def _join(
        self,
        run_id: str,
        *,
        reopen: bool = False,
        obj: Any = None,
        options: dict[str, Any] | None = None,
        data_record: DataRecord | None = None,
        group: ProcessGroup | None = None,
        facts: dict[str, Any] | None = None,
        role: str = "joined",
        via: str,
    ) -> Run:
        self._check_writable()
        options = dict(options or {})
        record = self.store.get_run(run_id)
        reopening = False
        if role == "joined" and record.status != "running":
            if not reopen:
                raise RunFinishedError(
                    f"run {record.id[:8]} ({record.name}), joined through {via}, is already "
                    f"{record.status}; a run that ended is reopened only on purpose: "
                    f"tracker.resume({record.id[:8]!r}, reopen=True)"
                    + (
                        ", or unset MODELBOARD_RUN_ID to start a new run"
                        if via == "MODELBOARD_RUN_ID"
                        else ""
                    )
                )
            reopening = True
        entry = new_writer(role, group.rank if group is not None else None, reopened=reopening)
        if reopening:
            entry["previous"] = {
                "status": record.status,
                "ended": record.ended,
                "error": None if record.error is None else record.error.get("type"),
            }
        now = time.time()

        def register(stored: RunRecord) -> None:
            if reopening:
                stored.status, stored.ended, stored.heartbeat = "running", None, now
            stored.writers = merge_writers(stored.writers, [entry])
            if facts is not None:
                stored.distributed = merge_ranks(stored.distributed, {"ranks": [facts]})

        record = change_stored_run(self.store, record.id, register)
        run = Run(
            record,
            self.store,
            self.plugins,
            model=obj,
            options=options,
            role=role,
            writer=entry,
            group=group,
        )
        if role == "rank" or (group is not None and group.rank != 0):
            return run  # rank 0 writes the network and data, and captures the gradients
        try:
            documents = self.store.get_records(record.id)
            stored_data = documents.get("data")
            if isinstance(stored_data, DataRecord):
                run.data = stored_data
            elif data_record is not None:
                run.set_data(data_record)
            if obj is not None and "network" not in documents:
                network = self.plugins.hook.modelboard_describe_network(obj=obj, options=options)
                if network is not None:
                    run._owns_network = True  # the run had none: this writer's model is it
                    run.set_network(network)
            run.flush()
            if obj is not None and run._owns_network:
                self._attach(run, obj, options)
        except BaseException as exc:
            run.finish("failed", error=exc)
            raise
        return run

    # -- reading runs -------------------------------------------------------------------------

    def runs(
        self,
        *,
        project: str | None = None,
        status: str | Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Sequence[RunRecord]:
        """Run records, newest first; ``status`` filters on the effective status.

        A ``RunList`` (``modelboard.store.run_list``): the runs are picked now, their records
        read a chunk at a time as they are reached; it equals a list of the same records.
        """
        from modelboard.store.run_list import RunList, list_run_ids

        now = time.time()
        ids = list_run_ids(self.store, project=project, status=status, limit=limit, now=now)
        return RunList(self.store, ids, now=now)

    def get(self, run_id: str | Run) -> StoredRun:
        """Every record of one run; ``run_id`` may be a unique prefix."""
        run_key = run_id.id if isinstance(run_id, Run) else run_id
        if isinstance(run_id, Run):
            run_id.flush()
        record = self.store.get_run(run_key)
        documents = self.store.get_records(record.id)
        data = documents.get("data")
        network = documents.get("network")
        evaluations = {
            kind.split(":", 1)[1]: doc
            for kind, doc in documents.items()
            if isinstance(doc, EvaluationRecord)
        }
        return StoredRun(
            run=record,
            data=data if isinstance(data, DataRecord) else None,
            network=network if isinstance(network, NetworkRecord) else None,
            training=self.store.get_training(record.id),
            gradients=self.store.get_gradients(record.id),
            evaluations=evaluations,
            artifacts=self.store.get_artifacts(record.id),
        )

    def leaderboard(
        self,
        sort: str | Sequence[str] | None = None,
        *,
        ascending: bool | None = None,
        where: str | None = None,
        columns: Sequence[str] | str | None = None,
        project: str | None = None,
        limit: int | None = None,
        directions: Mapping[str, str] | None = None,
        comparable: bool = False,
        group_by: Sequence[str] | str | None = None,
    ) -> Any:
        """A pandas DataFrame, one row per run, sorted, filtered and limited in the database.

        ``sort`` names a column (``"val_accuracy"``, ``"-created"``); metrics sort best first
        unless ``ascending`` says otherwise. ``where`` is a filter such as
        ``"framework = 'torch' and val_accuracy > 0.9"``. See ``modelboard.leaderboard``.
        ``comparable=True`` ranks the metric only within groups of runs evaluated on the same
        data, one row per entry (seeds aggregated, ``group_by=`` columns make entries instead,
        ties marked): see ``modelboard.leaderboard.ranking``.
        """
        if comparable or group_by is not None:
            if not comparable:
                raise ValueError("group_by= makes entries of comparable runs: pass comparable=True")
            from modelboard.leaderboard import comparable_leaderboard

            return comparable_leaderboard(
                self.store,
                sort=sort,
                ascending=ascending,
                where=where,
                columns=columns,
                project=project,
                limit=limit,
                directions=directions,
                group_by=group_by,
            )
        from modelboard.leaderboard import leaderboard

        return leaderboard(
            self.store,
            sort=sort,
            ascending=ascending,
            where=where,
            columns=columns,
            project=project,
            limit=limit,
            directions=directions,
        )

    def compare(self, *runs: str | Run | StoredRun, show_identical: bool = False) -> Any:
        """Two or more runs side by side, differences first; see ``modelboard.compare``."""
        from modelboard.compare import compare_runs

        stored = [r if isinstance(r, StoredRun) else self.get(r) for r in runs]
        return compare_runs(stored, show_identical=show_identical)

    def delete(self, run_id: str) -> None:
        """Delete a run and its artifacts."""
        self.store.delete_run(run_id)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
