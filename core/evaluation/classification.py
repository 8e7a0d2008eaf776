"""Classification metrics (binary, multiclass, multilabel), all computed with scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelboard.evaluation.curves import macro_roc, pr_points, roc_points
from modelboard.evaluation.task import PreparedInputs

__all__ = ["ClassificationResult", "classification_metrics", "TOP_K"]

TOP_K = (3, 5)
_AVERAGES = ("macro", "micro", "weighted")
_NEEDS_SCORES = (
    "needs scores: pass y_score= (probabilities or logits), or evaluate with the model, "
    "instead of only y_pred="
)


@dataclass
class ClassificationResult:
    """The parts of an evaluation record that classification fills."""

    metrics: dict[str, float | None] = field(default_factory=dict)
    per_class: dict[str, list[Any]] = field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    curves: dict[str, Any] = field(default_factory=dict)
    nulls: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def null(self, name: str, reason: str) -> None:
        """Record a metric that could not be computed, and why."""
        self.metrics[name] = None
        self.nulls[name] = reason


def classification_metrics(prep: PreparedInputs) -> ClassificationResult:
    """Every classification metric for prepared inputs (see ``prepare_inputs``)."""
    from sklearn.metrics import accuracy_score

    result = ClassificationResult()
    assert prep.class_names is not None
    result.metrics["accuracy"] = float(accuracy_score(prep.y_true, prep.y_pred))
    if prep.task == "multilabel":
        _multilabel_counts(prep, result)
    else:
        _single_label_counts(prep, result)
    _precision_recall_f1(prep, result)
    if prep.y_prob is None:
        for name in ("auc_macro", "auc_micro", "average_precision_macro", "log_loss"):
            result.null(name, _NEEDS_SCORES)
        for k in TOP_K:
            if prep.task == "multiclass" and prep.n_classes > k:
                result.null(f"top_{k}_accuracy", _NEEDS_SCORES)
    else:
        _score_metrics(prep, result)
    return result


def _single_label_counts(prep: PreparedInputs, result: ClassificationResult) -> None:
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix

    labels = np.arange(prep.n_classes)
    cm = confusion_matrix(prep.y_true, prep.y_pred, labels=labels)  # rows: true class
    result.confusion_matrix = cm.astype(int).tolist()
    present = np.isin(labels, prep.y_true)
    if present.sum() < prep.n_classes:
        names = prep.class_names or [str(i) for i in labels]
        missing = [names[i] for i in labels[~present]]
        result.warnings.append(
            f"classes with no samples in y_true: {missing[:10]}; their recall is undefined "
            "(recorded as 0) and balanced accuracy averages over the classes present"
        )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true", said above
        balanced = balanced_accuracy_score(prep.y_true, prep.y_pred)
    result.metrics["balanced_accuracy"] = float(balanced)


def _multilabel_counts(prep: PreparedInputs, result: ClassificationResult) -> None:
    from sklearn.metrics import hamming_loss, multilabel_confusion_matrix

    result.metrics["hamming_loss"] = float(hamming_loss(prep.y_true, prep.y_pred))
    mcm = multilabel_confusion_matrix(prep.y_true, prep.y_pred)
    result.per_class["confusion_matrix"] = mcm.astype(int).tolist()  # [[tn, fp], [fn, tp]]


def _precision_recall_f1(prep: PreparedInputs, result: ClassificationResult) -> None:
    from sklearn.metrics import precision_recall_fscore_support

    labels = np.arange(prep.n_classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        prep.y_true, prep.y_pred, labels=labels, average=None, zero_division=0
    )
    result.per_class["precision"] = [float(v) for v in precision]
    result.per_class["recall"] = [float(v) for v in recall]
    result.per_class["f1"] = [float(v) for v in f1]
    result.per_class["support"] = [int(v) for v in support]
    names = prep.class_names or []
    predicted = (
        prep.y_pred.sum(axis=0)
        if prep.task == "multilabel"
        else np.bincount(prep.y_pred, minlength=prep.n_classes)
    )
    never = [names[i] for i in labels if predicted[i] == 0]
    if never:
        result.warnings.append(
            f"classes never predicted: {never[:10]}; their precision is undefined and recorded "
            "as 0 (scikit-learn's zero_division=0), which lowers the macro average"
        )
    averages = _AVERAGES + (("samples",) if prep.task == "multilabel" else ())
    for average in averages:
        p, r, f, _ = precision_recall_fscore_support(
            prep.y_true, prep.y_pred, labels=labels, average=average, zero_division=0
        )
        result.metrics[f"precision_{average}"] = float(p)
        result.metrics[f"recall_{average}"] = float(r)
        result.metrics[f"f1_{average}"] = float(f)


def _indicator(prep: PreparedInputs) -> np.ndarray:
    if prep.task == "multilabel":
        return prep.y_true
    onehot = np.zeros((len(prep.y_true), prep.n_classes), dtype=np.int64)
    onehot[np.arange(len(prep.y_true)), prep.y_true] = 1
    return onehot


def _score_metrics(prep: PreparedInputs, result: ClassificationResult) -> None:
    from sklearn.metrics import log_loss, top_k_accuracy_score

    prob = prep.y_prob
    assert prob is not None and prep.class_names is not None
    labels = np.arange(prep.n_classes)
    truth = _indicator(prep)
    if prep.task == "multilabel":
        # mean binary cross-entropy over every (sample, label) pair
        result.metrics["log_loss"] = float(log_loss(truth.ravel(), prob.ravel(), labels=[0, 1]))
    else:
        # rows of float32 probabilities sum to 1 only within ~1e-7: renormalise for log loss
        normalised = prob / prob.sum(axis=1, keepdims=True)
        result.metrics["log_loss"] = float(log_loss(prep.y_true, normalised, labels=labels))
        for k in TOP_K:
            if prep.task == "multiclass" and prep.n_classes > k:
                result.metrics[f"top_{k}_accuracy"] = float(
                    top_k_accuracy_score(prep.y_true, prob, k=k, labels=labels)
                )

    roc_curves: list[dict[str, list[float]] | None] = []
    pr_curves: list[dict[str, list[float]] | None] = []
    aucs: list[float | None] = []
    aps: list[float | None] = []
    for c, name in enumerate(prep.class_names):
        positives = int(truth[:, c].sum())
        if positives == 0 or positives == len(truth):
            reason = (
                f"class {name!r} has {'no' if positives == 0 else 'only'} positive samples in "
                "y_true, so its ROC curve is undefined; evaluate on a split with both"
            )
            result.nulls[f"auc_per_class[{name}]"] = reason
            roc_curves.append(None)
            aucs.append(None)
            if positives == 0:
                result.nulls[f"average_precision_per_class[{name}]"] = (
                    f"class {name!r} has no positive samples in y_true, so its precision-recall "
                    "curve is undefined"
                )
                pr_curves.append(None)
                aps.append(None)
                continue
        else:
            roc, area = roc_points(truth[:, c], prob[:, c])
            roc_curves.append(roc)
            aucs.append(area)
        pr, ap = pr_points(truth[:, c], prob[:, c])
        pr_curves.append(pr)
        aps.append(ap)
    result.per_class["auc"] = aucs
    result.per_class["average_precision"] = aps

    undefined = [prep.class_names[i] for i, a in enumerate(aucs) if a is None]
    if undefined:
        result.null(
            "auc_macro",
            f"ROC AUC is undefined for {undefined[:10]} (no positive or no negative samples in "
            "y_true), so its macro average is too; evaluate on a split holding every class",
        )
    else:
        result.metrics["auc_macro"] = float(np.mean([a for a in aucs if a is not None]))
    undefined = [prep.class_names[i] for i, a in enumerate(aps) if a is None]
    if undefined:
        result.null(
            "average_precision_macro",
            f"average precision is undefined for {undefined[:10]} (no positive samples in "
            "y_true), so its macro average is too",
        )
    else:
        defined = [a for a in aps if a is not None]
        result.metrics["average_precision_macro"] = float(np.mean(defined))

    micro_roc, micro_auc = roc_points(truth.ravel(), prob.ravel())
    micro_pr, micro_ap = pr_points(truth.ravel(), prob.ravel())
    result.metrics["auc_micro"] = micro_auc
    result.metrics["average_precision_micro"] = micro_ap
    if prep.task == "binary":
        result.metrics["auc"] = aucs[1]
        result.metrics["average_precision"] = aps[1]
        if aucs[1] is None:
            result.nulls["auc"] = result.nulls["auc_per_class[" + prep.class_names[1] + "]"]
        if aps[1] is None:
            result.nulls["average_precision"] = result.nulls[
                "average_precision_per_class[" + prep.class_names[1] + "]"
            ]
    result.curves["roc"] = {
        "per_class": roc_curves,
        "micro": micro_roc,
        "macro": macro_roc(roc_curves),
    }
    result.curves["pr"] = {"per_class": pr_curves, "micro": micro_pr}
