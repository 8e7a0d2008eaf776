"""Which way a metric improves, and the best value of a logged series: the one rule for both.

>>> metric_direction("val_loss"), metric_direction("val_accuracy")
('min', 'max')
>>> best_point([0.9, float("nan"), 0.4, 0.4], "min")
(2, 0.4)

The leaderboard's ``best_<metric>`` columns, its default sort, ``modelboard show`` and
``compare`` all use these.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

__all__ = ["LOWER_IS_BETTER", "metric_direction", "best_point", "best_value"]

#: Metric names matching this (lower-cased) are better when lower; all others when higher.
LOWER_IS_BETTER = re.compile(
    r"loss|error|err$|mse|mae|mape|msle|rmse|perplexity|wer$|cer$|time|duration|latency|fpr|fnr"
)


def metric_direction(name: str, overrides: Mapping[str, str] | None = None) -> str:
    """``"min"`` when lower values of metric ``name`` are better, else ``"max"``.

    ``overrides`` maps metric names to ``"min"``/``"max"`` and wins over the name rule.
    """
    if overrides and name in overrides:
        value = overrides[name].lower()
        if value in ("min", "max"):
            return value
        raise ValueError(f"direction of {name!r} must be 'min' or 'max', got {overrides[name]!r}")
    return "min" if LOWER_IS_BETTER.search(name.lower()) else "max"


def best_point(values: Sequence[float | None], direction: str) -> tuple[int, float] | None:
    """Index and value of the best finite value (the first of equals); ``None`` if none is.

    NaN, infinities and missing values never count as best.
    """
    if direction not in ("min", "max"):
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    best: tuple[int, float] | None = None
    for index, value in enumerate(values):
        if value is None or isinstance(value, bool):
            continue
        number = float(value)
        if not math.isfinite(number):
            continue
        if best is None or (number < best[1] if direction == "min" else number > best[1]):
            best = (index, number)
    return best


def best_value(
    name: str, values: Sequence[float | None], overrides: Mapping[str, str] | None = None
) -> float | None:
    """The best finite value of metric ``name``'s series, by its direction; ``None`` if none."""
    point = best_point(values, metric_direction(name, overrides))
    return None if point is None else point[1]
