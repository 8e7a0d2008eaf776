"""ROC and precision-recall curves per class, micro and macro, downsampled for storage."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_CURVE_POINTS", "downsample_indices", "roc_points", "pr_points", "macro_roc"]

MAX_CURVE_POINTS = 200


def downsample_indices(x: Any, y: Any, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Sorted indices of at most ``max_points`` points along a curve, first and last included.

    Points are spread evenly along the curve's length (in x-y space), so that steep parts keep
    as many points as flat ones.
    """
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, got {max_points}")
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    n = len(xs)
    if n <= max_points:
        return np.arange(n)
    steps = np.hypot(np.diff(xs), np.diff(ys))
    steps[~np.isfinite(steps)] = 0.0
    length = np.concatenate([[0.0], np.cumsum(steps)])
    if length[-1] > 0:
        targets = np.linspace(0.0, length[-1], max_points)
        idx = np.searchsorted(length, targets, side="left")
    else:
        idx = np.linspace(0, n - 1, max_points).round().astype(np.int64)
    idx = np.unique(np.concatenate([[0], np.clip(idx, 0, n - 1), [n - 1]]))
    if len(idx) > max_points:  # cannot happen with the targets above, kept as a guard
        idx = np.unique(np.concatenate([idx[:: int(np.ceil(len(idx) / max_points))], [n - 1]]))
    return idx


def _floats(values: np.ndarray) -> list[float]:
    return [float(v) for v in values]


def roc_points(
    y_true: np.ndarray, score: np.ndarray, max_points: int = MAX_CURVE_POINTS
) -> tuple[dict[str, list[float]], float]:
    """Downsampled ROC points (``fpr``, ``tpr``, ``thresholds``) and the AUC of the full curve.

    ``y_true`` is 0/1 and holds both values (the caller checks).
    """
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, thresholds = roc_curve(y_true, score)
    area = float(auc(fpr, tpr))
    idx = downsample_indices(fpr, tpr, max_points)
    return {
        "fpr": _floats(fpr[idx]),
        "tpr": _floats(tpr[idx]),
        "thresholds": _floats(thresholds[idx]),
    }, area


def pr_points(
    y_true: np.ndarray, score: np.ndarray, max_points: int = MAX_CURVE_POINTS
) -> tuple[dict[str, list[float]], float]:
    """Downsampled precision-recall points and the average precision (sklearn's definition).

    As in scikit-learn, ``thresholds`` has one entry fewer than ``precision``/``recall``: the
    last point (recall 0, precision 1) has no threshold.
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_true, score)
    # average_precision_score's own formula on the same curve, without sorting the scores again
    ap = float(-np.sum(np.diff(recall) * np.asarray(precision)[:-1]))
    idx = downsample_indices(recall, precision, max_points)
    return {
        "precision": _floats(precision[idx]),
        "recall": _floats(recall[idx]),
        "thresholds": _floats(thresholds[idx[idx < len(thresholds)]]),
    }, ap


def macro_roc(
    per_class: list[dict[str, list[float]] | None], max_points: int = MAX_CURVE_POINTS
) -> dict[str, list[float]] | None:
    """The macro-average ROC curve: each class's TPR interpolated on a common FPR grid, averaged.

    Classes whose curve is undefined are left out; ``None`` when none is defined.
    """
    curves = [c for c in per_class if c is not None]
    if not curves:
        return None
    grid = np.unique(np.concatenate([np.asarray(c["fpr"]) for c in curves]))
    mean_tpr = np.zeros_like(grid)
    for c in curves:
        mean_tpr += np.interp(grid, c["fpr"], c["tpr"])
    mean_tpr /= len(curves)
    idx = downsample_indices(grid, mean_tpr, max_points)
    return {"fpr": _floats(grid[idx]), "tpr": _floats(mean_tpr[idx])}
