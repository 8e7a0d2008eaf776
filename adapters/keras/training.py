"""Attach to a Keras model's training: ``fit`` and ``compile`` wrappers and the callback.

``model.fit`` gets a callback appended to its ``callbacks`` (the user adds nothing); the callback
logs per-epoch metrics and learning rates, keeps the network record's training fields up to date
(optimizers, schedulers, epochs run and planned, parameters of a model built late), and reads the
gradient statistics that :class:`GradientCapture` writes inside the train step, per optimizer.
``detach()`` restores ``fit``, ``compile`` and the optimizers. This module imports keras: the
plugin loads it only once a Keras model is tracked.

With gradients off (``gradients_every=0``) and a built model the callback has no batch-end hook
(on backends whose callbacks may run in a thread pool, JAX and torch, Keras then dispatches batch
ends asynchronously as it does untracked), and the train step is left as it is (no wrapper, no
retrace). Changes of the network record during ``fit`` are staged (``NetworkWrites``): written
within a second, or once at the end of a short ``fit``.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from modelboard.adapters.keras.data import dataset_batch_size, preprocessing_augmentations
from modelboard.adapters.keras.detect import is_image_iterator, is_tf_dataset
from modelboard.adapters.keras.gradients import (
    GradientCapture,
    OptimizerCapture,
    applying_optimizer,
)
from modelboard.adapters.keras.network import (
    OptimizerHistory,
    current_learning_rate,
    describe_compile,
    describe_network,
    find_optimizers,
    is_learning_rate_callback,
    optimizer_candidates,
    optimizer_unknown_reason,
    unbuilt_reason,
    warn_unknown,
)
from modelboard.adapters.keras.network_writes import NetworkWrites
from modelboard.gradients import DEFAULT_GRADIENTS_EVERY, make_gradient_record

if TYPE_CHECKING:
    from modelboard.tracking.run import Run

__all__ = ["BatchTrackingCallback", "KerasTrainingHandle", "TrackingCallback", "attach_training"]

_MARK = "__modelboard_attachment__"
_MISSING = object()
_KERAS_DEFAULT_BATCH_SIZE = 32


def _batch_size(arguments: dict[str, Any]) -> int | None:
    """The batch size ``fit`` uses: given, the iterator's, the dataset's, or Keras's default."""
    if arguments.get("batch_size") is not None:
        return int(arguments["batch_size"])
    x: Any = arguments.get("x")
    if is_image_iterator(x):
        return int(x.batch_size)
    if is_tf_dataset(x):
        return dataset_batch_size(x)
    if isinstance(x, (np.ndarray, list, tuple, dict)) or hasattr(x, "__array__"):
        return _KERAS_DEFAULT_BATCH_SIZE
    size = getattr(x, "batch_size", None)
    return int(size) if isinstance(size, int) else None


def _scalar(value: Any) -> float | None:
    try:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
    except (TypeError, ValueError, RuntimeError):
        return None
    if array.shape != () or array.dtype.kind not in "biuf":
        return None
    return float(array)


