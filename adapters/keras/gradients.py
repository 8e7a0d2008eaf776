"""Gradients in Keras: per-variable statistics with ``keras.ops`` (any backend, also inside a
traced step), the capture of the real training gradients inside a compiled ``fit`` (DESIGN.md
section 7), and on-demand gradients for one batch (GradientTape on TensorFlow, torch.autograd on
torch).

``optimizer.apply(grads, variables)`` of every optimizer the model trains with is wrapped (the
standard ``model.optimizer`` and optimizers a custom ``compile`` keeps as attributes, such as a
GAN's ``d_optimizer``): every ``every`` steps of that optimizer the wrapper writes one row of
statistics per variable it updates into a non-trainable ``keras.Variable`` (inside the traced
train step, jit or not), and the training callback reads it on the host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelboard.gradients import STAT_COLUMNS as GRADIENT_COLUMNS
from modelboard.gradients import stats_from_rows
from modelboard.records import ParameterGradientStats

__all__ = [
    "STAT_COLUMNS",
    "stat_row",
    "empty_row",
    "rows_to_stats",
    "resolve_loss",
    "batch_gradients",
    "applying_optimizer",
    "Captured",
    "OptimizerCapture",
    "GradientCapture",
]


STAT_COLUMNS = ("present", *GRADIENT_COLUMNS[:7])
"""The columns of one row: ``present`` (1 where the variable had a gradient), then the first
seven of ``modelboard.gradients.STAT_COLUMNS`` (Keras has no update ratio)."""


def _dense(grad: Any) -> Any:
    """TensorFlow's sparse ``IndexedSlices`` (embeddings) as a dense tensor; others unchanged."""
    if type(grad).__name__ == "IndexedSlices":
        import tensorflow as tf

        return tf.convert_to_tensor(grad)
    return grad


def stat_row(grad: Any, variable: Any) -> Any:
    """A float32 tensor of the ``STAT_COLUMNS`` for one gradient and its variable."""
    from keras import ops

    g = ops.reshape(ops.cast(_dense(grad), "float32"), (-1,))
    w = ops.reshape(ops.cast(variable.value, "float32"), (-1,))
    mean = ops.mean(g)
    centred = g - mean
    return ops.stack(
        [
            ops.ones((), "float32"),
            ops.sqrt(ops.sum(g * g)),
            mean,
            ops.sqrt(ops.mean(centred * centred)),
            ops.max(ops.abs(g)),
            ops.mean(ops.cast(ops.equal(g, 0.0), "float32")),
            ops.sum(ops.cast(ops.logical_not(ops.isfinite(g)), "float32")),
            ops.sqrt(ops.sum(w * w)),
        ]
    )


def empty_row() -> Any:
    """The row of a variable that got no gradient (``present`` is 0)."""
    from keras import ops

    return ops.zeros((len(STAT_COLUMNS),), "float32")


def rows_to_stats(
    names: Sequence[str], shapes: Sequence[Sequence[int]], matrix: Any
) -> list[ParameterGradientStats]:
    """``ParameterGradientStats`` for every row of ``matrix`` whose variable had a gradient."""
    rows = np.asarray(matrix, dtype=np.float64)
    kept = [i for i, row in enumerate(rows) if row[0] != 0]  # column 0: ``present``
    return stats_from_rows(
        [names[i] for i in kept], [shapes[i] for i in kept], rows[kept, 1:].tolist()
    )


def resolve_loss(model: Any, loss: Any) -> Any:
    """A callable ``(y_true, y_pred, x) -> loss``: the user's loss, or the model's compiled loss."""
    import keras

    if loss is None:
        if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
            raise ValueError(
                "run.gradients(x, y) needs a loss: compile the model or pass "
                "loss='categorical_crossentropy' (or a callable)"
            )
        return lambda y_true, y_pred, x: model.compute_loss(
            x=x, y=y_true, y_pred=y_pred, training=True
        )
    fn = keras.losses.get(loss) if isinstance(loss, (str, dict)) else loss
    if not callable(fn):
        raise TypeError(f"loss must be a name, a keras loss or a callable, got {loss!r}")
    return lambda y_true, y_pred, x: keras.ops.mean(fn(y_true, y_pred))


def _stats_from(variables: Sequence[Any], grads: Sequence[Any]) -> list[ParameterGradientStats]:
    from keras import ops

    pairs = zip(grads, variables, strict=True)
    rows = [empty_row() if g is None else stat_row(g, v) for g, v in pairs]
    matrix = ops.convert_to_numpy(ops.stack(rows)) if rows else np.zeros((0, 8))
    return rows_to_stats([v.path for v in variables], [v.shape for v in variables], matrix)


