"""Plotly figures (plain JSON: ``{"data": [...], "layout": {...}}``) built from records.

No plotly Python code runs: the browser draws these with plotly.js. Values are rounded to
6 significant digits and long series thinned, so that a page (and the report) stays small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from modelboard.records import EvaluationRecord, GradientRecord, MetricSeries, TrainingRecord

__all__ = [
    "metric_groups",
    "curve_figures",
    "learning_rate_figure",
    "gradient_heatmap",
    "global_norm_figure",
    "evaluation_figures",
    "overlay_figures",
    "gradient_compare_figure",
]

MAX_POINTS = 500
MAX_STEPS = 150
LR_NAMES = ("lr", "learning_rate")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None  # plotly leaves a gap
    return float(f"{number:.6g}")


def _thin(count: int, limit: int) -> list[int]:
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def _layout(title: str, x: str, y: str = "", **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"l": 60, "r": 15, "t": 40, "b": 90},
        "height": 340,
        "legend": {"orientation": "h", "y": -0.3},
    }
    layout.update(extra)
    return layout


def _series_xy(series: MetricSeries) -> tuple[str, list[Any], list[Any]]:
    by_epoch = bool(series.epochs) and all(e is not None for e in series.epochs)
    xs: Sequence[Any] = series.epochs if by_epoch else series.steps
    keep = _thin(len(series.values), MAX_POINTS)
    return (
        "epoch" if by_epoch else "step",
        [xs[i] for i in keep],
        [_num(series.values[i]) for i in keep],
    )


def metric_groups(training: TrainingRecord) -> dict[str, list[str]]:
    """Metric names grouped per chart: ``loss`` with ``val_loss`` (train and val overlaid);
    learning rates are left out (they have a chart of their own)."""
    names = [n for n in training.metrics if n not in LR_NAMES]
    groups: dict[str, list[str]] = {}
    for name in names:
        base = name[4:] if name.startswith("val_") and name[4:] in training.metrics else name
        groups.setdefault(base, []).append(name)
    return groups


def _trace(name: str, series: MetricSeries, **extra: Any) -> tuple[str, dict[str, Any]]:
    axis, xs, ys = _series_xy(series)
    trace = {"type": "scatter", "mode": "lines+markers", "name": name, "x": xs, "y": ys}
    trace.update(extra)
    return axis, trace


def curve_figures(training: TrainingRecord) -> dict[str, dict[str, Any]]:
    """One figure per metric, train and val overlaid: ``{metric: figure}``."""
    figures = {}
    for base, names in metric_groups(training).items():
        traces = []
        axis = "step"
        for name in names:
            axis, trace = _trace(name, training.metrics[name])
            traces.append(trace)
        figures[base] = {"data": traces, "layout": _layout(base, axis)}
    return figures


def learning_rate_figure(training: TrainingRecord) -> dict[str, Any] | None:
    """The learning-rate schedule, when a learning rate was logged."""
    for name in LR_NAMES:
        series = training.metrics.get(name)
        if series is not None and series.values:
            axis, trace = _trace(name, series)
            layout = _layout("learning rate", axis, name)
            layout["yaxis"]["type"] = "log"  # a constant rate would sit on a +-1 axis
            return {"data": [trace], "layout": layout}
    return None


def _captures(gradients: Sequence[GradientRecord]) -> list[GradientRecord]:
    captures = [g for g in gradients if g.source == "training"] or list(gradients)
    return [captures[i] for i in _thin(len(captures), MAX_STEPS)]


def gradient_heatmap(gradients: Sequence[GradientRecord]) -> dict[str, Any] | None:
    """Per-parameter L2 norm (log10) over steps; flagged steps marked above the map."""
    captures = _captures(gradients)
    if not captures:
        return None
    names: list[str] = []
    for capture in captures:
        for stats in capture.parameters:
            if stats.name not in names:
                names.append(stats.name)
    z: list[list[float | None]] = [[None] * len(captures) for _ in names]
    row = {name: i for i, name in enumerate(names)}
    for column, capture in enumerate(captures):
        for stats in capture.parameters:
            norm = stats.l2_norm
            z[row[stats.name]][column] = (
                _num(math.log10(norm)) if norm is not None and norm > 0 else None
            )
    steps = [c.step for c in captures]
    traces: list[dict[str, Any]] = [
        {
            "type": "heatmap",
            "x": steps,
            "y": names,
            "z": z,
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "log10 |g|"}},
            "hovertemplate": "step %{x}<br>%{y}<br>log10 norm %{z}<extra></extra>",
        }
    ]
    flagged = [(c.step, ", ".join(k for k, v in c.flags.items() if v)) for c in captures]
    flagged = [(s, text) for s, text in flagged if text]
    if flagged:
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "flags",
                "x": [s for s, _ in flagged],
                "y": [names[-1]] * len(flagged),
                "text": [t for _, t in flagged],
                "marker": {"symbol": "x", "color": "red", "size": 10},
                "hovertemplate": "step %{x}: %{text}<extra></extra>",
            }
        )
    height = max(260, 40 + 16 * len(names))
    layout = _layout("gradient L2 norm per parameter", "step", height=height)
    layout["margin"] = {"l": 200, "r": 15, "t": 40, "b": 45}
    return {"data": traces, "layout": layout}


def global_norm_figure(gradients: Sequence[GradientRecord]) -> dict[str, Any] | None:
    """The global gradient norm over steps (and the applied norm, when it was clipped)."""
    captures = _captures(gradients)
    if not captures:
        return None
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "global norm",
            "x": [c.step for c in captures],
            "y": [_num(c.global_norm) for c in captures],
        }
    ]
    if any(c.applied_global_norm is not None for c in captures):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "applied (after clipping)",
                "x": [c.step for c in captures],
                "y": [_num(c.applied_global_norm) for c in captures],
            }
        )
    layout = _layout("global gradient norm", "step", "L2 norm", yaxis={"type": "log"})
    return {"data": traces, "layout": layout}


def _class_names(record: EvaluationRecord, count: int) -> list[str]:
    names = [str(n) for n in (record.class_names or [])]
    return names if len(names) == count else [str(i) for i in range(count)]


def _curve_points(curves: Any, class_names: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, points)`` of each curve: ``per_class`` entries by class name, then averages."""
    if not isinstance(curves, dict):
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    per_class = curves.get("per_class")
    items: list[tuple[Any, Any]] = []
    if isinstance(per_class, dict):
        items = list(per_class.items())
    elif isinstance(per_class, list):
        items = list(enumerate(per_class))
    for key, points in items:
        if isinstance(points, dict):
            index = int(key) if str(key).isdigit() else None
            label = class_names[index] if index is not None and index < len(class_names) else key
            out.append((f"class {label}", points))
    for key, points in curves.items():
        if key != "per_class" and isinstance(points, dict):
            out.append((str(key), points))
    return out


