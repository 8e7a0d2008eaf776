"""``compute_evaluation``: an evaluation record from labels and predictions, with no run."""

from __future__ import annotations

import time
from typing import Any

from modelboard.evaluation.comparability import correct_flags, labels_fingerprint
from modelboard.evaluation.task import PreparedInputs, prepare_inputs
from modelboard.records import EvaluationRecord
from modelboard.records.evaluation import pack_flags

__all__ = ["compute_evaluation", "record_from_inputs"]


def compute_evaluation(
    y_true: Any,
    y_score: Any = None,
    y_pred: Any = None,
    *,
    split: str = "val",
    task: str | None = None,
    class_names: list[str] | None = None,
    score_kind: str | None = None,
    threshold: float = 0.5,
) -> EvaluationRecord:
    """Every metric of one split as an ``EvaluationRecord``; nothing is stored.

    ``y_true``: integer labels, label names, one-hot rows, a multilabel 0/1 matrix or regression
    targets. ``y_score``: probabilities or logits, (n,) for binary or (n, n_classes).
    ``y_pred``: predicted labels (or regression predictions); give it, ``y_score``, or both.
    ``task`` (binary, multiclass, multilabel, regression) and ``score_kind`` (probabilities,
    logits) are detected when not given. Raises ``ValueError`` saying what to fix for bad input.

    >>> record = compute_evaluation([0, 1, 1, 0], y_score=[0.1, 0.8, 0.4, 0.3])
    >>> record.task, record.score_kind, record.metrics["accuracy"]
    ('binary', 'probabilities', 0.75)
    """
    prep = prepare_inputs(
        y_true,
        y_score,
        y_pred,
        task=task,
        class_names=class_names,
        score_kind=score_kind,
        threshold=threshold,
    )
    return record_from_inputs(prep, split)


def record_from_inputs(prep: PreparedInputs, split: str = "val") -> EvaluationRecord:
    """The evaluation record of prepared inputs (see ``prepare_inputs``)."""
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty name such as 'val' or 'test', got {split!r}")
    record = EvaluationRecord(
        split=split,
        task=prep.task,
        n_samples=int(len(prep.y_true)),
        class_names=prep.class_names,
        score_kind=prep.score_kind,
        created=time.time(),
        inputs=dict(prep.inputs),
        warnings=list(prep.warnings),
        labels_fingerprint=labels_fingerprint(prep),
    )
    flags = correct_flags(prep)
    record.correct = pack_flags(flags) if flags is not None else None
    if prep.task == "regression":
        from modelboard.evaluation.regression import regression_metrics

        metrics, nulls, warnings = regression_metrics(prep)
        record.metrics, record.nulls = metrics, nulls
        record.warnings.extend(warnings)
        return record
    from modelboard.evaluation.classification import classification_metrics

    result = classification_metrics(prep)
    record.metrics = result.metrics
    record.per_class = result.per_class
    record.confusion_matrix = result.confusion_matrix
    record.curves = result.curves
    record.nulls = result.nulls
    record.warnings.extend(result.warnings)
    return record