def batch_gradients(
    model: Any, x: Any, y: Any, loss: Any, options: dict[str, Any]
) -> list[ParameterGradientStats]:
    """Gradient statistics of ``loss`` for one batch ``(x, y)``, without changing any weight.

    ``options["training"]`` (default False) runs the forward pass in training mode (dropout on).
    """
    import keras

    loss_fn = resolve_loss(model, loss)
    training = bool(options.get("training", False))
    variables = list(model.trainable_variables)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            y_pred = model(x, training=training)
            value = loss_fn(y, y_pred, x)
        grads = tape.gradient(value, variables)
        return _stats_from(variables, grads)
    if backend == "torch":
        import torch

        with torch.enable_grad():
            y_pred = model(x, training=training)
            value = loss_fn(y, y_pred, x)
            grads = torch.autograd.grad(value, [v.value for v in variables], allow_unused=True)
        with torch.no_grad():
            return _stats_from(variables, grads)
    if backend == "jax":
        raise NotImplementedError("on-demand gradients on the JAX backend are not supported yet")
    raise NotImplementedError(f"on-demand gradients on Keras backend {backend!r}")


_MARK = "__modelboard_capture__"

Captured = tuple[int, list[ParameterGradientStats], float | None]
"""One capture: the optimizer step, the per-variable stats, the applied global norm or None."""


def applying_optimizer(optimizer: Any) -> Any:
    """The optimizer whose ``apply`` sees unscaled gradients: the inner one of a
    ``LossScaleOptimizer`` (mixed precision), else ``optimizer`` itself."""
    inner = getattr(optimizer, "inner_optimizer", None)
    return inner if inner is not None else optimizer


def _clips(optimizer: Any) -> bool:
    """True when ``optimizer.apply`` clips what it receives (and nothing else changes it)."""
    if getattr(optimizer, "gradient_accumulation_steps", None):
        return False  # applied gradients are averages over steps: not comparable
    return any(
        (getattr(optimizer, name, None) or 0) > 0
        for name in ("clipnorm", "global_clipnorm", "clipvalue")
    )


