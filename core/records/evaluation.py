"""The evaluation record: metrics, per-class figures, confusion matrix and curves of one split."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from modelboard.records.base import Record

__all__ = ["EvaluationRecord"]


@dataclass(eq=False)
class EvaluationRecord(Record):
    """How a model scored on one split.

    ``metrics`` holds scalars (``accuracy``, ``precision_macro``, ``auc_macro``, ``rmse``...),
    ``per_class`` lists indexed like ``class_names``, ``confusion_matrix`` has the true class on
    rows, ``curves`` maps ``roc``/``pr`` to per-class point lists, ``nulls`` gives the reason
    for each metric that could not be computed. ``inputs`` says how the inputs were read
    (``label_format`` such as ``integer``/``one_hot``, ``score_kind_source`` ``given``/
    ``detected``, ``prediction_source`` ``model``/``y_score``/``y_pred``, ``threshold``);
    ``warnings`` holds notes a reader should see (undefined precision set to 0, a failed plot).
    """

    SCHEMA_VERSION: ClassVar[int] = 1

    split: str
    task: str
    n_samples: int = 0
    class_names: list[str] | None = None
    score_kind: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    per_class: dict[str, list[Any]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    curves: dict[str, Any] = field(default_factory=dict)
    nulls: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    artifacts: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
