"""ROC and PR curves: at most 200 stored points, end points kept, areas from the full curve."""

from __future__ import annotations

import numpy as np
import pytest

from modelboard.evaluation import compute_evaluation
from modelboard.evaluation.curves import MAX_CURVE_POINTS, downsample_indices


def _predictions(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    return y, logits


@pytest.mark.parametrize("n", [1, 2, 5, 200, 201, 1000, 12345])
def test_downsample_keeps_end_points_and_order(n: int) -> None:
    x = np.sort(np.random.default_rng(n).uniform(size=n))
    idx = downsample_indices(x, x**2)
    assert len(idx) <= MAX_CURVE_POINTS
    assert idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) > 0)
    if n <= MAX_CURVE_POINTS:
        assert len(idx) == n


def test_downsample_spreads_points_along_a_steep_curve() -> None:
    # a curve that rises to 1 in its first 1% of indices, then stays flat: an index-uniform
    # sample would put 2 points on the rise; sampling by length puts about half there
    t = np.linspace(0, 1, 10_000)
    x = t
    y = np.minimum(t * 100, 1.0)
    idx = downsample_indices(x, y)
    on_the_rise = np.sum(idx < 100)
    assert on_the_rise > 50


def test_stored_curves_are_short_with_end_points_and_full_curve_areas() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, logits = _predictions(5000, 4)
    record = compute_evaluation(y, y_score=logits)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.eye(4)[y]
    roc = record.curves["roc"]
    for curve in [*roc["per_class"], roc["micro"], roc["macro"]]:
        assert 2 <= len(curve["fpr"]) <= MAX_CURVE_POINTS
        assert len(curve["fpr"]) == len(curve["tpr"])
        assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
        assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    for curve in [*record.curves["pr"]["per_class"], record.curves["pr"]["micro"]]:
        assert len(curve["precision"]) == len(curve["recall"]) <= MAX_CURVE_POINTS
        assert len(curve["thresholds"]) == len(curve["recall"]) - 1
        assert curve["recall"][0] == 1.0 and curve["recall"][-1] == 0.0
        assert curve["precision"][-1] == 1.0
    for c in range(4):
        assert record.per_class["auc"][c] == pytest.approx(
            roc_auc_score(onehot[:, c], probs[:, c]), abs=1e-12
        )
        assert record.per_class["average_precision"][c] == pytest.approx(
            average_precision_score(onehot[:, c], probs[:, c]), abs=1e-12
        )
    assert record.metrics["auc_micro"] == pytest.approx(
        roc_auc_score(onehot, probs, average="micro"), abs=1e-12
    )
    # the downsampled curve still integrates to within a small error of the exact area
    area = np.trapezoid(roc["per_class"][0]["tpr"], roc["per_class"][0]["fpr"])
    assert area == pytest.approx(record.per_class["auc"][0], abs=0.01)
