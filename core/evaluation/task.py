"""Reading evaluation inputs: the task, the labels (integers, one-hot, names) and the scores.

Scores may be probabilities or logits; which one is either given (``score_kind=``) or detected:
probabilities lie in [0, 1] and, for one label per sample, each row sums to 1. Logits are turned
into probabilities with a softmax (one label per sample) or a sigmoid (binary with one score per
sample, multilabel). How each input was read is recorded in ``PreparedInputs.inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "TASKS",
    "SCORE_KINDS",
    "PreparedInputs",
    "prepare_inputs",
    "to_numpy",
    "softmax",
    "sigmoid",
]

TASKS = ("binary", "multiclass", "multilabel", "regression")
SCORE_KINDS = ("probabilities", "logits")
_ROW_SUM_TOLERANCE = 1e-3


@dataclass
class PreparedInputs:
    """Inputs in one canonical form, ready for the metric functions.

    Classification: ``y_true`` and ``y_pred`` are integer class indices of shape (n,), ``y_prob``
    is (n, k) probabilities or ``None`` when only ``y_pred`` was given. Multilabel: ``y_true``
    and ``y_pred`` are (n, k) 0/1 indicators. Regression: float arrays (n,) or (n, m).
    ``score_kind`` is ``probabilities`` or ``logits`` (what ``y_score`` was), ``labels`` when
    only ``y_pred`` was given, ``None`` for regression.
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    y_prob: np.ndarray | None
    class_names: list[str] | None
    score_kind: str | None
    inputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return 0 if self.class_names is None else len(self.class_names)


def to_numpy(value: Any, name: str) -> np.ndarray:
    """A numpy array from a list, numpy array, pandas object, torch or TensorFlow tensor."""
    if value is None:
        raise ValueError(f"{name} is None")
    if hasattr(value, "detach") and callable(value.detach):  # torch
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy") and callable(value.to_numpy):  # pandas
        value = value.to_numpy()
    elif hasattr(value, "numpy") and callable(value.numpy) and not isinstance(value, np.ndarray):
        value = value.numpy()  # TensorFlow eager tensors
    array = np.asarray(value)
    if array.ndim == 0:
        raise ValueError(f"{name} is a single value; pass one entry per sample")
    if array.ndim > 2:
        raise ValueError(
            f"{name} has shape {array.shape}; expected (n_samples,) or (n_samples, n_columns)"
        )
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    return array


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax (``scipy.special.softmax``), stable for large logits."""
    from scipy.special import softmax as scipy_softmax

    return np.asarray(scipy_softmax(np.asarray(logits, dtype=np.float64), axis=1))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function (``scipy.special.expit``), stable for large logits."""
    from scipy.special import expit

    return np.asarray(expit(np.asarray(logits, dtype=np.float64)))


def _is_text(array: np.ndarray) -> bool:
    return array.dtype.kind in "USO"


def _is_integral(array: np.ndarray) -> bool:
    if array.dtype.kind in "biu":
        return True
    if array.dtype.kind == "f":
        return bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    return False


def _is_indicator(array: np.ndarray) -> bool:
    return (
        array.dtype.kind in "biuf" and array.ndim == 2 and bool(np.all((array == 0) | (array == 1)))
    )


def _check_finite(array: np.ndarray, name: str) -> None:
    if array.dtype.kind not in "fc":
        return
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.unique(np.nonzero(bad)[0])
        n_nan = int(np.isnan(array).sum())
        kinds = f"{n_nan} NaN and {int(bad.sum()) - n_nan} infinite"
        raise ValueError(
            f"{name} has {kinds} values in {len(rows)} rows (first rows: {rows[:5].tolist()}); "
            "a model that outputs NaN has usually diverged or was fed NaN inputs: fix it, or drop "
            "those rows from both y_true and the predictions before evaluating"
        )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _infer_task(
    y_true: np.ndarray, y_score: np.ndarray | None, y_pred: np.ndarray | None
) -> tuple[str, str]:
    """(task, reason): ``classification`` stands for binary or multiclass, decided later.

    The kind of ``y_true`` comes from scikit-learn's ``type_of_target``; the reasons are ours.
    """
    from sklearn.utils.multiclass import type_of_target

    if _is_text(y_true) or y_true.dtype.kind == "b":
        return "classification", "labels are names or booleans"
    kind = type_of_target(y_true)
    if kind == "multilabel-indicator" or (y_true.ndim == 2 and _is_indicator(y_true)):
        if bool(np.all(y_true.sum(axis=1) == 1)):
            return "classification", "y_true is one-hot"
        return "multilabel", "y_true is a 0/1 indicator matrix with several 1s in some rows"
    if y_true.ndim == 2:
        return "regression", "y_true is 2-D with values other than 0 and 1"
    if kind.startswith("continuous"):
        return "regression", "y_true has non-integer values"
    if y_score is None and y_pred is not None and not _is_text(y_pred) and not _is_integral(y_pred):
        return "regression", "y_true is integer-valued but y_pred has non-integer values"
    return "classification", "y_true holds integer labels"