class TrackingCallback(keras.callbacks.Callback):
    """Logs one ``fit`` call into the run; made and appended by the ``fit`` wrapper.

    This class has no batch-end hook (nothing to do per batch; on the JAX and torch backends
    Keras then dispatches batch ends asynchronously, as it does untracked);
    :class:`BatchTrackingCallback` adds one where captures are read or a model built by
    ``fit`` is described."""

    def __init__(self, attachment: KerasTrainingHandle, arguments: dict[str, Any]) -> None:
        super().__init__()
        self.attachment = attachment
        self.arguments = arguments
        self.user_callbacks = list(arguments.get("callbacks") or [])
        self.initial_epoch = int(arguments.get("initial_epoch") or 0)
        self.epoch_offset = attachment.epochs_run
        self._global_epoch = self.epoch_offset
        self._steps_before_epoch = 0
        self._checked = 0
        self._batches = 0
        self._first_iteration = 0

    @property
    def run(self) -> Run:
        """The run this callback writes to."""
        return self.attachment.run

    def _open(self) -> bool:
        return self.attachment.active and not self.run.finished

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if not self._open():
            return
        model, attachment = self.model, self.attachment
        attachment.refresh_network()
        epochs = int(self.arguments.get("epochs") or 1)
        steps = self.params.get("steps") if self.params else None
        attachment.epochs_planned = self.epoch_offset + max(epochs - self.initial_epoch, 0)
        attachment.history.callbacks = [
            c for c in self.user_callbacks if is_learning_rate_callback(c)
        ]
        candidates = optimizer_candidates(model)
        attachment.history.see(candidates)
        attachment.write_optimizers(
            warn=True,
            now=False,
            batch_size=_batch_size(self.arguments),
            epochs_planned=attachment.epochs_planned,
            steps_per_epoch=int(steps) if steps else None,
        )
        if attachment.capture.install(candidates):
            model.make_train_function(force=True)
        for capture in attachment.capture.captures.values():
            capture.first_iteration = capture.iterations()
        self._steps_before_epoch = 0
        self._checked = 0
        self._batches = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._global_epoch = self.epoch_offset + (epoch - self.initial_epoch)
        if self._open():
            self.attachment.note_epoch_rates()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._batches += 1  # a batch ran (``history.trained``); batch begins are synchronous

    def _log_gradients(self, capture: OptimizerCapture, done: int) -> None:
        captured = capture.read(done)
        if captured is None:
            return
        step, stats, applied = captured
        record = make_gradient_record(
            stats,
            step=step,
            epoch=self._global_epoch,
            optimizer=capture.key,
            applied_global_norm=applied,
        )
        self.run.log_gradients(record)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._steps_before_epoch = self._checked
        if not self._open():
            return
        attachment = self.attachment
        global_epoch = self.epoch_offset + (epoch - self.initial_epoch)
        metrics = {}
        for key, value in (logs or {}).items():
            number = _scalar(value)
            if number is not None:
                metrics[str(key)] = number
        metrics.update(self._learning_rates(metrics))
        self.run.log(step=global_epoch, epoch=global_epoch, **metrics)
        attachment.epochs_run = global_epoch + 1
        attachment.network_writes.stage(epochs_run=attachment.epochs_run)

    def _learning_rates(self, logged: dict[str, float]) -> dict[str, float]:
        """The learning rate now, as ``learning_rate`` for one optimizer and
        ``learning_rate_<key>`` for each of several (values Keras's callbacks logged are kept)."""
        optimizers = find_optimizers(self.model, self.attachment.history.trained)
        rates = {}
        for key, optimizer in optimizers:
            name = "learning_rate" if len(optimizers) == 1 else f"learning_rate_{key}"
            if name not in logged:
                rate = current_learning_rate(optimizer)
                if rate is not None:
                    rates[name] = rate
        return rates

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self._open():
            return
        for capture in self.attachment.capture.captures.values():
            if capture.installed:
                self._log_gradients(capture, self._checked)
        fields: dict[str, Any] = {"epochs_run": self.attachment.epochs_run}
        stopping = self._early_stopping()
        if stopping is not None:
            fields["early_stopping"] = stopping
        self.attachment.history.trained |= self._batches > 0 or self._checked > 0
        self.attachment.write_optimizers(warn=True, **fields)  # one write: the fit's end

    def _early_stopping(self) -> dict[str, Any] | None:
        found = [c for c in self.user_callbacks if isinstance(c, keras.callbacks.EarlyStopping)]
        if not found:
            return None
        es = found[0]

        def to_global(epoch: Any) -> int | None:
            if epoch is None:
                return None
            return self.epoch_offset + int(epoch) - self.initial_epoch

        stopped = int(getattr(es, "stopped_epoch", 0) or 0) > 0
        best = getattr(es, "best", None)
        return {
            "monitor": es.monitor,
            "patience": int(es.patience),
            "min_delta": float(abs(es.min_delta)),
            "mode": getattr(es, "mode", None),
            "baseline": es.baseline,
            "start_from_epoch": int(getattr(es, "start_from_epoch", 0) or 0),
            "restore_best_weights": bool(es.restore_best_weights),
            "stopped": stopped,
            "stopped_epoch": to_global(es.stopped_epoch) if stopped else None,
            "best_epoch": to_global(getattr(es, "best_epoch", None)),
            "best_value": _scalar(best) if best is not None else None,
            "weights_restored": bool(es.restore_best_weights and es.best_weights is not None),
        }


