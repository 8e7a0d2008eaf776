"""``Run``: one tracked run, live. Logs metrics, params, tags, artifacts, gradients, evaluations."""

from __future__ import annotations

import logging
import numbers
import shutil
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
from modelboard.store.artifact_paths import confined_artifact_path
from modelboard.store.journal import replay_journals
from modelboard.tracking import lifecycle
from modelboard.tracking.checks import check_integer, check_name, check_values, integer_bits
from modelboard.tracking.writer import RunWriter

if TYPE_CHECKING:
    import pluggy

    from modelboard.data import Data
    from modelboard.plugins.types import TrainingHandle
    from modelboard.store import SQLStore

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
    """

    def __init__(
        self,
        record: RunRecord,
        store: SQLStore,
        plugin_manager: pluggy.PluginManager,
        model: Any = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.record = record
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
    def last_epoch(self) -> int | None:
        """The highest epoch logged so far, or ``None`` before any epoch was logged."""
        return self._last_epoch

    @property
    def finished(self) -> bool:
        """True once ``finish`` ran."""
        return self.record.status != "running"

    @property
    def artifact_dir(self) -> Path:
        """The folder that holds this run's artifacts."""
        return self._store.artifact_dir(self.id)

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
        """Log metric values at a step (default: one more than the last) and optional epoch."""
        self._check_open("log metrics")
        if not metrics:
            raise InvalidValueError("run.log() needs at least one metric, e.g. run.log(loss=0.3)")
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
        self._update_run_values(self.record.params, hparams)

    def set_tags(self, **tags: Any) -> None:
        """Set tags (stored as text); written before this returns."""
        self._check_open("set tags")
        texts = {k: str(v) for k, v in tags.items()}
        check_values("tag", texts)
        self._update_run_values(self.record.tags, texts)

    def _update_run_values(self, target: dict[str, Any], new: dict[str, Any]) -> None:
        """Merge ``new`` into the run record's params or tags and write it now. If the store
        refuses the values themselves, the record is restored: nothing refused stays queued."""
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

    def log_artifact(
        self, path: str | Path, name: str | None = None, kind: str = "file"
    ) -> ArtifactRecord:
        """Copy a file (or folder) into the run's artifact folder and register it.

        ``name`` (default: the file's name) is a relative path inside the run's artifact
        folder; a name that would leave it (``..``, an absolute path) is refused."""
        self._check_open("log an artifact")
        source = Path(path)
        if not source.exists():
            raise FileNotFoundError(f"cannot log artifact {source}: no such file or folder")
        target_name, target = confined_artifact_path(self.artifact_dir, name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
        else:
            if source.resolve() != target.resolve():
                shutil.copy2(source, target)
            size = target.stat().st_size
        record = ArtifactRecord(path=target_name, kind=kind, size=size, created=time.time())
        self._store.add_artifact(self.id, record)
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
        """Store the network record (adapters call this; also when the model changes)."""
        with self._lock:
            self.network = network
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
            self._writer.put_record("network", self.network)

    def log_gradients(self, record: GradientRecord) -> None:
        """Queue a gradient capture and fold its health flags into the run's flags."""
        self._check_open("log gradients")
        self._writer.add_gradients(record)
        changed = False
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

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> EvaluationRecord:
        """Evaluate on a split and store the record and its plots; see ``modelboard.evaluation``."""
        from modelboard.evaluation import evaluate_run

        self._check_open("evaluate")
        return evaluate_run(self, x, y, **kwargs)

    def store_evaluation(self, record: EvaluationRecord) -> None:
        """Store an evaluation record (``evaluate`` calls this)."""
        self._check_open("store an evaluation")
        self._store.put_evaluation(self.id, record)

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
                if self.network is not None and not self.network.epochs_run and self._epochs_seen:
                    # the user's own loop logged epochs: count them for the network record
                    self.update_network(epochs_run=len(self._epochs_seen))
                if self.network is not None:
                    self._explain_missing_training_facts(self.network)
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
            self._written = True
            lifecycle.unregister(self)

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
