"""Capture the real training gradients inside a compiled ``fit`` (DESIGN.md section 7).

``optimizer.apply(grads, variables)`` is wrapped: every ``every`` optimizer steps the wrapper
writes one row of statistics per trainable variable into a non-trainable ``keras.Variable``
(inside the traced train step, jit or not), and the training callback reads it on the host.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from modelboard.adapters.keras.gradient_stats import (
    STAT_COLUMNS,
    empty_row,
    rows_to_stats,
    stat_row,
)
from modelboard.records import ParameterGradientStats

__all__ = ["GradientCapture"]

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
