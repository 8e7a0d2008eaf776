"""Data given as batches (a torch ``DataLoader``, a ``tf.data.Dataset``, a Keras ``PyDataset``,
an ``ImageDataGenerator`` iterator): telling it from arrays, and reading it batch by batch.

Nothing here imports a framework: tensors are recognised by what they offer (``__array__``,
``detach``), loaders by being iterable without being array-like.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["is_loader", "iter_batches", "split_batch", "batch_to_numpy", "concatenate_outputs"]


def _array_like(value: Any) -> bool:
    return (
        isinstance(value, (np.ndarray, np.generic, list, tuple, dict, str, bytes))
        or hasattr(value, "__array__")
        or type(value).__module__.startswith("pandas")
    )


def is_loader(value: Any) -> bool:
    """True for data that comes as batches: iterable (or indexable batch by batch, like a Keras
    ``PyDataset``) but not an array, a tensor, a DataFrame, a list or a dict."""
    if value is None or _array_like(value):
        return False
    return hasattr(value, "__iter__") or (
        hasattr(value, "__getitem__") and hasattr(value, "__len__")
    )


def _infinite_reason(loader: Any) -> str | None:
    cardinality = getattr(loader, "cardinality", None)  # tf.data
    if callable(cardinality):
        try:
            if int(np.asarray(cardinality())) == -1:
                return "it repeats without end (repeat() without a count)"
        except (TypeError, ValueError):
            return None
    if hasattr(loader, "num_batches"):  # a Keras PyDataset
        try:
            if loader.num_batches is None:
                return "its num_batches is None (an infinite PyDataset)"
        except NotImplementedError:
            return None
    return None


def iter_batches(loader: Any) -> Iterator[Any]:
    """Each batch of one pass over ``loader``, in the order it gives them.

    A sized, indexable sequence of batches (a Keras ``PyDataset``, an ``ImageDataGenerator``
    iterator) is read by index, ``0 .. len - 1``: its own ``__iter__`` may never end. An
    infinite loader (a ``repeat()``-ed tf.data pipeline) raises ``ValueError``; a torch
    ``Dataset`` (samples, not batches) raises ``TypeError``.
    """
    if any(
        (getattr(cls, "__module__", "") or "").startswith("torch.utils.data.dataset")
        for cls in type(loader).__mro__
    ):
        raise TypeError(
            f"a torch {type(loader).__qualname__} gives samples, not batches: wrap it in a "
            "DataLoader (DataLoader(dataset, batch_size=...))"
        )
    reason = _infinite_reason(loader)
    if reason is not None:
        raise ValueError(
            f"cannot read one pass over a {type(loader).__qualname__}: {reason}; "
            "pass a finite loader (without repeat()) or arrays"
        )
    if hasattr(loader, "__getitem__") and hasattr(loader, "__len__"):
        for index in range(len(loader)):
            yield loader[index]
        return
    yield from loader


def split_batch(batch: Any) -> tuple[Any, Any]:
    """``(x, y)`` of one batch: ``(x, y)`` and ``(x, y, sample_weight)`` tuples give their first
    two items, ``(x,)`` and anything else give ``(batch, None)``."""
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1]
    if isinstance(batch, (tuple, list)) and len(batch) == 1:
        return batch[0], None
    return batch, None


def batch_to_numpy(value: Any) -> np.ndarray:
    """A batch's labels (numpy, a torch tensor on any device, a TensorFlow tensor) as numpy."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
    return np.asarray(value)


def concatenate_outputs(parts: list[Any]) -> Any:
    """Per-batch model outputs joined along the first axis: arrays, lists of arrays (several
    outputs, output by output) or dicts of arrays (key by key)."""
    first = parts[0]
    if isinstance(first, dict):
        return {key: np.concatenate([np.asarray(p[key]) for p in parts]) for key in first}
    if isinstance(first, (list, tuple)):
        return [np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(len(first))]
    return np.concatenate([np.asarray(p) for p in parts])
