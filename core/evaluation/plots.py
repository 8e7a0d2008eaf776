"""Headless PNG plots of an evaluation: confusion matrix, ROC, PR, training curves, predictions.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot), so plotting never changes the
user's backend and works without a display. Every plot has a fixed pixel size, ``PLOT_SIZES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from modelboard.records import EvaluationRecord, TrainingRecord

__all__ = [
    "DPI",
    "PLOT_SIZES",
    "plot_confusion_matrix",
    "plot_roc",
    "plot_pr",
    "plot_training_curves",
    "plot_predictions",
]

DPI = 100
PLOT_SIZES: dict[str, tuple[int, int]] = {  # (width, height) in pixels
    "confusion_matrix": (800, 800),
    "roc": (700, 600),
    "pr": (700, 600),
    "training_curves": (1100, 450),
    "predictions": (700, 600),
}
_MAX_CLASS_LINES = 10
_MAX_ANNOTATED_CLASSES = 20
_MAX_TICK_CLASSES = 40
_MAX_SCATTER_POINTS = 5000


_MARGINS = {"left": 0.11, "right": 0.97, "bottom": 0.1, "top": 0.92}


def _figure(kind: str, **margins: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width, height = PLOT_SIZES[kind]
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)  # fixed margins: one draw
    FigureCanvasAgg(fig)
    fig.subplots_adjust(**{**_MARGINS, **margins})
    return fig


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")  # no bbox_inches="tight": the size stays fixed
    return path


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: str | Path,
    *,
    normalized: bool = False,
    title: str = "Confusion matrix",
) -> Path:
    """Draw a confusion matrix with the true class on rows; ``normalized`` divides each row by
    its total (the recall of each class on the diagonal)."""
    counts = np.asarray(matrix, dtype=np.float64)
    if normalized:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        values = counts
    k = len(class_names)
    fig = _figure("confusion_matrix", left=0.17, bottom=0.15, right=0.98)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalized else None)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(f"{title} ({'normalised by true class' if normalized else 'counts'})")
    if k <= _MAX_TICK_CLASSES:
        ax.set_xticks(range(k), [str(c) for c in class_names], rotation=45, ha="right")
        ax.set_yticks(range(k), [str(c) for c in class_names])
    if k <= _MAX_ANNOTATED_CLASSES:
        threshold = values.max() / 2 if values.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalized else f"{int(counts[i, j])}"
                colour = "white" if values[i, j] > threshold else "black"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=8)
    return _save(fig, Path(path))


def _per_class_lines(record: EvaluationRecord) -> list[int]:
    names = record.class_names or []
    if record.task == "binary":
        return [1]
    return list(range(len(names))) if len(names) <= _MAX_CLASS_LINES else []


def plot_roc(record: EvaluationRecord, path: str | Path) -> Path:
    """Draw the ROC curves stored in ``record.curves['roc']`` with their AUCs."""
    roc = record.curves["roc"]
    names = record.class_names or []
    aucs = record.per_class.get("auc", [])
    fig = _figure("roc")
    ax = fig.add_subplot()
    for c in _per_class_lines(record):
        curve = roc["per_class"][c]
        if curve is not None:
            ax.plot(curve["fpr"], curve["tpr"], lw=1, label=f"{names[c]} (AUC {aucs[c]:.3f})")
    micro = roc.get("micro")
    if micro is not None and record.task != "binary":
        auc_micro = record.metrics.get("auc_micro")
        ax.plot(micro["fpr"], micro["tpr"], "k--", lw=2, label=f"micro (AUC {auc_micro:.3f})")
    macro = roc.get("macro")
    if macro is not None and record.task != "binary":
        auc_macro = record.metrics.get("auc_macro")
        label = "macro" if auc_macro is None else f"macro (mean AUC {auc_macro:.3f})"
        ax.plot(macro["fpr"], macro["tpr"], "k:", lw=2, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, alpha=0.6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(f"ROC curves ({record.split})")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, Path(path))


def plot_pr(record: EvaluationRecord, path: str | Path) -> Path:
    """Draw the precision-recall curves in ``record.curves['pr']`` with average precision."""
    pr = record.curves["pr"]
    names = record.class_names or []
    aps = record.per_class.get("average_precision", [])
    fig = _figure("pr")
    ax = fig.add_subplot()
    for c in _per_class_lines(record):
        curve = pr["per_class"][c]
        if curve is not None:
            ax.step(
                curve["recall"], curve["precision"], where="post", lw=1,
                label=f"{names[c]} (AP {aps[c]:.3f})",
            )  # fmt: skip
    micro = pr.get("micro")
    if micro is not None and record.task != "binary":
        ap = record.metrics.get("average_precision_micro")
        ax.step(
            micro["recall"], micro["precision"], "k--", where="post", lw=2,
            label=f"micro (AP {ap:.3f})",
        )  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title(f"Precision-recall curves ({record.split})")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, Path(path))


def _per_epoch(steps: list[int], epochs: list[int | None], values: list[float]) -> tuple:
    """(x, y, x label): the last value of each epoch when epochs were logged, else per step."""
    if any(e is not None for e in epochs):
        last: dict[int, float] = {}
        for epoch, value in zip(epochs, values, strict=True):
            if epoch is not None:
                last[epoch] = value
        xs = sorted(last)
        return xs, [last[e] for e in xs], "Epoch"
    return steps, values, "Step"


def plot_training_curves(training: TrainingRecord, path: str | Path) -> Path | None:
    """Draw loss and accuracy per epoch from a training record; ``None`` when neither was
    logged (nothing is written)."""
    loss = sorted(n for n in training.metrics if "loss" in n.lower())[:8]
    accuracy = sorted(n for n in training.metrics if "acc" in n.lower())[:8]
    panels = [(title, names) for title, names in (("Loss", loss), ("Accuracy", accuracy)) if names]
    if not panels:
        return None
    fig = _figure("training_curves", left=0.07, right=0.98, wspace=0.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, names) in zip(axes, panels, strict=True):
        xlabel = "Epoch"
        for name in names:
            series = training.metrics[name]
            xs, ys, xlabel = _per_epoch(series.steps, series.epochs, series.values)
            ax.plot(xs, ys, marker="o" if len(xs) <= 30 else None, ms=3, label=name)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, Path(path))


def plot_predictions(y_true: Any, y_pred: Any, path: str | Path, title: str = "") -> Path:
    """Scatter predicted against true values (regression), with the identity line."""
    truth = np.asarray(y_true, dtype=np.float64).ravel()
    pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if len(truth) > _MAX_SCATTER_POINTS:
        keep = np.random.default_rng(0).choice(len(truth), _MAX_SCATTER_POINTS, replace=False)
        truth, pred = truth[keep], pred[keep]
    fig = _figure("predictions")
    ax = fig.add_subplot()
    ax.scatter(truth, pred, s=6, alpha=0.5)
    low = float(min(truth.min(), pred.min()))
    high = float(max(truth.max(), pred.max()))
    ax.plot([low, high], [low, high], color="grey", lw=1)
    ax.set_xlabel("True value")
    ax.set_ylabel("Predicted value")
    ax.set_title(title or "Predicted against true")
    return _save(fig, Path(path))
