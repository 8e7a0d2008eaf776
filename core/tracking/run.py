"""``Run``: one tracked run, live. Logs metrics, params, tags, artifacts, gradients, evaluations."""

from __future__ import annotations

import logging
import numbers
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from modelboard.errors import (
    InvalidValueError,
    ModelboardError,
    RunFinishedError,
    RunNotFoundError,
    StoreWriteError,
)
from modelboard.records import (
    RUN_STATUSES,
    ArtifactRecord,
    DataRecord,
    EvaluationRecord,
    GradientRecord,
    NetworkRecord,
    RunRecord,
    TrainingRecord,
)
from modelboard.store.journal import replay_journals
from modelboard.tracking import lifecycle
from modelboard.tracking.checks import check_integer, check_name, check_values, integer_bits
from modelboard.tracking.distributed import (
    check_rank_reduce,
    rank_metric_name,
    reduce_over_ranks,
)
from modelboard.tracking.writer import RunWriter
from modelboard.tracking.writers import change_stored_run, merge_writers, new_writer

if TYPE_CHECKING:
    import pluggy

    from modelboard.data import Data
    from modelboard.plugins.types import TrainingHandle
    from modelboard.store import SQLStore
    from modelboard.store.artifact_store import ArtifactStore
    from modelboard.tracking.distributed import ProcessGroup

__all__ = ["Run", "as_data_record"]

log = logging.getLogger("modelboard")


def as_data_record(data: Any) -> DataRecord:
    """The ``DataRecord`` of ``mb.Data`` (or the record itself); a loader (a DataLoader, a
    ``tf.data`` pipeline, a Keras ``PyDataset``) is the train split of an ``mb.Data`` named
    after its dataset's class; a clear error for anything else."""
    from modelboard.data import Data
    from modelboard.loaders import is_loader

    if isinstance(data, Data):
        return data.record
    if isinstance(data, DataRecord):
        return data
    if is_loader(data):
        named = getattr(data, "dataset", data)
        return Data(type(named).__qualname__, train=data).record
    raise TypeError(
        "data= takes mb.Data(name, train=(x, y), val=...) or a loader of the training "
        f"batches, got {type(data).__qualname__}"
    )


def _metric_value(key: str, value: Any) -> float:
    """A metric as a float; numpy scalars and 0-d tensors (torch, TensorFlow) are unwrapped."""
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    shape = getattr(value, "shape", None)
    if shape is not None and tuple(shape) == ():
        if callable(getattr(value, "item", None)):
            return _metric_value(key, value.item())
        if callable(getattr(value, "numpy", None)):
            return _metric_value(key, value.numpy())
    raise TypeError(
        f"metric {key!r} must be a real number, got {type(value).__qualname__} {value!r:.60}; "
        "log text with run.set_tags() or run.log_params()"
    )


_OUTPUT_MODES = {
    None: "auto",
    "auto": "auto",
    "logits": "logits",
    "probabilities": "raw",
    "raw": "raw",
}


def _probability_mode(output: Any) -> str:
    """The probability rule's mode for the ``output`` option (``logits`` or ``probabilities``:
    what the model returns; ``raw``: keep the outputs as they are)."""
    if not isinstance(output, (str, type(None))) or output not in _OUTPUT_MODES:
        raise ValueError(
            f"output must be 'logits' or 'probabilities' (what the model returns), or 'raw'; "
            f"got {output!r}"
        )
    return _OUTPUT_MODES[output]