def evaluation_figures(record: EvaluationRecord) -> dict[str, dict[str, Any]]:
    """Confusion matrix, per-class precision/recall/F1 bars, ROC and PR curves (what the
    record holds): ``{"confusion": ..., "per_class": ..., "roc": ..., "pr": ...}``."""
    figures: dict[str, dict[str, Any]] = {}
    matrix = record.confusion_matrix
    if matrix:
        names = _class_names(record, len(matrix))
        figures["confusion"] = {
            "data": [
                {
                    "type": "heatmap",
                    "z": matrix,
                    "x": names,
                    "y": names,
                    "colorscale": "Blues",
                    "reversescale": True,
                    "text": matrix,
                    "texttemplate": "%{text}",
                    "hovertemplate": "true %{y}<br>predicted %{x}<br>%{z}<extra></extra>",
                }
            ],
            "layout": _layout(
                f"confusion matrix ({record.split})",
                "predicted",
                "true",
                height=420,
                xaxis={"title": {"text": "predicted"}, "type": "category"},
                yaxis={"title": {"text": "true"}, "type": "category", "autorange": "reversed"},
            ),
        }
    per_class = record.per_class or {}
    bars = []
    for metric in ("precision", "recall", "f1"):
        values = per_class.get(metric)
        if values:
            bars.append(
                {
                    "type": "bar",
                    "name": metric,
                    "x": _class_names(record, len(values)),
                    "y": [_num(v) for v in values],
                }
            )
    if bars:
        figures["per_class"] = {
            "data": bars,
            "layout": _layout(
                f"per class ({record.split})",
                "class",
                xaxis={"title": {"text": "class"}, "type": "category"},
                yaxis={"range": [0, 1.05]},
                barmode="group",
            ),
        }
    curves = record.curves or {}
    for kind, x_key, y_key, x_label, y_label in (
        ("roc", "fpr", "tpr", "false positive rate", "true positive rate"),
        ("pr", "recall", "precision", "recall", "precision"),
    ):
        traces = []
        names = [str(n) for n in (record.class_names or [])]
        for label, points in _curve_points(curves.get(kind), names):
            xs, ys = points.get(x_key) or [], points.get(y_key) or []
            if xs and len(xs) == len(ys):
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "lines",
                        "name": label,
                        "x": [_num(v) for v in xs],
                        "y": [_num(v) for v in ys],
                    }
                )
        if traces:
            figures[kind] = {
                "data": traces,
                "layout": _layout(f"{kind.upper()} ({record.split})", x_label, y_label),
            }
    return figures


def overlay_figures(
    trainings: Sequence[TrainingRecord], labels: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Each metric with one trace per run (compare)."""
    names: list[str] = []
    for training in trainings:
        names.extend(n for n in training.metrics if n not in names)
    figures = {}
    for name in names:
        traces = []
        axis = "step"
        for training, label in zip(trainings, labels, strict=True):
            series = training.metrics.get(name)
            if series is not None and series.values:
                axis, trace = _trace(label, series)
                traces.append(trace)
        layout = _layout(name, axis)
        if name in LR_NAMES:
            layout["yaxis"]["type"] = "log"
        figures[name] = {"data": traces, "layout": layout}
    return figures


def gradient_compare_figure(
    rows: Sequence[Sequence[str | None]],
    norms: Sequence[dict[str, float]],
    labels: Sequence[str],
    row_names: Sequence[str],
) -> dict[str, Any] | None:
    """Mean gradient norm per aligned layer, one bar group per layer and one bar per run.

    ``rows[i][r]`` is run ``r``'s layer path in aligned row ``i`` (``None`` for a gap);
    ``norms[r]`` maps a layer path to its mean norm over the run's captures.
    """
    if not any(norms):
        return None
    traces = []
    for r, label in enumerate(labels):
        traces.append(
            {
                "type": "bar",
                "name": label,
                "x": list(row_names),
                "y": [
                    _num(norms[r].get(row[r] or "")) if row[r] is not None else None for row in rows
                ],
            }
        )
    layout = _layout(
        "mean gradient norm per aligned layer",
        "aligned layer",
        "L2 norm",
        barmode="group",
        yaxis={"type": "log"},
        xaxis={"type": "category"},
    )
    return {"data": traces, "layout": layout}
