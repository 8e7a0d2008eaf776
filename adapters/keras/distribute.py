"""Keras models under a ``tf.distribute`` strategy (``MirroredStrategy`` and its kin).

Two concerns: what the network record says about the strategy (``describe_strategy``), and the
capture of the gradients the strategy applies (``record_across_replicas``).

Under a strategy, Keras runs the train step once per replica: each replica computes the
gradient of its share of the batch with the loss divided by the number of replicas, and
``optimizer.apply`` receives that per-replica gradient. The sum over replicas (which Keras
forms inside ``apply``, after clipping, with an all-reduce) is the gradient of the global batch:
the one the optimizer applies. The capture therefore leaves the replica context with
``merge_call`` and sums the replicas' gradients there, only on the steps it captures, so no
step pays for a second all-reduce; the statistics are written once, from the cross-replica
context, never per replica.
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelboard.adapters.keras.gradients import OptimizerCapture

__all__ = ["describe_strategy", "replicas_in_sync", "record_across_replicas"]

_DEFAULT_STRATEGY = "_DefaultDistributionStrategy"


def describe_strategy(model: Any) -> dict[str, Any] | None:
    """``{"strategy", "replicas", "devices"}`` of the strategy ``model`` was built under, or
    None for a model outside any strategy (or on a backend other than TensorFlow)."""
    if "tensorflow" not in sys.modules or not hasattr(model, "_distribute_strategy"):
        return None
    strategy = getattr(model, "_distribute_strategy", None)
    if strategy is None or type(strategy).__name__ == _DEFAULT_STRATEGY:
        return None
    extended = getattr(strategy, "extended", None)
    devices = list(getattr(extended, "worker_devices", ()) or ())
    return {
        "strategy": type(strategy).__name__,
        "replicas": int(strategy.num_replicas_in_sync),
        "devices": [str(d) for d in devices],
    }


def replicas_in_sync() -> int:
    """The replicas the code now being traced runs on: more than 1 only inside the replica
    context of a distribution strategy (``strategy.run``, as Keras's train step is)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    return 1 if context is None else int(context.num_replicas_in_sync)


def _warn_replicas_elsewhere(strategy: Any, local: int) -> None:
    """No capture where some replicas live in other processes (multi-worker strategies): their
    gradients are not here to sum, and one worker's sum is not the applied gradient."""
    warnings.warn(
        f"modelboard: training gradients are not captured under {type(strategy).__name__}: "
        f"{local} of its {strategy.num_replicas_in_sync} replicas run in this process, and the "
        "sum over the others' is not available here; use run.gradients(x, y) for a batch",
        RuntimeWarning,
        stacklevel=2,
    )


def _summed(parts: Any) -> Any:
    import tensorflow as tf

    return tf.add_n(list(parts))


def record_across_replicas(
    capture: OptimizerCapture, grads: list[Any], variables: list[Any], iterations: Any
) -> None:
    """Called by every replica's ``apply`` (replica context): on capture steps, write the
    statistics of the gradients summed over replicas, once.

    Where the optimizer clips, Keras clips each replica's gradient before the sum; the applied
    global norm is that of the sum of the clipped per-replica gradients, as Keras applies it.
    """
    import tensorflow as tf

    positions = [i for i, g in enumerate(grads) if g is not None]
    local = [tf.convert_to_tensor(grads[i]) for i in positions]  # IndexedSlices too
    context = tf.distribute.get_replica_context()

    def in_cross_replica_context(strategy: Any, per_replica: list[Any]) -> None:
        parts = [strategy.experimental_local_results(g) for g in per_replica]
        replicas = len(parts[0]) if parts else 0
        if parts and replicas != strategy.num_replicas_in_sync:
            _warn_replicas_elsewhere(strategy, replicas)
            return
        step = tf.cast(iterations.value, tf.int64)

        def capture_now() -> Any:
            full: list[Any] = [None] * len(grads)
            for position, pieces in zip(positions, parts, strict=True):
                full[position] = _summed(pieces)
            capture._write(full, variables, step)
            if capture._clips and parts:
                clipped = [
                    capture.target._clip_gradients(capture._produced([p[r] for p in parts]))
                    for r in range(replicas)
                ]
                applied = [_summed(c[i] for c in clipped) for i in range(len(parts))]
                norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in applied]))
                capture._applied.assign(norm)  # replaces the norm of the clipped sum
            return tf.constant(True)

        tf.cond(tf.equal(step % capture.every, 0), capture_now, lambda: tf.constant(False))

    context.merge_call(in_cross_replica_context, args=(local,))