def _encode_labels(
    named: list[tuple[str, np.ndarray]], class_names: list[str] | None, n_columns: int | None
) -> tuple[list[np.ndarray], list[str]]:
    """Class indices for 1-D label arrays (names or integers) and the class names."""
    text_values = [a for _, a in named if _is_text(a)]
    numeric = [(n, a) for n, a in named if not _is_text(a)]
    for name, array in numeric:
        if not _is_integral(array):
            raise ValueError(
                f"{name} must hold class labels (integers or names) for a classification task, "
                f"but has non-integer values such as {array[~(array == np.round(array))][:3]}; "
                "pass task='regression' for continuous targets, or argmax scores into labels"
            )
    names = None if class_names is None else [str(c) for c in class_names]
    remap: np.ndarray | None = None
    if names is None and text_values:
        names = sorted({str(v) for a in text_values for v in a.tolist()})
    if names is None and n_columns is None and numeric:
        values = np.unique(np.concatenate([a.astype(np.int64) for _, a in numeric]))
        if values.size and values.min() < 0:  # labels such as -1/1: classes are the values seen
            remap = values
            names = [str(v) for v in values.tolist()]
    if names is not None and n_columns is not None and len(names) != n_columns:
        raise ValueError(
            f"class_names has {len(names)} names but the scores or one-hot labels have "
            f"{n_columns} columns; pass one name per column"
        )
    if names is not None and len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique, got {names}")
    if names is None:
        top = max((int(a.max()) for _, a in numeric if a.size), default=1)
        k = n_columns if n_columns is not None else max(top + 1, 2)
        names = [str(i) for i in range(k)]
    k = len(names)
    index = {n: i for i, n in enumerate(names)}
    out = []
    for name, array in named:
        if _is_text(array):
            strings = array.astype(str)
            unknown = sorted(set(strings.tolist()) - set(index))
            if unknown:
                counts = {u: int((strings == u).sum()) for u in unknown[:5]}
                listed = ", ".join(f"{u!r} ({_plural(c, 'sample')})" for u, c in counts.items())
                raise ValueError(
                    f"{name} has labels outside class_names: {listed}; class_names is {names}. "
                    "Pass every class name in class_names, or drop those samples"
                )
            out.append(np.array([index[s] for s in strings.tolist()], dtype=np.int64))
            continue
        labels = array.astype(np.int64)
        if remap is not None:
            labels = np.searchsorted(remap, labels)
        bad = (labels < 0) | (labels >= k)
        if bad.any():
            bad_values, bad_counts = np.unique(labels[bad], return_counts=True)
            pairs = zip(bad_values[:5].tolist(), bad_counts[:5].tolist(), strict=True)
            listed = ", ".join(f"{v} ({_plural(int(c), 'sample')})" for v, c in pairs)
            raise ValueError(
                f"{name} has labels outside class_names: {listed}; there are {k} classes "
                f"(labels 0..{k - 1}, names {names[:10]}{'...' if k > 10 else ''}). Pass every "
                "class in class_names (one name per score column), or drop those samples"
            )
        out.append(labels)
    return out, names


def _single_label_probabilities(
    scores: np.ndarray, k: int, score_kind: str | None, inputs: dict[str, Any], warnings: list[str]
) -> tuple[np.ndarray, str]:
    """(n, k) probabilities from 1-D binary scores or (n, k) scores, and the kind read."""
    in_unit = bool(np.all((scores >= 0) & (scores <= 1)))
    if scores.ndim == 1:
        if k != 2:
            raise ValueError(
                f"y_score is 1-D (one score per sample) but there are {k} classes; pass one "
                "column of scores per class, shape (n_samples, n_classes)"
            )
        kind = score_kind or ("probabilities" if in_unit else "logits")
        if kind == "probabilities" and not in_unit:
            raise ValueError(
                "score_kind='probabilities' but y_score has values outside [0, 1] "
                f"(min {scores.min():.4g}, max {scores.max():.4g}); pass score_kind='logits'"
            )
        positive = scores.astype(np.float64) if kind == "probabilities" else sigmoid(scores)
        inputs["score_columns"] = "positive_class"
        return np.column_stack([1.0 - positive, positive]), kind
    if scores.shape[1] != k:
        raise ValueError(f"y_score has {scores.shape[1]} columns but there are {k} classes")
    sums = scores.sum(axis=1)
    sums_to_one = bool(np.all(np.abs(sums - 1.0) <= _ROW_SUM_TOLERANCE))
    if score_kind == "probabilities" and not (in_unit and sums_to_one):
        worst = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(
            "score_kind='probabilities' but y_score rows are not probability distributions "
            f"(row {worst} sums to {sums[worst]:.4g}, values span {scores.min():.4g}.."
            f"{scores.max():.4g}); pass score_kind='logits' for raw model outputs"
        )
    kind = score_kind or ("probabilities" if in_unit and sums_to_one else "logits")
    if kind == "logits" and score_kind is None and in_unit:
        warnings.append(
            "y_score lies in [0, 1] but its rows do not sum to 1, so it was read as logits and "
            "softmaxed; pass score_kind='probabilities' or 'logits' to say which it is"
        )
    inputs["score_columns"] = "per_class"
    if kind == "logits":
        return softmax(scores.astype(np.float64)), kind
    # kept as given (not renormalised) so that rankings, hence AUC, match the model's outputs
    return scores.astype(np.float64), kind


