"""Per-variable gradient statistics with ``keras.ops`` (any backend, also inside a traced step),
and on-demand gradients for one batch (GradientTape on TensorFlow, torch.autograd on torch).
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
    "compute_gradient_stats",
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


def compute_gradient_stats(
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
