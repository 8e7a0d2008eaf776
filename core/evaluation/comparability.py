"""What an evaluation may be compared with: the evaluated data's fingerprint and the per-example
correctness that the leaderboard bootstraps (see docs/leaderboard.md, "The comparability key").

The fingerprint is the one ``mb.Data`` gives a split of arrays (``modelboard.data
.describe_arrays``), so an evaluation on the arrays that a data record describes carries that
split's fingerprint. Evaluations whose data cannot be fingerprinted (a loader's batches,
predictions given without inputs whose labels match no split of the run's data) say why in
``data_fingerprint_source`` and carry ``data_fingerprint=None``: the leaderboard puts them in a
group of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelboard.fingerprint import fingerprint_array

if TYPE_CHECKING:
    from modelboard.evaluation.task import PreparedInputs
    from modelboard.records import DataRecord, EvaluationRecord

__all__ = ["array_fingerprint", "labels_fingerprint", "correct_flags", "stamp_comparability"]

_LABEL_PART = 16  # mb.Data appends the first 16 hex digits of the labels' fingerprint


def array_fingerprint(x: Any, y: Any) -> tuple[str | None, str]:
    """``(fingerprint, how)`` of evaluated inputs and labels, computed as ``mb.Data`` computes a
    split's; ``(None, reason)`` when they are not arrays (a dict of inputs, a GPU tensor)."""
    from modelboard.data import describe_arrays

    try:
        split = describe_arrays("evaluated", x, y)
    except Exception as exc:  # a tensor numpy cannot read (on a GPU): the data stays unknown
        return None, f"unknown: the inputs could not be read as arrays ({type(exc).__name__})"
    if split is None or split.fingerprint is None:
        return None, f"unknown: inputs of type {type(x).__qualname__} are not fingerprinted"
    return split.fingerprint, "x and y as evaluated"


def labels_fingerprint(prep: PreparedInputs) -> str:
    """The fingerprint of the labels as class indices (or regression targets), whatever their
    encoding: one-hot and integer labels of the same examples give the same one."""
    return fingerprint_array(np.ascontiguousarray(prep.y_true))


def correct_flags(prep: PreparedInputs) -> np.ndarray | None:
    """Per-example correctness: the predicted class was the true one (multilabel: every label
    was right); ``None`` for regression."""
    if prep.task == "regression":
        return None
    right = prep.y_pred == prep.y_true
    return np.asarray(right.all(axis=1) if right.ndim == 2 else right, dtype=bool)


def _split_by_labels(data: DataRecord | None, split: str, y: Any) -> str | None:
    """The fingerprint of the run's data split named ``split`` when its labels are ``y`` (in
    the same encoding and order), else ``None``."""
    if data is None or y is None:
        return None
    info = data.splits.get(split)
    if info is None or not info.fingerprint or info.y_shape is None:
        return None
    try:
        label_part = fingerprint_array(np.asarray(y))[:_LABEL_PART]
    except Exception:  # labels numpy cannot read: no match
        return None
    return info.fingerprint if info.fingerprint.endswith(label_part) else None


def stamp_comparability(
    record: EvaluationRecord,
    prep: PreparedInputs,
    *,
    data: DataRecord | None,
    x: Any,
    y: Any,
    inputs_kind: str,
) -> None:
    """Fill the record's ``data_fingerprint``, its source and ``data_name`` (``record_from_inputs``
    fills ``labels_fingerprint`` and ``correct``).

    ``inputs_kind`` is ``arrays`` (``x`` and ``y`` were evaluated), ``loader`` (batches) or
    ``predictions`` (``y`` with scores or labels made elsewhere, no ``x``).
    """
    record.data_name = data.name if data is not None else None
    fingerprint: str | None
    if inputs_kind == "arrays":
        fingerprint, how = array_fingerprint(x, y)
        if fingerprint is not None and data is not None:
            same = [name for name, s in data.splits.items() if s.fingerprint == fingerprint]
            if same:
                how = f"x and y as evaluated (the data record's {same[0]!r} split)"
    elif inputs_kind == "loader":
        fingerprint = None
        how = "unknown: evaluated on a loader, whose batches are computed, not fingerprinted"
    else:
        fingerprint = _split_by_labels(data, record.split, y)
        if fingerprint is not None:
            how = f"the data record's {record.split!r} split (its labels are y_true)"
        else:
            how = (
                "unknown: predictions were given without x, and y_true is not the labels of a "
                f"{record.split!r} split in the run's data record"
            )
    record.data_fingerprint = fingerprint
    record.data_fingerprint_source = how