def prepare_inputs(
    y_true: Any,
    y_score: Any = None,
    y_pred: Any = None,
    *,
    task: str | None = None,
    class_names: list[str] | None = None,
    score_kind: str | None = None,
    threshold: float = 0.5,
) -> PreparedInputs:
    """Check and normalise labels and predictions; raise ``ValueError`` saying what to fix.

    ``y_true``: integer labels, label names, one-hot rows, a multilabel 0/1 matrix or regression
    targets. ``y_score``: probabilities or logits, (n,) for binary or (n, k). ``y_pred``:
    predicted labels (or regression predictions). ``threshold`` turns multilabel probabilities
    into predicted labels.
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if score_kind is not None and score_kind not in SCORE_KINDS:
        raise ValueError(f"score_kind must be 'probabilities' or 'logits'; got {score_kind!r}")
    if y_score is None and y_pred is None:
        raise ValueError("pass y_score= (probabilities or logits) or y_pred= (predicted labels)")
    yt = to_numpy(y_true, "y_true")
    ys = None if y_score is None else to_numpy(y_score, "y_score")
    yp = None if y_pred is None else to_numpy(y_pred, "y_pred")
    n = len(yt)
    if n == 0:
        raise ValueError("y_true is empty; evaluate on at least one sample")
    for name, array in (("y_score", ys), ("y_pred", yp)):
        if array is not None and len(array) != n:
            raise ValueError(
                f"y_true has {n} samples but {name} has {len(array)}; pass predictions for "
                "the same samples, in the same order"
            )
    _check_finite(yt, "y_true")
    if ys is not None:
        if _is_text(ys):
            raise ValueError(
                "y_score must be numbers (probabilities or logits); pass labels as y_pred="
            )
        _check_finite(ys, "y_score")
    if yp is not None:
        _check_finite(yp, "y_pred")

    inputs: dict[str, Any] = {}
    warnings: list[str] = []
    if task is None:
        inferred, reason = _infer_task(yt, ys, yp)
        inputs["task_source"] = f"inferred: {reason}"
    else:
        inferred = task
        inputs["task_source"] = "given"
    inputs["prediction_source"] = "y_score" if ys is not None else "y_pred"

    if inferred == "regression":
        return _prepare_regression(yt, ys, yp, class_names, inputs)
    if inferred == "multilabel":
        return _prepare_multilabel(yt, ys, yp, class_names, score_kind, threshold, inputs, warnings)
    return _prepare_single_label(yt, ys, yp, task, class_names, score_kind, inputs, warnings)


def _prepare_regression(
    yt: np.ndarray,
    ys: np.ndarray | None,
    yp: np.ndarray | None,
    class_names: list[str] | None,
    inputs: dict[str, Any],
) -> PreparedInputs:
    pred = yp if yp is not None else ys
    assert pred is not None
    for name, array in (("y_true", yt), ("predictions", pred)):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"regression needs numeric {name}, got dtype {array.dtype}")
    if pred.shape != yt.shape:
        raise ValueError(
            f"y_true has shape {yt.shape} but the predictions have shape {pred.shape}; "
            "pass one prediction per target"
        )
    warnings = []
    if class_names is not None:
        warnings.append("class_names was given for a regression task and is ignored")
    inputs["label_format"] = "continuous"
    return PreparedInputs(
        task="regression",
        y_true=yt.astype(np.float64),
        y_pred=pred.astype(np.float64),
        y_prob=None,
        class_names=None,
        score_kind=None,
        inputs=inputs,
        warnings=warnings,
    )


def _prepare_multilabel(
    yt: np.ndarray,
    ys: np.ndarray | None,
    yp: np.ndarray | None,
    class_names: list[str] | None,
    score_kind: str | None,
    threshold: float,
    inputs: dict[str, Any],
    warnings: list[str],
) -> PreparedInputs:
    if not _is_indicator(yt):
        raise ValueError(
            "multilabel y_true must be a 0/1 matrix of shape (n_samples, n_labels); "
            f"got shape {yt.shape}"
        )
    k = yt.shape[1]
    names = [str(i) for i in range(k)] if class_names is None else [str(c) for c in class_names]
    if len(names) != k:
        raise ValueError(f"class_names has {len(names)} names but y_true has {k} label columns")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique, got {names}")
    inputs["label_format"] = "indicator"
    prob = None
    kind = "labels"  # only y_pred: no scores
    if ys is not None:
        if ys.ndim != 2 or ys.shape[1] != k:
            raise ValueError(f"y_score must have shape (n_samples, {k}); got {ys.shape}")
        in_unit = bool(np.all((ys >= 0) & (ys <= 1)))
        kind = score_kind or ("probabilities" if in_unit else "logits")
        if kind == "probabilities" and not in_unit:
            raise ValueError(
                "score_kind='probabilities' but y_score has values outside [0, 1]; "
                "pass score_kind='logits' for raw model outputs"
            )
        prob = ys.astype(np.float64) if kind == "probabilities" else sigmoid(ys.astype(float))
        inputs["score_kind_source"] = "given" if score_kind else "detected"
    if yp is not None:
        if not (_is_indicator(yp) and yp.shape == yt.shape):
            raise ValueError(f"multilabel y_pred must be a 0/1 matrix of shape {yt.shape}")
        pred = yp.astype(np.int64)
    else:
        assert prob is not None
        pred = (prob >= threshold).astype(np.int64)
        inputs["threshold"] = threshold
    return PreparedInputs(
        task="multilabel",
        y_true=yt.astype(np.int64),
        y_pred=pred,
        y_prob=prob,
        class_names=names,
        score_kind=kind,
        inputs=inputs,
        warnings=warnings,
    )


def _prepare_single_label(
    yt: np.ndarray,
    ys: np.ndarray | None,
    yp: np.ndarray | None,
    task: str | None,
    class_names: list[str] | None,
    score_kind: str | None,
    inputs: dict[str, Any],
    warnings: list[str],
) -> PreparedInputs:
    n_columns: int | None = None
    if yt.ndim == 2:
        if not (_is_indicator(yt) and np.all(yt.sum(axis=1) == 1)):
            rows = np.nonzero(yt.sum(axis=1) != 1)[0]
            raise ValueError(
                f"y_true is 2-D but is not one-hot (rows {rows[:5].tolist()} do not hold exactly "
                "one 1); pass integer labels, or task='multilabel' if a sample has several labels"
            )
        n_columns = yt.shape[1]
        labels_true = np.argmax(yt, axis=1)
        inputs["label_format"] = "one_hot"
    else:
        labels_true = yt
        inputs["label_format"] = "names" if _is_text(yt) else "integer"
    if ys is not None and ys.ndim == 2:
        if n_columns is not None and ys.shape[1] != n_columns:
            raise ValueError(
                f"y_true is one-hot with {n_columns} columns but y_score has {ys.shape[1]}"
            )
        n_columns = ys.shape[1]
    elif ys is not None and n_columns is None and class_names is None:
        n_columns = 2  # one score per sample: binary
    if yp is not None and yp.ndim == 2:  # one-hot or scores given as y_pred
        yp = np.argmax(yp, axis=1)
    named = [("y_true", labels_true)] + ([("y_pred", yp)] if yp is not None else [])
    encoded, names = _encode_labels(named, class_names, n_columns)
    k = len(names)
    if task == "binary" and k != 2:
        raise ValueError(f"task='binary' but there are {k} classes ({names[:10]})")
    resolved = task or ("binary" if k == 2 else "multiclass")
    prob = None
    kind = "labels"  # only y_pred: no scores
    if ys is not None:
        prob, kind = _single_label_probabilities(ys, k, score_kind, inputs, warnings)
        inputs["score_kind_source"] = "given" if score_kind else "detected"
    if yp is not None:
        pred = encoded[1]
    else:
        assert prob is not None
        pred = np.argmax(prob, axis=1)
    return PreparedInputs(
        task=resolved,
        y_true=encoded[0],
        y_pred=pred,
        y_prob=prob,
        class_names=names,
        score_kind=kind,
        inputs=inputs,
        warnings=warnings,
    )