class BatchTrackingCallback(TrackingCallback):
    """:class:`TrackingCallback` with a batch-end hook: reads each optimizer's gradient capture
    when one is due, and describes a model that ``fit`` built once it is built."""

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        done = self._steps_before_epoch + batch + 1
        checked, self._checked = self._checked, done
        if not self._open():
            return
        if not self.attachment.built:
            self.attachment.refresh_network()
        for capture in self.attachment.capture.captures.values():
            if capture.due(checked, done):
                self._log_gradients(capture, done)


class KerasTrainingHandle:
    """The handle ``modelboard_attach_training`` returns; ``detach()`` undoes everything."""

    def __init__(self, model: Any, run: Run, options: dict[str, Any]) -> None:
        every = options.get("gradients_every")
        self.model = model
        self.run = run
        self.options = options
        self.capture = GradientCapture(DEFAULT_GRADIENTS_EVERY if every is None else int(every))
        self.history = OptimizerHistory(scheduler=options.get("scheduler"))
        self.epochs_run = 0
        self.epochs_planned = 0
        self.network_writes = NetworkWrites(run)
        self.active = False
        self._previous: dict[str, Any] = {}
        self._wrappers: dict[str, Any] = {}
        self._warned_optimizer = False
        self.built = unbuilt_reason(model) is None

    # -- wrappers -----------------------------------------------------------------------------

    def attach(self) -> KerasTrainingHandle:
        """Wrap ``model.fit`` and ``model.compile``; add preprocessing layers to the data."""
        self.active = True
        self._wrap("fit", self._fit_wrapper)
        self._wrap("compile", self._compile_wrapper)
        self._record_preprocessing_layers()
        self.history.see(optimizer_candidates(self.model))
        self.write_optimizers()
        return self

    def _wrap(self, name: str, make: Any) -> None:
        self._previous[name] = self.model.__dict__.get(name, _MISSING)
        original = getattr(self.model, name)
        wrapper = make(original)
        setattr(wrapper, _MARK, self)
        self._wrappers[name] = wrapper
        object.__setattr__(self.model, name, wrapper)

    def _fit_wrapper(self, original: Any) -> Any:
        signature = inspect.signature(original)

        @functools.wraps(original)
        def fit(*args: Any, **kwargs: Any) -> Any:
            if not self.active or self.run.finished:
                return original(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            arguments = dict(bound.arguments)
            for name, parameter in signature.parameters.items():
                if name not in arguments and parameter.default is not inspect.Parameter.empty:
                    arguments[name] = parameter.default
            callback = self._callback_class()(self, arguments)
            given = bound.arguments.get("callbacks")
            if isinstance(given, keras.callbacks.CallbackList):
                given.append(callback)
                callback.set_model(self.model)
            else:
                bound.arguments["callbacks"] = [*(given or []), callback]
            return original(*bound.args, **bound.kwargs)

        return fit

    def _callback_class(self) -> type[TrackingCallback]:
        """With a batch-end hook only where one is needed: gradients to read, or a model that
        ``fit`` builds (described at its first batch's end)."""
        if self.capture.every > 0 or not self.built:
            return BatchTrackingCallback
        return TrackingCallback

    def _compile_wrapper(self, original: Any) -> Any:
        @functools.wraps(original)
        def compile(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if self.active and not self.run.finished:
                self.history.trained = False  # new optimizers: none has stepped yet
                self.history.see(optimizer_candidates(self.model))
                self.write_optimizers()
            return result

        return compile

    def refresh_network(self) -> None:
        """Describe the model again once it is built (a subclassed model built by ``fit``):
        parameters and layers recorded as unknown are filled in."""
        if self.built or unbuilt_reason(self.model) is not None or self.run.network is None:
            return
        self.network_writes.cancel()  # the new record is written whole, staged fields in it
        old = self.run.network
        new = describe_network(self.model, self.options, self.history)
        new.architecture = old.architecture
        new.epochs_run, new.epochs_planned = old.epochs_run, old.epochs_planned
        new.batch_size, new.steps_per_epoch = old.batch_size, old.steps_per_epoch
        new.early_stopping = old.early_stopping
        new.hyperparameters = old.hyperparameters
        for name, reason in old.unknown.items():
            if name == "optimizer" and new.optimizer is None:
                new.unknown.setdefault(name, reason)
        self.run.set_network(new)
        self.built = True

    def write_optimizers(self, warn: bool = False, now: bool = True, **fields: Any) -> None:
        """Record the optimizers (and compile settings) as they are now, with the network
        record's other ``fields`` given; with ``warn``, an optimizer that cannot be found is
        warned about (once) and recorded as unknown. Written at once, or with ``now=False``
        staged (written within ``NetworkWrites.delay``; nothing when nothing changed)."""
        network = self.run.network
        if network is None or self.run.finished:
            return
        fields.update(describe_compile(self.model, network.reproduce, self.history))
        unknown = dict(network.unknown)
        if fields.get("optimizer") is None:
            reason = optimizer_unknown_reason(self.model, self.history.trained)
            if warn and not self._warned_optimizer:
                self._warned_optimizer = True
                warn_unknown(network, {"optimizer": reason})
            unknown["optimizer"] = reason
        else:
            unknown.pop("optimizer", None)
        self.network_writes.stage(**fields, unknown=unknown)
        if now:
            self.network_writes.flush()

    def note_epoch_rates(self) -> None:
        """The learning rate each optimizer applies in the epoch that begins (read once; set
        by ``LearningRateScheduler`` before), the last applied one when training ends."""
        for _, optimizer in optimizer_candidates(self.model):
            named = applying_optimizer(optimizer)
            self.history.last[id(named)] = current_learning_rate(named)

    def _record_preprocessing_layers(self) -> None:
        data = self.run.data
        if data is None:
            return
        layers = preprocessing_augmentations(self.model)
        known = {(a.source, a.type, str(a.params)) for a in data.augmentations}
        fresh = [a for a in layers if (a.source, a.type, str(a.params)) not in known]
        if fresh:
            data.augmentations.extend(fresh)
            self.run.set_data(data)

    # -- detaching ----------------------------------------------------------------------------

    def detach(self) -> None:
        """Restore ``fit``, ``compile`` and the optimizer; the next fit retraces. Idempotent."""
        if not self.active:
            return
        if self.run.network is not None and not self.run.finished:
            # what a fit staged and did not write yet (one that a callback broke)
            self.network_writes.stage(epochs_run=self.epochs_run)
            self.network_writes.flush()
        self.network_writes.cancel()
        self.active = False
        for name, wrapper in self._wrappers.items():
            if self.model.__dict__.get(name) is wrapper:
                previous = self._previous[name]
                while previous is not _MISSING and not _is_live(previous):
                    attachment = getattr(previous, _MARK)
                    previous = attachment._previous[name]
                if previous is _MISSING:
                    object.__delattr__(self.model, name)
                else:
                    object.__setattr__(self.model, name, previous)
        if self.capture.uninstall():
            self.model.train_function = None
        self._wrappers.clear()


def _is_live(function: Any) -> bool:
    """False for a wrapper of a detached attachment (skipped when restoring)."""
    attachment = getattr(function, _MARK, None)
    return attachment is None or attachment.active


def attach_training(model: Any, run: Run, options: dict[str, Any]) -> KerasTrainingHandle:
    """Attach to ``model``'s training and return the handle."""
    return KerasTrainingHandle(model, run, options).attach()
