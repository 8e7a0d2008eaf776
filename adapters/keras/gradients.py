"""Gradients in Keras: per-variable statistics with ``keras.ops`` (any backend, also inside a
traced step), the capture of the real training gradients inside a compiled ``fit`` (DESIGN.md
section 7), and on-demand gradients for one batch (GradientTape on TensorFlow, torch.autograd on
torch).

``optimizer.apply(grads, variables)`` is wrapped: every ``every`` optimizer steps the wrapper
writes one row of statistics per trainable variable into a non-trainable ``keras.Variable``
(inside the traced train step, jit or not), and the training callback reads it on the host.
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


class GradientCapture:
    """Wraps the optimizer of one model; ``install`` after compile, ``uninstall`` to restore."""

    def __init__(self, model: Any, every: int) -> None:
        self.model = model
        self.every = int(every)
        self.optimizer: Any = None
        self._wrapper: Any = None
        self._active = False
        self._names: list[str] = []
        self._shapes: list[list[int]] = []
        self._index: dict[int, int] = {}
        self._stats: Any = None
        self._step: Any = None
        self._count = 0
        self._record: Any = None
        self.last_read_step = -1

    @property
    def installed(self) -> bool:
        """True while the wrapper is in place on the model's current optimizer."""
        return self._active and self.optimizer is _target(self.model)

    def install(self) -> bool:
        """Wrap the model's optimizer; True when newly installed (the train step must retrace)."""
        if self.every <= 0 or self.installed:
            return False
        self.uninstall()
        import keras

        target = _target(self.model)
        variables = list(self.model.trainable_variables)
        if target is None or not variables:
            return False
        if not target.built:
            target.build(variables)
        self._names = [v.path for v in variables]
        self._shapes = [[int(d) for d in v.shape] for v in variables]
        self._index = {id(v): i for i, v in enumerate(variables)}
        zeros = np.zeros((len(variables), len(STAT_COLUMNS)), dtype="float32")
        self._stats = keras.Variable(zeros, trainable=False, name="modelboard_gradient_stats")
        self._step = keras.Variable(-1, dtype="int64", trainable=False, name="modelboard_step")
        self._count = int(target.iterations.numpy())
        self.last_read_step = -1
        original = target.apply
        backend = keras.backend.backend()

        def apply(grads: Any, trainable_variables: Any = None) -> Any:
            if self._active:
                used: Any = trainable_variables
                if used is None:
                    used = target._trainable_variables
                self._record(list(grads), list(used), target.iterations)
            return original(grads, trainable_variables)

        self._record = self._record_tf if backend == "tensorflow" else self._record_eager
        setattr(apply, _MARK, self)
        object.__setattr__(target, "apply", apply)
        self.optimizer, self._wrapper, self._active = target, apply, True
        return True

    def uninstall(self) -> bool:
        """Remove the wrapper; True when one was removed (the train step must retrace)."""
        if self.optimizer is None:
            return False
        was_active = self._active
        self._active = False
        if self.optimizer.__dict__.get("apply") is self._wrapper:
            object.__delattr__(self.optimizer, "apply")
        self.optimizer, self._wrapper = None, None
        return was_active

    # -- inside the train step ----------------------------------------------------------------

    def _rows(self, grads: list[Any], variables: list[Any]) -> Any:
        from keras import ops

        rows = [empty_row() for _ in self._names]
        for grad, variable in zip(grads, variables, strict=False):
            index = self._index.get(id(variable))
            if index is not None and grad is not None:
                rows[index] = stat_row(grad, variable)
        return ops.stack(rows)

    def _record_tf(self, grads: list[Any], variables: list[Any], iterations: Any) -> None:
        import tensorflow as tf

        step = tf.cast(iterations.value, tf.int64)

        def capture() -> Any:
            self._stats.assign(self._rows(grads, variables))
            self._step.assign(step)
            return tf.constant(True)

        tf.cond(tf.equal(step % self.every, 0), capture, lambda: tf.constant(False))

    def _record_eager(self, grads: list[Any], variables: list[Any], iterations: Any) -> None:
        step, self._count = self._count, self._count + 1
        if step % self.every == 0:
            self._stats.assign(self._rows(grads, variables))
            self._step.assign(step)

    # -- on the host --------------------------------------------------------------------------

    def due(self, first_step: int, end_step: int) -> bool:
        """True when a capture fell on an optimizer step in ``[first_step, end_step)``."""
        if not self.installed or end_step <= first_step:
            return False
        next_capture = -(-first_step // self.every) * self.every
        return next_capture < end_step

    def read(self) -> tuple[int, list[ParameterGradientStats]] | None:
        """The latest capture as ``(optimizer step, stats)``, or None if already read or none."""
        if self._stats is None:
            return None

        step = int(self._step.numpy())
        if step < 0 or step == self.last_read_step:
            return None
        self.last_read_step = step
        matrix = np.asarray(self._stats.numpy())
        return step, rows_to_stats(self._names, self._shapes, matrix)


def _target(model: Any) -> Any:
    """The optimizer whose ``apply`` sees unscaled gradients (inside a LossScaleOptimizer)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    inner = getattr(optimizer, "inner_optimizer", None)
    return inner if inner is not None else optimizer
