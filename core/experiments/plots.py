"""A parallel-coordinates plot of a search: one axis per hyperparameter, the metric last.

Numeric axes run from the lowest to the highest value tried (logarithmic where every value is
positive and they span more than two decades); text and other choices sit at evenly spaced
positions in the order first seen. Finished trials are coloured by the metric; pruned trials
are grey dashes; failed trials are left out (they have no value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelboard.experiments.claims import TrialRow

__all__ = ["parallel_coordinates"]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _axis(values: list[Any]) -> tuple[list[float], list[float], list[str]]:
    """Positions in [0, 1] for ``values`` and the axis ticks (positions, labels)."""
    if values and all(_is_number(v) for v in values):
        numbers = [float(v) for v in values]
        low, high = min(numbers), max(numbers)
        use_log = low > 0 and high / low > 100
        f = math.log10 if use_log else (lambda x: x)
        a, b = f(low), f(high)
        span = (b - a) or 1.0
        positions = [(f(x) - a) / span if b != a else 0.5 for x in numbers]
        ticks = sorted(set(numbers))
        if len(ticks) > 5:
            ticks = [low, high]
        return (
            positions,
            [(f(t) - a) / span if b != a else 0.5 for t in ticks],
            [f"{t:.3g}" for t in ticks],
        )
    labels: list[str] = []
    for v in values:
        if str(v) not in labels:
            labels.append(str(v))
    step = 1.0 / max(1, len(labels) - 1)
    where = {label: (i * step if len(labels) > 1 else 0.5) for i, label in enumerate(labels)}
    return [where[str(v)] for v in values], list(where.values()), labels


def parallel_coordinates(
    trials: Sequence[TrialRow], metric: str, mode: str, path: str | Path
) -> Path | None:
    """Write the plot as a PNG at ``path``; ``None`` when no trial has a value to draw."""
    shown = [t for t in trials if t.value is not None and t.status in ("finished", "pruned")]
    if not shown:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = sorted({name for t in shown for name in t.params})
    axes_names = [*names, metric]
    columns = [[t.params.get(name) for t in shown] for name in names]
    columns.append([t.value for t in shown])
    placed = [_axis(column) for column in columns]
    finished = [t.value for t in shown if t.status == "finished" and t.value is not None]
    low, high = (min(finished), max(finished)) if finished else (0.0, 1.0)
    cmap = plt.get_cmap("viridis" if mode == "max" else "viridis_r")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(axes_names) + 1.5), 4.2))
    xs = list(range(len(axes_names)))
    for row, trial in enumerate(shown):
        ys = [placed[col][0][row] for col in xs]
        if trial.status == "pruned":
            ax.plot(xs, ys, color="0.6", linestyle="--", linewidth=1, alpha=0.8)
        else:
            shade = (trial.value - low) / ((high - low) or 1.0) if trial.value is not None else 0
            ax.plot(xs, ys, color=cmap(shade), linewidth=1.8, alpha=0.9)
    for x, (_, tick_pos, tick_labels) in zip(xs, placed, strict=True):
        ax.axvline(x, color="0.3", linewidth=0.8)
        for pos, label in zip(tick_pos, tick_labels, strict=True):
            ax.text(x + 0.03, pos, label, fontsize=7, va="center", ha="left", color="0.2")
    ax.set_xticks(xs)
    ax.set_xticklabels(axes_names, rotation=15)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(axes_names) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    best = "highest" if mode == "max" else "lowest"
    ax.set_title(
        f"{len(shown)} trials: hyperparameters against {metric} ({best} is best; pruned dashed)",
        fontsize=9,
    )
    target = Path(path)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
