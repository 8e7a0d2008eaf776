"""Gradient health: thresholds, flags and the record adapters build from per-parameter stats."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence

from modelboard.records import GradientRecord, ParameterGradientStats

__all__ = [
    "STAT_COLUMNS",
    "stats_from_rows",
    "DEFAULT_GRADIENTS_EVERY",
    "VANISHING_NORM",
    "EXPLODING_NORM",
    "CLIP_TOLERANCE",
    "gradient_flags",
    "make_gradient_record",
]

DEFAULT_GRADIENTS_EVERY = 50
"""Capture the training gradients every this many optimizer steps (0 turns capture off)."""

STAT_COLUMNS = (
    "l2_norm",
    "mean",
    "std",
    "max_abs",
    "zero_fraction",
    "nonfinite_count",
    "weight_norm",
    "update_ratio",
)
"""The columns of a row of per-parameter statistics, in the order every adapter computes them;
``update_ratio`` is optional (a row of seven has none)."""

VANISHING_NORM = 1e-7
EXPLODING_NORM = 1e3
CLIP_TOLERANCE = 1e-4
"""Relative difference of applied and produced global norms above which a step was clipped."""


def _optional(value: float) -> float | None:
    return None if value != value else float(value)  # NaN: not measured


def stats_from_rows(
    names: Sequence[str],
    shapes: Sequence[Sequence[int]],
    rows: Sequence[Sequence[float]],
    nonfinite_counts: Mapping[int, int] | None = None,
) -> list[ParameterGradientStats]:
    """One ``ParameterGradientStats`` per row of ``STAT_COLUMNS`` values (plain floats, read
    back from the device in one transfer).

    A ``nonfinite_count`` that is NaN in the row was not counted on the device: it comes from
    ``nonfinite_counts`` (row index -> count), else 0, which is true when the norm is finite.
    The update ratio is empty when missing, NaN, or the weight norm is 0.
    """
    counts = nonfinite_counts or {}
    out = []
    for index, (name, shape, row) in enumerate(zip(names, shapes, rows, strict=True)):
        counted = row[5]
        weight_norm = float(row[6])
        ratio = row[7] if len(row) > 7 else None
        out.append(
            ParameterGradientStats(
                name=name,
                shape=[int(d) for d in shape],
                l2_norm=float(row[0]),
                mean=float(row[1]),
                std=float(row[2]),
                max_abs=float(row[3]),
                zero_fraction=float(row[4]),
                nonfinite_count=int(counted) if math.isfinite(counted) else counts.get(index, 0),
                weight_norm=weight_norm,
                update_ratio=None if ratio is None or weight_norm == 0 else _optional(ratio),
            )
        )
    return out


def gradient_flags(
    parameters: Sequence[ParameterGradientStats], global_norm: float
) -> dict[str, bool]:
    """``nonfinite``: any NaN/Inf; ``exploding``: global norm above ``EXPLODING_NORM``;
    ``vanishing``: the global norm, or half the tensors' norms, below ``VANISHING_NORM``."""
    nonfinite = any(p.nonfinite_count > 0 for p in parameters) or not math.isfinite(global_norm)
    tiny = sum(1 for p in parameters if p.l2_norm < VANISHING_NORM)
    vanishing = bool(parameters) and (global_norm < VANISHING_NORM or tiny * 2 >= len(parameters))
    return {
        "vanishing": bool(vanishing and not nonfinite),
        "exploding": bool(math.isfinite(global_norm) and global_norm > EXPLODING_NORM),
        "nonfinite": bool(nonfinite),
    }


def make_gradient_record(
    parameters: Sequence[ParameterGradientStats],
    *,
    step: int,
    epoch: int | None = None,
    source: str = "training",
    scaled: bool = False,
    wall_time: float | None = None,
    optimizer: str | None = None,
    applied_global_norm: float | None = None,
) -> GradientRecord:
    """A ``GradientRecord`` with its global norm and health flags filled in.

    ``parameters`` are the gradients backward produced; the flags come from them. When
    ``applied_global_norm`` (the norm of what the optimizer applied) is given, ``clipped`` says
    whether it differs from the produced norm by more than ``CLIP_TOLERANCE`` (relative).
    """
    total = 0.0
    for p in parameters:
        total += p.l2_norm * p.l2_norm
    global_norm = math.sqrt(total) if math.isfinite(total) else float("nan")
    clipped = None
    if applied_global_norm is not None:
        applied_global_norm = float(applied_global_norm)
        clipped = not math.isclose(applied_global_norm, global_norm, rel_tol=CLIP_TOLERANCE)
        if not (math.isfinite(applied_global_norm) or math.isfinite(global_norm)):
            clipped = False
    return GradientRecord(
        step=step,
        epoch=epoch,
        wall_time=time.time() if wall_time is None else wall_time,
        source=source,
        scaled=scaled,
        global_norm=global_norm,
        optimizer=optimizer,
        applied_global_norm=applied_global_norm,
        clipped=clipped,
        parameters=list(parameters),
        flags=gradient_flags(parameters, global_norm),
    )
