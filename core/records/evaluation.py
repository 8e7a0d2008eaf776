"""The evaluation record: metrics, per-class figures, confusion matrix and curves of one split."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from modelboard.records.base import Record

if TYPE_CHECKING:
    import numpy as np

__all__ = ["EvaluationRecord", "ComparabilityKey", "UNKNOWN_FINGERPRINT", "pack_flags"]

#: The fingerprint part of a comparability key when the evaluated data is not known.
UNKNOWN_FINGERPRINT = "unknown"


class ComparabilityKey(NamedTuple):
    """What two evaluation values must share to be compared: the evaluated data's fingerprint
    (``unknown`` when it is not known), the metric and the task (``multiclass:10:<digest of the
    class names>``, ``binary:2:...``, ``multilabel:5:...`` or ``regression``)."""

    fingerprint: str
    metric: str
    task: str


def pack_flags(flags: Any) -> str:
    """0/1 flags (one per example) as base64 text of their bits, first example in the lowest
    bit (``numpy.packbits(..., bitorder="little")``): 1,000 examples take 168 characters."""
    import numpy as np

    bits = np.packbits(np.asarray(flags, dtype=bool).reshape(-1), bitorder="little")
    return base64.b64encode(bits.tobytes()).decode("ascii")


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

    What the values may be compared with (``comparability_key``): ``data_fingerprint`` is the
    content fingerprint of the evaluated split (as ``mb.Data`` computes it), ``None`` when it
    is not known, and ``data_fingerprint_source`` says how it was known or why not;
    ``labels_fingerprint`` fingerprints the labels as integer class indices (or the regression
    targets), whatever their encoding; ``data_name`` is the run's data set name. ``correct``
    holds one bit per example (classification: the prediction was right; multilabel: every
    label was), packed by ``pack_flags``; ``correct_flags()`` unpacks it. Its mean is
    ``metrics["accuracy"]``; the leaderboard bootstraps it for intervals.
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
    data_fingerprint: str | None = None
    data_fingerprint_source: str | None = None
    labels_fingerprint: str | None = None
    data_name: str | None = None
    correct: str | None = None

    def task_signature(self) -> str:
        """The task part of the comparability key: ``regression``, or the task, the number of
        classes and a digest of the class names (in order)."""
        if self.task == "regression":
            return "regression"
        names = self.class_names or []
        digest = hashlib.blake2b("\x00".join(names).encode(), digest_size=4).hexdigest()
        return f"{self.task}:{len(names)}:{digest}"

    def comparability_key(self, metric: str) -> ComparabilityKey:
        """The key under which this record's value of ``metric`` may be compared with another."""
        return ComparabilityKey(
            self.data_fingerprint or UNKNOWN_FINGERPRINT, metric, self.task_signature()
        )

    def comparability_text(self) -> str:
        """``<fingerprint or unknown>|<task signature>|<labels fingerprint>``: what the store
        keeps per split (``run_values`` kind ``comparability``) so that the leaderboard groups
        runs in SQL, without reading their records."""
        fingerprint = self.data_fingerprint or UNKNOWN_FINGERPRINT
        return f"{fingerprint}|{self.task_signature()}|{self.labels_fingerprint or ''}"

    def correct_flags(self) -> np.ndarray | None:
        """The per-example correctness as a bool array of ``n_samples`` (``None`` when the
        record holds none: regression, or a record written before modelboard stored it)."""
        if not self.correct:
            return None
        import numpy as np

        bits = np.frombuffer(base64.b64decode(self.correct), dtype=np.uint8)
        flags = np.unpackbits(bits, bitorder="little")[: self.n_samples]
        return flags.astype(bool)