class OptimizerCapture:
    """Captures, every ``every`` steps of one optimizer, the gradients its ``apply`` receives.

    The statistics are of the gradients the train step produced: a ``loss_scale_factor`` is
    divided out, and a ``LossScaleOptimizer``'s inner optimizer is wrapped (it receives the
    unscaled gradients). Where the optimizer clips (``clipnorm``, ``global_clipnorm``,
    ``clipvalue``), the global norm of the clipped gradients is computed with the optimizer's
    own clipping and kept as the applied norm.
    """

    def __init__(self, key: str, optimizer: Any, every: int) -> None:
        self.key = key
        self.optimizer = optimizer
        self.target = applying_optimizer(optimizer)
        self.every = int(every)
        self.first_iteration = 0
        self.steps_per_batch = 1.0
        self.last_read_step = -1
        self._active = False
        self._wrapper: Any = None
        self._names: list[str] = []
        self._shapes: list[list[int]] = []
        self._index: dict[int, int] = {}
        self._stats: Any = None
        self._step: Any = None
        self._applied: Any = None
        self._count = 0
        self._clips = _clips(self.target)

    @property
    def installed(self) -> bool:
        """True while the wrapper is in place."""
        return self._active and self.target.__dict__.get("apply") is self._wrapper

    def iterations(self) -> int:
        """The optimizer's step count now (one device read)."""
        return int(self.target.iterations.numpy())

    def install(self) -> None:
        """Wrap the optimizer's ``apply`` (the train step must be traced again)."""
        import keras

        target = self.target
        if target.built and target._trainable_variables:
            self._setup(list(target._trainable_variables))
        self._count = self.iterations()
        original = target.apply
        record = self._record_tf if keras.backend.backend() == "tensorflow" else self._record_eager

        def apply(grads: Any, trainable_variables: Any = None) -> Any:
            if self._active:
                used = trainable_variables
                if used is None:
                    used = target._trainable_variables
                grads_list, used_list = list(grads), list(used)
                if self._stats is None:
                    self._setup_lazily(used_list)
                record(grads_list, used_list, target.iterations)
                grads = grads_list
            return original(grads, trainable_variables)

        setattr(apply, _MARK, self)
        object.__setattr__(target, "apply", apply)
        self._wrapper, self._active = apply, True

    def uninstall(self) -> bool:
        """Remove the wrapper; True when it was active (the train step must retrace)."""
        was_active, self._active = self._active, False
        if self._wrapper is not None and self.target.__dict__.get("apply") is self._wrapper:
            object.__delattr__(self.target, "apply")
        self._wrapper = None
        return was_active

    # -- set-up ---------------------------------------------------------------------------------

    def _setup(self, variables: list[Any]) -> None:
        import keras

        self._names = [v.path for v in variables]
        self._shapes = [[int(d) for d in v.shape] for v in variables]
        self._index = {id(v): i for i, v in enumerate(variables)}
        zeros = np.zeros((len(variables), len(STAT_COLUMNS)), dtype="float32")
        self._stats = keras.Variable(zeros, trainable=False, name="modelboard_gradient_stats")
        self._step = keras.Variable(-1, dtype="int64", trainable=False, name="modelboard_step")
        self._applied = keras.Variable(
            np.float32("nan"), dtype="float32", trainable=False, name="modelboard_applied"
        )

    def _setup_lazily(self, variables: list[Any]) -> None:
        """First ``apply`` of an optimizer built inside the train step: make the variables
        outside the traced function (TensorFlow), or right away (eager backends)."""
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.init_scope():
                self._setup(variables)
        else:
            self._setup(variables)

    # -- inside the train step ----------------------------------------------------------------

    def _produced(self, grads: list[Any]) -> list[Any]:
        """The gradients as the train step produced them (a ``loss_scale_factor`` divided out)."""
        scale = getattr(self.target, "loss_scale_factor", None)
        if scale is None:
            return grads
        return [None if g is None else _dense(g) / scale for g in grads]

    def _rows(self, grads: list[Any], variables: list[Any]) -> Any:
        from keras import ops

        rows = [empty_row() for _ in self._names]
        for grad, variable in zip(grads, variables, strict=False):
            index = self._index.get(id(variable))
            if index is not None and grad is not None:
                rows[index] = stat_row(grad, variable)
        return ops.stack(rows)

    def _applied_norm(self, grads: list[Any]) -> Any:
        """The global norm after the optimizer's own clipping (NaN where it does not clip)."""
        from keras import ops

        present = [ops.cast(_dense(g), "float32") for g in grads if g is not None]
        if not self._clips or not present:
            return ops.convert_to_tensor(float("nan"), "float32")
        clipped = self.target._clip_gradients(present)
        return ops.sqrt(sum(ops.sum(g * g) for g in clipped))

    def _write(self, grads: list[Any], variables: list[Any], step: Any) -> None:
        produced = self._produced(grads)
        self._stats.assign(self._rows(produced, variables))
        if self._clips:  # else the applied norm stays NaN: nothing to compute, nor to read
            self._applied.assign(self._applied_norm(produced))
        self._step.assign(step)

    def _record_tf(self, grads: list[Any], variables: list[Any], iterations: Any) -> None:
        import tensorflow as tf

        from modelboard.adapters.keras import distribute

        if distribute.replicas_in_sync() > 1:  # under a tf.distribute strategy (b-kdist)
            distribute.record_across_replicas(self, grads, variables, iterations)
            return
        step = tf.cast(iterations.value, tf.int64)

        def capture() -> Any:
            self._write(grads, variables, step)
            return tf.constant(True)

        tf.cond(tf.equal(step % self.every, 0), capture, lambda: tf.constant(False))

    def _record_eager(self, grads: list[Any], variables: list[Any], iterations: Any) -> None:
        step, self._count = self._count, self._count + 1
        if step % self.every == 0:
            self._write(grads, variables, step)

    # -- on the host --------------------------------------------------------------------------

    def due(self, batches_before: int, batches_done: int) -> bool:
        """True when a capture may have fallen on this optimizer's steps during the batches
        ``[batches_before, batches_done)`` of the current ``fit``."""
        first = self.first_iteration + int(batches_before * self.steps_per_batch)
        end = self.first_iteration + int(round(batches_done * self.steps_per_batch))
        if not self.installed or end <= first:
            return False
        next_capture = -(-first // self.every) * self.every
        return next_capture < end

    def read(self, batches_done: int = 0) -> Captured | None:
        """The latest capture as ``(optimizer step, stats, applied global norm or None)``, or
        None when already read or none yet. Learns this optimizer's steps per batch."""
        if self._stats is None:
            return None
        if batches_done > 0:
            stepped = self.iterations() - self.first_iteration
            if stepped > 0:
                self.steps_per_batch = stepped / batches_done
        step = int(self._step.numpy())
        if step < 0 or step == self.last_read_step:
            return None
        self.last_read_step = step
        matrix = np.asarray(self._stats.numpy())
        applied = float(self._applied.numpy()) if self._clips else float("nan")
        stats = rows_to_stats(self._names, self._shapes, matrix)
        return step, stats, (applied if applied == applied else None)


class GradientCapture:
    """The captures of every optimizer of one model, by optimizer key (``every`` 0: none)."""

    def __init__(self, every: int) -> None:
        self.every = int(every)
        self.captures: dict[str, OptimizerCapture] = {}

    @property
    def installed(self) -> bool:
        """True while any capture is in place."""
        return any(c.installed for c in self.captures.values())

    def install(self, optimizers: Sequence[tuple[str, Any]]) -> bool:
        """Wrap each ``(key, optimizer)``; True when anything changed (retrace the step)."""
        if self.every <= 0:
            return False
        wanted = [(key, applying_optimizer(o)) for key, o in optimizers]
        current = [(key, c.target) for key, c in self.captures.items() if c.installed]
        if len(wanted) == len(current) and all(
            a == b and t is u for (a, t), (b, u) in zip(wanted, current, strict=True)
        ):
            return False
        changed = self.uninstall()
        for key, optimizer in optimizers:
            capture = OptimizerCapture(key, optimizer, self.every)
            capture.install()
            self.captures[key] = capture
        return changed or bool(self.captures)

    def uninstall(self) -> bool:
        """Remove every wrapper; True when one was active."""
        removed = False
        for capture in self.captures.values():
            removed = capture.uninstall() or removed
        self.captures.clear()
        return removed
