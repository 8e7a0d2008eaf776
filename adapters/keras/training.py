"""Attach to a Keras model's training: ``fit`` and ``compile`` wrappers and the callback.

``model.fit`` gets a callback appended to its ``callbacks`` (the user adds nothing); the callback
logs per-epoch metrics, keeps the network record's training fields up to date, and reads the
gradient statistics that :class:`GradientCapture` writes inside the train step. ``detach()``
restores ``fit``, ``compile`` and the optimizer. This module imports keras: the plugin loads it
only once a Keras model is tracked.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from modelboard.adapters.keras.data import dataset_batch_size, preprocessing_augmentations
from modelboard.adapters.keras.detect import is_image_iterator, is_tf_dataset
from modelboard.adapters.keras.gradients import GradientCapture
from modelboard.adapters.keras.network import (
    current_learning_rate,
    describe_compile,
    describe_network,
    is_built,
)
from modelboard.gradients import DEFAULT_GRADIENTS_EVERY, make_gradient_record

if TYPE_CHECKING:
    from modelboard.tracking.run import Run

__all__ = ["KerasTrainingHandle", "TrackingCallback", "attach_training"]

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
    """Logs one ``fit`` call into the run; made and appended by the ``fit`` wrapper."""

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
        self.run.update_network(
            batch_size=_batch_size(self.arguments),
            epochs_planned=attachment.epochs_planned,
            steps_per_epoch=int(steps) if steps else None,
        )
        if attachment.capture.install():
            model.make_train_function(force=True)
        optimizer = attachment.capture.optimizer
        if optimizer is not None:
            self._first_iteration = int(optimizer.iterations.numpy())
        self._steps_before_epoch = 0
        self._checked = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._global_epoch = self.epoch_offset + (epoch - self.initial_epoch)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        done = self._steps_before_epoch + batch + 1
        checked, self._checked = self._checked, done
        if not self._open():
            return
        if not self.attachment.built:
            self._late_build(done)
            return
        first = self._first_iteration + checked
        if self.attachment.capture.due(first, self._first_iteration + done):
            self._log_gradients()

    def _late_build(self, done: int) -> None:
        """A subclassed model built by its first train step: describe it, start capturing."""
        self.attachment.refresh_network()
        capture = self.attachment.capture
        if capture.install():
            self.model.make_train_function(force=True)
            self._first_iteration = int(capture.optimizer.iterations.numpy()) - done

    def _log_gradients(self) -> None:
        captured = self.attachment.capture.read()
        if captured is None:
            return
        step, stats = captured
        record = make_gradient_record(stats, step=step, epoch=self._global_epoch)
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
        if "learning_rate" not in metrics and self.model.optimizer is not None:
            rate = current_learning_rate(self.model.optimizer)
            if rate is not None:
                metrics["learning_rate"] = rate
        self.run.log(step=global_epoch, epoch=global_epoch, **metrics)
        attachment.epochs_run = global_epoch + 1
        self.run.update_network(epochs_run=attachment.epochs_run)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if not self._open():
            return
        if self.attachment.capture.installed:
            self._log_gradients()
        fields: dict[str, Any] = {"epochs_run": self.attachment.epochs_run}
        stopping = self._early_stopping()
        if stopping is not None:
            fields["early_stopping"] = stopping
        reproduce = self.run.network.reproduce if self.run.network is not None else None
        fields.update(describe_compile(self.model, reproduce))
        self.run.update_network(**fields)

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


class KerasTrainingHandle:
    """The handle ``modelboard_attach_training`` returns; ``detach()`` undoes everything."""

    def __init__(self, model: Any, run: Run, options: dict[str, Any]) -> None:
        every = options.get("gradients_every", DEFAULT_GRADIENTS_EVERY)
        self.model = model
        self.run = run
        self.options = options
        self.capture = GradientCapture(model, int(every or 0))
        self.epochs_run = 0
        self.epochs_planned = 0
        self.active = False
        self._previous: dict[str, Any] = {}
        self._wrappers: dict[str, Any] = {}
        self.built = is_built(model)

    # -- wrappers -----------------------------------------------------------------------------

    def attach(self) -> KerasTrainingHandle:
        """Wrap ``model.fit`` and ``model.compile``; add preprocessing layers to the data."""
        self.active = True
        self._wrap("fit", self._fit_wrapper)
        self._wrap("compile", self._compile_wrapper)
        self._record_preprocessing_layers()
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
            callback = TrackingCallback(self, arguments)
            given = bound.arguments.get("callbacks")
            if isinstance(given, keras.callbacks.CallbackList):
                given.append(callback)
                callback.set_model(self.model)
            else:
                bound.arguments["callbacks"] = [*(given or []), callback]
            return original(*bound.args, **bound.kwargs)

        return fit

    def _compile_wrapper(self, original: Any) -> Any:
        @functools.wraps(original)
        def compile(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            if self.active and not self.run.finished and self.run.network is not None:
                self.run.update_network(**describe_compile(self.model, self.run.network.reproduce))
            return result

        return compile

    def refresh_network(self) -> None:
        """Describe the model again once it is built (a subclassed model built by ``fit``)."""
        if self.built or not is_built(self.model) or self.run.network is None:
            return
        old = self.run.network
        new = describe_network(self.model, self.options)
        new.architecture = old.architecture
        new.epochs_run, new.epochs_planned = old.epochs_run, old.epochs_planned
        new.early_stopping = old.early_stopping
        self.run.set_network(new)
        self.built = True

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
