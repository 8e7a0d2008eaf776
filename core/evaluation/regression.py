"""Regression metrics: MAE, MSE, RMSE, R² and max error, computed with scikit-learn."""

from __future__ import annotations

import numpy as np

from modelboard.evaluation.task import PreparedInputs

__all__ = ["regression_metrics"]


def regression_metrics(
    prep: PreparedInputs,
) -> tuple[dict[str, float | None], dict[str, str], list[str]]:
    """(metrics, nulls, warnings) for prepared regression inputs.

    Several targets (2-D ``y_true``) are averaged uniformly; ``max_error`` is the largest over
    every target.
    """
    from sklearn.metrics import (
        max_error,
        mean_absolute_error,
        mean_squared_error,
        r2_score,
    )

    y_true, y_pred = prep.y_true, prep.y_pred
    mse = float(mean_squared_error(y_true, y_pred))
    metrics: dict[str, float | None] = {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),  # root_mean_squared_error needs scikit-learn 1.4
    }
    if y_true.ndim == 1:
        metrics["max_error"] = float(max_error(y_true, y_pred))
    else:
        metrics["max_error"] = max(
            float(max_error(y_true[:, j], y_pred[:, j])) for j in range(y_true.shape[1])
        )
    nulls: dict[str, str] = {}
    warnings: list[str] = []
    if len(y_true) < 2:
        metrics["r2"] = None
        nulls["r2"] = "R² needs at least two samples; evaluate on more samples"
    else:
        metrics["r2"] = float(r2_score(y_true, y_pred))
        if bool(np.any(np.ptp(y_true, axis=0) == 0)):
            warnings.append(
                "y_true is constant (for at least one target): R² compares against its variance, "
                "which is 0, so scikit-learn reports 1.0 for a perfect fit and 0.0 otherwise"
            )
    return metrics, nulls, warnings