class Run:
    """A run being recorded. Made by ``Tracker.track`` or ``Tracker.start_run``.

    Use it as a context manager to finish it as ``finished``, or ``failed`` with the error when
    the block raises.

    ``role`` is this process's part in the run (docs/distributed.md): ``owner`` made it and
    writes its record, network and status; ``rank`` is another rank of the owner's process
    group; ``joined`` joined it later (``MODELBOARD_RUN_ID``, ``tracker.resume``). A ``rank`` or
    ``joined`` writer changes only its own entry of ``record.writers`` (and merges the params,
    tags and flags it sets); its ``finish`` never ends the run, unless it reopened the run.
    """

    def __init__(
        self,
        record: RunRecord,
        store: SQLStore,
        plugin_manager: pluggy.PluginManager,
        model: Any = None,
        options: dict[str, Any] | None = None,
        *,
        role: str = "owner",
        writer: dict[str, Any] | None = None,
        group: ProcessGroup | None = None,
    ) -> None:
        self.record = record
        if writer is None:
            writer = new_writer(role)
            if role == "owner":
                record.writers.append(writer)
        self.role = role
        self._entry = writer  # this process's entry of record.writers
        self._group = group
        self._owns_network = role == "owner"  # joiners write a network only where none was
        self._noted: set[str] = set()
        self._store = store
        self._plugins = plugin_manager
        self.model = model
        self.options = dict(options or {})
        self.data: DataRecord | None = None
        self.network: NetworkRecord | None = None
        self._handle: TrainingHandle | None = None
        self._lock = threading.RLock()
        self._next_step = 0
        self._last_epoch: int | None = None
        self._epochs_seen: set[int] = set()
        self._written = False  # the final state reached the store (or its journal)
        self._metric_names: set[str] = set()  # names already checked
        self._int_bits = integer_bits(store.engine.dialect.name)
        try:
            replay_journals(store)  # what earlier runs could not write, now that we can
        except Exception as exc:
            log.warning("modelboard: journals of %s not replayed: %s", store.location, exc)
        self._writer = RunWriter(store, record.id)
        lifecycle.register(self)

    # -- identity -----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The run's 32-character hex id."""
        return self.record.id

    @property
    def name(self) -> str:
        """The run's name."""
        return self.record.name

    @property
    def status(self) -> str:
        """``running`` until finished, then ``finished``, ``failed``, ``killed`` (SIGTERM) or
        ``crashed``."""
        return self.record.status

    @property
    def writer_id(self) -> str:
        """The id of this process's entry in the run record's ``writers``."""
        return str(self._entry["id"])

    @property
    def rank(self) -> int | None:
        """This process's rank in the run's process group, ``None`` outside one."""
        return None if self._group is None else self._group.rank

    @property
    def last_epoch(self) -> int | None:
        """The highest epoch logged so far, or ``None`` before any epoch was logged."""
        return self._last_epoch

    @property
    def finished(self) -> bool:
        """True once ``finish`` ran."""
        return self.record.status != "running"

    @property
    def artifact_dir(self) -> Path:
        """The local folder that holds this run's artifacts. With a remote artifact root
        (``MODELBOARD_ARTIFACT_ROOT=s3://...``) it is a local staging folder: a file written
        there reaches the object store only through ``log_artifact``."""
        return self._store.artifact_dir(self.id)

    @property
    def artifact_store(self) -> ArtifactStore:
        """Where this run's artifact files are kept (a local folder or an object store)."""
        return self._store.artifacts

    def __repr__(self) -> str:
        return f"Run(id={self.id[:8]!r}, name={self.name!r}, status={self.status!r})"

    def _check_open(self, what: str) -> None:
        if self.finished:
            raise RunFinishedError(
                f"cannot {what}: run {self.id[:8]} ({self.name}) is already {self.status}; "
                "start a new run with tracker.track() or tracker.start_run()"
            )

    # -- logging ------------------------------------------------------------------------------

    def log(self, step: int | None = None, epoch: int | None = None, **metrics: Any) -> None:
        """Log metric values at a step (default: one more than the last) and optional epoch.

        In a process group (DDP), the keyword ``rank_reduce`` (never a metric name) says what
        happens over the ranks: ``None`` (default) records rank 0's values and nothing from the
        other ranks; ``"mean"``, ``"sum"``, ``"min"``, ``"max"`` reduce each metric over the
        ranks (a collective call: every rank logs the same names) and rank 0 records the
        result; ``"rank"`` records every rank's own values as ``<name>_rank<N>``. Outside a
        group the values are recorded as given. See ``modelboard.tracking.distributed``.
        """
        self._check_open("log metrics")
        rank_reduce = metrics.pop("rank_reduce", None)
        if not metrics:
            raise InvalidValueError("run.log() needs at least one metric, e.g. run.log(loss=0.3)")
        if rank_reduce is not None or self._group is not None:
            metrics = self._over_ranks(metrics, check_rank_reduce(rank_reduce))
            if not metrics:
                return
        known = self._metric_names
        for key in metrics:
            if key not in known:
                check_name("metric name", key)
                known.add(key)
        # floats (the common case) pass as they are; the rest is converted or refused
        values = [v if type(v) is float else _metric_value(k, v) for k, v in metrics.items()]
        if step is not None:
            step = check_integer("step", step, self._int_bits)
        ep = None if epoch is None else check_integer("epoch", epoch, self._int_bits)
        now = time.time()
        with self._lock:
            if step is None:
                step = self._next_step
            self._next_step = max(self._next_step, step + 1)
        if ep is not None:
            with self._lock:
                self._epochs_seen.add(ep)
                if self._last_epoch is None or ep > self._last_epoch:
                    self._last_epoch = ep
        points = [(k, step, ep, v, now) for k, v in zip(metrics, values, strict=True)]
        self._writer.add_points(points)

    def _over_ranks(self, metrics: dict[str, Any], mode: str | None) -> dict[str, Any]:
        """What this rank records of ``metrics`` under ``rank_reduce=mode`` (see ``log``)."""
        group = self._group
        if group is None:
            return metrics
        if mode is None:
            if group.rank != 0:
                self._note_once(
                    "rank-log",
                    f"modelboard: rank {group.rank} does not record run.log() values without "
                    "rank_reduce= (rank 0's are the run's); pass rank_reduce='mean' (or 'sum', "
                    "'min', 'max', 'rank') to combine or keep every rank's",
                )
                return {}
            return metrics
        if mode == "rank":
            return {rank_metric_name(k, group.rank): v for k, v in metrics.items()}
        values: list[tuple[str, float | None]] = []
        error: TypeError | None = None
        for key, value in metrics.items():
            try:
                values.append((key, _metric_value(key, value)))
            except TypeError as exc:  # the other ranks are in the collective call: join it
                values.append((key, None))
                error = error or exc
        reduced = reduce_over_ranks(group, values, mode)
        if error is not None:
            raise error
        return dict(reduced) if group.rank == 0 else {}

    def _note_once(self, key: str, message: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            log.info(message)

    def log_point(self, name: str, step: int, value: Any, epoch: int | None = None) -> None:
        """Log one value of metric ``name`` at its own ``step``, leaving the default step of
        :meth:`log` where it is (adapters log series such as the learning rate this way)."""
        self._check_open("log metrics")
        if name not in self._metric_names:
            check_name("metric name", name)
            self._metric_names.add(name)
        number = _metric_value(name, value)
        step = check_integer("step", step, self._int_bits)
        ep = None if epoch is None else check_integer("epoch", epoch, self._int_bits)
        self._writer.add_points([(name, step, ep, number, time.time())])

    def _explain_missing_training_facts(self, network: NetworkRecord) -> None:
        """At the end, say why batch size, steps per epoch or planned epochs stayed empty."""
        reasons = {
            "batch_size": "the training loop did not tell it: give data= a loader "
            "(mb.Data(train=loader)) or track(batch_size=...)",
            "steps_per_epoch": "the training loop did not tell it: give data= a loader",
            "epochs_planned": "the training loop did not tell it: track(epochs=...)",
        }
        missing = {
            name: reason
            for name, reason in reasons.items()
            if getattr(network, name) is None and name not in network.unknown
        }
        if missing:
            self.update_network(unknown={**network.unknown, **missing})
            import warnings

            warnings.warn(  # Python shows it once per process: one place warns
                f"modelboard: run {self.id[:8]} could not record {', '.join(missing)}: "
                "the training loop did not tell them; give data= a loader or track(batch_size="
                "..., epochs=...) (the reasons are in the network record's unknown)",
                UserWarning,
                stacklevel=2,
            )

    def log_params(self, **hparams: Any) -> None:
        """Record hyperparameters (merged into earlier ones); written before this returns."""
        self._check_open("log params")
        check_values("parameter", hparams)
        self._update_run_values("params", hparams)

    def set_tags(self, **tags: Any) -> None:
        """Set tags (stored as text); written before this returns."""
        self._check_open("set tags")
        texts = {k: str(v) for k, v in tags.items()}
        check_values("tag", texts)
        self._update_run_values("tags", texts)

    def _update_run_values(self, field: str, new: dict[str, Any]) -> None:
        """Merge ``new`` into the run record's params or tags and write it now. If the store
        refuses the values themselves, the record is restored: nothing refused stays queued."""
        target: dict[str, Any] = getattr(self.record, field)
        if self.role != "owner":
            self._merge_into_stored(lambda stored: getattr(stored, field).update(new))
            with self._lock:
                target.update(new)
            return
        with self._lock:
            before = dict(target)
            target.update(new)
            self._writer.put_run(self.record)
        try:
            self.flush()
        except StoreWriteError as exc:
            if exc.refused_values:
                with self._lock:
                    target.clear()
                    target.update(before)
                    self._writer.put_run(self.record)
                raise InvalidValueError(f"{exc}; nothing of this call was kept") from exc
            raise

    def _merge_into_stored(self, change: Any = None) -> None:
        """For a ``rank`` or ``joined`` writer: apply ``change`` to the stored run record and
        put this writer's entry in it, in one transaction (the owner's writes are kept)."""
        entry = dict(self._entry)

        def apply(stored: RunRecord) -> None:
            if change is not None:
                change(stored)
            stored.writers = merge_writers(stored.writers, [entry])

        try:
            change_stored_run(self._store, self.id, apply, fallback=self.record)
        except StoreWriteError as exc:
            if exc.refused_values:
                raise InvalidValueError(f"{exc}; nothing of this call was kept") from exc
            raise

    def _note_written(self, kind: str, name: str) -> None:
        """List ``name`` under ``wrote[kind]`` of this writer's entry (who wrote what)."""
        with self._lock:
            names = self._entry["wrote"].setdefault(kind, [])
            if name in names:
                return
            names.append(name)
            if self.role == "owner":
                self._writer.put_run(self.record)
                return
        try:
            self._merge_into_stored()
        except ModelboardError as exc:  # the value itself is stored; only the note is missing
            log.warning("modelboard: run %s: %s %s not noted: %s", self.id[:8], kind, name, exc)

    def log_artifact(
        self, path: str | Path, name: str | None = None, kind: str = "file"
    ) -> ArtifactRecord:
        """Copy a file (or folder) into the run's artifact folder (or upload it to the object
        store of a remote artifact root) and register it.

        ``name`` (default: the file's name) is a relative path inside the run's artifact
        folder; a name that would leave it (``..``, an absolute path) is refused."""
        self._check_open("log an artifact")
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"cannot log artifact {source}: no such file or folder")
        target_name, size = self._store.artifacts.put_file(self.id, name or source.name, source)
        record = ArtifactRecord(path=target_name, kind=kind, size=size, created=time.time())
        self._store.add_artifact(self.id, record)
        self._note_written("artifacts", record.path)
        return record

    # Record documents change during training (adapters call these from inside fit() or an
    # optimizer step), so they are queued on the writer: training never waits on the database
    # nor sees its errors. ``Tracker.track`` flushes once, so a broken store shows at once.

    def set_data(self, data: Data | DataRecord) -> None:
        """Attach the data record (from ``mb.Data``); the run keeps its own copy."""
        record = as_data_record(data)
        with self._lock:
            self.data = DataRecord.from_json(record.to_json())
            self._writer.put_record("data", self.data)

    def set_network(self, network: NetworkRecord) -> None:
        """Store the network record (adapters call this; also when the model changes).

        Only the writer that owns the run's network stores it (the owner, or a joiner of a run
        that had none); on the other writers the record is kept in memory only."""
        with self._lock:
            self.network = network
            if self._owns_network:
                self._writer.put_record("network", network)

    def update_network(self, **fields: Any) -> None:
        """Change fields of the network record (epochs run, optimizer after compile...)."""
        with self._lock:
            if self.network is None:
                raise RuntimeError("this run has no network record; track a model first")
            for key, value in fields.items():
                if not hasattr(self.network, key):
                    raise AttributeError(f"NetworkRecord has no field {key!r}")
                setattr(self.network, key, value)
            if self._owns_network:
                self._writer.put_record("network", self.network)

    def log_gradients(self, record: GradientRecord) -> None:
        """Queue a gradient capture and fold its health flags into the run's flags."""
        self._check_open("log gradients")
        self._writer.add_gradients(record)
        changed = False
        if self.role != "owner":
            self._merge_flags(record.flags)
            return
        with self._lock:
            for flag, value in record.flags.items():
                key = f"gradients_{flag}"
                if value and not self.record.flags.get(key):
                    self.record.flags[key] = True
                    changed = True
                elif key not in self.record.flags:
                    self.record.flags[key] = bool(value)
                    changed = True
            if changed:
                self._writer.put_run(self.record)

    def _merge_flags(self, flags: dict[str, Any]) -> None:
        """A non-owner's gradient flags, merged into the stored run record (only when new)."""
        new = {
            f"gradients_{flag}": bool(value)
            for flag, value in flags.items()
            if bool(value) and not self.record.flags.get(f"gradients_{flag}")
        }
        if not new:
            return
        self.record.flags.update(new)

        def change(stored: RunRecord) -> None:
            stored.flags.update(new)

        try:
            self._merge_into_stored(change)
        except ModelboardError as exc:  # training goes on; the captures themselves are queued
            log.warning("modelboard: run %s: gradient flags not stored: %s", self.id[:8], exc)

    def flush(self) -> None:
        """Write every queued point now (the writer also does so four times a second).

        Raises ``StoreWriteError`` when the store is full, unreachable or refuses the values;
        what was not written stays queued."""
        self._writer.flush()

    # -- framework-backed actions -------------------------------------------------------------

    def attach(self, handle: TrainingHandle | None) -> None:
        """Keep the adapter's training handle so that ``finish`` can detach it."""
        self._handle = handle

    def detach(self) -> None:
        """Remove every hook the adapter added to the model."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.detach()

    def gradients(
        self,
        x: Any,
        y: Any,
        loss: Any = None,
        *,
        step: int | None = None,
        log: bool = True,
        **options: Any,
    ) -> GradientRecord:
        """Per-parameter gradient statistics of the tracked model for one batch, on demand."""
        from modelboard.gradients import make_gradient_record

        if self.model is None:
            raise RuntimeError("run.gradients() needs a model: track one with tracker.track(model)")
        stats = self._plugins.hook.modelboard_compute_gradients(
            obj=self.model, x=x, y=y, loss=loss, options={**self.options, **options}
        )
        if stats is None:
            raise RuntimeError(f"no adapter computes gradients for {type(self.model).__qualname__}")
        record = make_gradient_record(
            stats, step=self._next_step if step is None else step, source="on_demand"
        )
        if log and not self.finished:
            self.log_gradients(record)
        return record

    def predict(self, x: Any, *, batch_size: int | None = None, **options: Any) -> Any:
        """The tracked model's outputs for ``x`` as numpy probabilities where they are class
        scores (the rule: ``modelboard.probabilities``).

        ``x`` is an array, a tensor, or a loader of batches (a DataLoader, a ``tf.data``
        pipeline, a Keras ``PyDataset``: each batch's ``x``, in the loader's order).
        ``batch_size`` is the prediction batch size of this call (else the ``predict_batch_size``
        option). ``output="probabilities"`` or ``"raw"`` (``from_logits=False`` in Keras) keeps
        the outputs as the model gave them; ``output="logits"`` turns them into probabilities.
        """
        return self._predict(x, batch_size, options, with_labels=False)[0]

    def predict_with_labels(
        self, loader: Any, *, batch_size: int | None = None, **options: Any
    ) -> tuple[Any, Any]:
        """``(probabilities, labels)`` over one pass of a loader of ``(x, y)`` batches: each
        batch is predicted and its labels kept with it, so a shuffling loader cannot mismatch
        them. ``run.evaluate(loader)`` calls this."""
        from modelboard.loaders import is_loader

        if not is_loader(loader):
            raise TypeError(
                f"predict_with_labels takes a loader of (x, y) batches, got "
                f"{type(loader).__qualname__}; for arrays use run.predict(x)"
            )
        return self._predict(loader, batch_size, options, with_labels=True)

    def _predict(
        self, x: Any, batch_size: int | None, options: dict[str, Any], *, with_labels: bool
    ) -> tuple[Any, Any]:
        from modelboard.loaders import (
            batch_to_numpy,
            concatenate_outputs,
            is_loader,
            iter_batches,
            split_batch,
        )
        from modelboard.plugins.types import ModelOutputs
        from modelboard.probabilities import outputs_to_probabilities

        if self.model is None:
            raise RuntimeError("this run has no model; pass y_score= or y_pred= to evaluate()")
        merged = {**self.options, **options}
        if batch_size is not None:
            merged["predict_batch_size"] = batch_size
        if "from_logits" in options and "output" not in options:  # Keras's word for output=
            merged["output"] = "logits" if options["from_logits"] else "probabilities"
        elif merged.get("output") is None and merged.get("from_logits") is not None:
            merged["output"] = "logits" if merged["from_logits"] else "probabilities"
        mode = _probability_mode(merged.get("output"))

        def answer(batch_x: Any) -> Any:
            out = self._plugins.hook.modelboard_predict(obj=self.model, x=batch_x, options=merged)
            if out is None:
                raise RuntimeError(f"no adapter predicts with {type(self.model).__qualname__}")
            return out

        if not is_loader(x):
            return outputs_to_probabilities(answer(x), mode), None
        answers: list[Any] = []
        labels: list[Any] = []
        for number, batch in enumerate(iter_batches(x)):
            batch_x, batch_y = split_batch(batch)
            if with_labels and batch_y is None:
                raise ValueError(
                    f"batch {number} of the {type(x).__qualname__} carries no labels: give a "
                    "loader of (x, y) batches, or arrays as run.evaluate(x, y)"
                )
            answers.append(answer(batch_x))
            if with_labels:
                labels.append(batch_to_numpy(batch_y))
        if not answers:
            raise ValueError(f"the {type(x).__qualname__} gave no batches to predict")
        first = answers[0]
        if isinstance(first, ModelOutputs):
            joined: Any = ModelOutputs(
                concatenate_outputs([a.outputs for a in answers]),
                from_logits=first.from_logits,
                last_activation=first.last_activation,
            )
        else:
            joined = concatenate_outputs(answers)
        probabilities = outputs_to_probabilities(joined, mode)
        return probabilities, (np.concatenate(labels) if with_labels else None)

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> EvaluationRecord | None:
        """Evaluate on a split and store the record and its plots; see ``modelboard.evaluation``.

        On a rank other than 0 of a process group this does nothing and returns ``None``
        (evaluation is rank 0's, as in ``if rank == 0: run.evaluate(...)``); a note says so once.
        """
        from modelboard.evaluation import evaluate_run

        self._check_open("evaluate")
        if self.rank not in (None, 0):
            self._note_once(
                "rank-evaluate",
                f"modelboard: run.evaluate() on rank {self.rank} does nothing; rank 0 "
                "evaluates the run",
            )
            return None
        return evaluate_run(self, x, y, **kwargs)

    def store_evaluation(self, record: EvaluationRecord) -> None:
        """Store an evaluation record (``evaluate`` calls this)."""
        self._check_open("store an evaluation")
        self._store.put_evaluation(self.id, record)
        self._note_written("evaluations", record.split)

    def training(self) -> TrainingRecord:
        """Every metric logged so far (queued points are written first)."""
        self.flush()
        return self._store.get_training(self.id)

    # -- lifecycle ----------------------------------------------------------------------------

    def finish(self, status: str = "finished", error: BaseException | None = None) -> None:
        """End the run: detach hooks, write what is queued, set the status. Idempotent.

        If the store cannot take the last writes, the run is still ended here and what is left
        goes to the run's journal beside the store, replayed once the store takes writes (a
        ``StoreWriteError`` says so). If the journal cannot be written either, the data stays
        in memory: calling ``finish()`` again (or the interpreter's exit) tries once more.
        """
        if status not in RUN_STATUSES or status == "running":
            ended = ", ".join(s for s in RUN_STATUSES if s != "running")
            raise ValueError(f"status must be one of {ended}; got {status!r}")
        with self._lock:
            if self._written:
                return
            if not self.finished:
                try:
                    self.detach()
                except Exception as exc:  # an adapter's bug must not keep the run open
                    log.warning("modelboard: detaching run %s failed: %r", self.id[:8], exc)
                network = self.network if self._owns_network else None
                if network is not None and not network.epochs_run and self._epochs_seen:
                    # the user's own loop logged epochs: count them for the network record
                    self.update_network(epochs_run=len(self._epochs_seen))
                if network is not None:
                    self._explain_missing_training_facts(network)
                self.record.status = status
                self.record.ended = time.time()
                self.record.heartbeat = self.record.ended
                if error is not None:
                    self.record.error = {
                        "type": type(error).__name__,
                        "message": str(error),
                        "traceback": "".join(
                            traceback.format_exception(type(error), error, error.__traceback__)
                        )[-8000:],
                    }
                self._entry.update(
                    ended=self.record.ended,
                    status=status,
                    error=None if error is None else {"type": type(error).__name__},
                )
                self._entry["wrote"]["metrics"] = sorted(self._metric_names)
                if self.role == "owner":
                    self._writer.put_run(self.record)
            try:
                self._writer.close()
            except RunNotFoundError as exc:  # deleted while running: no later try can help
                self._written = True
                lifecycle.unregister(self)
                raise RunNotFoundError(
                    f"run {self.id[:8]} was deleted from the store while it ran; what it "
                    "recorded since is dropped"
                ) from exc
            except Exception as exc:
                self._spill_after_failed_finish(exc)
            if self.role == "owner":  # its values are final: one row for whole-store reads
                try:
                    self._store.write_run_summary(self.id)
                except ModelboardError as exc:  # reads fall back to the values themselves
                    log.debug("modelboard: run %s: summary not written: %s", self.id[:8], exc)
            if self.role != "owner":
                try:
                    self._end_as_writer()
                except ModelboardError as exc:  # what it wrote is stored; only its entry is not
                    log.warning("modelboard: run %s: writer entry not ended: %s", self.id[:8], exc)
            self._written = True
            lifecycle.unregister(self)

    def _end_as_writer(self) -> None:
        """A non-owner's end: its entry says it ended. Only a writer that reopened the run sets
        the run's status (a joiner never ends a run its owner still writes)."""
        record = self.record

        def change(stored: RunRecord) -> None:
            if self._entry.get("reopened"):
                stored.status = record.status
                stored.ended = record.ended
                stored.heartbeat = record.ended
                stored.error = record.error

        self._merge_into_stored(change)

    def _spill_after_failed_finish(self, exc: Exception) -> None:
        """Move what the store refused at ``finish`` to the journal, and say so; raises.

        The run stays open for a later ``finish()`` (or the interpreter's exit), which replays
        the journal once the store takes writes; a later run on the store replays it too."""
        pending = self._writer.pending_points
        try:
            path = self._writer.spill()
        except OSError as journal_error:
            raise StoreWriteError(
                f"run {self.id[:8]} ended as {self.record.status}, but the store refused its "
                f"last writes ({exc}) and the journal could not be written ({journal_error}); "
                f"{pending} point(s) and the final run record are kept in memory only: call "
                "run.finish() again once the store is back, or they are lost at exit"
            ) from exc
        raise StoreWriteError(
            f"run {self.id[:8]} ended as {self.record.status}, but the store refused its last "
            f"writes ({exc}); {pending} point(s) and the final run record are kept in the "
            f"journal {path or 'beside the store'}: call run.finish() again once the store is "
            "back (a run started later on this store also writes them)"
        ) from exc

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish("finished")
            return
        try:
            self.finish("failed", error=exc)
        except ModelboardError as store_error:  # the user's own error is the one to see
            log.error("modelboard: %s", store_error)
